//! The device flow against a contract server on 127.0.0.1 and a fake clock.
//!
//! The server here is this module's own, not `crate::providers::test_server::TestServer`: these
//! tests need a body with no Content-Length that ends when the connection closes (the body cap
//! must hold without a declared length) and a last reply that repeats for every further poll
//! (the polling tests do not know how many polls a deadline allows); the shared server always
//! declares a length and answers 404 once its script runs out.

use super::*;
use crate::auth::error::AuthErrorCode;
use reqwest::header::RETRY_AFTER;
use serde_json::json;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const DEVICE_CODE: &str = "DEV-SECRET-Gm9xQ2hZkP7wLr4T";

// ---------- contract server ----------

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Content-Length plus the body.
    Normal,
    /// No Content-Length: the body ends when the connection closes.
    Unframed,
    /// Promise more body than is sent, then hold the connection open.
    Stall,
    /// Read the request and close without answering.
    Drop,
}

#[derive(Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    mode: Mode,
}

impl Reply {
    fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            mode: Mode::Normal,
        }
    }
    fn raw(status: u16, body: &str) -> Self {
        Self { status, headers: vec![], body: body.as_bytes().to_vec(), mode: Mode::Normal }
    }
    fn error(code: &str) -> Self {
        Self::json(400, json!({ "error": code }))
    }
    fn token() -> Self {
        Self::json(
            200,
            json!({"access_token": "at-123", "refresh_token": "rt-456", "token_type": "Bearer",
                   "expires_in": 3600, "scope": "openid profile email"}),
        )
    }
    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
    fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }
}

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }
}

struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl Server {
    /// Answers requests with `replies` in order; the last one repeats forever.
    async fn start(replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let replies = Arc::new(replies);
        let next = Arc::new(AtomicUsize::new(0));
        let recorded = requests.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (replies, next, recorded) = (replies.clone(), next.clone(), recorded.clone());
                tokio::spawn(async move {
                    let _ = handle(sock, &replies, &next, &recorded).await;
                });
            }
        });
        Self { addr, requests }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn cfg(&self) -> OAuthConfig {
        OAuthConfig {
            client_id: "test-client".into(),
            authorize_url: self.url("/authorize"),
            token_url: self.url("/token"),
            revoke_url: self.url("/revoke"),
            device_url: self.url("/device"),
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

async fn handle(
    mut sock: TcpStream,
    replies: &[Reply],
    next: &AtomicUsize,
    recorded: &Mutex<Vec<Recorded>>,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut start = lines.next().unwrap_or_default().split(' ');
    let method = start.next().unwrap_or_default().to_string();
    let path = start.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize =
        headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..]).to_string();
    recorded.lock().unwrap().push(Recorded { method, path, headers, body });

    let i = next.fetch_add(1, Ordering::SeqCst).min(replies.len() - 1);
    let reply = &replies[i];
    if reply.mode == Mode::Drop {
        return Ok(());
    }
    let mut out = format!("HTTP/1.1 {} Test\r\nconnection: close\r\n", reply.status);
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    match reply.mode {
        Mode::Normal => out.push_str(&format!("content-length: {}\r\n", reply.body.len())),
        Mode::Stall => out.push_str(&format!("content-length: {}\r\n", reply.body.len() + 1000)),
        Mode::Unframed | Mode::Drop => {}
    }
    out.push_str("\r\n");
    sock.write_all(out.as_bytes()).await?;
    sock.write_all(&reply.body).await?;
    sock.flush().await?;
    if reply.mode == Mode::Stall {
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    sock.shutdown().await
}

// ---------- fake clock ----------

struct FakeSleeper {
    start: Instant,
    state: Mutex<(Duration, Vec<Duration>)>,
}

impl FakeSleeper {
    fn new() -> Self {
        Self { start: Instant::now(), state: Mutex::new((Duration::ZERO, Vec::new())) }
    }
    fn sleeps(&self) -> Vec<u64> {
        self.state.lock().unwrap().1.iter().map(|d| d.as_secs()).collect()
    }
    fn elapsed(&self) -> Duration {
        self.state.lock().unwrap().0
    }
}

impl Sleeper for FakeSleeper {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut state = self.state.lock().unwrap();
        state.0 += d;
        state.1.push(d);
        Box::pin(std::future::ready(()))
    }
    fn now(&self) -> Instant {
        self.start + self.state.lock().unwrap().0
    }
}

// ---------- helpers ----------

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn fast_limits() -> DeviceLimits {
    DeviceLimits { request_timeout: Duration::from_millis(200), ..DeviceLimits::default() }
}

fn auth_with(interval: u64, expires_in: u64) -> DeviceAuthorization {
    DeviceAuthorization {
        device_code: DEVICE_CODE.into(),
        user_code: "WDJB-MJHT".into(),
        verification_uri: Url::parse("https://example.com/device").unwrap(),
        verification_uri_complete: None,
        expires_in: Duration::from_secs(expires_in),
        interval: Duration::from_secs(interval),
    }
}

fn base() -> Map<String, Value> {
    match json!({
        "device_code": DEVICE_CODE,
        "user_code": "WDJB-MJHT",
        "verification_uri": "https://example.com/device",
        "expires_in": 600,
        "interval": 5
    }) {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn parse_with(field: &str, value: Value) -> AuthResult<DeviceAuthorization> {
    let mut obj = base();
    obj.insert(field.into(), value);
    parse_authorization(Value::Object(obj).to_string().as_bytes())
}

fn parse_without(field: &str) -> AuthResult<DeviceAuthorization> {
    let mut obj = base();
    obj.remove(field);
    parse_authorization(Value::Object(obj).to_string().as_bytes())
}

fn assert_no_leak(err: &AuthError) {
    for text in [err.message.clone(), err.hint.clone().unwrap_or_default(), format!("{err}"), format!("{err:?}")] {
        assert!(!text.contains(DEVICE_CODE), "device code leaked: {text}");
    }
}

fn assert_device_error(err: &AuthError, needle: &str) {
    assert_eq!(err.code, AuthErrorCode::DeviceAuthFailed, "{err:?}");
    assert!(err.message.contains(needle), "{:?} lacks {needle:?}", err.message);
    assert!(err.hint.as_deref().unwrap_or_default().contains("--device"));
    assert_no_leak(err);
}

async fn poll(replies: Vec<Reply>, auth: &DeviceAuthorization) -> (AuthResult<TokenSet>, FakeSleeper, Server) {
    let server = Server::start(replies).await;
    let sleeper = FakeSleeper::new();
    let result = poll_for_token_with(&client(), &server.cfg(), auth, &sleeper, &fast_limits()).await;
    (result, sleeper, server)
}

// ---------- request_authorization ----------

#[tokio::test]
async fn authorization_request_shape_and_parse() {
    let server = Server::start(vec![Reply::json(
        200,
        json!({
            "device_code": DEVICE_CODE,
            "user_code": "WDJB-MJHT",
            "verification_uri": "https://example.com/device",
            "verification_uri_complete": "https://example.com/device?user_code=WDJB-MJHT",
            "expires_in": 900,
            "interval": 7
        }),
    )])
    .await;
    let auth = request_authorization(&client(), &server.cfg()).await.unwrap();
    assert_eq!(auth.device_code, DEVICE_CODE);
    assert_eq!(auth.user_code, "WDJB-MJHT");
    assert_eq!(auth.verification_uri.as_str(), "https://example.com/device");
    assert_eq!(
        auth.verification_uri_complete.as_ref().map(Url::as_str),
        Some("https://example.com/device?user_code=WDJB-MJHT")
    );
    assert_eq!(auth.display_uri().as_str(), "https://example.com/device?user_code=WDJB-MJHT");
    assert_eq!(auth.expires_in, Duration::from_secs(900));
    assert_eq!(auth.interval, Duration::from_secs(7));

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "POST");
    assert_eq!(reqs[0].path, "/device");
    assert_eq!(reqs[0].header("accept"), Some("application/json"));
    assert_eq!(reqs[0].header("content-type"), Some("application/x-www-form-urlencoded"));
    // oauth2 builds this request; the order of form fields carries no meaning.
    let mut form = reqs[0].form();
    form.sort();
    assert_eq!(
        form,
        vec![("client_id".to_string(), "test-client".to_string()), ("scope".to_string(), oauth::SCOPES.to_string()),]
    );
}

#[tokio::test]
async fn authorization_non_2xx_reports_status_only() {
    let server =
        Server::start(vec![Reply::json(503, json!({"error": "temporarily_unavailable", "device_code": DEVICE_CODE}))])
            .await;
    let err = request_authorization(&client(), &server.cfg()).await.unwrap_err();
    assert_device_error(&err, "authorization server returned HTTP 503");
    assert!(!err.message.contains("temporarily_unavailable"));
}

#[tokio::test]
async fn authorization_oversized_body_is_refused() {
    let big = format!("{{\"device_code\":\"{DEVICE_CODE}\",\"pad\":\"{}\"}}", "x".repeat(BODY_LIMIT));
    for mode in [Mode::Normal, Mode::Unframed] {
        let server = Server::start(vec![Reply::raw(200, &big).mode(mode)]).await;
        let err = request_authorization(&client(), &server.cfg()).await.unwrap_err();
        assert_device_error(&err, "exceeds 65536 bytes");
    }
}

#[tokio::test]
async fn authorization_body_just_under_cap_is_read() {
    let mut obj = base();
    let overhead = Value::Object(obj.clone()).to_string().len() + r#","pad":"""#.len();
    obj.insert("pad".into(), Value::String("x".repeat(BODY_LIMIT - overhead)));
    let body = Value::Object(obj).to_string();
    assert_eq!(body.len(), BODY_LIMIT);
    let server = Server::start(vec![Reply::raw(200, &body).mode(Mode::Unframed)]).await;
    let auth = request_authorization(&client(), &server.cfg()).await.unwrap();
    assert_eq!(auth.user_code, "WDJB-MJHT");
}

#[tokio::test]
async fn authorization_slow_body_times_out() {
    let server = Server::start(vec![Reply::raw(200, "{\"device_code\":").mode(Mode::Stall)]).await;
    let err = request_authorization_with(&client(), &server.cfg(), &fast_limits()).await.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Network, "{err:?}");
    assert!(err.message.contains("200 ms"), "{}", err.message);
    assert_no_leak(&err);
}

#[tokio::test]
async fn authorization_unreachable_server_is_a_network_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let cfg = OAuthConfig { device_url: format!("http://{addr}/device"), ..OAuthConfig::from_env() };
    let err = request_authorization_with(&client(), &cfg, &fast_limits()).await.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Network, "{err:?}");
}

#[tokio::test]
async fn authorization_invalid_body_is_rejected_over_the_wire() {
    let server = Server::start(vec![Reply::json(
        200,
        json!({"device_code": DEVICE_CODE, "user_code": "A", "verification_uri": "http://example.com/x", "expires_in": 600}),
    )])
    .await;
    let err = request_authorization(&client(), &server.cfg()).await.unwrap_err();
    assert_device_error(&err, "verification_uri");
}

// ---------- parse_authorization ----------

#[test]
fn default_interval_when_absent_or_null() {
    assert_eq!(parse_without("interval").unwrap().interval, DEFAULT_INTERVAL);
    assert_eq!(parse_with("interval", Value::Null).unwrap().interval, DEFAULT_INTERVAL);
}

#[test]
fn interval_is_rounded_up_and_clamped() {
    for (given, want) in [
        (json!(1), 5),
        (json!(4.2), 5),
        (json!(5), 5),
        (json!(5.0), 5),
        (json!(7.2), 8),
        (json!(0.5), 5),
        (json!("10"), 10),
        (json!(59.1), 60),
        (json!(61), 60),
        (json!(86400), 60),
        (json!(1e300), 60),
    ] {
        let auth = parse_with("interval", given.clone()).unwrap();
        assert_eq!(auth.interval, Duration::from_secs(want), "interval {given}");
    }
}

#[test]
fn interval_must_be_strictly_positive_and_numeric() {
    for bad in [
        json!(0),
        json!(-5),
        json!("0"),
        json!("5s"),
        json!("five"),
        json!(""),
        json!(" 5"),
        json!("5.5"),
        json!("-5"),
        json!(true),
        json!([5]),
        json!({"secs": 5}),
    ] {
        let err = parse_with("interval", bad.clone()).unwrap_err();
        assert_device_error(&err, "interval");
    }
}

#[test]
fn expires_in_accepts_numbers_and_digit_strings() {
    for (given, want) in [
        (json!(600), 600),
        (json!("600"), 600),
        (json!(600.2), 601),
        (json!(1), 1),
        (json!("99999999999999999999999"), MAX_REPORTED_EXPIRY_SECS),
    ] {
        let auth = parse_with("expires_in", given.clone()).unwrap();
        assert_eq!(auth.expires_in, Duration::from_secs(want), "expires_in {given}");
    }
}

#[test]
fn expires_in_rejects_prefix_numbers_and_non_positive_values() {
    for bad in [
        json!("600seconds"),
        json!("600 "),
        json!("+600"),
        json!("6e2"),
        json!("0x258"),
        json!(""),
        json!(0),
        json!("0"),
        json!(-600),
        json!(false),
        json!(null),
    ] {
        let err = parse_with("expires_in", bad.clone()).unwrap_err();
        assert_device_error(&err, "expires_in");
    }
    assert_device_error(&parse_without("expires_in").unwrap_err(), "expires_in is missing");
}

#[test]
fn complete_uri_is_kept_and_optional() {
    let auth =
        parse_with("verification_uri_complete", json!("https://example.com/device?user_code=WDJB-MJHT")).unwrap();
    assert_eq!(auth.verification_uri_complete.unwrap().as_str(), "https://example.com/device?user_code=WDJB-MJHT");
    let auth = parse_with("verification_uri_complete", Value::Null).unwrap();
    assert!(auth.verification_uri_complete.is_none());
    assert_eq!(auth.display_uri().as_str(), "https://example.com/device");
    assert!(parse_without("verification_uri_complete").unwrap().verification_uri_complete.is_none());
}

#[test]
fn idn_hosts_are_canonicalised_to_punycode() {
    let auth = parse_with("verification_uri", json!("https://BÜCHER.example/Device")).unwrap();
    assert_eq!(auth.verification_uri.as_str(), "https://xn--bcher-kva.example/Device");
    let auth = parse_with("verification_uri_complete", json!("https://münchen.example/d?code=1")).unwrap();
    assert_eq!(auth.verification_uri_complete.unwrap().as_str(), "https://xn--mnchen-3ya.example/d?code=1");
}

#[test]
fn rejects_userinfo_urls() {
    for field in ["verification_uri", "verification_uri_complete"] {
        for bad in [
            "https://user@example.com/device",
            "https://user:pass@example.com/device",
            "https://:pass@example.com/device",
            "https://example.com@evil.example/device",
        ] {
            let err = parse_with(field, json!(bad)).unwrap_err();
            assert_device_error(&err, "user information");
            assert!(!err.message.contains("evil"), "{}", err.message);
        }
    }
}

#[test]
fn rejects_control_characters_in_urls() {
    for field in ["verification_uri", "verification_uri_complete"] {
        for bad in [
            "https://example.com/dev\nice",
            "https://exam\tple.com/device",
            "https://example.com/device\r",
            "https://example.com/\u{7f}",
            "https://example.com/\u{1b}[2J",
            "https://example.com/\u{85}",
            "\u{0}https://example.com/",
        ] {
            let err = parse_with(field, json!(bad)).unwrap_err();
            assert_device_error(&err, "control characters");
        }
    }
}

#[test]
fn url_scheme_rules() {
    for ok in [
        "http://127.0.0.1:8080/device",
        "http://localhost/device",
        "http://LOCALHOST:3000/device",
        "https://example.com:8443/device",
    ] {
        assert!(parse_with("verification_uri", json!(ok)).is_ok(), "{ok}");
    }
    for bad in [
        "http://example.com/device",
        "http://127.0.0.2/device",
        "http://[::1]/device",
        "http://localhost.evil.example/device",
        "ftp://example.com/device",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "//example.com/device",
        "/device",
        "not a url",
        "",
    ] {
        let err = parse_with("verification_uri", json!(bad)).unwrap_err();
        assert_device_error(&err, "verification_uri");
    }
    let err = parse_with("verification_uri_complete", json!("http://example.com/d")).unwrap_err();
    assert_device_error(&err, "verification_uri_complete must be an https URL");
}

#[test]
fn verification_uri_is_required_and_must_be_a_string() {
    assert_device_error(&parse_without("verification_uri").unwrap_err(), "verification_uri is missing");
    assert_device_error(&parse_with("verification_uri", json!(42)).unwrap_err(), "verification_uri is not a string");
    assert_device_error(
        &parse_with("verification_uri_complete", json!(["https://example.com/"])).unwrap_err(),
        "verification_uri_complete is not a string",
    );
}

#[test]
fn codes_must_be_non_empty_header_safe_strings() {
    for field in ["device_code", "user_code"] {
        for bad in [json!(""), json!("ab\r\ncd"), json!("a\u{7f}"), json!(12345), json!(null)] {
            let err = parse_with(field, bad.clone()).unwrap_err();
            assert_device_error(&err, field);
        }
        assert_device_error(&parse_without(field).unwrap_err(), "is missing");
    }
}

#[test]
fn non_json_or_non_object_bodies_are_rejected() {
    for body in [&b"<html>oops</html>"[..], b"", b"[1,2]", b"\"str\"", b"null"] {
        let err = parse_authorization(body).unwrap_err();
        assert_eq!(err.code, AuthErrorCode::DeviceAuthFailed);
    }
}

#[test]
fn debug_redacts_the_device_code() {
    let auth =
        parse_with("verification_uri_complete", json!("https://example.com/device?user_code=WDJB-MJHT")).unwrap();
    let debug = format!("{auth:?}");
    assert!(!debug.contains(DEVICE_CODE), "{debug}");
    assert!(debug.contains("<redacted>"));
    assert!(debug.contains("WDJB-MJHT"));
    let pretty = format!("{auth:#?}");
    assert!(!pretty.contains(DEVICE_CODE));
}

// ---------- poll_for_token ----------

#[tokio::test]
async fn happy_path_pending_twice_then_token() {
    let auth = auth_with(5, 600);
    let (result, sleeper, server) =
        poll(vec![Reply::error("authorization_pending"), Reply::error("authorization_pending"), Reply::token()], &auth)
            .await;
    let tokens = result.unwrap();
    assert_eq!(tokens.access_token, "at-123");
    assert_eq!(tokens.refresh_token.as_deref(), Some("rt-456"));
    assert_eq!(tokens.scope.as_deref(), Some("openid profile email"));
    assert!(tokens.expires_at.is_some());
    assert_eq!(sleeper.sleeps(), vec![5, 5, 5]);

    let reqs = server.requests();
    assert_eq!(reqs.len(), 3);
    for req in &reqs {
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/token");
        assert_eq!(req.header("accept"), Some("application/json"));
        assert_eq!(
            req.form(),
            vec![
                ("grant_type".to_string(), DEVICE_GRANT_TYPE.to_string()),
                ("device_code".to_string(), DEVICE_CODE.to_string()),
                ("client_id".to_string(), "test-client".to_string()),
            ]
        );
    }
}

#[tokio::test]
async fn end_to_end_authorization_then_polling_uses_the_server_interval() {
    let server = Server::start(vec![
        Reply::json(
            200,
            json!({"device_code": DEVICE_CODE, "user_code": "U-1",
                   "verification_uri": "https://example.com/device", "expires_in": "600"}),
        ),
        Reply::error("authorization_pending"),
        Reply::token(),
    ])
    .await;
    let http = client();
    let auth = request_authorization(&http, &server.cfg()).await.unwrap();
    assert_eq!(auth.interval, DEFAULT_INTERVAL);
    let sleeper = FakeSleeper::new();
    let tokens = poll_for_token(&http, &server.cfg(), &auth, &sleeper).await.unwrap();
    assert_eq!(tokens.access_token, "at-123");
    assert_eq!(sleeper.sleeps(), vec![5, 5]);
}

#[tokio::test]
async fn slow_down_adds_five_seconds_each_time() {
    let auth = auth_with(5, 600);
    let (result, sleeper, _server) = poll(
        vec![
            Reply::error("slow_down"),
            Reply::error("authorization_pending"),
            Reply::error("slow_down"),
            Reply::token(),
        ],
        &auth,
    )
    .await;
    result.unwrap();
    assert_eq!(sleeper.sleeps(), vec![5, 10, 10, 15]);
}

#[tokio::test]
async fn slow_down_is_capped_at_sixty_seconds() {
    let auth = auth_with(58, 600);
    let (result, sleeper, _server) =
        poll(vec![Reply::error("slow_down"), Reply::error("slow_down"), Reply::token()], &auth).await;
    result.unwrap();
    assert_eq!(sleeper.sleeps(), vec![58, 60, 60]);
}

#[tokio::test]
async fn slow_down_honours_a_longer_retry_after() {
    let auth = auth_with(5, 600);
    let (result, sleeper, _server) =
        poll(vec![Reply::error("slow_down").header("retry-after", "30"), Reply::token()], &auth).await;
    result.unwrap();
    assert_eq!(sleeper.sleeps(), vec![5, 30]);
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds() {
    let auth = auth_with(5, 600);
    let (result, sleeper, _server) = poll(
        vec![
            Reply::raw(429, "Too Many Requests").header("retry-after", "20"),
            Reply::error("authorization_pending"),
            Reply::token(),
        ],
        &auth,
    )
    .await;
    result.unwrap();
    assert_eq!(sleeper.sleeps(), vec![5, 20, 20]);
}

#[tokio::test]
async fn rate_limit_retry_after_variants() {
    // (Retry-After, expected second sleep)
    for (header, want) in [
        (None, 10),
        (Some("3"), 10),
        (Some("600"), 60),
        (Some("99999999999999999999999"), 60),
        (Some("soon"), 10),
        (Some("Wed, 21 Oct 2015 07:28:00 GMT"), 10),
    ] {
        let auth = auth_with(5, 600);
        let mut limited = Reply::raw(429, "");
        if let Some(h) = header {
            limited = limited.header("retry-after", h);
        }
        let (result, sleeper, _server) = poll(vec![limited, Reply::token()], &auth).await;
        result.unwrap();
        assert_eq!(sleeper.sleeps(), vec![5, want], "Retry-After {header:?}");
    }
}

#[tokio::test]
async fn rate_limit_with_http_date_retry_after() {
    let auth = auth_with(5, 600);
    let when = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(40));
    let (result, sleeper, _server) =
        poll(vec![Reply::raw(429, "").header("retry-after", &when), Reply::token()], &auth).await;
    result.unwrap();
    let sleeps = sleeper.sleeps();
    assert_eq!(sleeps.len(), 2);
    assert_eq!(sleeps[0], 5);
    // The date has one-second resolution and a little real time passes before it is read.
    assert!((30..=40).contains(&sleeps[1]), "{sleeps:?}");

    let far = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(3600));
    let (result, sleeper, _server) =
        poll(vec![Reply::raw(429, "").header("retry-after", &far), Reply::token()], &auth).await;
    result.unwrap();
    assert_eq!(sleeper.sleeps(), vec![5, 60]);
}

#[test]
fn retry_after_parsing_is_relative_to_now() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut headers = HeaderMap::new();
    assert_eq!(retry_after(&headers, now), None);
    headers.insert(RETRY_AFTER, "20".parse().unwrap());
    assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(20)));
    headers.insert(RETRY_AFTER, " 7 ".parse().unwrap());
    assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
    headers.insert(RETRY_AFTER, "-1".parse().unwrap());
    assert_eq!(retry_after(&headers, now), None);
    let date = httpdate::fmt_http_date(now + Duration::from_secs(25));
    headers.insert(RETRY_AFTER, date.parse().unwrap());
    assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(25)));
    let past = httpdate::fmt_http_date(now - Duration::from_secs(25));
    headers.insert(RETRY_AFTER, past.parse().unwrap());
    assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
    let far = httpdate::fmt_http_date(now + Duration::from_secs(86_400));
    headers.insert(RETRY_AFTER, far.parse().unwrap());
    assert_eq!(retry_after(&headers, now), Some(MAX_INTERVAL));
}

#[tokio::test]
async fn rate_limit_with_an_rfc_error_body_follows_the_error() {
    let auth = auth_with(5, 600);
    let (result, sleeper, _server) = poll(
        vec![Reply::json(429, json!({"error": "authorization_pending"})).header("retry-after", "50"), Reply::token()],
        &auth,
    )
    .await;
    result.unwrap();
    assert_eq!(sleeper.sleeps(), vec![5, 5]);

    let (result, _sleeper, _server) = poll(vec![Reply::json(429, json!({"error": "access_denied"}))], &auth).await;
    assert_device_error(&result.unwrap_err(), "access was denied");
}

#[tokio::test]
async fn access_denied_fails() {
    let auth = auth_with(5, 600);
    let (result, sleeper, _server) =
        poll(vec![Reply::error("authorization_pending"), Reply::error("access_denied")], &auth).await;
    assert_device_error(&result.unwrap_err(), "access was denied");
    assert_eq!(sleeper.sleeps(), vec![5, 5]);
}

#[tokio::test]
async fn expired_token_fails() {
    let auth = auth_with(5, 600);
    let (result, _sleeper, server) = poll(
        vec![Reply::json(
            400,
            json!({"error": "expired_token", "error_description": format!("{DEVICE_CODE} expired")}),
        )],
        &auth,
    )
    .await;
    assert_device_error(&result.unwrap_err(), "the code expired");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn deadline_passing_fails_with_expired() {
    let auth = auth_with(5, 12);
    let (result, sleeper, server) = poll(vec![Reply::error("authorization_pending")], &auth).await;
    assert_device_error(&result.unwrap_err(), "the code expired");
    // The last sleep is cut short to land on the deadline, then one final poll is made.
    assert_eq!(sleeper.sleeps(), vec![5, 5, 2]);
    assert_eq!(server.requests().len(), 3);
    assert_eq!(sleeper.elapsed(), Duration::from_secs(12));
}

#[tokio::test]
async fn deadline_is_capped_at_thirty_minutes() {
    let auth = auth_with(60, 7200);
    let (result, sleeper, server) = poll(vec![Reply::error("authorization_pending")], &auth).await;
    assert_device_error(&result.unwrap_err(), "the code expired");
    assert_eq!(sleeper.sleeps(), vec![60; 30]);
    assert_eq!(sleeper.elapsed(), MAX_WAIT);
    assert_eq!(server.requests().len(), 30);
}

#[tokio::test]
async fn already_expired_code_never_polls() {
    let auth = auth_with(5, 600);
    let server = Server::start(vec![Reply::token()]).await;
    let sleeper = FakeSleeper::new();
    let limits = DeviceLimits { max_wait: Duration::ZERO, ..fast_limits() };
    let err = poll_for_token_with(&client(), &server.cfg(), &auth, &sleeper, &limits).await.unwrap_err();
    assert_device_error(&err, "the code expired");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn other_errors_report_status_and_code_only() {
    let auth = auth_with(5, 600);
    let (result, _s, _server) = poll(
        vec![Reply::json(
            400,
            json!({"error": "invalid_grant", "error_description": format!("bad device_code {DEVICE_CODE}")}),
        )],
        &auth,
    )
    .await;
    let err = result.unwrap_err();
    assert_device_error(&err, "HTTP 400 (invalid_grant)");
    assert!(!err.message.contains("bad device_code"));

    let (result, _s, _server) = poll(vec![Reply::raw(500, DEVICE_CODE)], &auth).await;
    let err = result.unwrap_err();
    assert_device_error(&err, "HTTP 500");
    assert!(err.message.ends_with("HTTP 500"), "{}", err.message);

    let (result, _s, _server) = poll(vec![Reply::raw(401, "")], &auth).await;
    assert_device_error(&result.unwrap_err(), "HTTP 401");
}

#[tokio::test]
async fn unsafe_error_codes_are_not_quoted() {
    let auth = auth_with(5, 600);
    for code in [
        DEVICE_CODE.to_string(),
        format!("x_{}", DEVICE_CODE.to_lowercase()),
        "m9x".to_string(),
        "Invalid Grant\u{1b}[31m".to_string(),
        "a".repeat(200),
    ] {
        let (result, _s, _server) = poll(vec![Reply::json(400, json!({ "error": code }))], &auth).await;
        let err = result.unwrap_err();
        assert_device_error(&err, "HTTP 400");
        assert!(err.message.ends_with("HTTP 400"), "{}", err.message);
    }
}

#[tokio::test]
async fn success_status_carrying_an_rfc_error_is_treated_as_that_error() {
    let auth = auth_with(5, 600);
    let (result, sleeper, _server) =
        poll(vec![Reply::json(200, json!({"error": "authorization_pending"})), Reply::token()], &auth).await;
    assert_eq!(result.unwrap().access_token, "at-123");
    assert_eq!(sleeper.sleeps(), vec![5, 5]);
}

#[tokio::test]
async fn malformed_token_response_is_refresh_failed() {
    let auth = auth_with(5, 600);
    let (result, _s, _server) = poll(vec![Reply::json(200, json!({"token": DEVICE_CODE}))], &auth).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::RefreshFailed);
    assert_no_leak(&err);

    let (result, _s, _server) = poll(vec![Reply::raw(200, "not json")], &auth).await;
    assert_eq!(result.unwrap_err().code, AuthErrorCode::RefreshFailed);
}

#[tokio::test]
async fn transient_transport_errors_are_retried() {
    let auth = auth_with(5, 600);
    let dropped = Reply::raw(200, "").mode(Mode::Drop);
    let (result, sleeper, server) = poll(
        vec![
            dropped.clone(),
            Reply::error("authorization_pending"),
            dropped.clone(),
            dropped.clone(),
            dropped,
            Reply::token(),
        ],
        &auth,
    )
    .await;
    assert_eq!(result.unwrap().access_token, "at-123");
    assert_eq!(sleeper.sleeps(), vec![5; 6]);
    assert_eq!(server.requests().len(), 6);
}

#[tokio::test]
async fn four_transport_errors_in_a_row_fail() {
    let auth = auth_with(5, 600);
    let (result, sleeper, server) = poll(vec![Reply::raw(200, "").mode(Mode::Drop)], &auth).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Network, "{err:?}");
    assert!(err.message.contains("4 attempts"), "{}", err.message);
    assert_no_leak(&err);
    assert_eq!(sleeper.sleeps(), vec![5; 4]);
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn slow_poll_bodies_time_out_and_count_as_transport_errors() {
    let auth = auth_with(5, 600);
    let stalled = Reply::raw(200, "{\"access_token\":").mode(Mode::Stall);
    let (result, sleeper, _server) =
        poll(vec![stalled.clone(), Reply::error("authorization_pending"), Reply::token()], &auth).await;
    assert_eq!(result.unwrap().access_token, "at-123");
    assert_eq!(sleeper.sleeps(), vec![5, 5, 5]);

    let (result, sleeper, _server) = poll(vec![stalled], &auth).await;
    let err = result.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Network, "{err:?}");
    assert!(err.message.contains("200 ms"), "{}", err.message);
    assert_no_leak(&err);
    assert_eq!(sleeper.sleeps().len(), 4);
}

#[tokio::test]
async fn oversized_poll_body_fails() {
    let auth = auth_with(5, 600);
    let big = format!("{{\"error\":\"authorization_pending\",\"pad\":\"{}\"}}", "x".repeat(BODY_LIMIT));
    for mode in [Mode::Normal, Mode::Unframed] {
        let (result, _s, server) = poll(vec![Reply::raw(400, &big).mode(mode)], &auth).await;
        assert_device_error(&result.unwrap_err(), "exceeds 65536 bytes");
        assert_eq!(server.requests().len(), 1);
    }
}

#[tokio::test]
async fn no_error_ever_contains_the_device_code() {
    let auth = auth_with(5, 20);
    let echo = json!({"device_code": DEVICE_CODE, "error_description": DEVICE_CODE});
    let with = |code: &str| {
        let mut v = echo.clone();
        v["error"] = json!(code);
        Reply::json(400, v)
    };
    let scenarios: Vec<Vec<Reply>> = vec![
        vec![with("access_denied")],
        vec![with("expired_token")],
        vec![with("authorization_pending")],
        vec![with("invalid_request")],
        vec![with(DEVICE_CODE)],
        vec![Reply::raw(500, DEVICE_CODE)],
        vec![Reply::raw(429, DEVICE_CODE).header("retry-after", DEVICE_CODE)],
        vec![Reply::json(200, echo.clone())],
        vec![Reply::raw(200, DEVICE_CODE).mode(Mode::Drop)],
        vec![Reply::raw(200, DEVICE_CODE).mode(Mode::Stall)],
    ];
    for replies in scenarios {
        let (result, _s, _server) = poll(replies, &auth).await;
        assert_no_leak(&result.unwrap_err());
    }
    // And during the authorization request.
    for reply in [
        Reply::json(400, echo.clone()),
        Reply::json(200, json!({"device_code": DEVICE_CODE})),
        Reply::json(
            200,
            json!({"device_code": DEVICE_CODE, "user_code": "U", "verification_uri": format!("https://{DEVICE_CODE}@example.com/"), "expires_in": 5}),
        ),
        Reply::json(
            200,
            json!({"device_code": DEVICE_CODE, "user_code": "U", "verification_uri": "https://example.com/", "expires_in": format!("{DEVICE_CODE}")}),
        ),
        Reply::json(
            200,
            json!({"device_code": DEVICE_CODE, "user_code": DEVICE_CODE, "verification_uri": "https://example.com/", "expires_in": 5, "interval": DEVICE_CODE}),
        ),
    ] {
        let server = Server::start(vec![reply]).await;
        let err = request_authorization_with(&client(), &server.cfg(), &fast_limits()).await.unwrap_err();
        assert_no_leak(&err);
    }
}

#[tokio::test]
async fn tokio_sleeper_really_sleeps() {
    let sleeper = TokioSleeper;
    let before = sleeper.now();
    sleeper.sleep(Duration::from_millis(5)).await;
    assert!(sleeper.now() >= before + Duration::from_millis(5));
}
