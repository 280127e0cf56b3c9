//! Kept so provider tests written against this path still compile; the server is
//! [`crate::test_support::http`].

pub use crate::test_support::http::*;
