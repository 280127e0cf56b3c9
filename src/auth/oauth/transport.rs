//! oauth2's HTTP client: every OAuth request goes out through this crate's own reqwest client (the
//! shared TLS roots of `crate::tls`, no redirects), within a time budget and with the response body
//! read under a size cap. The last reply is kept so the caller can judge it by this package's rules
//! (status-only messages, scrubbed bodies, Retry-After) rather than by oauth2's serde types.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::auth::scrub;
use crate::http::{self, BodyError};

/// A response with its body read (or left unread, see [`Bodies`]).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Which response bodies are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bodies {
    All,
    /// Error bodies are not read (the message names the status only).
    SuccessOnly,
    /// Only the status matters (revocation).
    None,
}

/// How the time budget is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// reqwest's own per-request timeout (reported as "timed out").
    Request(Duration),
    /// One deadline over sending and reading the whole body ([`TransportError::Timeout`]).
    Whole(Duration),
}

#[derive(Debug)]
pub enum TransportError {
    Timeout(Duration),
    TooLarge(usize),
    /// The request could not be sent or its answer not received.
    Send(reqwest::Error),
    /// The status arrived but the body could not be read.
    Body(reqwest::Error),
}

impl TransportError {
    /// Worth another attempt at the current polling interval.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout(_) => true,
            Self::TooLarge(_) => false,
            Self::Send(e) | Self::Body(e) => !(e.is_builder() || e.is_redirect() || e.is_status()),
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout(d) => write!(f, "no complete response within {} ms", d.as_millis()),
            Self::TooLarge(limit) => write!(f, "response body exceeds {limit} bytes"),
            Self::Send(e) | Self::Body(e) => f.write_str(&scrub::scrub(&http::describe(e))),
        }
    }
}

impl std::error::Error for TransportError {}

pub struct Transport<'a> {
    http: &'a reqwest::Client,
    budget: Budget,
    body_limit: usize,
    bodies: Bodies,
    last: Mutex<Option<Reply>>,
}

impl<'a> Transport<'a> {
    pub fn new(http: &'a reqwest::Client, budget: Budget, body_limit: usize, bodies: Bodies) -> Self {
        Self { http, budget, body_limit, bodies, last: Mutex::new(None) }
    }

    /// Sends `req` and reads its body under the cap, within the budget.
    pub async fn send(&self, mut req: reqwest::Request) -> Result<Reply, TransportError> {
        if let Budget::Request(d) = self.budget {
            *req.timeout_mut() = Some(d);
        }
        let work = async {
            let resp = self.http.execute(req).await.map_err(TransportError::Send)?;
            let status = resp.status();
            let headers = resp.headers().clone();
            let read = match self.bodies {
                Bodies::All => true,
                Bodies::SuccessOnly => status.is_success(),
                Bodies::None => false,
            };
            let body = if read {
                http::read_body_capped(resp, self.body_limit).await.map_err(|e| match e {
                    BodyError::TooLarge(limit) => TransportError::TooLarge(limit),
                    BodyError::Transport(e) => TransportError::Body(e),
                })?
            } else {
                Vec::new()
            };
            Ok(Reply { status, headers, body })
        };
        let reply = match self.budget {
            Budget::Request(_) => work.await,
            Budget::Whole(d) => tokio::time::timeout(d, work).await.unwrap_or(Err(TransportError::Timeout(d))),
        }?;
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(reply.clone());
        Ok(reply)
    }

    /// The reply to the last request sent through this transport.
    pub fn take_reply(&self) -> Option<Reply> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

impl<'c> oauth2::AsyncHttpClient<'c> for Transport<'_> {
    type Error = TransportError;
    type Future = Pin<Box<dyn Future<Output = Result<oauth2::HttpResponse, TransportError>> + Send + 'c>>;

    fn call(&'c self, request: oauth2::HttpRequest) -> Self::Future {
        Box::pin(async move {
            let req = reqwest::Request::try_from(request).map_err(TransportError::Send)?;
            let reply = self.send(req).await?;
            let mut resp = oauth2::http::Response::new(reply.body);
            *resp.status_mut() = reply.status;
            *resp.headers_mut() = reply.headers;
            Ok(resp)
        })
    }
}
