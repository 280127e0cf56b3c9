//! One request to a hosted provider, with the failure handling every client shares: a time budget
//! per attempt (body included), a body size cap, bounded retries on 5xx, timeouts and broken
//! connections, and 429 honoured through Retry-After (up to a limit).
//!
//! `HYPERFRAMES_PROVIDER_TIMEOUT_MS` replaces every policy's per-attempt time limit (a slow link
//! may need more; a test or a script that wants to fail fast, less). A client whose own transport
//! timeout is shorter still stops at that.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::error::{ProviderError, ProviderErrorCode, ProviderResult, MAX_RETRY_AFTER};
use crate::auth::scrub;
use crate::clock::Sleeper;
use crate::http::{self, BodyError};

/// Milliseconds (a positive integer) for every hosted call's per-attempt limit; see the module docs.
pub const TIMEOUT_ENV: &str = "HYPERFRAMES_PROVIDER_TIMEOUT_MS";

/// `policy` with the per-attempt limit `raw` (a [`TIMEOUT_ENV`] value) asks for; unchanged when
/// `raw` is unset or not a positive integer.
pub(crate) fn with_timeout_override(policy: &Policy, raw: Option<&str>) -> Policy {
    match raw.map(str::trim).and_then(|s| s.parse::<u64>().ok()).filter(|ms| *ms > 0) {
        Some(ms) => Policy { timeout: Duration::from_millis(ms), ..policy.clone() },
        None => policy.clone(),
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// Per attempt, reading the body included.
    pub timeout: Duration,
    pub body_limit: usize,
    /// First backoff after a 5xx or transport error; doubles each time.
    pub backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            attempts: 3,
            timeout: Duration::from_secs(60),
            body_limit: http::DEFAULT_BODY_LIMIT,
            backoff: Duration::from_millis(500),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self, provider: &'static str, what: &str) -> ProviderResult<serde_json::Value> {
        serde_json::from_slice(&self.body).map_err(|_| {
            ProviderError::new(
                provider,
                ProviderErrorCode::BadResponse,
                format!("{provider} {what}: the response is not JSON"),
            )
            .with_status(self.status)
        })
    }
}

/// The short, scrubbed summary of an error body for messages.
pub fn body_excerpt(body: &[u8]) -> String {
    let text = scrub::scrub_api_body(&String::from_utf8_lossy(body));
    let text = text.trim();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

fn status_error(provider: &'static str, what: &str, status: u16, body: &[u8]) -> ProviderError {
    use ProviderErrorCode::*;
    let code = match status {
        401 | 403 => Unauthorized,
        402 => PaymentRequired,
        404 => NotFound,
        429 => RateLimited,
        500..=599 => ServerError,
        _ => BadRequest,
    };
    let excerpt = body_excerpt(body);
    let detail = if excerpt.is_empty() { String::new() } else { format!(": {excerpt}") };
    ProviderError::new(provider, code, format!("{provider} {what} failed with HTTP {status}{detail}"))
        .with_status(status)
}

enum Attempt {
    Done(Reply),
    Retry(ProviderError, Option<Duration>),
    Fail(ProviderError),
}

async fn attempt(provider: &'static str, what: &str, request: reqwest::RequestBuilder, policy: &Policy) -> Attempt {
    let sent = tokio::time::timeout(policy.timeout, async {
        let resp = request.send().await.map_err(|e| (e.is_timeout(), http::describe(&e)))?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        match http::read_body_capped(resp, policy.body_limit).await {
            Ok(body) => Ok(Ok(Reply { status, headers, body })),
            Err(BodyError::TooLarge(limit)) => Ok(Err(limit)),
            Err(BodyError::Transport(e)) => Err((e.is_timeout(), http::describe(&e))),
        }
    })
    .await;
    let reply = match sent {
        Err(_) => {
            let e = ProviderError::new(
                provider,
                ProviderErrorCode::Timeout,
                format!("{provider} {what} timed out after {}s", policy.timeout.as_secs_f64()),
            );
            return Attempt::Retry(e, None);
        }
        Ok(Err((timed_out, detail))) => {
            let code = if timed_out { ProviderErrorCode::Timeout } else { ProviderErrorCode::Network };
            return Attempt::Retry(ProviderError::new(provider, code, format!("{provider} {what}: {detail}")), None);
        }
        Ok(Ok(Err(limit))) => {
            return Attempt::Fail(ProviderError::new(
                provider,
                ProviderErrorCode::TooLarge,
                format!("{provider} {what}: the response is larger than {limit} bytes"),
            ))
        }
        Ok(Ok(Ok(reply))) => reply,
    };
    match reply.status {
        200..=299 => Attempt::Done(reply),
        429 => {
            let wait = http::retry_after(&reply.headers, SystemTime::now(), Duration::from_secs(3600));
            let e = status_error(provider, what, 429, &reply.body);
            match wait {
                Some(w) if w > MAX_RETRY_AFTER => {
                    Attempt::Fail(e.with_hint(format!("{provider} asked to wait {}s; try again later.", w.as_secs())))
                }
                w => Attempt::Retry(e, w),
            }
        }
        500..=599 => Attempt::Retry(status_error(provider, what, reply.status, &reply.body), None),
        s => Attempt::Fail(status_error(provider, what, s, &reply.body)),
    }
}

/// Sends the request `build` makes (once per attempt) under `policy`.
pub async fn send(
    provider: &'static str,
    what: &str,
    build: &(dyn Fn() -> reqwest::RequestBuilder + Sync),
    policy: &Policy,
    sleeper: &dyn Sleeper,
) -> ProviderResult<Reply> {
    let policy = &with_timeout_override(policy, std::env::var(TIMEOUT_ENV).ok().as_deref());
    let mut backoff = policy.backoff;
    let mut last = None;
    for n in 1..=policy.attempts.max(1) {
        match attempt(provider, what, build(), policy).await {
            Attempt::Done(reply) => return Ok(reply),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry(e, wait) => {
                tracing::debug!(provider, what, attempt = n, error = %e.message, "retrying");
                last = Some(e);
                if n < policy.attempts {
                    sleeper.sleep(wait.unwrap_or(backoff)).await;
                    backoff *= 2;
                }
            }
        }
    }
    Err(last.expect("at least one attempt ran"))
}

#[cfg(test)]
mod tests;
