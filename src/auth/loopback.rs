//! The browser sign-in's redirect target: a tiny HTTP/1.1 listener on `127.0.0.1:<ephemeral>`
//! that waits for `GET /oauth/callback?code=…&state=…`.
//!
//! Each connection is served by its own task (a browser may open an idle speculative connection
//! first) and reports a final outcome over a channel. Every response closes its connection;
//! once the flow has a result the listener and every remaining connection are closed, so no
//! keep-alive socket can hold the process open.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::error::{AuthError, AuthErrorCode, AuthResult, LOGIN_AGAIN_HINT};
use super::{pkce, scrub};

/// The path the authorization server redirects to.
pub const CALLBACK_PATH: &str = "/oauth/callback";
/// How long the browser flow waits for the redirect by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// Largest accepted request head.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long one connection may take to send its request head (or to accept the response).
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections served at once; extra ones are closed straight away.
const MAX_CONNECTIONS: usize = 64;
/// Longest IdP-supplied text copied into an error message.
const MAX_IDP_TEXT_CHARS: usize = 300;

/// A listener bound to `127.0.0.1` on an OS-chosen port.
#[derive(Debug)]
pub struct CallbackListener {
    listener: TcpListener,
    port: u16,
}

impl CallbackListener {
    /// Binds `127.0.0.1:0`. There is no fixed or fallback port.
    pub async fn bind() -> AuthResult<CallbackListener> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map_err(|e| AuthError::io(format!("Could not start the sign-in callback listener on 127.0.0.1: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| AuthError::io(format!("Could not read the sign-in callback listener's address: {e}")))?
            .port();
        Ok(CallbackListener { listener, port })
    }

    /// The port the OS chose.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>/oauth/callback`; reuse it byte-for-byte in the code exchange.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}{CALLBACK_PATH}", self.port)
    }

    /// Serves requests until one settles the flow, or `timeout` passes.
    ///
    /// - a method other than GET gets 405, another path 404, a malformed or foreign-host request
    ///   400, and the listener keeps waiting;
    /// - an `error` parameter, a state that does not match `expected_state` (compared in constant
    ///   time), or a missing code get a 400 "Sign-in failed" page and fail the flow;
    /// - otherwise the page says "You're signed in." and the code is returned (and registered
    ///   with the scrubber).
    ///
    /// All errors are `UNAUTHENTICATED`. On return the listener and every connection are closed.
    pub async fn wait_for_code(self, expected_state: &str, timeout: Duration) -> AuthResult<String> {
        let expected_state: std::sync::Arc<str> = expected_state.into();
        let (tx, mut rx) = mpsc::unbounded_channel::<AuthResult<String>>();
        // Dropping the set (on every return path, including cancellation) aborts the tasks, which
        // closes their sockets.
        let mut connections = JoinSet::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);

        loop {
            tokio::select! {
                biased;
                Some(outcome) = rx.recv() => return outcome,
                _ = &mut deadline => return Err(timeout_error(timeout)),
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) if connections.len() < MAX_CONNECTIONS => {
                        connections.spawn(serve_connection(stream, expected_state.clone(), self.port, tx.clone()));
                    }
                    Ok(_) => tracing::debug!("sign-in callback: too many open connections, closing a new one"),
                    Err(e) => {
                        tracing::debug!("sign-in callback: accept failed: {e}");
                        // Avoid spinning when the process is out of file descriptors.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }
}

fn timeout_error(timeout: Duration) -> AuthError {
    AuthError::new(
        AuthErrorCode::Unauthenticated,
        format!("OAuth callback timed out after {}", format_duration(timeout)),
    )
    .with_hint(
        "Finish signing in in the browser sooner, or run `hyperframes auth login --device` to sign in without a browser redirect.",
    )
}

/// `120s` for whole seconds, `200ms` otherwise.
fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// A response plus, when the request settled the flow, its outcome.
struct Reply {
    status: u16,
    reason: &'static str,
    title: &'static str,
    body_html: String,
    extra_header: Option<(&'static str, &'static str)>,
    outcome: Option<AuthResult<String>>,
}

impl Reply {
    fn keep_waiting(status: u16, reason: &'static str, title: &'static str, message: &str) -> Reply {
        Reply {
            status,
            reason,
            title,
            body_html: format!("<h1>{}</h1><p>{}</p>", html_escape(title), html_escape(message)),
            extra_header: None,
            outcome: None,
        }
    }

    fn failed(error_code: &str, description: Option<&str>, error: AuthError) -> Reply {
        let mut body_html = format!("<h1>Sign-in failed</h1><p>Error: <code>{}</code></p>", html_escape(error_code));
        if let Some(desc) = description {
            body_html.push_str(&format!("<p>{}</p>", html_escape(desc)));
        }
        body_html.push_str("<p>Return to the terminal for details. You can close this window.</p>");
        Reply {
            status: 400,
            reason: "Bad Request",
            title: "Sign-in failed",
            body_html,
            extra_header: None,
            outcome: Some(Err(error)),
        }
    }

    fn signed_in(code: String) -> Reply {
        Reply {
            status: 200,
            reason: "OK",
            title: "Signed in to HeyGen",
            body_html: "<h1>You're signed in.</h1><p>You can close this window and return to the terminal.</p>"
                .to_string(),
            extra_header: None,
            outcome: Some(Ok(code)),
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let body = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head>\
             <body style=\"font-family: system-ui, sans-serif; margin: 3em;\">{}</body></html>\n",
            html_escape(self.title),
            self.body_html
        );
        let mut head = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\n\
             cache-control: no-store\r\nconnection: close\r\nx-content-type-options: nosniff\r\n\
             referrer-policy: no-referrer\r\n",
            self.status,
            self.reason,
            body.len()
        );
        if let Some((name, value)) = self.extra_header {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        bytes
    }
}

/// Serves one connection: one request, one response, then close. Reports a final outcome
/// only after the response has been written, so aborting this task later loses nothing.
async fn serve_connection(
    mut stream: TcpStream,
    expected_state: std::sync::Arc<str>,
    port: u16,
    tx: mpsc::UnboundedSender<AuthResult<String>>,
) {
    let reply = match tokio::time::timeout(CONNECTION_TIMEOUT, read_head(&mut stream)).await {
        Err(_) | Ok(Err(HeadError::Closed)) => return, // idle or vanished: just close
        Ok(Err(HeadError::TooLarge)) => Reply::keep_waiting(
            431,
            "Request Header Fields Too Large",
            "Request too large",
            "The request head is too large.",
        ),
        Ok(Ok(head)) => handle_request(&head, &expected_state, port),
    };

    let written = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        stream.write_all(&reply.to_bytes()).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    if let Some(outcome) = reply.outcome {
        match &written {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::debug!("sign-in callback: could not deliver the response page: {e}")
            }
            Err(_) => tracing::debug!("sign-in callback: timed out delivering the response page"),
        }
        // The receiver is gone only when the flow already has a result.
        let _ = tx.send(outcome);
    }
    // Drain what the client still sends (e.g. a POST body) so closing does not reset the
    // connection before it has read the response.
    let _ = tokio::time::timeout(CONNECTION_TIMEOUT, async {
        let mut sink = [0u8; 4096];
        let mut total = 0usize;
        while let Ok(n) = stream.read(&mut sink).await {
            total += n;
            if n == 0 || total > 64 * 1024 {
                break;
            }
        }
    })
    .await;
}

enum HeadError {
    Closed,
    TooLarge,
}

/// Reads up to the blank line that ends the request head.
async fn read_head(stream: &mut TcpStream) -> Result<String, HeadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|_| HeadError::Closed)?;
        if n == 0 {
            return Err(HeadError::Closed);
        }
        let scan_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = find_head_end(&buf[scan_from..]) {
            let end = scan_from + end;
            if end > MAX_HEAD_BYTES {
                return Err(HeadError::TooLarge);
            }
            return Ok(String::from_utf8_lossy(&buf[..end]).into_owned());
        }
        if buf.len() > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
    }
}

/// Index just past the first `\r\n\r\n` (or bare `\n\n`).
fn find_head_end(buf: &[u8]) -> Option<usize> {
    (0..buf.len()).find_map(|i| {
        if buf[i..].starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if buf[i..].starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

fn handle_request(head: &str, expected_state: &str, port: u16) -> Reply {
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Reply::keep_waiting(400, "Bad Request", "Bad request", "Malformed request.");
    };
    if !version.starts_with("HTTP/1.") {
        return Reply::keep_waiting(400, "Bad Request", "Bad request", "Malformed request.");
    }
    let host = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.trim().to_string());
    if let Some(host) = host {
        // Refuse requests addressed to another name (DNS rebinding); they cannot end the flow.
        if !is_loopback_host(&host) {
            return Reply::keep_waiting(400, "Bad Request", "Bad request", "Unexpected host.");
        }
    }

    let base = url::Url::parse(&format!("http://127.0.0.1:{port}/")).expect("static base URL");
    let Ok(url) = url::Url::options().base_url(Some(&base)).parse(target) else {
        return Reply::keep_waiting(400, "Bad Request", "Bad request", "Malformed request target.");
    };
    // Only the path is ever logged: the query carries the code and state.
    tracing::debug!(method, path = url.path(), "sign-in callback request");

    if method != "GET" {
        let mut reply = Reply::keep_waiting(405, "Method Not Allowed", "Method not allowed", "Only GET is supported.");
        reply.extra_header = Some(("allow", "GET"));
        return reply;
    }
    if url.path() != CALLBACK_PATH {
        return Reply::keep_waiting(404, "Not Found", "Not found", "Nothing here.");
    }

    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());

    if let Some(error) = param("error") {
        let description = param("error_description").filter(|d| !d.is_empty());
        let mut message = format!("OAuth authorize returned error: {}", sanitize_idp_text(&error));
        if let Some(desc) = &description {
            message.push_str(" — ");
            message.push_str(&sanitize_idp_text(desc));
        }
        let err = AuthError::new(AuthErrorCode::Unauthenticated, message)
            .with_hint("Run `hyperframes auth login` to try again.");
        return Reply::failed(&error, description.as_deref(), err);
    }

    let state_ok = param("state").is_some_and(|s| pkce::constant_time_eq(&s, expected_state));
    if !state_ok {
        let err = AuthError::new(AuthErrorCode::Unauthenticated, "OAuth state mismatch — possible CSRF, aborting.")
            .with_hint(LOGIN_AGAIN_HINT);
        return Reply::failed("invalid_state", Some("The response did not match this sign-in attempt."), err);
    }

    match param("code").filter(|c| !c.is_empty()) {
        Some(code) => {
            scrub::register_secret(&code);
            Reply::signed_in(code)
        }
        None => {
            let err =
                AuthError::new(AuthErrorCode::Unauthenticated, "OAuth callback did not include an authorization code.")
                    .with_hint(LOGIN_AGAIN_HINT);
            Reply::failed("missing_code", Some("The response did not include an authorization code."), err)
        }
    }
}

/// `127.0.0.1`, `localhost` or `[::1]`, with or without a port.
fn is_loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(name, _)| name)
    };
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "::1"
}

/// Text from the authorization server goes into a terminal: drop control characters (escape
/// sequences) and cap its length.
fn sanitize_idp_text(text: &str) -> String {
    let mut out: String = text.chars().filter(|c| !c.is_control()).take(MAX_IDP_TEXT_CHARS).collect();
    if text.chars().filter(|c| !c.is_control()).count() > MAX_IDP_TEXT_CHARS {
        out.push('…');
    }
    out
}

fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
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
        raw(port, format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: test\r\n\r\n").as_bytes())
            .await
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

    #[tokio::test]
    async fn state_mismatch_fails() {
        let (port, flow) = start("expected-state", LONG).await;
        let r = get(port, "/oauth/callback?code=loop-code-mm&state=other-state").await;
        assert_eq!(r.status, 400);
        assert_common_headers(&r);
        assert!(r.body.contains("Sign-in failed") && r.body.contains("invalid_state"), "{}", r.body);
        let err = outcome(flow).await.unwrap_err();
        assert_eq!(err.code, AuthErrorCode::Unauthenticated);
        assert_eq!(err.message, "OAuth state mismatch — possible CSRF, aborting.");
    }

    #[tokio::test]
    async fn missing_state_fails() {
        let (port, flow) = start("expected-state", LONG).await;
        assert_eq!(get(port, "/oauth/callback?code=loop-code-ns").await.status, 400);
        assert_eq!(outcome(flow).await.unwrap_err().message, "OAuth state mismatch — possible CSRF, aborting.");
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
        let r = get(port, "/oauth/callback?error=%3Cb%3Eserver_error%1B%5B31m").await;
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
            format!("GET /oauth/callback?code=loop-code-s4&state=s4 HTTP/1.1\r\nHost: localhost:{port}\r\n\r\n")
                .as_bytes(),
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
}
