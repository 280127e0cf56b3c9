//! One request to a hosted provider, with the failure handling every client shares: a total time
//! budget per call, a time limit per attempt (body included), a body size cap, bounded retries on
//! 5xx, timeouts and broken connections, 429 honoured through Retry-After when the wait fits the
//! budget, and a "waiting for …" line while a call is slow.
//!
//! Time limits:
//! - The **budget** (`HYPERFRAMES_PROVIDER_BUDGET_MS`, default 30 s) bounds the whole call:
//!   connecting, headers and body of every attempt, plus the backoff and Retry-After waits between
//!   them. When it runs out, the call fails with a timeout and the chain moves to the next provider.
//! - The **per-attempt limit** (`HYPERFRAMES_PROVIDER_TIMEOUT_MS`, else the policy's) bounds one
//!   attempt; an attempt never runs past the budget either. A per-attempt limit set above the
//!   default budget (a slow link) raises the budget to match unless the budget is set too, so one
//!   attempt can always use the limit it was given. A client whose own transport timeout is
//!   shorter still stops at that.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

use super::error::{ProviderError, ProviderErrorCode, ProviderResult};
use super::Provider;
use crate::auth::scrub;
use crate::clock::Sleeper;
use crate::http::{self, BodyError};

/// Milliseconds (a positive integer) for every hosted call's per-attempt limit; see the module docs.
pub const TIMEOUT_ENV: &str = "HYPERFRAMES_PROVIDER_TIMEOUT_MS";
/// Milliseconds (a positive integer) for every hosted call's total budget; see the module docs.
pub const BUDGET_ENV: &str = "HYPERFRAMES_PROVIDER_BUDGET_MS";
/// Milliseconds of waiting on one call before the first "waiting for …" line (then one per period).
pub const WAIT_NOTICE_ENV: &str = "HYPERFRAMES_PROVIDER_WAIT_NOTICE_MS";
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(30);
pub const DEFAULT_WAIT_NOTICE: Duration = Duration::from_secs(5);

fn millis(raw: Option<&str>) -> Option<Duration> {
    raw.map(str::trim).and_then(|s| s.parse::<u64>().ok()).filter(|ms| *ms > 0).map(Duration::from_millis)
}

/// `policy` with the per-attempt limit `raw` (a [`TIMEOUT_ENV`] value) asks for; unchanged when
/// `raw` is unset or not a positive integer.
pub(crate) fn with_timeout_override(policy: &Policy, raw: Option<&str>) -> Policy {
    match millis(raw) {
        Some(timeout) => Policy { timeout, ..policy.clone() },
        None => policy.clone(),
    }
}

/// `policy` as the environment shapes it: [`TIMEOUT_ENV`] and [`BUDGET_ENV`] (see the module docs).
pub(crate) fn with_env_limits(policy: &Policy, timeout_raw: Option<&str>, budget_raw: Option<&str>) -> Policy {
    let mut p = with_timeout_override(policy, timeout_raw);
    match millis(budget_raw) {
        Some(budget) => p.budget = budget,
        None if millis(timeout_raw).is_some() => p.budget = p.budget.max(p.timeout),
        None => {}
    }
    p
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
    /// The whole call: every attempt and every wait between them.
    pub budget: Duration,
    /// Redirects an attempt follows (0: a redirect is an answer like any other); see
    /// [`http::send_following`] for what another host gets.
    pub redirects: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            attempts: 3,
            timeout: Duration::from_secs(60),
            body_limit: http::DEFAULT_BODY_LIMIT,
            backoff: Duration::from_millis(500),
            budget: DEFAULT_BUDGET,
            redirects: 0,
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
    pub fn json(&self, provider: Provider, what: &str) -> ProviderResult<serde_json::Value> {
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

fn status_error(provider: Provider, what: &str, status: u16, body: &[u8]) -> ProviderError {
    use ProviderErrorCode::*;
    let code = match status {
        // A redirect that was not followed (none allowed, none left, or nowhere usable to go) is
        // the server's doing, not an invalid request: the next provider may serve.
        300..=399 => BadResponse,
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
    /// The failure, and the wait the server asked for (Retry-After), if it did.
    Retry(ProviderError, Option<Duration>),
    Fail(ProviderError),
}

async fn attempt(
    provider: Provider,
    what: &str,
    request: reqwest::RequestBuilder,
    policy: &Policy,
    limit: Duration,
) -> Attempt {
    let sent = tokio::time::timeout(limit, async {
        let resp =
            http::send_following(request, policy.redirects).await.map_err(|e| (e.is_timeout(), http::describe(&e)))?;
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
                format!("{provider} {what} timed out after {}s", limit.as_secs_f64()),
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
            // Read uncapped, so the message says what was asked; whether it fits is `send`'s call.
            let wait = http::retry_after(&reply.headers, SystemTime::now(), Duration::MAX);
            Attempt::Retry(status_error(provider, what, 429, &reply.body), wait)
        }
        500..=599 => Attempt::Retry(status_error(provider, what, reply.status, &reply.body), None),
        s => Attempt::Fail(status_error(provider, what, s, &reply.body)),
    }
}

type WaitReporter = dyn Fn(&str) + Send + Sync;

static WAIT_REPORTER: std::sync::RwLock<Option<std::sync::Arc<WaitReporter>>> = std::sync::RwLock::new(None);

#[cfg(test)]
/// Where "waiting for HeyGen… 5s" lines go (a front end with its own progress display sets this);
/// standard error by default.
pub fn set_wait_reporter(reporter: Option<std::sync::Arc<WaitReporter>>) {
    *WAIT_REPORTER.write().unwrap_or_else(|e| e.into_inner()) = reporter;
}

fn report_wait(line: &str) {
    let reporter = WAIT_REPORTER.read().unwrap_or_else(|e| e.into_inner()).clone();
    match reporter {
        Some(r) => r(line),
        None => eprintln!("{line}"),
    }
}

/// `5s`, or `0.3s` under a second (short notice periods in tests and scripts).
fn seconds(d: Duration) -> String {
    if d.as_secs() == 0 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}s", d.as_secs())
    }
}

/// Runs `fut`, printing a "waiting for <provider>… Ns" line every `period` of the call so far
/// (counted from `started`) until it completes.
async fn with_wait_notices<T>(
    fut: impl std::future::Future<Output = T>,
    provider: Provider,
    started: Instant,
    period: Duration,
) -> T {
    tokio::pin!(fut);
    let mut next = started + period;
    loop {
        let tick = tokio::time::sleep_until(tokio::time::Instant::from_std(next));
        tokio::select! {
            out = &mut fut => return out,
            () = tick => {
                report_wait(&format!("waiting for {}… {}", provider.display_name(), seconds(started.elapsed())));
                next += period;
            }
        }
    }
}

fn budget_spent(provider: Provider, what: &str, budget: Duration, attempts: u32, last: ProviderError) -> ProviderError {
    let secs = budget.as_secs_f64();
    let tries = if attempts == 1 { "1 attempt".to_string() } else { format!("{attempts} attempts") };
    let mut e = ProviderError::new(
        provider,
        last.code,
        format!(
            "{provider} {what}: no answer within the {secs}s budget for this call ({tries}; last: {})",
            last.message
        ),
    );
    e.status = last.status;
    e.with_hint(format!("Set {BUDGET_ENV} (milliseconds) to give hosted providers longer."))
}

/// Sends the request `build` makes (once per attempt) under `policy`, within its budget (see the
/// module docs).
pub async fn send(
    provider: Provider,
    what: &str,
    build: &(dyn Fn() -> reqwest::RequestBuilder + Sync),
    policy: &Policy,
    sleeper: &dyn Sleeper,
) -> ProviderResult<Reply> {
    let policy =
        &with_env_limits(policy, std::env::var(TIMEOUT_ENV).ok().as_deref(), std::env::var(BUDGET_ENV).ok().as_deref());
    let notice = millis(std::env::var(WAIT_NOTICE_ENV).ok().as_deref()).unwrap_or(DEFAULT_WAIT_NOTICE);
    let started = Instant::now();
    // Time spent on attempts (measured) and waits (as asked of the sleeper, which tests fake).
    let mut spent = Duration::ZERO;
    let mut backoff = policy.backoff;
    let attempts = policy.attempts.max(1);
    for n in 1..=attempts {
        let left = policy.budget.saturating_sub(spent);
        let limit = policy.timeout.min(left);
        let began = Instant::now();
        let outcome =
            with_wait_notices(attempt(provider, what, build(), policy, limit), provider, started, notice).await;
        spent += began.elapsed();
        let (e, wait) = match outcome {
            Attempt::Done(reply) => return Ok(reply),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry(e, wait) => (e, wait),
        };
        tracing::debug!(provider = provider.as_str(), what, attempt = n, error = %e.message, "attempt failed");
        let left = policy.budget.saturating_sub(spent);
        let ran_out = e.code == ProviderErrorCode::Timeout && limit < policy.timeout;
        if ran_out || left.is_zero() {
            return Err(budget_spent(provider, what, policy.budget, n, e));
        }
        if n == attempts {
            return Err(e);
        }
        let pause = match wait {
            Some(asked) if asked >= left => {
                let mut e = e;
                e.message = format!(
                    "{} (it asked to wait {}s before retrying: beyond this call's {}s budget, so not waiting)",
                    e.message,
                    asked.as_secs(),
                    policy.budget.as_secs_f64()
                );
                return Err(e.with_hint(format!(
                    "{} is rate-limiting; try again later, or raise {BUDGET_ENV} to wait for it.",
                    provider.display_name()
                )));
            }
            Some(asked) => asked,
            None => backoff,
        };
        if pause >= left {
            return Err(budget_spent(provider, what, policy.budget, n, e));
        }
        with_wait_notices(sleeper.sleep(pause), provider, started, notice).await;
        spent += pause;
        backoff *= 2;
    }
    unreachable!("the last attempt always returns")
}

#[cfg(test)]
mod tests;
