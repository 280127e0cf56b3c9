//! The local engines' error: a stable `code`, what happened, and what to do about it.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    /// Stable, e.g. `EMPTY_TEXT`, `UNKNOWN_VOICE`, `BAD_BLEND`, `BAD_SPEED`, `MODEL_MISSING`,
    /// `MODEL_CORRUPT`, `ORT_NOT_FOUND`, `G2P_UNAVAILABLE`, `DOWNLOAD_FAILED`, `CHECKSUM_MISMATCH`,
    /// `INFERENCE_FAILED`, `VOICE_FORMAT`, `BAD_AUDIO`, `BAD_LANG`, `IO_ERROR`.
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl EngineError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn io(what: impl fmt::Display, e: &std::io::Error) -> Self {
        Self::new("IO_ERROR", format!("{what}: {e}"))
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EngineError {}

impl From<super::runtime::RuntimeError> for EngineError {
    fn from(e: super::runtime::RuntimeError) -> Self {
        Self { code: e.code, message: e.message, hint: Some(e.hint) }
    }
}

pub type EngineResult<T> = Result<T, EngineError>;
