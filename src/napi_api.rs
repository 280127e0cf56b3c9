//! The JS surface: thin wrappers over the same core the CLI uses. Errors cross as
//! `CODE: message\nHint: …` (scrubbed); `lib/index.js` turns them into Errors with `code`/`hint`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::{json, Value};

use crate::auth::error::AuthError;
use crate::auth::scrub::scrub;
use crate::auth::{login, session, status};
use crate::environment::Tty;

fn js_error(e: AuthError) -> Error {
    let mut reason = format!("{}: {}", e.code_str(), e.message);
    if let Some(h) = &e.hint {
        reason.push_str("\nHint: ");
        reason.push_str(h);
    }
    Error::new(Status::GenericFailure, scrub(&reason))
}

#[napi(object)]
pub struct TtyInfo {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Runs the `hyperframes` CLI in this process and returns its exit code.
#[napi(catch_unwind)]
pub fn run_cli(env: Env, argv: Vec<String>, tty: Option<TtyInfo>) -> i32 {
    let ctx = crate::cli::CliContext {
        tty: tty.map(|t| Tty { stdin: t.stdin, stdout: t.stdout, stderr: t.stderr }),
        node_version: node_version(&env),
    };
    crate::cli::run(argv, ctx)
}

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
#[napi]
pub async fn login_with_api_key(key: String, options: Option<LoginOptions>) -> Result<Value> {
    crate::init_logging();
    let keyring = options.and_then(|o| o.keyring).unwrap_or(false);
    login::login_with_api_key(key, keyring).await.map(login_json).map_err(js_error)
}

#[napi(object)]
pub struct LogoutOptions {
    pub keep_api_key: Option<bool>,
}

/// Revokes OAuth tokens (best effort) and removes the stored credential.
#[napi]
pub async fn logout(options: Option<LogoutOptions>) -> Result<Value> {
    crate::init_logging();
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

#[napi(object)]
pub struct PlanOptions {
    /// Plan as if offline: hosted providers are never used.
    pub local_only: Option<bool>,
}

/// Which provider each capability will use and why the others are skipped (same as `hyperframes plan --json`).
#[napi(ts_return_type = "Promise<any>")]
pub async fn plan(options: Option<PlanOptions>) -> Result<Value> {
    let local_only = options.and_then(|o| o.local_only).unwrap_or(false);
    let plans =
        crate::blocking(move || crate::providers::plan::plan_all(&crate::providers::plan::Facts::gather(local_only)))
            .await;
    Ok(json!({"plans": plans.iter().map(|p| p.to_json()).collect::<Vec<_>>()}))
}

fn node_version(env: &Env) -> Option<String> {
    env.get_node_version().ok().map(|v| format!("v{}.{}.{}", v.major, v.minor, v.patch))
}

/// The same report as `hyperframes doctor --json`.
#[napi(ts_return_type = "Promise<any>")]
pub fn doctor(env: &Env) -> Result<PromiseRaw<'_, Value>> {
    crate::init_logging();
    let version = node_version(env);
    env.spawn_future(async move { Ok(crate::blocking(move || crate::doctor::run(version.as_deref())).await.to_json()) })
}
