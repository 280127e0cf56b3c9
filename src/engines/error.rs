//! The local engines' error is the crate's one error ([`crate::error::Error`]): a stable `code`
//! (`EMPTY_TEXT`, `UNKNOWN_VOICE`, `BAD_BLEND`, `BAD_SPEED`, `MODEL_MISSING`, `MODEL_CORRUPT`,
//! `ORT_NOT_FOUND`, `G2P_UNAVAILABLE`, `DOWNLOAD_FAILED`, `CHECKSUM_MISMATCH`, `INFERENCE_FAILED`,
//! `VOICE_FORMAT`, `BAD_AUDIO`, `BAD_LANG`, `IO_ERROR`, …), what happened, and what to do about it.

pub use crate::error::Error as EngineError;

pub type EngineResult<T> = Result<T, EngineError>;
