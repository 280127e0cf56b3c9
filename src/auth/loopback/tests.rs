use super::*;
use tokio::task::JoinHandle;

/// A failure guard only: a broken listener fails the test instead of hanging it.
const GUARD: Duration = Duration::from_secs(30);
const LONG: Duration = Duration::from_secs(120);

struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends raw bytes and reads until the server closes the connection.
async fn raw(port: u16, request: &[u8]) -> Response {
    tokio::time::timeout(GUARD, async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap(); // EOF: the server closed the connection
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").expect("response head");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        Response { status, head: head.to_string(), body: body.to_string() }
    })
    .await
    .expect("server did not answer and close")
}

async fn get(port: u16, target: &str) -> Response {
    raw(port, format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: test\r\n\r\n").as_bytes()).await
}

async fn start(state: &str, timeout: Duration) -> (u16, JoinHandle<AuthResult<String>>) {
    let listener = CallbackListener::bind().await.unwrap();
    let port = listener.port();
    let state = state.to_string();
    (port, tokio::spawn(async move { listener.wait_for_code(&state, timeout).await }))
}

async fn outcome(handle: JoinHandle<AuthResult<String>>) -> AuthResult<String> {
    tokio::time::timeout(GUARD, handle).await.expect("flow did not finish").unwrap()
}

fn assert_common_headers(r: &Response) {
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    assert_eq!(r.header("content-type").as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("content-length").unwrap().parse::<usize>().unwrap(), r.body.len());
}

#[tokio::test]
async fn bind_and_redirect_uri() {
    let a = CallbackListener::bind().await.unwrap();
    let b = CallbackListener::bind().await.unwrap();
    assert_ne!(a.port(), 0);
    assert_ne!(a.port(), b.port());
    assert_eq!(a.redirect_uri(), format!("http://127.0.0.1:{}/oauth/callback", a.port()));
}

#[tokio::test]
async fn returns_code_when_state_matches() {
    let (port, flow) = start("state-ok-1", LONG).await;
    let r = get(port, "/oauth/callback?code=loop-code-XYZ-1&state=state-ok-1").await;
    assert_eq!(r.status, 200);
    assert_common_headers(&r);
    assert!(r.body.contains("<title>Signed in to HeyGen</title>"), "{}", r.body);
    assert!(r.body.contains("You're signed in."));
    assert!(r.body.contains("close this window"));
    assert_eq!(outcome(flow).await.unwrap(), "loop-code-XYZ-1");
    assert_eq!(scrub::scrub("code loop-code-XYZ-1"), "code <redacted>");
}

#[tokio::test]
async fn decodes_percent_encoded_query() {
    let (port, flow) = start("st/ate+2=", LONG).await;
    let r = get(port, "/oauth/callback?state=st%2Fate%2B2%3D&code=loop%2Fcode%2B2").await;
    assert_eq!(r.status, 200);
    assert_eq!(outcome(flow).await.unwrap(), "loop/code+2");
}

#[tokio::test]
async fn accepts_absolute_form_target() {
    let (port, flow) = start("state-abs", LONG).await;
    let r = get(port, &format!("http://127.0.0.1:{port}/oauth/callback?code=loop-code-abs&state=state-abs")).await;
    assert_eq!(r.status, 200);
    assert_eq!(outcome(flow).await.unwrap(), "loop-code-abs");
}

/// Callbacks without this attempt's state are answered 400 and ignored, whatever they carry: a
/// stray or forged `?error=…` or code must not end the sign-in (the right callback still can).
#[tokio::test]
async fn callbacks_without_the_right_state_are_ignored() {
    let (port, flow) = start("expected-state", LONG).await;
    for target in [
        "/oauth/callback?code=loop-code-mm&state=other-state",
        "/oauth/callback?code=loop-code-ns",
        "/oauth/callback?error=access_denied",
        "/oauth/callback?error=access_denied&error_description=forged&state=other-state",
        "/oauth/callback?error=server_error&state=",
    ] {
        let r = get(port, target).await;
        assert_eq!(r.status, 400, "{target}");
        assert_common_headers(&r);
        assert!(r.body.contains("not recognised") && !r.body.contains("Sign-in failed"), "{target}: {}", r.body);
        assert!(!flow.is_finished(), "{target} must not settle the flow");
    }
    assert_eq!(get(port, "/oauth/callback?code=loop-code-right&state=expected-state").await.status, 200);
    assert_eq!(outcome(flow).await.unwrap(), "loop-code-right");
}

#[tokio::test]
async fn idp_error_is_reported_and_escaped() {
    let (port, flow) = start("s", LONG).await;
    let r = get(
        port,
        "/oauth/callback?error=access_denied&error_description=%3Cscript%3Ealert(1)%3C%2Fscript%3E+nope&state=s",
    )
    .await;
    assert_eq!(r.status, 400);
    assert_common_headers(&r);
    assert!(r.body.contains("Sign-in failed"));
    assert!(r.body.contains("access_denied"));
    assert!(r.body.contains("&lt;script&gt;alert(1)&lt;/script&gt; nope"), "{}", r.body);
    assert!(!r.body.contains("<script>"));
    let err = outcome(flow).await.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Unauthenticated);
    assert_eq!(err.message, "OAuth authorize returned error: access_denied — <script>alert(1)</script> nope");
    assert!(err.hint.unwrap().contains("hyperframes auth login"));
}

#[tokio::test]
async fn idp_error_without_description() {
    let (port, flow) = start("s", LONG).await;
    let r = get(port, "/oauth/callback?error=%3Cb%3Eserver_error%1B%5B31m&state=s").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("&lt;b&gt;server_error"), "{}", r.body);
    // Control characters never reach the terminal.
    assert_eq!(outcome(flow).await.unwrap_err().message, "OAuth authorize returned error: <b>server_error[31m");
}

#[tokio::test]
async fn missing_code_fails() {
    let (port, flow) = start("s1", LONG).await;
    let r = get(port, "/oauth/callback?state=s1&code=").await;
    assert_eq!(r.status, 400);
    assert_common_headers(&r);
    assert!(r.body.contains("missing_code"), "{}", r.body);
    let err = outcome(flow).await.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Unauthenticated);
    assert!(err.message.contains("authorization code"));
}

#[tokio::test]
async fn post_gets_405_and_flow_keeps_waiting() {
    let (port, flow) = start("s2", LONG).await;
    let r = raw(
        port,
        format!(
            "POST /oauth/callback?code=loop-code-post&state=s2 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Content-Length: 5\r\n\r\nhello"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 405);
    assert_common_headers(&r);
    assert_eq!(r.header("allow").as_deref(), Some("GET"));
    assert!(!flow.is_finished());
    assert_eq!(get(port, "/oauth/callback?code=loop-code-after-post&state=s2").await.status, 200);
    assert_eq!(outcome(flow).await.unwrap(), "loop-code-after-post");
}

#[tokio::test]
async fn other_paths_get_404_and_flow_keeps_waiting() {
    let (port, flow) = start("s3", LONG).await;
    for target in ["/favicon.ico", "/", "/oauth/callback/extra?code=x&state=s3", "/oauth/callbackx"] {
        let r = get(port, target).await;
        assert_eq!(r.status, 404, "{target}");
        assert_common_headers(&r);
    }
    assert_eq!(get(port, "/oauth/callback?code=loop-code-after-404&state=s3").await.status, 200);
    assert_eq!(outcome(flow).await.unwrap(), "loop-code-after-404");
}

#[tokio::test]
async fn malformed_oversized_and_foreign_host_requests_keep_waiting() {
    let (port, flow) = start("s4", LONG).await;
    assert_eq!(raw(port, b"garbage\r\n\r\n").await.status, 400);
    assert_eq!(raw(port, b"GET /oauth/callback SPDY/3\r\n\r\n").await.status, 400);
    let big = format!("GET /oauth/callback HTTP/1.1\r\nX-Fill: {}\r\n\r\n", "a".repeat(MAX_HEAD_BYTES));
    assert_eq!(raw(port, big.as_bytes()).await.status, 431);
    let foreign = raw(port, b"GET /oauth/callback?error=x HTTP/1.1\r\nHost: evil.example:80\r\n\r\n").await;
    assert_eq!(foreign.status, 400);
    assert!(!flow.is_finished());
    let localhost = raw(
        port,
        format!("GET /oauth/callback?code=loop-code-s4&state=s4 HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(localhost.status, 200);
    assert_eq!(outcome(flow).await.unwrap(), "loop-code-s4");
}

#[tokio::test]
async fn idle_speculative_connection_does_not_block() {
    let (port, flow) = start("s5", LONG).await;
    let mut idle = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut half = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    half.write_all(b"GET /oauth/call").await.unwrap();
    assert_eq!(get(port, "/oauth/callback?code=loop-code-s5&state=s5").await.status, 200);
    assert_eq!(outcome(flow).await.unwrap(), "loop-code-s5");
    // Once the flow has its result, the leftover connections are closed too.
    for s in [&mut idle, &mut half] {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(GUARD, s.read(&mut buf)).await.expect("socket left open");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
}

#[tokio::test]
async fn listener_is_closed_after_the_result() {
    let (port, flow) = start("s6", LONG).await;
    let r = get(port, "/oauth/callback?code=loop-code-s6&state=s6").await;
    // `get` read to EOF, so the server closed the connection after the response.
    assert_eq!(r.header("connection").as_deref(), Some("close"));
    outcome(flow).await.unwrap();
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err(), "listener still accepting");
}

#[tokio::test]
async fn times_out() {
    let (_port, flow) = start("s7", Duration::from_millis(200)).await;
    let err = outcome(flow).await.unwrap_err();
    assert_eq!(err.code, AuthErrorCode::Unauthenticated);
    assert_eq!(err.message, "OAuth callback timed out after 200ms");
    assert!(err.hint.unwrap().contains("hyperframes auth login --device"));
}

#[test]
fn helpers() {
    assert_eq!(format_duration(Duration::from_secs(120)), "120s");
    assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    assert_eq!(html_escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    assert!(is_loopback_host("127.0.0.1:5000"));
    assert!(is_loopback_host("LOCALHOST"));
    assert!(is_loopback_host("[::1]:80"));
    assert!(!is_loopback_host("127.0.0.1.evil.com:80"));
    assert!(!is_loopback_host("evil.com"));
    assert_eq!(sanitize_idp_text(&"x".repeat(400)).chars().count(), MAX_IDP_TEXT_CHARS + 1);
    assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nrest"), Some(18));
    assert_eq!(find_head_end(b"GET / HTTP/1.1\n\n"), Some(16));
    assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n"), None);
}
