//! `media build`'s own failures (a line's or a cue's failure is not one of them: it is recorded in
//! the manifest and the build goes on).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaError {
    /// `BAD_REQUEST` (the request file is not a valid media request), `IO_ERROR` (the request
    /// or the output folder cannot be read or written).
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl MediaError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn bad_request(problems: &[String]) -> Self {
        let message = match problems {
            [one] => format!("The media request is not valid: {one}"),
            many => format!("The media request is not valid:\n  - {}", many.join("\n  - ")),
        };
        Self::new("BAD_REQUEST", message)
            .with_hint("A request is {\"lines\": [{\"id\": \"intro\", \"text\": \"…\", \"sfx\": [\"whoosh\"]}], \"music\": {\"prompt\": \"…\"}}; see the README's media build section.")
    }

    pub fn io(what: impl fmt::Display, e: &std::io::Error) -> Self {
        Self::new("IO_ERROR", format!("{what}: {e}"))
    }

    pub fn to_engine_error(&self) -> crate::engines::error::EngineError {
        crate::engines::error::EngineError { code: self.code, message: self.message.clone(), hint: self.hint.clone() }
    }
}

impl fmt::Display for MediaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MediaError {}
