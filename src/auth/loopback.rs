//! The browser sign-in's redirect target: a tiny HTTP/1.1 listener on `127.0.0.1:<ephemeral>`
//! that waits for `GET /oauth/callback?code=…&state=…`.
//!
//! Each connection is served by its own task (a browser may open an idle speculative connection
//! first) and reports a final outcome over a channel. Every response closes its connection;
//! once the flow has a result the listener and every remaining connection are closed, so no
//! keep-alive socket can hold the process open.
//!
//! Kept hand-written after weighing two maintained servers (measured 2026-12): the HTTP parsing
//! a crate would take over is about 70 of this file's ~400 code lines (`read_head`,
//! `find_head_end`, the request line, `Reply::to_bytes`); the rest is the flow itself (state
//! compared in constant time, IdP error pages, the Host check against DNS rebinding, the
//! connection cap, idle speculative connections, closing everything once there is a result)
//! and would stay. `hyper`'s server (0 new crates: hyper 1 and hyper-util are already in the
//! build through reqwest, only the `server` features) answers malformed and oversized requests
//! itself (bare 400/431 or a closed socket, an 8 KiB minimum head buffer) instead of our pages
//! and 16 KiB limit, which the tests below pin. `tiny_http` 0.12 adds crates (ascii,
//! chunked_transfer) and a blocking thread per request in an async flow. Neither is better here.

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

    #[cfg(test)]
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
    /// - a request without this attempt's state (compared in constant time) gets a 400 page and
    ///   is ignored, whatever else it carries (an `error`, a code): the listener keeps waiting;
    /// - with the right state, an `error` parameter or a missing code get a 400 "Sign-in failed"
    ///   page and fail the flow;
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

    // Only a callback carrying this attempt's state may settle the flow, whatever else it says:
    // anything on this machine can reach the port, and a stray or forged `?error=…` (or code)
    // must not end a sign-in the user is still completing in the browser.
    let state_ok = param("state").is_some_and(|s| pkce::constant_time_eq(&s, expected_state));
    if !state_ok {
        tracing::debug!("sign-in callback without this attempt's state: ignored, still waiting");
        return Reply::keep_waiting(
            400,
            "Bad Request",
            "Sign-in link not recognised",
            "This response does not belong to the sign-in in progress. Finish signing in from the window the terminal opened.",
        );
    }

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
mod tests;
