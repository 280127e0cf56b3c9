//! `auth…` for JS: the same sign-in core as `hyperframes auth`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::errors::auth_error as js_error;
use crate::auth::status::{self, BrokenStatus, SignedInStatus, SignedOutStatus};
use crate::auth::{login, session};
use crate::environment::Tty;
use crate::report::{CredentialInfo, LoginResult, LogoutResult, RefreshResult, TokenResult};

/// The same report as `hyperframes auth status --json`.
#[napi]
pub async fn auth_status() -> Result<Either3<SignedInStatus, SignedOutStatus, BrokenStatus>> {
    crate::init_logging();
    Ok(status::status(Tty::detect()).await.report().into_either())
}

#[napi(object)]
pub struct LoginOptions {
    /// Keep the secret in the OS keyring (falls back to the file with a warning).
    pub keyring: Option<bool>,
}

/// Saves an API key after HeyGen accepts it; a rejected key is rolled back.
#[napi(ts_args_type = "key: string, options?: LoginOptions | undefined | null")]
pub async fn login_with_api_key(key: Arg<String>, options: Arg<Option<LoginOptions>>) -> Result<LoginResult> {
    crate::init_logging();
    let (key, options) = (key.get("loginWithApiKey", "key")?, options.get("loginWithApiKey", "options")?);
    let keyring = options.and_then(|o| o.keyring).unwrap_or(false);
    login::login_with_api_key(key, keyring).await.map(LoginResult::from).map_err(js_error)
}

#[napi(object)]
pub struct LogoutOptions {
    pub keep_api_key: Option<bool>,
}

/// Revokes OAuth tokens (best effort) and removes the stored credential.
#[napi(ts_args_type = "options?: LogoutOptions | undefined | null")]
pub async fn logout(options: Arg<Option<LogoutOptions>>) -> Result<LogoutResult> {
    crate::init_logging();
    let options = options.get("logout", "options")?;
    let keep = options.and_then(|o| o.keep_api_key).unwrap_or(false);
    session::logout(keep).await.map(LogoutResult::from).map_err(js_error)
}

/// Refreshes the stored OAuth access token now.
#[napi]
pub async fn refresh_auth() -> Result<RefreshResult> {
    crate::init_logging();
    session::refresh().await.map(RefreshResult::from).map_err(js_error)
}

/// Which credential resolves and where from — never the secret itself. `null` when signed out.
#[napi]
pub async fn resolve_credential() -> Result<Option<CredentialInfo>> {
    crate::init_logging();
    let store = crate::auth::store::Store::from_env();
    let cred = crate::blocking(move || crate::auth::resolve::try_resolve(&store, chrono::Utc::now()))
        .await
        .map_err(js_error)?;
    Ok(cred.as_ref().map(CredentialInfo::from))
}

/// The credential itself, for passing to other tools (like `hyperframes auth token`).
#[napi]
pub async fn auth_token() -> Result<TokenResult> {
    crate::init_logging();
    session::token().await.map(TokenResult::from).map_err(js_error)
}

wanted!("an options object", ValueType::Object => LoginOptions, LogoutOptions);
