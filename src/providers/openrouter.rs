//! Image descriptions through OpenRouter's OpenAI-compatible chat completions.
//!
//! `POST {base}/v1/chat/completions` with `Authorization: Bearer <key>` and the optional
//! attribution headers `HTTP-Referer` / `X-Title`. The single user message holds the prompt first
//! and the image second, as a base64 data URL:
//! `{model, messages:[{role:"user", content:[{type:"text", text}, {type:"image_url",
//! image_url:{url:"data:<mime>;base64,…"}}]}], max_tokens}`
//! (<https://openrouter.ai/docs/features/multimodal/images>).
//!
//! The answer is `choices[0].message.content`: a string, or an array of `{type:"text", text}`
//! parts. OpenRouter may also answer 200 with an `error` object (the upstream provider failed);
//! its `code` is treated as the HTTP status it stands for.
//!
//! Defaults: model `google/gemini-3.1-flash-lite` (`HYPERFRAMES_OPENROUTER_MODEL`), base URL
//! `https://openrouter.ai/api` (`OPENROUTER_API_URL`), key `OPENROUTER_API_KEY`.

use std::sync::Arc;

use base64::Engine;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};

use super::client::ClientBase;
use super::error::{ProviderError, ProviderErrorCode, ProviderResult};
use super::http::{body_excerpt, send, Policy};
use super::vision::{self, DescribeFuture, Describer, ImageInput};
use super::Provider;
use crate::clock::{Sleeper, TokioSleeper};
use crate::environment::non_blank;

pub const PROVIDER: Provider = Provider::Openrouter;
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api";
pub const DEFAULT_MODEL: &str = "google/gemini-3.1-flash-lite";
pub const MODEL_ENV: &str = "HYPERFRAMES_OPENROUTER_MODEL";
/// Sent as `X-Title` unless replaced with [`OpenRouter::with_attribution`].
pub const DEFAULT_TITLE: &str = "HyperFrames";

#[derive(Clone)]
pub struct OpenRouter {
    base: ClientBase,
    model: String,
    referer: Option<String>,
    title: Option<String>,
}

impl std::fmt::Debug for OpenRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenRouter")
            .field("base", &self.base)
            .field("model", &self.model)
            .field("referer", &self.referer)
            .field("title", &self.title)
            .finish()
    }
}

impl OpenRouter {
    /// A client for `key` at `base_url` (up to `/api`, without `/v1`), default model, `X-Title`
    /// [`DEFAULT_TITLE`] and no referer. The key is registered with the scrubber.
    pub fn new(key: impl Into<String>, base_url: impl Into<String>, policy: Policy, sleeper: Arc<dyn Sleeper>) -> Self {
        let timeout = policy.timeout;
        let base = ClientBase::new(PROVIDER, key, &base_url.into(), policy, timeout).with_sleeper(sleeper);
        Self { base, model: DEFAULT_MODEL.to_string(), referer: None, title: Some(DEFAULT_TITLE.to_string()) }
    }

    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    #[cfg(test)]
    /// The `HTTP-Referer` and `X-Title` headers (`None` leaves a header out).
    pub fn with_attribution(mut self, referer: Option<String>, title: Option<String>) -> Self {
        self.referer = referer;
        self.title = title;
        self
    }

    /// As [`Self::from_env`], from `env` (the snapshot the plan was made from).
    pub fn from_snapshot(env: &crate::environment::Snapshot) -> Option<Self> {
        Self::from_lookup(&|name| env.get(name))
    }

    pub(crate) fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let key = crate::environment::api_key(get, super::plan::OPENROUTER_KEYS).key()?.to_string();
        let base = non_blank(get("OPENROUTER_API_URL")).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let timeout = vision::request_timeout_from(get("HYPERFRAMES_VISION_TIMEOUT_MS").as_deref());
        let client = Self::new(key, base, Policy { timeout, ..Policy::default() }, Arc::new(TokioSleeper));
        Some(match non_blank(get(MODEL_ENV)) {
            Some(model) => client.with_model(model),
            None => client,
        })
    }

    #[cfg(test)]
    pub fn model(&self) -> &str {
        &self.model
    }

    #[cfg(test)]
    pub fn base_url(&self) -> &str {
        self.base.base_url()
    }

    fn bearer(&self) -> ProviderResult<HeaderValue> {
        let mut value = HeaderValue::from_str(&format!("Bearer {}", self.base.key())).map_err(|_| {
            ProviderError::new(
                PROVIDER,
                ProviderErrorCode::NotConfigured,
                "openrouter: the API key contains characters that cannot be sent in a header",
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }

    /// One sentence (or whatever `prompt` asks) about `img`, at most `max_tokens` long.
    pub async fn describe(&self, img: &ImageInput, prompt: &str, max_tokens: u32) -> ProviderResult<String> {
        let what = "image description";
        let url = format!("{}/v1/chat/completions", self.base.base_url().trim_end_matches('/'));
        let data_url =
            format!("data:{};base64,{}", img.mime, base64::engine::general_purpose::STANDARD.encode(&img.bytes));
        let body = json!({
            "model": self.model,
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": prompt},
                    {"type": "image_url", "image_url": {"url": data_url}},
                ],
            }],
            "max_tokens": max_tokens,
        });
        let body = serde_json::to_vec(&body).expect("a JSON value serialises");
        let auth = self.bearer()?;
        let build = || {
            let mut req = self
                .base
                .http
                .post(&url)
                .header(AUTHORIZATION, auth.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
            if let Some(r) = &self.referer {
                req = req.header("HTTP-Referer", r.as_str());
            }
            if let Some(t) = &self.title {
                req = req.header("X-Title", t.as_str());
            }
            req
        };
        let reply = send(PROVIDER, what, &build, &self.base.policy, &*self.base.sleeper).await.map_err(with_hint)?;
        let v = reply.json(PROVIDER, what)?;
        answer(&v, what)
    }
}

/// `choices[0].message.content` as text, or the error the body reports.
fn answer(v: &Value, what: &str) -> ProviderResult<String> {
    let choice = v.get("choices").and_then(Value::as_array).and_then(|c| c.first());
    if let Some(err) = choice.and_then(|c| c.get("error")).or_else(|| v.get("error")).filter(|e| !e.is_null()) {
        return Err(body_error(err, what));
    }
    let Some(choice) = choice else {
        return Err(ProviderError::new(
            PROVIDER,
            ProviderErrorCode::BadResponse,
            format!("{PROVIDER} {what}: the response has no choices"),
        ));
    };
    let message = choice.get("message");
    let text = match message.and_then(|m| m.get("content")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str).is_none_or(|t| t == "text" || t == "output_text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    };
    let text = text.trim();
    if !text.is_empty() {
        return Ok(text.to_string());
    }
    let finish = choice.get("finish_reason").and_then(Value::as_str).unwrap_or("");
    let refusal = message.and_then(|m| m.get("refusal")).and_then(Value::as_str).filter(|r| !r.trim().is_empty());
    if let Some(r) = refusal {
        return Err(ProviderError::new(
            PROVIDER,
            ProviderErrorCode::BadRequest,
            format!("{PROVIDER} {what}: the model refused: {}", body_excerpt(r.as_bytes())),
        ));
    }
    if finish == "content_filter" {
        return Err(ProviderError::new(
            PROVIDER,
            ProviderErrorCode::BadRequest,
            format!("{PROVIDER} {what}: stopped by the content filter"),
        ));
    }
    let mut e = ProviderError::new(
        PROVIDER,
        ProviderErrorCode::BadResponse,
        format!("{PROVIDER} {what}: the answer has no text"),
    );
    if finish == "length" {
        e = e.with_hint("The model used up its token allowance before answering.");
    }
    Err(e)
}

/// An `error` object inside a 200 reply: `{code, message}`, where `code` mirrors an HTTP status.
fn body_error(err: &Value, what: &str) -> ProviderError {
    let status = match err.get("code") {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
        _ => None,
    };
    let message = err.get("message").and_then(Value::as_str).map(|m| body_excerpt(m.as_bytes())).unwrap_or_default();
    let code = match status {
        Some(401 | 403) => ProviderErrorCode::Unauthorized,
        Some(402) => ProviderErrorCode::PaymentRequired,
        Some(404) => ProviderErrorCode::NotFound,
        Some(408) => ProviderErrorCode::Timeout,
        Some(429) => ProviderErrorCode::RateLimited,
        Some(400..=499) => ProviderErrorCode::BadRequest,
        Some(500..=599) => ProviderErrorCode::ServerError,
        _ => ProviderErrorCode::BadResponse,
    };
    let detail = if message.is_empty() { String::new() } else { format!(": {message}") };
    let mut e = ProviderError::new(PROVIDER, code, format!("{PROVIDER} {what} failed{detail}"));
    if let Some(s) = status {
        e = e.with_status(s);
    }
    with_hint(e)
}

fn with_hint(mut e: ProviderError) -> ProviderError {
    if e.hint.is_none() {
        e.hint = match e.code {
            ProviderErrorCode::Unauthorized => Some("Check OPENROUTER_API_KEY.".into()),
            ProviderErrorCode::PaymentRequired => Some("The OpenRouter account is out of credits.".into()),
            ProviderErrorCode::NotFound => {
                Some(format!("The model may not exist on OpenRouter; set {MODEL_ENV} to another vision model."))
            }
            _ => None,
        };
    }
    e
}

impl Describer for OpenRouter {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    fn label(&self) -> &'static str {
        "OpenRouter"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn describe<'a>(&'a self, img: &'a ImageInput, prompt: &'a str, max_tokens: u32) -> DescribeFuture<'a> {
        Box::pin(OpenRouter::describe(self, img, prompt, max_tokens))
    }
}

#[cfg(test)]
mod tests;
