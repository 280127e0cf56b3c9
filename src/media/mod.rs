//! `media build`: the whole audio of a video script in one run: every line voiced (with word
//! timings), a music bed and the sound-effect cues, through the provider chains, with a manifest
//! (`audio_meta.json`) saying what came from where.

pub mod build;
pub mod error;
pub mod manifest;
pub mod recorded;
pub mod request;
pub mod reuse;

pub use build::{build, BuildOptions, Event};
pub use error::MediaError;
pub use request::MediaRequest;
