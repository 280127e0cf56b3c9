//! `auth…` for JS: the same sign-in core as `hyperframes auth`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

use super::args::{wanted, Arg};
use super::errors::auth_error as js_error;
use crate::auth::{login, session, status};
use crate::environment::Tty;

/// The same report as `hyperframes auth status --json`.
#[napi]
pub async fn auth_status() -> Result<Value> {
    crate::init_logging();
    Ok(status::status(Tty::detect()).await.to_json())
}

#[napi(object)]
pub struct LoginOptions {
    /// Keep the secret in the OS keyring (falls back to the file with a warning).
    pub keyring: Option<bool>,
}

fn login_json(o: login::LoginOutcome) -> Value {
    json!({
        "identity": o.identity,
        "identityError": o.identity_error,
        "inKeyring": o.in_keyring,
        "warnings": o.warnings,
    })
}

/// Saves an API key after HeyGen accepts it; a rejected key is rolled back.
#[napi(ts_args_type = "key: string, options?: LoginOptions | undefined | null")]
pub async fn login_with_api_key(key: Arg<String>, options: Arg<Option<LoginOptions>>) -> Result<Value> {
    crate::init_logging();
    let (key, options) = (key.get("loginWithApiKey", "key")?, options.get("loginWithApiKey", "options")?);
    let keyring = options.and_then(|o| o.keyring).unwrap_or(false);
    login::login_with_api_key(key, keyring).await.map(login_json).map_err(js_error)
}

#[napi(object)]
pub struct LogoutOptions {
    pub keep_api_key: Option<bool>,
}

/// Revokes OAuth tokens (best effort) and removes the stored credential.
#[napi(ts_args_type = "options?: LogoutOptions | undefined | null")]
pub async fn logout(options: Arg<Option<LogoutOptions>>) -> Result<Value> {
    crate::init_logging();
    let options = options.get("logout", "options")?;
    let keep = options.and_then(|o| o.keep_api_key).unwrap_or(false);
    let o = session::logout(keep).await.map_err(js_error)?;
    Ok(json!({
        "removed": o.removed,
        "keptApiKey": o.kept_api_key,
        "envStillSet": o.env_still_set,
        "warnings": o.warnings,
    }))
}

/// Refreshes the stored OAuth access token now.
#[napi]
pub async fn refresh_auth() -> Result<Value> {
    crate::init_logging();
    let o = session::refresh().await.map_err(js_error)?;
    Ok(json!({"expiresAt": o.expires_at.as_ref().map(status::iso)}))
}

/// Which credential resolves and where from — never the secret itself. `null` when signed out.
#[napi]
pub async fn resolve_credential() -> Result<Value> {
    crate::init_logging();
    let store = crate::auth::store::Store::from_env();
    let cred = crate::blocking(move || crate::auth::resolve::try_resolve(&store, chrono::Utc::now()))
        .await
        .map_err(js_error)?;
    Ok(match cred {
        None => Value::Null,
        Some(c) => json!({
            "source": c.source.as_str(),
            "type": c.kind.as_str(),
            "expiresAt": c.expires_at.as_ref().map(status::iso),
            "expired": c.expired,
            "refreshable": c.refreshable,
        }),
    })
}

/// The credential itself, for passing to other tools (like `hyperframes auth token`).
#[napi]
pub async fn auth_token() -> Result<Value> {
    crate::init_logging();
    let c = session::token().await.map_err(js_error)?;
    Ok(json!({"token": c.secret, "type": c.kind.as_str(), "source": c.source.as_str()}))
}

wanted!("an options object", ValueType::Object => LoginOptions, LogoutOptions);
