//! The one place HTTP clients are built and bodies are read with a size cap.

use std::time::Duration;

use futures_util::StreamExt;

pub const USER_AGENT: &str = concat!("hyperframes/", env!("CARGO_PKG_VERSION"));

/// Error bodies and JSON responses larger than this are refused rather than buffered.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

/// Every HTTP client starts here: our user agent, the process's TLS roots (built-in, OS store,
/// `SSL_CERT_FILE`, `SSL_CERT_DIR`, `NODE_EXTRA_CA_CERTS`; see [`crate::tls`]), no `Referer`, and
/// no redirect followed by reqwest itself: a request that may be redirected goes through
/// [`send_following`], which decides what the next host gets.
pub fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .use_preconfigured_tls(crate::tls::client_config())
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
}

pub fn client(timeout: Duration) -> reqwest::Client {
    builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .build()
        .expect("a TLS backend is compiled in")
}

/// The request headers that may go on to another origin after a redirect. Everything else (the
/// `Authorization`, `x-api-key`, `xi-api-key` or any other provider's key header, cookies, a
/// `Referer`) stays with the origin it was meant for.
const CROSS_ORIGIN_HEADERS: [reqwest::header::HeaderName; 5] = [
    reqwest::header::ACCEPT,
    reqwest::header::ACCEPT_ENCODING,
    reqwest::header::ACCEPT_LANGUAGE,
    reqwest::header::RANGE,
    reqwest::header::IF_RANGE,
];

/// Sends `request`, following up to `max_redirects` redirects (301, 302, 303, 307, 308) ourselves
/// rather than through reqwest's policy, which forwards every header but four to the next host and
/// sends a `Referer` holding the previous URL (a presigned link's signature). Within one origin
/// (scheme, host and port) the request goes on as it was; to another origin only
/// [`CROSS_ORIGIN_HEADERS`] go with it. A 303, or a 301/302 answering a POST, becomes a GET without
/// a body, as browsers do. The redirect itself is returned when there are no redirects left, when
/// its `Location` is missing or not http(s), or when the body cannot be sent again; the caller
/// treats it as any other unexpected status.
pub async fn send_following(
    request: reqwest::RequestBuilder,
    max_redirects: usize,
) -> Result<reqwest::Response, reqwest::Error> {
    use reqwest::{header, Method, StatusCode};
    let (client, request) = request.build_split();
    let mut request = request?;
    let mut left = max_redirects;
    loop {
        let again = if left > 0 { request.try_clone() } else { None };
        let from = request.url().clone();
        let resp = client.execute(request).await?;
        let status = resp.status();
        let redirect = matches!(
            status,
            StatusCode::MOVED_PERMANENTLY
                | StatusCode::FOUND
                | StatusCode::SEE_OTHER
                | StatusCode::TEMPORARY_REDIRECT
                | StatusCode::PERMANENT_REDIRECT
        );
        let Some(mut next) = again.filter(|_| redirect) else { return Ok(resp) };
        let target = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|loc| from.join(loc.trim()).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"));
        let Some(target) = target else { return Ok(resp) };
        let to_get = status == StatusCode::SEE_OTHER && next.method() != Method::HEAD
            || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND) && next.method() == Method::POST;
        if to_get {
            *next.method_mut() = Method::GET;
            *next.body_mut() = None;
            for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_ENCODING] {
                next.headers_mut().remove(name);
            }
        }
        if target.origin() != from.origin() {
            let kept: header::HeaderMap = next
                .headers()
                .iter()
                .filter(|(name, _)| CROSS_ORIGIN_HEADERS.contains(name))
                .map(|(name, value)| (name.clone(), value.clone()))
                .collect();
            *next.headers_mut() = kept;
        }
        *next.url_mut() = target;
        request = next;
        left -= 1;
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::http::{Scripted, TestServer};

    fn redirect(status: u16, to: &str) -> Scripted {
        Scripted::bytes(status, "text/plain", Vec::new()).with_header("location", to)
    }

    fn credentialed(client: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        client
            .get(url)
            .header("authorization", "Bearer at-0001")
            .header("x-api-key", "sk-0001")
            .header("xi-api-key", "xi-0001")
            .header("x-goog-api-key", "goog-0001")
            .header("cookie", "session=c-0001")
            .header("range", "bytes=5-")
    }

    /// Two loopback servers on different ports are two origins: the first redirects to the
    /// second, which records what it got.
    #[tokio::test]
    async fn another_origin_gets_no_referer_and_no_credentials() {
        let (first, second) = (TestServer::start().await, TestServer::start().await);
        first.push(redirect(302, &format!("{}/cdn/file?x=1", second.url())));
        second.push(Scripted::bytes(200, "audio/mpeg", b"ok".to_vec()));
        let client = client(Duration::from_secs(5));
        let start = format!("{}/signed/file?sig=s3cr3t-0001", first.url());
        let resp = send_following(credentialed(&client, &start), 5).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(first.requests()[0].header("x-api-key"), Some("sk-0001"), "the first host gets what was set");
        let got = &second.requests()[0];
        assert_eq!(got.target, "/cdn/file?x=1");
        for name in ["referer", "authorization", "x-api-key", "xi-api-key", "x-goog-api-key", "cookie"] {
            assert_eq!(got.header(name), None, "{name} reached another host: {got:?}");
        }
        assert!(!format!("{got:?}").contains("s3cr3t"), "{got:?}");
        assert_eq!(got.header("range"), Some("bytes=5-"), "content headers go on");
    }

    #[tokio::test]
    async fn the_same_origin_keeps_the_request_but_gets_no_referer() {
        let server = TestServer::start().await;
        server.push(redirect(307, "/moved?sig=2"));
        server.push(Scripted::bytes(200, "text/plain", b"ok".to_vec()));
        let client = client(Duration::from_secs(5));
        let resp = send_following(credentialed(&client, &format!("{}/a?sig=1", server.url())), 5).await.unwrap();
        assert_eq!(resp.status(), 200);
        let got = &server.requests()[1];
        assert_eq!(got.target, "/moved?sig=2");
        assert_eq!((got.header("x-api-key"), got.header("referer")), (Some("sk-0001"), None));
    }

    #[tokio::test]
    async fn redirects_are_bounded_and_a_303_becomes_a_get() {
        let server = TestServer::start().await;
        let client = client(Duration::from_secs(5));
        let url = format!("{}/loop", server.url());
        server.push(redirect(302, "/loop"));
        assert_eq!(send_following(client.get(&url), 0).await.unwrap().status(), 302, "0: not followed");
        server.push(redirect(302, "/loop"));
        server.push(redirect(302, "/loop"));
        assert_eq!(send_following(client.get(&url), 1).await.unwrap().status(), 302, "out of redirects");
        assert_eq!(server.requests().len(), 3);

        server.push(redirect(303, "/result"));
        server.push(Scripted::bytes(200, "text/plain", b"done".to_vec()));
        let post = client.post(&url).header("content-type", "application/json").body("{\"a\":1}");
        assert_eq!(send_following(post, 2).await.unwrap().status(), 200);
        let got = &server.requests()[4];
        assert_eq!((got.method.as_str(), got.body.len(), got.header("content-type")), ("GET", 0, None));

        server.push(redirect(302, "file:///etc/passwd"));
        assert_eq!(send_following(client.get(&url), 3).await.unwrap().status(), 302, "not http(s): returned");
        assert_eq!(server.requests().len(), 6);
    }
}
