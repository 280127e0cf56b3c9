//! The one HeyGen API client: auth headers for API keys and OAuth, the `{code, message, data}`
//! envelope, error mapping with scrubbed bodies, and the one refresh-and-replay on 401
//! ([`HeygenClient::with_refresh`]) that the HeyGen media client shares.

use std::time::Duration;

use chrono::Utc;
use serde_json::{Map, Value};
use tokio::sync::Mutex;

use super::error::{AuthError, AuthErrorCode, AuthResult};
use super::oauth::{self, OAuthConfig};
use super::resolve::{self, Credential, Kind};
use super::scrub;
use super::store::Store;
use crate::http;

pub const CLIENT_SOURCE: &str = "hyperframes";
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What one attempt of [`HeygenClient::with_refresh`] came to.
pub enum Attempt<T, E> {
    /// An answer (or a failure) that a refresh would not change.
    Done(Result<T, E>),
    /// HTTP 401: a refreshable credential is refreshed and the attempt replayed once.
    Unauthorized(E),
}

pub struct HeygenClient {
    http: reqwest::Client,
    base_url: String,
    oauth: OAuthConfig,
    store: Store,
    cred: Mutex<Credential>,
}

/// The fields of `/v3/users/me` this tool reads.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserInfo {
    pub raw: Map<String, Value>,
}

const USER_FIELDS: [&str; 8] =
    ["username", "email", "first_name", "last_name", "billing_type", "wallet", "subscription", "usage_based"];

impl UserInfo {
    pub fn from_body(body: &Value) -> Self {
        let root = match body.get("data") {
            Some(Value::Object(d)) => d,
            _ => match body {
                Value::Object(o) => o,
                _ => return Self::default(),
            },
        };
        let raw = USER_FIELDS
            .iter()
            .filter_map(|k| root.get(*k).filter(|v| !v.is_null()).map(|v| (k.to_string(), v.clone())))
            .collect();
        Self { raw }
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.raw.get(key).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
    }

    pub fn as_store_user(&self) -> super::store::UserBlock {
        super::store::UserBlock {
            email: self.str("email").map(Into::into),
            first_name: self.str("first_name").map(Into::into),
            last_name: self.str("last_name").map(Into::into),
            username: self.str("username").map(Into::into),
            extra: Map::new(),
        }
    }

    pub fn display_name(&self) -> Option<String> {
        self.as_store_user().display_name()
    }
}

/// An error body as a short detail: scrubbed and cut (see [`scrub::scrub_body`]); an HTML page
/// (a proxy's or a web server's error page, not HeyGen's JSON) is named by its status alone.
fn truncate_detail(status: u16, reason: &str, body: &[u8]) -> String {
    let text = scrub::scrub_body(&String::from_utf8_lossy(body));
    let html = text.trim_start().starts_with('<');
    if text.trim().is_empty() || html {
        format!("{status} {reason}").trim().to_string()
    } else {
        text.trim().to_string()
    }
}

/// The readable part of an `error` member: its message when it has one, else its JSON.
fn error_text(e: &Value) -> String {
    match e {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("message").and_then(Value::as_str) {
            Some(m) => m.to_string(),
            None => e.to_string(),
        },
        other => other.to_string(),
    }
}

impl HeygenClient {
    pub fn new(cred: Credential) -> Self {
        Self {
            http: http::client(REQUEST_TIMEOUT),
            base_url: resolve::api_base_url(),
            oauth: OAuthConfig::from_env(),
            store: Store::from_env(),
            cred: Mutex::new(cred),
        }
    }

    pub async fn credential(&self) -> Credential {
        self.cred.lock().await.clone()
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Adds the credential's headers: `x-api-key`, or `Bearer` plus `X-HeyGen-Source: cli` for OAuth.
    pub fn authorize(&self, req: reqwest::RequestBuilder, cred: &Credential) -> reqwest::RequestBuilder {
        let req = req.header("X-HeyGen-Client-Source", CLIENT_SOURCE);
        match cred.kind {
            Kind::ApiKey => req.header("x-api-key", &cred.secret),
            Kind::OAuth => req.bearer_auth(&cred.secret).header("X-HeyGen-Source", "cli"),
        }
    }

    /// The one refresh-and-replay path (this client's [`Self::send_json`] and the HeyGen media
    /// client use it): runs `attempt` with the current credential; when it answers
    /// [`Attempt::Unauthorized`] and the credential is a refreshable OAuth one, refreshes once
    /// (unless another call already did since) and replays once. With `refresh_expired`, an
    /// expired token is refreshed before the first attempt. A failed refresh goes through
    /// `refresh_failed`, with the 401's error when there was one.
    pub async fn with_refresh<T, E, F, Fut>(
        &self,
        refresh_expired: bool,
        mut attempt: F,
        refresh_failed: impl Fn(AuthError, Option<E>) -> E,
    ) -> Result<T, E>
    where
        F: FnMut(Credential) -> Fut,
        Fut: std::future::Future<Output = Attempt<T, E>>,
    {
        let refreshable = |c: &Credential| c.kind == Kind::OAuth && c.refresh_token.is_some();
        let mut cred = self.credential().await;
        let mut refreshed = false;
        if refresh_expired && cred.expired && refreshable(&cred) {
            refreshed = true;
            self.refresh_unless_done(&cred).await.map_err(|e| refresh_failed(e, None))?;
            cred = self.credential().await;
        }
        loop {
            match attempt(cred.clone()).await {
                Attempt::Done(result) => return result,
                Attempt::Unauthorized(e) if !refreshed && refreshable(&cred) => {
                    tracing::debug!("HeyGen answered 401; refreshing the OAuth token once");
                    refreshed = true;
                    self.refresh_unless_done(&cred).await.map_err(|r| refresh_failed(r, Some(e)))?;
                    cred = self.credential().await;
                }
                Attempt::Unauthorized(e) => return Err(e),
            }
        }
    }

    /// Refreshes the OAuth token unless another request already did since `used` was read.
    async fn refresh_unless_done(&self, used: &Credential) -> AuthResult<()> {
        if self.credential().await.secret != used.secret {
            return Ok(());
        }
        self.refresh_now().await
    }

    /// Sends a request and returns the JSON body (envelope included). On a 401 with an OAuth
    /// refresh token, refreshes once, persists the rotated tokens, and replays once.
    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> AuthResult<Value> {
        let url = format!("{}{}", self.base_url, path);
        let attempt = |cred: Credential| {
            let mut req = self.authorize(self.http.request(method.clone(), &url), &cred);
            if let Some(b) = body {
                req = req.json(b);
            }
            tracing::debug!(%method, path, kind = cred.kind.as_str(), "HeyGen request");
            async move {
                match self.send_once(req, path).await {
                    Err(e) if e.code == AuthErrorCode::Unauthenticated => Attempt::Unauthorized(e),
                    other => Attempt::Done(other),
                }
            }
        };
        self.with_refresh(false, attempt, |refresh, unauthorized| match (refresh.code, unauthorized) {
            // A refused refresh leaves the 401 as the answer.
            (AuthErrorCode::RefreshFailed, Some(e)) => {
                tracing::debug!("refresh after 401 was refused");
                e
            }
            (_, _) => refresh,
        })
        .await
    }

    async fn send_once(&self, req: reqwest::RequestBuilder, path: &str) -> AuthResult<Value> {
        let resp = req
            .send()
            .await
            .map_err(|e| AuthError::network(format!("HeyGen API unreachable: {}", http::describe(&e))))?;
        let status = resp.status();
        let bytes = match http::read_body_capped(resp, http::DEFAULT_BODY_LIMIT).await {
            Ok(bytes) => bytes,
            // The status already answered: an error status is HeyGen's answer even when its
            // body broke off (only a success needs the body).
            Err(e) if !status.is_success() => format!("({e})").into_bytes(),
            Err(e) => return Err(AuthError::network(format!("HeyGen API response: {e}"))),
        };
        let reason = status.canonical_reason().unwrap_or("");
        if status.as_u16() == 401 {
            return Err(AuthError::unauthenticated(truncate_detail(401, reason, &bytes)));
        }
        if !status.is_success() {
            return Err(AuthError::api(format!(
                "HeyGen API error ({}): {}",
                status.as_u16(),
                truncate_detail(status.as_u16(), reason, &bytes)
            )));
        }
        let body: Value = serde_json::from_slice(&bytes)
            .map_err(|_| AuthError::api(format!("HeyGen API returned a non-JSON body for {path}")))?;
        // A 200 that says it failed is a failure (HeyGen's v2 envelope has `"error": null` on success).
        match body.get("error") {
            None | Some(Value::Null | Value::Bool(false)) => Ok(body),
            Some(Value::String(e)) if e.is_empty() => Ok(body),
            Some(e) => Err(AuthError::api(format!(
                "HeyGen API answered {} with an error for {path}: {}",
                status.as_u16(),
                scrub::scrub_body(&error_text(e))
            ))),
        }
    }

    pub async fn users_me(&self) -> AuthResult<UserInfo> {
        let body = self.send_json(reqwest::Method::GET, "/v3/users/me", None).await?;
        Ok(UserInfo::from_body(&body))
    }

    /// Refreshes the OAuth token now and persists the result (merge: a rotated refresh token replaces
    /// the old one; fields the server omitted are kept).
    ///
    /// Across processes, refreshes of a stored session are serialised by the store's lock, held
    /// from re-reading the file to writing the rotated tokens: a process that waited finds the
    /// session another one already refreshed and uses it instead of spending a refresh token that
    /// was already rotated away (an identity provider that revokes on reuse would sign the user
    /// out). A refused answer that still carried a rotated refresh token keeps that token.
    pub async fn refresh_now(&self) -> AuthResult<()> {
        let mut cred = self.cred.lock().await;
        let Some(mut rt) = cred.refresh_token.clone() else {
            return Err(AuthError::refresh_failed("No OAuth refresh token to use."));
        };
        if cred.source.is_env() {
            let tokens = oauth::refresh(&self.http, &self.oauth, &rt).await.map_err(|f| f.error)?;
            adopt_tokens(&mut cred, &tokens);
            return Ok(());
        }
        let store = Store::at(self.store.dir());
        let (store, lock, loaded) = crate::blocking(move || {
            let lock = store.lock()?;
            let loaded = store.load()?;
            Ok::<_, AuthError>((store, lock, loaded))
        })
        .await?;
        match resolve::from_loaded(&loaded, Utc::now()) {
            // Another process refreshed since this one read the file: use its session.
            Some(stored) if stored.kind == Kind::OAuth && !stored.expired && stored.secret != cred.secret => {
                tracing::debug!("the stored OAuth session was refreshed by another process; using it");
                cred.secret = stored.secret;
                cred.refresh_token = stored.refresh_token.or(cred.refresh_token.take());
                cred.expires_at = stored.expires_at;
                cred.expired = false;
                cred.refreshable = false;
                return Ok(());
            }
            // Rotated by another process but already expired again: the stored token is the live one.
            Some(stored) if stored.kind == Kind::OAuth => {
                if let Some(stored_rt) = stored.refresh_token.filter(|s| *s != rt) {
                    rt = stored_rt;
                }
            }
            _ => {}
        }
        let mut creds = loaded.creds;
        match oauth::refresh(&self.http, &self.oauth, &rt).await {
            Ok(tokens) => {
                creds.oauth = Some(oauth::apply_tokens(creds.oauth.as_ref(), &tokens, true));
                crate::blocking(move || store.save(&lock, &creds)).await?;
                adopt_tokens(&mut cred, &tokens);
                tracing::debug!(at = %Utc::now(), "OAuth token refreshed");
                Ok(())
            }
            Err(oauth::RefreshFailure { error, rotated_refresh_token: Some(rotated) }) => {
                // The server spent the old refresh token and sent a new one with an answer we
                // refuse: keep the new one (as a refresh-only session) so the next use can refresh.
                let prev = creds.oauth.take().unwrap_or_default();
                creds.oauth = Some(super::store::OAuthBlock {
                    access_token: String::new(),
                    refresh_token: Some(rotated.clone()),
                    expires_at: None,
                    ..prev
                });
                if let Err(e) = crate::blocking(move || store.save(&lock, &creds)).await {
                    tracing::debug!("could not keep the rotated refresh token: {}", e.message);
                }
                cred.refresh_token = Some(rotated);
                Err(error)
            }
            Err(failure) => Err(failure.error),
        }
    }
}

/// The in-memory credential after a successful refresh.
fn adopt_tokens(cred: &mut Credential, tokens: &oauth::TokenSet) {
    cred.secret = tokens.access_token.clone();
    if tokens.refresh_token.is_some() {
        cred.refresh_token = tokens.refresh_token.clone();
    }
    cred.expires_at = tokens.expires_at;
    cred.expired = false;
    cred.refreshable = false;
}
