//! Sign-in and credentials: where they are stored, how they resolve, and the flows that create them.

pub mod browser;
pub mod client;
pub mod device;
pub mod error;
pub mod keyring;
pub mod login;
pub mod loopback;
pub mod oauth;
pub mod paths;
pub mod pkce;
pub mod resolve;
pub mod scrub;
pub mod session;
pub mod status;
pub mod store;
