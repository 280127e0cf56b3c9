//! The one place HTTP clients are built and bodies are read with a size cap.

use std::time::Duration;

use futures_util::StreamExt;

pub const USER_AGENT: &str = concat!("hyperframes/", env!("CARGO_PKG_VERSION"));

/// Error bodies and JSON responses larger than this are refused rather than buffered.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .build()
        .expect("a TLS backend is compiled in")
}

#[derive(Debug)]
pub enum BodyError {
    TooLarge(usize),
    Transport(reqwest::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge(limit) => write!(f, "response body exceeds {limit} bytes"),
            Self::Transport(e) => write!(f, "response body could not be read: {}", describe(e)),
        }
    }
}

/// Reads a response body, refusing to hold more than `limit` bytes.
pub async fn read_body_capped(resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, BodyError> {
    if resp.content_length().is_some_and(|n| n as usize > limit) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut out = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(BodyError::Transport)?;
        if out.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A transport error described without the URL (whose query may carry secrets).
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "connection closed while reading the response"
    } else if e.is_redirect() {
        "too many redirects"
    } else if e.is_request() {
        "request failed"
    } else {
        "HTTP error"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({detail})")
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date relative to `now`, rounded up to whole seconds
/// and capped at `cap`. Unparseable values are ignored.
pub fn retry_after(
    headers: &reqwest::header::HeaderMap,
    now: std::time::SystemTime,
    cap: Duration,
) -> Option<Duration> {
    let raw = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(raw.parse::<u64>().unwrap_or(u64::MAX).min(cap.as_secs()))
    } else {
        let when = httpdate::parse_http_date(raw).ok()?;
        let ahead = when.duration_since(now).unwrap_or(Duration::ZERO);
        let mut secs = ahead.as_secs();
        if ahead.subsec_nanos() > 0 {
            secs += 1;
        }
        Duration::from_secs(secs)
    };
    Some(delay.min(cap))
}
