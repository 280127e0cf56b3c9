//! The one conversion of the crate's errors into JS errors.

use napi::bindgen_prelude::*;

use crate::auth::error::AuthError;
use crate::auth::scrub::scrub;
use crate::chains::ChainError;
use crate::engines::error::EngineError;

pub(crate) fn auth_error(e: AuthError) -> Error {
    let mut reason = format!("{}: {}", e.code_str(), e.message);
    if let Some(h) = &e.hint {
        reason.push_str("\nHint: ");
        reason.push_str(h);
    }
    Error::new(Status::GenericFailure, scrub(&reason))
}

pub(crate) fn engine_error(e: EngineError) -> Error {
    let mut reason = format!("{}: {}", e.code, e.message);
    if let Some(h) = &e.hint {
        reason.push_str("\nHint: ");
        reason.push_str(h);
    }
    Error::new(Status::GenericFailure, scrub(&reason))
}

/// `CODE: message\nHint: …\nAnomalies: [json]`: the package turns the last part into `anomalies`
/// on the Error (what failed before the provider whose error this is).
pub(crate) fn chain_error(e: ChainError) -> Error {
    let mut reason = format!("{}: {}", e.code, e.message);
    if let Some(h) = &e.hint {
        reason.push_str("\nHint: ");
        reason.push_str(h);
    }
    if !e.anomalies.is_empty() {
        reason.push_str("\nAnomalies: ");
        reason.push_str(&serde_json::to_string(&e.anomalies).expect("strings always serialise"));
    }
    Error::new(Status::GenericFailure, scrub(&reason))
}
