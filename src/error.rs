//! The crate's one error: a stable `code`, a message saying what happened, a hint saying what to
//! do, and (from the provider chains) the earlier providers' failures that were skipped over.
//!
//! The local engines and `media build` use it directly ([`crate::engines::error::EngineError`] and
//! [`crate::media::MediaError`] are this type). The domains whose errors carry more keep their own
//! thin type and convert with `From`: sign-in ([`crate::auth::error::AuthError`], a typed code),
//! the hosted providers ([`crate::providers::error::ProviderError`], whether the next provider
//! may serve), the chains ([`crate::chains::ChainError`], which provider failed) and ONNX Runtime
//! ([`crate::engines::runtime::RuntimeError`], always with a hint). The CLI prints it in one
//! place (`cli::fail`) and the JS API turns it into a JS `Error` in one place (`napi::errors`).

use std::fmt;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// Stable and SCREAMING_SNAKE_CASE, e.g. `EMPTY_TEXT`, `MODEL_MISSING`, `IO_ERROR`,
    /// `PROVIDER_RATE_LIMITED`, `NOT_CONFIGURED`, `USAGE`.
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// Earlier providers' failures that were skipped over before this one (chains only).
    pub anomalies: Vec<String>,
    /// The chain's failing provider, when the error came out of a provider chain: the CLI's
    /// `--json` form of a chain's failure also says `provider` and `anomalies`.
    pub chain: Option<Chain>,
}

/// What a chain's failure says besides the common fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    pub provider: Option<&'static str>,
}

impl Error {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), hint: None, anomalies: Vec::new(), chain: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// `IO_ERROR`: `what` could not be read or written.
    pub fn io(what: impl fmt::Display, e: &std::io::Error) -> Self {
        Self::new("IO_ERROR", format!("{what}: {e}"))
    }

    /// A wrong argument or flag combination.
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new("USAGE", message).with_hint(hint)
    }
}

/// The `--json` form: `{"ok": false, "error", "code", "hint"}`, and for a chain's failure also
/// `"provider"` and `"anomalies"`.
impl Serialize for Error {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("ok", &false)?;
        map.serialize_entry("error", &self.message)?;
        map.serialize_entry("code", self.code)?;
        map.serialize_entry("hint", &self.hint)?;
        if let Some(chain) = &self.chain {
            map.serialize_entry("provider", &chain.provider)?;
            map.serialize_entry("anomalies", &self.anomalies)?;
        }
        map.end()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::error::AuthError;
    use crate::chains::ChainError;
    use crate::providers::error::{ProviderError, ProviderErrorCode};

    #[test]
    fn domain_errors_keep_their_code_message_and_hint() {
        let e = Error::from(AuthError::not_configured());
        assert_eq!((e.code, e.message.as_str()), ("NOT_CONFIGURED", "No HeyGen credentials found."));
        assert_eq!(e.hint.as_deref(), Some("Run `hyperframes auth login`, or set HEYGEN_API_KEY."));
        assert!(e.anomalies.is_empty() && e.chain.is_none());

        let p = ProviderError::new(crate::providers::Provider::Heygen, ProviderErrorCode::RateLimited, "slow down")
            .with_hint("wait");
        let e = Error::from(p);
        assert_eq!(
            (e.code, e.message.as_str(), e.hint.as_deref()),
            ("PROVIDER_RATE_LIMITED", "slow down", Some("wait"))
        );
        // Through a chain the message names the provider, and the provider is kept.
        let p = ProviderError::new(crate::providers::Provider::Heygen, ProviderErrorCode::RateLimited, "slow down");
        let e = Error::from(ChainError::from(p));
        assert_eq!((e.message.as_str(), e.chain), ("heygen: slow down", Some(Chain { provider: Some("heygen") })));

        let mut c = ChainError::new("NO_PROVIDER", "Nothing can serve.").with_hint("Sign in.");
        c.anomalies = vec!["heygen: HTTP 402 — no".into()];
        let e = Error::from(c);
        assert_eq!(e.anomalies, ["heygen: HTTP 402 — no"]);
        assert_eq!(e.chain, Some(Chain { provider: None }));
    }

    #[test]
    fn json_form_has_the_documented_keys() {
        let e = Error::new("MODEL_MISSING", "Kokoro is not installed.").with_hint("hyperframes models install kokoro");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            serde_json::json!({"ok": false, "error": "Kokoro is not installed.", "code": "MODEL_MISSING",
                "hint": "hyperframes models install kokoro"})
        );
        let e = Error::new("EMPTY_TEXT", "No text.");
        assert_eq!(serde_json::to_value(&e).unwrap()["hint"], serde_json::Value::Null);
        let mut c = ChainError::new("NO_PROVIDER", "Nothing can serve.");
        c.anomalies = vec!["a".into()];
        let v = serde_json::to_value(Error::from(c)).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["ok", "error", "code", "hint", "provider", "anomalies"]);
        assert_eq!(v["provider"], serde_json::Value::Null);
    }

    #[test]
    fn display_is_the_message() {
        assert_eq!(Error::new("X", "what happened").with_hint("do this").to_string(), "what happened");
    }
}
