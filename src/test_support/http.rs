//! A scripted HTTP server on 127.0.0.1 for the crate's tests: it answers each request
//! with the next scripted reply (or can stall, truncate, or hang up) and records what it was sent.
//! [`TestServer::routed`] answers from a function of the request instead, for concurrent callers
//! whose requests arrive in no fixed order; the server also counts the most requests it was
//! answering at once. [`TestServer::https`] serves the same over TLS with a certificate a given
//! authority signed (rcgen), for the TLS-trust tests.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub enum Scripted {
    /// `{base}` in the body is replaced by the server's URL (for presigned download links).
    Respond { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    /// Waits this long before answering 200 with an empty JSON object.
    Stall(Duration),
    /// Declares `declared` bytes, sends `body`, then closes.
    Truncate { declared: usize, body: Vec<u8> },
    /// Sends 200 headers declaring `body`, then the body one byte every `every` (a provider that
    /// answers at once and then trickles).
    Trickle { every: Duration, body: Vec<u8> },
    /// Sends the head of `status` with `headers` declaring `declared` body bytes, then `body` as
    /// is, then closes; or, with `hold`, keeps the connection open and sends nothing more (a server
    /// that stalls mid-body).
    Partial { status: u16, headers: Vec<(String, String)>, declared: usize, body: Vec<u8>, hold: bool },
    /// Closes without answering.
    Close,
}

impl Scripted {
    pub fn json(status: u16, value: serde_json::Value) -> Self {
        Self::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    pub fn bytes(status: u16, content_type: &str, body: Vec<u8>) -> Self {
        Self::Respond { status, headers: vec![("content-type".into(), content_type.into())], body }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let Self::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the request body is JSON")
    }
}

/// Answers a request (with a delay before answering, for concurrency tests).
pub type Route = dyn Fn(&Recorded) -> (Duration, Scripted) + Send + Sync;

pub struct TestServer {
    pub addr: SocketAddr,
    scheme: &'static str,
    script: Arc<Mutex<VecDeque<Scripted>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> Option<Recorded> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, target) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())))
        .collect();
    let len = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Recorded { method, target, headers, body })
}

fn reason(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Status")
}

async fn answer(mut stream: impl AsyncWrite + Unpin, reply: Scripted, base: String) {
    let write = |status: u16, headers: &[(String, String)], declared: usize| {
        let mut head =
            format!("HTTP/1.1 {status} {}\r\ncontent-length: {declared}\r\nconnection: close\r\n", reason(status));
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head
    };
    match reply {
        Scripted::Respond { status, headers, body } => {
            let body = String::from_utf8(body.clone()).map(|s| s.replace("{base}", &base).into_bytes()).unwrap_or(body);
            let _ = stream.write_all(write(status, &headers, body.len()).as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
        Scripted::Stall(d) => {
            tokio::time::sleep(d).await;
            let _ = stream.write_all(write(200, &[], 2).as_bytes()).await;
            let _ = stream.write_all(b"{}").await;
        }
        Scripted::Truncate { declared, body } => {
            let _ = stream.write_all(write(200, &[], declared).as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
        Scripted::Trickle { every, body } => {
            let _ = stream.write_all(write(200, &[], body.len()).as_bytes()).await;
            for byte in body {
                tokio::time::sleep(every).await;
                if stream.write_all(&[byte]).await.is_err() {
                    break;
                }
            }
        }
        Scripted::Partial { status, headers, declared, body, hold } => {
            let _ = stream.write_all(write(status, &headers, declared).as_bytes()).await;
            let _ = stream.write_all(&body).await;
            let _ = stream.flush().await;
            if hold {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        }
        Scripted::Close => {}
    }
    let _ = stream.shutdown().await;
}

/// What every connection of one server shares.
struct Conn {
    script: Arc<Mutex<VecDeque<Scripted>>>,
    requests: Arc<Mutex<Vec<Recorded>>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
    base: String,
    route: Option<Arc<Route>>,
}

impl Conn {
    async fn handle(&self, mut stream: impl AsyncRead + AsyncWrite + Unpin) {
        let Some(req) = read_request(&mut stream).await else { return };
        let (delay, reply) = match &self.route {
            Some(route) => route(&req),
            None => (
                Duration::ZERO,
                self.script.lock().unwrap().pop_front().unwrap_or(Scripted::json(404, serde_json::json!({}))),
            ),
        };
        self.requests.lock().unwrap().push(req);
        {
            let mut f = self.in_flight.lock().unwrap();
            f.0 += 1;
            f.1 = f.1.max(f.0);
        }
        tokio::time::sleep(delay).await;
        // Out of flight before answering: a client cannot send its next request
        // before it has this answer, so overlaps are counted exactly.
        self.in_flight.lock().unwrap().0 -= 1;
        answer(stream, reply, self.base.clone()).await;
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::serve(None, None).await
    }

    /// A server that answers each request with `route(request)`.
    pub async fn routed(route: impl Fn(&Recorded) -> (Duration, Scripted) + Send + Sync + 'static) -> TestServer {
        Self::serve(Some(Arc::new(route)), None).await
    }

    /// A scripted server on `https://127.0.0.1` whose certificate `ca` signed. A client that does
    /// not trust `ca` fails the handshake; nothing is recorded then and no reply is used.
    pub async fn https(ca: &rcgen::CertifiedIssuer<'static, rcgen::KeyPair>) -> TestServer {
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap().signed_by(&key, ca).unwrap();
        let key = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        Self::serve(None, Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))).await
    }

    async fn serve(route: Option<Arc<Route>>, tls: Option<tokio_rustls::TlsAcceptor>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let script: Arc<Mutex<VecDeque<Scripted>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let in_flight: Arc<Mutex<(usize, usize)>> = Arc::default();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let conn = Arc::new(Conn {
            script: script.clone(),
            requests: requests.clone(),
            in_flight: in_flight.clone(),
            base: format!("{scheme}://{addr}"),
            route,
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (conn, tls) = (conn.clone(), tls.clone());
                tokio::spawn(async move {
                    match tls {
                        Some(tls) => {
                            if let Ok(stream) = tls.accept(stream).await {
                                conn.handle(stream).await;
                            }
                        }
                        None => conn.handle(stream).await,
                    }
                });
            }
        });
        TestServer { addr, scheme, script, requests, in_flight, task }
    }

    /// The most requests the server was holding at the same time.
    pub fn peak_in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().1
    }

    /// The requests the server is holding now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().0
    }

    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    pub fn push(&self, reply: Scripted) {
        self.script.lock().unwrap().push_back(reply);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }
}

/// A clock that records the sleeps asked of it and returns at once.
#[derive(Default)]
pub struct RecordingSleeper {
    pub sleeps: Mutex<Vec<Duration>>,
}

impl crate::clock::Sleeper for RecordingSleeper {
    fn sleep(&self, d: Duration) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        self.sleeps.lock().unwrap().push(d);
        Box::pin(async {})
    }

    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }
}
