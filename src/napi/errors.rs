//! The one conversion of the crate's errors ([`crate::error::Error`]) into JS errors: an `Error`
//! named `HyperframesError` whose `code`, `hint` and (from the chains) `anomalies` are set here,
//! natively, with every text scrubbed of secrets.
//!
//! The JS object has to be made on the JS thread, with the `Env`: an `async fn` would reject
//! with whatever napi builds from a `napi::Error` (a status and a message only). So the JS
//! functions run their work through [`promise`] (async) or [`throwing`] (sync), which build the
//! error object with the `Env` and reject (throw) with that very object
//! (`napi::Error::from(Unknown)` keeps a reference to it).

use std::future::Future;

use napi::bindgen_prelude::*;
use napi::JsValue;

use crate::auth::scrub::scrub;
use crate::error::Error as HfError;

/// The JS `name` of every error the package throws.
pub(crate) const ERROR_NAME: &str = "HyperframesError";
/// The code of work stopped because its JS environment closed (nobody sees it).
pub(crate) const CLOSED: &str = "CANCELLED";

/// Runs `work` on the async runtime; the promise resolves with its value or rejects with its
/// error as a `HyperframesError`.
pub(crate) fn promise<'env, T, F>(env: &'env Env, work: F) -> Result<PromiseRaw<'env, T>>
where
    T: ToNapiValue + Send + 'static,
    F: Future<Output = std::result::Result<T, HfError>> + Send + 'static,
{
    let scope = super::Closing::of(env).scope().clone();
    env.spawn_future_with_callback(async move { Ok(scoped(scope, work).await) }, |env, outcome| {
        outcome.map_err(|e| to_js(env, &e))
    })
}

/// Runs `work` as `scope`'s work, dropped at its next `await` once the scope closes (its
/// environment is gone: nobody is left to take the result).
pub(crate) async fn scoped<T>(
    scope: crate::work::Scope,
    work: impl Future<Output = std::result::Result<T, HfError>>,
) -> std::result::Result<T, HfError> {
    let stopped = async {
        scope.closed().await;
        Err(HfError::new(CLOSED, "stopped: the JavaScript environment that asked for it closed"))
    };
    scope
        .run(async {
            tokio::select! { r = work => r, r = stopped => r }
        })
        .await
}

/// Runs `work` now; its error is thrown as a `HyperframesError`.
pub(crate) fn throwing<T>(env: &Env, work: impl FnOnce() -> std::result::Result<T, HfError>) -> Result<T> {
    work().map_err(|e| to_js(env, &e))
}

/// The JS error object for `e`, as a `napi::Error` that throws (rejects with) exactly that object.
pub(crate) fn to_js(env: &Env, e: &HfError) -> Error {
    js_object(env, e).map(|o| Error::from(o.to_unknown())).unwrap_or_else(|failed| {
        // Building the object failed (the environment is closing): napi's own error, with the code.
        Error::new(Status::GenericFailure, format!("{}: {} ({failed})", e.code, scrub(&e.message)))
    })
}

fn js_object<'env>(env: &'env Env, e: &HfError) -> Result<Object<'env>> {
    let mut o = env.create_error(Error::new(Status::GenericFailure, scrub(&e.message)))?;
    o.set_named_property("name", ERROR_NAME)?;
    o.set_named_property("code", e.code)?;
    if let Some(h) = &e.hint {
        o.set_named_property("hint", scrub(h))?;
    }
    if !e.anomalies.is_empty() {
        o.set_named_property("anomalies", e.anomalies.iter().map(|a| scrub(a)).collect::<Vec<_>>())?;
    }
    Ok(o)
}

/// napi's own failures inside a JS function's work (a value that does not convert, a callback
/// that throws) keep napi's status as their code, as a plain napi error would.
impl From<Error> for HfError {
    fn from(e: Error) -> Self {
        let code = match e.status {
            Status::InvalidArg => "InvalidArg",
            Status::ObjectExpected => "ObjectExpected",
            Status::StringExpected => "StringExpected",
            Status::NumberExpected => "NumberExpected",
            Status::FunctionExpected => "FunctionExpected",
            Status::PendingException => "PendingException",
            Status::Cancelled => "Cancelled",
            _ => "GenericFailure",
        };
        HfError::new(code, e.reason)
    }
}

#[cfg(test)]
mod tests {
    // (A `napi::Error` cannot be made here: the test binary has no Node to link its drop against.)
    use super::*;
    use crate::auth::error::AuthError;
    use crate::chains::ChainError;
    use crate::engines::error::EngineError;

    #[test]
    fn domain_errors_keep_code_hint_and_anomalies() {
        let mut c = ChainError::new("NO_PROVIDER", "Nothing can serve.").with_hint("Sign in.");
        c.anomalies = vec!["heygen: HTTP 402 — no".into()];
        let e = HfError::from(c);
        assert_eq!((e.code, e.hint.as_deref(), e.anomalies.len()), ("NO_PROVIDER", Some("Sign in."), 1));
        assert_eq!(HfError::from(AuthError::not_configured()).code, "NOT_CONFIGURED");
        assert_eq!(EngineError::new("EMPTY_TEXT", "No text.").code, "EMPTY_TEXT");
    }
}
