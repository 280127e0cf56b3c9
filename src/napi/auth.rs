//! `auth…` for JS: the same sign-in core as `hyperframes auth`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::errors::promise;
use crate::auth::status::{self, BrokenStatus, SignedInStatus, SignedOutStatus};
use crate::auth::{login, session};
use crate::environment::Tty;
use crate::report::{CredentialInfo, LoginResult, LogoutResult, RefreshResult, TokenResult};

/// The same report as `hyperframes auth status --json`.
#[napi]
pub fn auth_status(env: &Env) -> Result<PromiseRaw<'_, Either3<SignedInStatus, SignedOutStatus, BrokenStatus>>> {
    crate::init_logging();
    promise(env, async move { Ok(status::status(Tty::detect()).await.report().into_either()) })
}

#[napi(object)]
pub struct LoginOptions {
    /// Keep the secret in the OS keyring (falls back to the file with a warning).
    pub keyring: Option<bool>,
}

/// Saves an API key after HeyGen accepts it; a rejected key is rolled back.
#[napi(ts_args_type = "key: string, options?: LoginOptions | undefined | null")]
pub fn login_with_api_key(
    env: &Env,
    key: Arg<String>,
    options: Arg<Option<LoginOptions>>,
) -> Result<PromiseRaw<'_, LoginResult>> {
    crate::init_logging();
    promise(env, async move {
        let (key, options) = (key.get("loginWithApiKey", "key")?, options.get("loginWithApiKey", "options")?);
        let keyring = options.and_then(|o| o.keyring).unwrap_or(false);
        login::login_with_api_key(key, keyring).await.map(LoginResult::from).map_err(Into::into)
    })
}

#[napi(object)]
pub struct LogoutOptions {
    pub keep_api_key: Option<bool>,
}

/// Revokes OAuth tokens (best effort) and removes the stored credential.
#[napi(ts_args_type = "options?: LogoutOptions | undefined | null")]
pub fn logout(env: &Env, options: Arg<Option<LogoutOptions>>) -> Result<PromiseRaw<'_, LogoutResult>> {
    crate::init_logging();
    promise(env, async move {
        let options = options.get("logout", "options")?;
        let keep = options.and_then(|o| o.keep_api_key).unwrap_or(false);
        session::logout(keep).await.map(LogoutResult::from).map_err(Into::into)
    })
}

/// Refreshes the stored OAuth access token now.
#[napi]
pub fn refresh_auth(env: &Env) -> Result<PromiseRaw<'_, RefreshResult>> {
    crate::init_logging();
    promise(env, async move { session::refresh().await.map(RefreshResult::from).map_err(Into::into) })
}

/// Which credential resolves and where from — never the secret itself. `null` when signed out.
#[napi(ts_return_type = "Promise<CredentialInfo | null>")]
pub fn resolve_credential(env: &Env) -> Result<PromiseRaw<'_, Option<CredentialInfo>>> {
    crate::init_logging();
    promise(env, async move {
        let store = crate::auth::store::Store::from_env();
        let cred = crate::blocking(move || crate::auth::resolve::try_resolve(&store, chrono::Utc::now())).await?;
        Ok(cred.as_ref().map(CredentialInfo::from))
    })
}

/// The credential itself, for passing to other tools (like `hyperframes auth token`).
#[napi]
pub fn auth_token(env: &Env) -> Result<PromiseRaw<'_, TokenResult>> {
    crate::init_logging();
    promise(env, async move { session::token().await.map(TokenResult::from).map_err(Into::into) })
}

wanted!("an options object", ValueType::Object => LoginOptions, LogoutOptions);
