//! A scripted HTTP server on 127.0.0.1 for the provider clients' tests: it answers each request
//! with the next scripted reply (or can stall, truncate, or hang up) and records what it was sent.
//! [`TestServer::routed`] answers from a function of the request instead, for concurrent callers
//! whose requests arrive in no fixed order; the server also counts the most requests it was
//! answering at once.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

async fn read_request(stream: &mut TcpStream) -> Option<Recorded> {
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

async fn answer(mut stream: TcpStream, reply: Scripted, base: String) {
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
        Scripted::Close => {}
    }
    let _ = stream.shutdown().await;
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::serve(None).await
    }

    /// A server that answers each request with `route(request)`.
    pub async fn routed(route: impl Fn(&Recorded) -> (Duration, Scripted) + Send + Sync + 'static) -> TestServer {
        Self::serve(Some(Arc::new(route))).await
    }

    async fn serve(route: Option<Arc<Route>>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let script: Arc<Mutex<VecDeque<Scripted>>> = Arc::default();
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let in_flight: Arc<Mutex<(usize, usize)>> = Arc::default();
        let (s, r, f) = (script.clone(), requests.clone(), in_flight.clone());
        let base = format!("http://{addr}");
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let (s, r, f, base, route) = (s.clone(), r.clone(), f.clone(), base.clone(), route.clone());
                tokio::spawn(async move {
                    let Some(req) = read_request(&mut stream).await else { return };
                    let (delay, reply) = match &route {
                        Some(route) => route(&req),
                        None => (
                            Duration::ZERO,
                            s.lock().unwrap().pop_front().unwrap_or(Scripted::json(404, serde_json::json!({}))),
                        ),
                    };
                    r.lock().unwrap().push(req);
                    {
                        let mut f = f.lock().unwrap();
                        f.0 += 1;
                        f.1 = f.1.max(f.0);
                    }
                    tokio::time::sleep(delay).await;
                    // Out of flight before answering: a client cannot send its next request
                    // before it has this answer, so overlaps are counted exactly.
                    f.lock().unwrap().0 -= 1;
                    answer(stream, reply, base).await;
                });
            }
        });
        TestServer { addr, script, requests, in_flight, task }
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
        format!("http://{}", self.addr)
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
