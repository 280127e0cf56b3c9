//! The one place HTTP clients are built and bodies are read with a size cap.

use std::time::Duration;

use futures_util::StreamExt;

pub const USER_AGENT: &str = concat!("hyperframes/", env!("CARGO_PKG_VERSION"));

/// Error bodies and JSON responses larger than this are refused rather than buffered.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Every HTTP client starts here: our user agent and the process's TLS roots (built-in, OS store,
/// `SSL_CERT_FILE`, `SSL_CERT_DIR`, `NODE_EXTRA_CA_CERTS`; see [`crate::tls`]).
pub fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().user_agent(USER_AGENT).use_preconfigured_tls(crate::tls::client_config())
}

pub fn client(timeout: Duration) -> reqwest::Client {
    builder()
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

/// A transport error described without the URL (whose query may carry secrets). A certificate the
/// TLS roots do not vouch for is named as such, with what to do behind a TLS-inspecting proxy.
pub fn describe(e: &reqwest::Error) -> String {
    if let Some(tls) = tls_error(e) {
        return match tls {
            rustls::Error::InvalidCertificate(cert) => {
                format!(
                    "the server's TLS certificate is not trusted ({}); {}",
                    cert_problem(cert),
                    crate::tls::UNTRUSTED_HINT
                )
            }
            other => format!("TLS handshake failed ({other})"),
        };
    }
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

/// The rustls error behind a transport error, if TLS is what failed. rustls reaches reqwest inside
/// nested `io::Error`s, whose `source()` skips the wrapped error itself, hence `get_ref`.
fn tls_error(e: &reqwest::Error) -> Option<&rustls::Error> {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let mut inner = s;
        while let Some(io) = inner.downcast_ref::<std::io::Error>() {
            match io.get_ref() {
                Some(wrapped) => inner = wrapped,
                None => break,
            }
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        source = s.source();
    }
    None
}

fn cert_problem(e: &rustls::CertificateError) -> String {
    use rustls::CertificateError as C;
    match e {
        C::UnknownIssuer => "it is signed by an authority this machine does not trust".to_string(),
        C::Expired | C::ExpiredContext { .. } => "it has expired".to_string(),
        C::NotValidYet | C::NotValidYetContext { .. } => "it is not valid yet; check the clock".to_string(),
        C::NotValidForName | C::NotValidForNameContext { .. } => "it was issued for another host name".to_string(),
        C::Revoked => "it has been revoked".to_string(),
        other => format!("{other:?}"),
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
