//! OAuth client configuration, token responses, code exchange, refresh and revoke.
//!
//! The protocol is the `oauth2` crate's: it builds the authorize URL (with PKCE) and every
//! request to the token, revocation and device authorization endpoints. Those requests go out
//! through [`transport::Transport`] (our reqwest client, body caps, time budgets), and the reply
//! is judged by this package's own rules below: they register every token with the scrubber,
//! refuse header-unsafe values, accept `expires_in` as a digit string, and word errors without
//! ever echoing a body that could hold a secret.

pub mod transport;

use std::borrow::Cow;
use std::time::Duration;

use chrono::{DateTime, Utc};
use oauth2::basic::{BasicClient, BasicRequestTokenError};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, DeviceAuthorizationUrl, PkceCodeVerifier, RedirectUrl,
    RefreshToken, RequestTokenError, Scope, TokenUrl,
};
use serde_json::Value;

use super::error::{AuthError, AuthErrorCode, AuthResult};
use super::scrub;
pub use super::store::is_header_safe;
use super::store::OAuthBlock;
pub use super::store::MAX_TOKEN_LEN;
use transport::{Bodies, Budget, Reply, Transport, TransportError};

pub const DEFAULT_CLIENT_ID: &str = "q2A2QRSke2LrFTPJhoDbHtXh";
pub const DEFAULT_AUTHORIZE_URL: &str = "https://app.heygen.com/oauth/authorize";
pub const DEFAULT_TOKEN_URL: &str = "https://api2.heygen.com/v1/oauth/token";
pub const DEFAULT_REVOKE_URL: &str = "https://api2.heygen.com/v1/oauth/revoke";
pub const DEFAULT_DEVICE_URL: &str = "https://api2.heygen.com/v1/oauth/device_authorization";
pub const SCOPES: &str = "openid profile email";
/// Tokens that claim to live shorter than this are treated as living this long.
pub const MIN_EXPIRES_IN_SECS: i64 = 30;
/// Tokens that claim to live longer than this (a year) are treated as living this long: the
/// number is the server's, and an absurd one must reach neither date arithmetic nor the file.
pub const MAX_EXPIRES_IN_SECS: i64 = 365 * 24 * 3600;

/// Whether `s` is usable as a token: 1 to [`MAX_TOKEN_LEN`] visible ASCII characters (RFC 6749
/// tokens are; no spaces, no control or non-ASCII characters that a header or a terminal would
/// take differently).
pub fn is_usable_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_TOKEN_LEN && s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// The absolute expiry for a server's `expires_in`, clamped to
/// [`MIN_EXPIRES_IN_SECS`]..=[`MAX_EXPIRES_IN_SECS`] (so no value can overflow the date
/// arithmetic); `None` when it is not a finite number.
pub fn expiry_from(expires_in: f64, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !expires_in.is_finite() {
        return None;
    }
    let secs = expires_in.ceil().clamp(MIN_EXPIRES_IN_SECS as f64, MAX_EXPIRES_IN_SECS as f64) as i64;
    now.checked_add_signed(chrono::Duration::seconds(secs))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthConfig {
    pub client_id: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub device_url: String,
}

fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => default.to_string(),
    }
}

impl OAuthConfig {
    pub fn from_env() -> Self {
        Self {
            client_id: env_or("HYPERFRAMES_OAUTH_CLIENT_ID", DEFAULT_CLIENT_ID),
            authorize_url: env_or("HYPERFRAMES_OAUTH_AUTHORIZE_URL", DEFAULT_AUTHORIZE_URL),
            token_url: env_or("HYPERFRAMES_OAUTH_TOKEN_URL", DEFAULT_TOKEN_URL),
            revoke_url: env_or("HYPERFRAMES_OAUTH_REVOKE_URL", DEFAULT_REVOKE_URL),
            device_url: env_or("HYPERFRAMES_OAUTH_DEVICE_URL", DEFAULT_DEVICE_URL),
        }
    }
}

/// A parsed, validated token endpoint response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
}

/// Validates a token endpoint body. Shape errors are `REFRESH_FAILED` and never echo the body.
pub fn parse_token_response(body: &[u8], now: DateTime<Utc>) -> AuthResult<TokenSet> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AuthError::refresh_failed("token endpoint returned a body that is not JSON"))?;
    let obj =
        value.as_object().ok_or_else(|| AuthError::refresh_failed("token endpoint returned a non-object body"))?;
    let access_token = match obj.get("access_token") {
        Some(Value::String(s)) if is_usable_token(s) => s.clone(),
        Some(Value::String(s)) if s.len() > MAX_TOKEN_LEN => {
            return Err(AuthError::refresh_failed(format!(
                "token endpoint returned an access_token of {} bytes (at most {MAX_TOKEN_LEN} are accepted)",
                s.len()
            )))
        }
        Some(Value::String(_)) => {
            return Err(AuthError::refresh_failed("token endpoint returned an unusable access_token"))
        }
        _ => return Err(AuthError::refresh_failed("token endpoint returned no access_token")),
    };
    scrub::register_secret(&access_token);
    let refresh_token = match obj.get("refresh_token") {
        Some(Value::String(s)) if is_usable_token(s) => {
            scrub::register_secret(s);
            Some(s.clone())
        }
        None | Some(Value::Null) => None,
        Some(_) => return Err(AuthError::refresh_failed("token endpoint returned an unusable refresh_token")),
    };
    let expires_in = match obj.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let expires_at = expires_in.and_then(|secs| expiry_from(secs, now));
    let text = |key: &str| match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() && is_header_safe(s) => Some(s.clone()),
        _ => None,
    };
    Ok(TokenSet { access_token, refresh_token, expires_at, scope: text("scope"), token_type: text("token_type") })
}

/// The error for a non-2xx token endpoint answer: 400/401 mean the grant was refused.
pub fn token_endpoint_error(status: u16, body: &[u8], what: &str) -> AuthError {
    let detail = scrub::scrub_body(&String::from_utf8_lossy(body));
    let detail = if detail.trim().is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {detail}") };
    if status == 400 || status == 401 {
        AuthError::refresh_failed(format!("{what} was rejected ({detail})"))
    } else {
        AuthError::api(format!("OAuth token endpoint error ({detail})"))
    }
}

pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);
pub const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);

fn endpoint<T>(make: fn(String) -> Result<T, url::ParseError>, value: &str, var: &str) -> AuthResult<T> {
    make(value.to_string()).map_err(|e| AuthError::usage(format!("{var} is not a valid URL ({e})")))
}

/// A public client (no secret): `client_id` travels in the request body.
fn client(cfg: &OAuthConfig) -> BasicClient {
    BasicClient::new(ClientId::new(cfg.client_id.clone())).set_auth_type(AuthType::RequestBody)
}

/// Builds the authorize URL (code flow, S256 PKCE). Returns (full URL, URL without query).
pub fn authorize_url(
    cfg: &OAuthConfig,
    redirect_uri: &str,
    state: &str,
    pkce: &super::pkce::Pkce,
) -> AuthResult<(String, String)> {
    let auth = endpoint(AuthUrl::new, &cfg.authorize_url, "HYPERFRAMES_OAUTH_AUTHORIZE_URL")?;
    let redirect = endpoint(RedirectUrl::new, redirect_uri, "the redirect URI")?;
    let state = state.to_string();
    let (url, _) = client(cfg)
        .set_auth_uri(auth)
        .set_redirect_uri(redirect)
        .authorize_url(move || CsrfToken::new(state))
        .add_scope(Scope::new(SCOPES.to_string()))
        .set_pkce_challenge(pkce.challenge())
        .url();
    let mut bare = url.clone();
    bare.set_query(None);
    Ok((url.to_string(), bare.to_string()))
}

/// Judges a token endpoint exchange: a transport failure is `NETWORK_ERROR`; otherwise the reply
/// decides, whatever oauth2 made of it (see the module doc).
fn judge_tokens<T>(
    result: Result<T, BasicRequestTokenError<TransportError>>,
    reply: Option<Reply>,
    what: &str,
) -> AuthResult<TokenSet> {
    match (result, reply) {
        (Err(RequestTokenError::Request(TransportError::TooLarge(limit))), _) => {
            Err(AuthError::network(format!("OAuth token response: response body exceeds {limit} bytes")))
        }
        (Err(RequestTokenError::Request(e @ TransportError::Body(_))), _) => {
            Err(AuthError::network(format!("OAuth token response: response body could not be read: {e}")))
        }
        (Err(RequestTokenError::Request(e)), _) => Err(AuthError::network(format!("OAuth token request failed: {e}"))),
        (_, Some(reply)) if !reply.status.is_success() => {
            Err(token_endpoint_error(reply.status.as_u16(), &reply.body, what))
        }
        (_, Some(reply)) => parse_token_response(&reply.body, Utc::now()),
        // oauth2 gave up before sending (it could not build the request).
        (Err(e), None) => Err(AuthError::api(scrub::scrub(&format!("OAuth token request could not be built ({e})")))),
        (Ok(_), None) => Err(AuthError::api("OAuth token request got no reply")),
    }
}

fn token_transport(http: &reqwest::Client) -> Transport<'_> {
    Transport::new(http, Budget::Request(TOKEN_TIMEOUT), crate::http::DEFAULT_BODY_LIMIT, Bodies::All)
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> AuthResult<TokenSet> {
    let token_url = endpoint(TokenUrl::new, &cfg.token_url, "HYPERFRAMES_OAUTH_TOKEN_URL")?;
    let redirect = endpoint(RedirectUrl::new, redirect_uri, "the redirect URI")?;
    let transport = token_transport(http);
    let result = client(cfg)
        .set_token_uri(token_url)
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_string()))
        .set_redirect_uri(Cow::Owned(redirect))
        .request_async(&transport)
        .await;
    judge_tokens(result, transport.take_reply(), "authorization code").map_err(|mut e| {
        if e.code == AuthErrorCode::RefreshFailed {
            e.message = format!("{}; please run `hyperframes auth login` again", e.message);
        }
        e
    })
}

/// A refresh that failed, with the rotated refresh token when the server sent a usable one in an
/// answer that was refused otherwise: the old token may already be spent, so the caller keeps it.
#[derive(Debug, Clone)]
pub struct RefreshFailure {
    pub error: AuthError,
    pub rotated_refresh_token: Option<String>,
}

/// A usable `refresh_token` in a 2xx token endpoint answer, whatever else is wrong with it.
fn rotated_refresh_token(reply: &Reply) -> Option<String> {
    if !reply.status.is_success() {
        return None;
    }
    let value: Value = serde_json::from_slice(&reply.body).ok()?;
    let rt = value.get("refresh_token")?.as_str().filter(|s| is_usable_token(s))?;
    scrub::register_secret(rt);
    Some(rt.to_string())
}

/// Trades a refresh token for new tokens (the caller persists them; see [`apply_tokens`]).
pub async fn refresh(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    refresh_token: &str,
) -> Result<TokenSet, RefreshFailure> {
    let failed = |error| RefreshFailure { error, rotated_refresh_token: None };
    let token_url = endpoint(TokenUrl::new, &cfg.token_url, "HYPERFRAMES_OAUTH_TOKEN_URL").map_err(failed)?;
    let transport = token_transport(http);
    let rt = RefreshToken::new(refresh_token.to_string());
    let result = client(cfg).set_token_uri(token_url).exchange_refresh_token(&rt).request_async(&transport).await;
    let reply = transport.take_reply();
    let rotated = reply.as_ref().and_then(rotated_refresh_token).filter(|r| r != refresh_token);
    judge_tokens(result, reply, "refresh token")
        .map_err(|error| RefreshFailure { error, rotated_refresh_token: rotated })
}

/// RFC 7009 revoke, best effort: never fails, returns a warning to show when it did not work.
///
/// Sent without oauth2: its revocation request refuses any URL that is not https (RFC 7009 §2),
/// while this package accepts `HYPERFRAMES_OAUTH_REVOKE_URL` on http for a local identity
/// provider, as it does for the other endpoints.
pub async fn revoke(http: &reqwest::Client, cfg: &OAuthConfig, token: &str, hint: &str) -> Option<String> {
    if cfg.client_id.is_empty() || token.is_empty() {
        return None;
    }
    let form = [("token", token), ("client_id", cfg.client_id.as_str()), ("token_type_hint", hint)];
    let transport = Transport::new(http, Budget::Whole(REVOKE_TIMEOUT), 0, Bodies::None);
    let sent = match http.post(&cfg.revoke_url).form(&form).build() {
        Ok(req) => transport.send(req).await,
        Err(e) => Err(TransportError::Send(e)),
    };
    match sent {
        Ok(reply) if reply.status.is_success() => None,
        Ok(reply) => {
            Some(format!("token revoke returned HTTP {}; local credentials cleared anyway", reply.status.as_u16()))
        }
        Err(TransportError::Timeout(_)) => {
            Some("token revoke timed out after 5s; local credentials cleared anyway".into())
        }
        Err(e) => Some(format!("token revoke failed ({e}); local credentials cleared anyway")),
    }
}

/// Sends the device authorization request (RFC 8628 §3.1) and returns the raw reply for
/// the device flow to judge.
pub async fn device_authorization(
    transport: &Transport<'_>,
    cfg: &OAuthConfig,
) -> AuthResult<Result<Reply, TransportError>> {
    let url = endpoint(DeviceAuthorizationUrl::new, &cfg.device_url, "HYPERFRAMES_OAUTH_DEVICE_URL")?;
    let result: Result<oauth2::StandardDeviceAuthorizationResponse, _> = client(cfg)
        .set_device_authorization_url(url)
        .exchange_device_code()
        .add_scope(Scope::new(SCOPES.to_string()))
        .request_async(transport)
        .await;
    match (result, transport.take_reply()) {
        (Err(RequestTokenError::Request(e)), _) => Ok(Err(e)),
        (_, Some(reply)) => Ok(Ok(reply)),
        (Err(e), None) => Err(AuthError::device(scrub::scrub(&format!("the request could not be built ({e})")))),
        (Ok(_), None) => Err(AuthError::device("the authorization server sent no reply")),
    }
}

/// Applies a token response to the stored OAuth block. A fresh login replaces the block (nothing
/// inherited); a refresh merges, keeping the previous refresh token, scope, type and unknown keys.
pub fn apply_tokens(block: Option<&OAuthBlock>, tokens: &TokenSet, merge: bool) -> OAuthBlock {
    let expires_at = tokens.expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    match (merge, block) {
        (true, Some(prev)) => OAuthBlock {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone().or_else(|| prev.refresh_token.clone()),
            expires_at,
            scope: tokens.scope.clone().or_else(|| prev.scope.clone()),
            token_type: tokens.token_type.clone().or_else(|| prev.token_type.clone()),
            extra: prev.extra.clone(),
        },
        _ => OAuthBlock {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            expires_at,
            scope: tokens.scope.clone(),
            token_type: tokens.token_type.clone(),
            extra: Default::default(),
        },
    }
}

#[cfg(test)]
mod tests;
