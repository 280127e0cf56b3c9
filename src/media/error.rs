//! `media build`'s own failures (a line's or a cue's failure is not one of them: it is recorded in
//! the manifest and the build goes on). They are the crate's one error ([`crate::error::Error`])
//! with code `BAD_REQUEST` (the request file is not a valid media request) or `IO_ERROR` (the
//! request or the output folder cannot be read or written).

pub use crate::error::Error as MediaError;

impl MediaError {
    /// `BAD_REQUEST`, listing every problem of the request.
    pub fn bad_request(problems: &[String]) -> Self {
        let message = match problems {
            [one] => format!("The media request is not valid: {one}"),
            many => format!("The media request is not valid:\n  - {}", many.join("\n  - ")),
        };
        Self::new("BAD_REQUEST", message)
            .with_hint("A request is {\"lines\": [{\"id\": \"intro\", \"text\": \"…\", \"sfx\": [\"whoosh\"]}], \"music\": {\"prompt\": \"…\"}}; see the README's media build section.")
    }
}
