//! `auth…` for JS: the same sign-in core as `hyperframes auth`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

use super::args::{wanted, Arg};
use super::errors::{auth_error as js_error, promise};
use crate::auth::{login, session, status};
use crate::environment::Tty;

/// The same report as `hyperframes auth status --json`.
#[napi(ts_return_type = "Promise<any>")]
pub fn auth_status(env: &Env) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    promise(env, async move { Ok(status::status(Tty::detect()).await.to_json()) })
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
#[napi(ts_args_type = "key: string, options?: LoginOptions | undefined | null", ts_return_type = "Promise<any>")]
pub fn login_with_api_key(
    env: &Env,
    key: Arg<String>,
    options: Arg<Option<LoginOptions>>,
) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    promise(env, async move {
        let (key, options) = (key.get("loginWithApiKey", "key")?, options.get("loginWithApiKey", "options")?);
        let keyring = options.and_then(|o| o.keyring).unwrap_or(false);
        login::login_with_api_key(key, keyring).await.map(login_json).map_err(js_error)
    })
}

#[napi(object)]
pub struct LogoutOptions {
    pub keep_api_key: Option<bool>,
}

/// Revokes OAuth tokens (best effort) and removes the stored credential.
#[napi(ts_args_type = "options?: LogoutOptions | undefined | null", ts_return_type = "Promise<any>")]
pub fn logout(env: &Env, options: Arg<Option<LogoutOptions>>) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    promise(env, async move {
        let options = options.get("logout", "options")?;
        let keep = options.and_then(|o| o.keep_api_key).unwrap_or(false);
        let o = session::logout(keep).await.map_err(js_error)?;
        Ok(json!({
            "removed": o.removed,
            "keptApiKey": o.kept_api_key,
            "envStillSet": o.env_still_set,
            "warnings": o.warnings,
        }))
    })
}

/// Refreshes the stored OAuth access token now.
#[napi(ts_return_type = "Promise<any>")]
pub fn refresh_auth(env: &Env) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    promise(env, async move {
        let o = session::refresh().await.map_err(js_error)?;
        Ok(json!({"expiresAt": o.expires_at.as_ref().map(status::iso)}))
    })
}

/// Which credential resolves and where from — never the secret itself. `null` when signed out.
#[napi(ts_return_type = "Promise<any>")]
pub fn resolve_credential(env: &Env) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    promise(env, async move {
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
    })
}

/// The credential itself, for passing to other tools (like `hyperframes auth token`).
#[napi(ts_return_type = "Promise<any>")]
pub fn auth_token(env: &Env) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    promise(env, async move {
        let c = session::token().await.map_err(js_error)?;
        Ok(json!({"token": c.secret, "type": c.kind.as_str(), "source": c.source.as_str()}))
    })
}

wanted!("an options object", ValueType::Object => LoginOptions, LogoutOptions);
