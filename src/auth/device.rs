//! OAuth 2.0 Device Authorization Grant (RFC 8628): ask the authorization server for a device
//! code, then poll the token endpoint until the user approves, refuses, or the code runs out.
//!
//! The device code is a bearer secret for the duration of the flow. It is registered with the
//! scrubber as soon as it is read, redacted from `Debug`, and never placed in an error, a hint or
//! a log line.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, ACCEPT};
use reqwest::StatusCode;
use serde_json::{Map, Value};
use url::Url;

use super::error::{AuthError, AuthResult};
use super::oauth::transport::{Bodies, Budget, Transport, TransportError};
use super::oauth::{self, is_header_safe, OAuthConfig, TokenSet};
use super::scrub;

/// The grant type sent while polling the token endpoint.
pub const DEVICE_GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Largest response body accepted from the device or token endpoint.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Budget for one request, from sending it to having read the whole body.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Polling interval when the server does not name one.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Smallest polling interval honoured, whatever the server says.
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Largest polling interval, including after `slow_down` and `Retry-After`.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);
/// Added to the interval on every `slow_down` (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// Polling never lasts longer than this, even if the code claims to live longer.
pub const MAX_WAIT: Duration = Duration::from_secs(30 * 60);
/// Transport failures (timeouts, dropped connections) retried in a row before giving up.
pub const MAX_TRANSPORT_RETRIES: u32 = 3;

/// Upper bound kept on a reported `expires_in`, so later arithmetic cannot overflow.
const MAX_REPORTED_EXPIRY_SECS: u64 = u32::MAX as u64;
/// Longest RFC 6749 `error` code that is quoted back in a message.
const MAX_ERROR_CODE_LEN: usize = 64;

/// Size and time limits of the flow. [`Default`] gives the production values; tests shrink them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceLimits {
    /// Per request, including reading the body.
    pub request_timeout: Duration,
    /// Response body cap in bytes.
    pub body_limit: usize,
    /// Cap on how long polling may run, whatever `expires_in` says.
    pub max_wait: Duration,
    /// Consecutive transport failures tolerated while polling.
    pub max_transport_retries: u32,
}

impl Default for DeviceLimits {
    fn default() -> Self {
        Self {
            request_timeout: REQUEST_TIMEOUT,
            body_limit: BODY_LIMIT,
            max_wait: MAX_WAIT,
            max_transport_retries: MAX_TRANSPORT_RETRIES,
        }
    }
}

/// A validated device authorization response (RFC 8628 §3.2).
#[derive(Clone, PartialEq, Eq)]
pub struct DeviceAuthorization {
    /// Secret: registered with the scrubber and never shown.
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: Url,
    pub verification_uri_complete: Option<Url>,
    pub expires_in: Duration,
    pub interval: Duration,
}

impl DeviceAuthorization {
    #[cfg(test)]
    /// The address to show the user: the complete URI when the server gave one (the code is
    /// then pre-filled), otherwise the plain verification URI.
    pub fn display_uri(&self) -> &Url {
        self.verification_uri_complete.as_ref().unwrap_or(&self.verification_uri)
    }
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &"<redacted>")
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri.as_str())
            .field("verification_uri_complete", &self.verification_uri_complete.as_ref().map(Url::as_str))
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .finish()
    }
}

pub use crate::clock::{Sleeper, TokioSleeper};

/// Starts the flow: POSTs `client_id` and `scope` to `cfg.device_url`.
pub async fn request_authorization(http: &reqwest::Client, cfg: &OAuthConfig) -> AuthResult<DeviceAuthorization> {
    request_authorization_with(http, cfg, &DeviceLimits::default()).await
}

/// [`request_authorization`] with explicit limits.
pub async fn request_authorization_with(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    limits: &DeviceLimits,
) -> AuthResult<DeviceAuthorization> {
    let transport = transport(http, limits, Bodies::SuccessOnly);
    let reply = match oauth::device_authorization(&transport, cfg).await? {
        Ok(reply) => reply,
        Err(TransportError::TooLarge(limit)) => {
            return Err(AuthError::device(format!("the authorization server's response exceeds {limit} bytes")))
        }
        Err(e) => return Err(AuthError::network(format!("device authorization request failed: {e}"))),
    };
    if !reply.status.is_success() {
        tracing::debug!(status = reply.status.as_u16(), "device authorization request refused");
        return Err(AuthError::device(format!("authorization server returned HTTP {}", reply.status.as_u16())));
    }
    let auth = parse_authorization(&reply.body)?;
    tracing::debug!(
        expires_in_secs = auth.expires_in.as_secs(),
        interval_secs = auth.interval.as_secs(),
        has_complete_uri = auth.verification_uri_complete.is_some(),
        "device authorization granted"
    );
    Ok(auth)
}

/// Validates a device authorization response body. Errors never quote the body.
pub fn parse_authorization(body: &[u8]) -> AuthResult<DeviceAuthorization> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AuthError::device("the authorization server returned a body that is not JSON"))?;
    let obj =
        value.as_object().ok_or_else(|| AuthError::device("the authorization server returned a non-object body"))?;

    let device_code = required_code(obj, "device_code")?;
    scrub::register_secret(&device_code);
    let user_code = required_code(obj, "user_code")?;

    let verification_uri = match obj.get("verification_uri") {
        None | Some(Value::Null) => return Err(bad_field("verification_uri", "is missing")),
        Some(v) => verification_url(v, "verification_uri")?,
    };
    let verification_uri_complete = match obj.get("verification_uri_complete") {
        None | Some(Value::Null) => None,
        Some(v) => Some(verification_url(v, "verification_uri_complete")?),
    };

    let expires_in = match obj.get("expires_in") {
        None | Some(Value::Null) => return Err(bad_field("expires_in", "is missing")),
        Some(v) => positive_seconds(v).ok_or_else(|| bad_field("expires_in", "is not a positive number"))?,
    };
    let interval = match obj.get("interval") {
        None | Some(Value::Null) => DEFAULT_INTERVAL,
        Some(v) => {
            let secs = positive_seconds(v).ok_or_else(|| bad_field("interval", "is not a positive number"))?;
            Duration::from_secs(secs).clamp(MIN_INTERVAL, MAX_INTERVAL)
        }
    };

    Ok(DeviceAuthorization {
        device_code,
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_in: Duration::from_secs(expires_in),
        interval,
    })
}

/// Polls the token endpoint until the user approves (tokens), refuses, or the code expires.
pub async fn poll_for_token(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    auth: &DeviceAuthorization,
    sleeper: &dyn Sleeper,
) -> AuthResult<TokenSet> {
    poll_for_token_with(http, cfg, auth, sleeper, &DeviceLimits::default()).await
}

/// [`poll_for_token`] with explicit limits.
pub async fn poll_for_token_with(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    auth: &DeviceAuthorization,
    sleeper: &dyn Sleeper,
    limits: &DeviceLimits,
) -> AuthResult<TokenSet> {
    let deadline = sleeper.now() + auth.expires_in.min(limits.max_wait);
    let mut interval = auth.interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
    let mut transport_failures: u32 = 0;

    loop {
        let remaining = deadline.saturating_duration_since(sleeper.now());
        if remaining.is_zero() {
            tracing::debug!("device code expired while waiting for approval");
            return Err(expired());
        }
        sleeper.sleep(interval.min(remaining)).await;

        let req = http.post(&cfg.token_url).header(ACCEPT, "application/json").form(&[
            ("grant_type", DEVICE_GRANT_TYPE),
            ("device_code", auth.device_code.as_str()),
            ("client_id", cfg.client_id.as_str()),
        ]);
        let sent = match req.build() {
            Ok(req) => transport(http, limits, Bodies::All).send(req).await,
            Err(e) => Err(TransportError::Send(e)),
        };
        let reply = match sent {
            Ok(reply) => {
                transport_failures = 0;
                reply
            }
            Err(TransportError::TooLarge(limit)) => {
                tracing::debug!(limit, "device poll: response too large");
                return Err(AuthError::device(format!("the token endpoint's response exceeds {limit} bytes")));
            }
            Err(e) if e.is_transient() => {
                transport_failures += 1;
                let detail = e.to_string();
                if transport_failures > limits.max_transport_retries {
                    tracing::debug!(attempts = transport_failures, "device poll: giving up on transport errors");
                    return Err(AuthError::network(format!(
                        "could not reach the token endpoint ({transport_failures} attempts in a row): {detail}"
                    )));
                }
                tracing::debug!(
                    attempt = transport_failures,
                    interval_secs = interval.as_secs(),
                    error = %detail,
                    "device poll: transport error, retrying"
                );
                continue;
            }
            Err(e) => return Err(AuthError::network(format!("token request failed: {e}"))),
        };

        let status = reply.status.as_u16();
        let rfc_error = rfc_error_code(&reply.body);
        if reply.status.is_success() && (rfc_error.is_none() || has_access_token(&reply.body)) {
            tracing::debug!(status, "device poll: tokens issued");
            return oauth::parse_token_response(&reply.body, chrono::Utc::now());
        }

        match rfc_error.as_deref() {
            Some("authorization_pending") => {
                tracing::debug!(status, "device poll: authorization_pending");
            }
            Some("slow_down") => {
                interval = slowed_interval(interval, &reply.headers);
                tracing::debug!(status, interval_secs = interval.as_secs(), "device poll: slow_down");
            }
            None if reply.status == StatusCode::TOO_MANY_REQUESTS => {
                interval = slowed_interval(interval, &reply.headers);
                tracing::debug!(status, interval_secs = interval.as_secs(), "device poll: rate limited");
            }
            Some("access_denied") => {
                tracing::debug!(status, "device poll: access_denied");
                return Err(AuthError::device("access was denied"));
            }
            Some("expired_token") => {
                tracing::debug!(status, "device poll: expired_token");
                return Err(expired());
            }
            other => {
                let code = other.and_then(|c| quotable_error_code(c, &auth.device_code));
                tracing::debug!(status, error = code.unwrap_or("-"), "device poll: failed");
                let message = match code {
                    Some(code) => format!("token endpoint returned HTTP {status} ({code})"),
                    None => format!("token endpoint returned HTTP {status}"),
                };
                return Err(AuthError::device(message));
            }
        }
    }
}

fn expired() -> AuthError {
    AuthError::device("the code expired")
}

fn bad_field(field: &str, problem: &str) -> AuthError {
    AuthError::device(format!("the authorization server's {field} {problem}"))
}

/// A non-empty, header-safe string field.
fn required_code(obj: &Map<String, Value>, field: &str) -> AuthResult<String> {
    match obj.get(field) {
        Some(Value::String(s)) if !s.is_empty() && is_header_safe(s) => Ok(s.clone()),
        Some(Value::String(s)) if s.is_empty() => Err(bad_field(field, "is empty")),
        Some(Value::String(_)) => Err(bad_field(field, "contains control characters")),
        None | Some(Value::Null) => Err(bad_field(field, "is missing")),
        Some(_) => Err(bad_field(field, "is not a string")),
    }
}

/// A verification address: https (or http on loopback), no userinfo, no control characters,
/// returned in canonical form (IDN hosts as punycode). The raw value is never quoted.
fn verification_url(value: &Value, field: &str) -> AuthResult<Url> {
    let raw = value.as_str().ok_or_else(|| bad_field(field, "is not a string"))?;
    if raw.is_empty() {
        return Err(bad_field(field, "is empty"));
    }
    // The URL parser silently drops tabs and newlines, so look at the raw text first.
    if raw.chars().any(char::is_control) {
        return Err(bad_field(field, "contains control characters"));
    }
    let url = Url::parse(raw).map_err(|_| bad_field(field, "is not a valid URL"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost"));
    match url.scheme() {
        "https" if url.host_str().is_some() => {}
        "http" if loopback => {}
        _ => return Err(bad_field(field, "must be an https URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad_field(field, "must not contain user information"));
    }
    if !is_header_safe(url.as_str()) {
        return Err(bad_field(field, "contains control characters"));
    }
    Ok(url)
}

/// Whole seconds, rounded up, from a JSON number or a string of ASCII digits. `None` unless the
/// value is strictly numeric and greater than zero.
fn positive_seconds(value: &Value) -> Option<u64> {
    let secs = match value {
        Value::Number(n) => {
            let f = n.as_f64()?;
            if !f.is_finite() || f <= 0.0 {
                return None;
            }
            f.ceil().min(MAX_REPORTED_EXPIRY_SECS as f64) as u64
        }
        Value::String(s) => {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // All digits: the only failure left is overflow, which is just "very large".
            s.parse::<u64>().unwrap_or(u64::MAX).min(MAX_REPORTED_EXPIRY_SECS)
        }
        _ => return None,
    };
    (secs > 0).then_some(secs)
}

/// The RFC 6749 §5.2 `error` member of a JSON object body, if there is one.
fn rfc_error_code(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(obj) => match obj.get("error") {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn has_access_token(body: &[u8]) -> bool {
    matches!(
        serde_json::from_slice::<Value>(body),
        Ok(Value::Object(obj)) if obj.contains_key("access_token")
    )
}

/// An error code that is safe to put in a message: short snake_case ASCII, and unrelated to the
/// device code (a server that echoes it must not get it printed).
fn quotable_error_code<'a>(code: &'a str, device_code: &str) -> Option<&'a str> {
    let shaped = !code.is_empty()
        && code.len() <= MAX_ERROR_CODE_LEN
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let related = code.contains(device_code) || device_code.contains(code);
    (shaped && !related).then_some(code)
}

/// The interval after `slow_down` or a bare 429: `min(max(interval + 5 s, Retry-After), 60 s)`.
fn slowed_interval(interval: Duration, headers: &HeaderMap) -> Duration {
    let retry_after = retry_after(headers, SystemTime::now()).unwrap_or(Duration::ZERO);
    (interval + SLOW_DOWN_STEP).max(retry_after).min(MAX_INTERVAL)
}

fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    crate::http::retry_after(headers, now, MAX_INTERVAL)
}

fn transport<'a>(http: &'a reqwest::Client, limits: &DeviceLimits, bodies: Bodies) -> Transport<'a> {
    Transport::new(http, Budget::Whole(limits.request_timeout), limits.body_limit, bodies)
}

#[cfg(test)]
mod tests;
