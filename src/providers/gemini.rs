//! Google's Gemini API (`generativelanguage.googleapis.com`) with an API key: image descriptions
//! here, and the `generateContent` plumbing that [`super::lyria`] shares.
//!
//! # What this relies on from Google's documentation
//!
//! - API reference, <https://ai.google.dev/api> and
//!   <https://ai.google.dev/api/rest/v1/GenerateContentResponse>:
//!   `POST {base}/v1beta/models/{model}:generateContent`, the key in the `x-goog-api-key` header
//!   (never in the URL, where it would end up in logs); request
//!   `{contents:[{role, parts:[…]}], generationConfig:{maxOutputTokens, responseModalities}}`;
//!   response `{candidates:[{content:{role, parts:[{text} | {inlineData:{mimeType, data}}]},
//!   finishReason}], promptFeedback:{blockReason}}`. The contract is that no candidate comes back
//!   only when the prompt itself was blocked (`promptFeedback.blockReason`); a candidate stopped by
//!   the filters carries a `finishReason` such as `SAFETY`, `RECITATION`, `BLOCKLIST`,
//!   `PROHIBITED_CONTENT` or `SPII`.
//! - Image understanding, <https://ai.google.dev/gemini-api/docs/image-understanding>: an image
//!   travels inline as a part `inline_data{mime_type, data}` holding standard base64. The REST
//!   (protobuf JSON) surface accepts the snake_case and lowerCamelCase spelling of every field;
//!   requests here use lowerCamelCase throughout (`inlineData{mimeType, data}`,
//!   `generationConfig.maxOutputTokens`), which is also how responses spell them. Responses are
//!   nevertheless read in either spelling.
//! - Thinking models may return parts marked `thought: true`; they are not part of the answer and
//!   are skipped.
//! - A key Google does not recognise is answered with HTTP 400 `INVALID_ARGUMENT`
//!   (`API_KEY_INVALID`, "API key not valid") rather than 401; it is reported as `Unauthorized`.
//!
//! Defaults: model `gemini-3.1-flash-lite-preview` (`HYPERFRAMES_GEMINI_MODEL`), base URL
//! `https://generativelanguage.googleapis.com` (`GEMINI_API_URL`), key `GEMINI_API_KEY` then
//! `GOOGLE_API_KEY`.

use std::sync::Arc;

use base64::Engine;
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use serde_json::{json, Value};

use super::client::ClientBase;
use super::error::{ProviderError, ProviderErrorCode, ProviderResult};
use super::http::{body_excerpt, send, Policy};
use super::vision::{self, DescribeFuture, Describer, ImageInput};
use super::Provider;
use crate::clock::{Sleeper, TokioSleeper};
use crate::environment::non_blank;

pub const PROVIDER: Provider = Provider::Gemini;
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";
pub const DEFAULT_MODEL: &str = "gemini-3.1-flash-lite-preview";
pub const MODEL_ENV: &str = "HYPERFRAMES_GEMINI_MODEL";

/// `GEMINI_API_KEY`, else `GOOGLE_API_KEY` (blank values count as unset).
pub(crate) fn api_key_from(get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    crate::environment::api_key(get, super::plan::GEMINI_KEYS).key().map(String::from)
}

/// `GEMINI_API_URL`, else the public endpoint.
pub(crate) fn base_url_from(get: &dyn Fn(&str) -> Option<String>) -> String {
    non_blank(get("GEMINI_API_URL")).unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
}

/// `{base}/v1beta/models/{model}:generateContent`. A leading `models/` on the model is accepted;
/// anything but letters, digits, `.`, `-` and `_` is refused rather than spliced into the path.
pub(crate) fn generate_url(provider: Provider, base: &str, model: &str) -> ProviderResult<String> {
    let model = model.trim();
    let model = model.strip_prefix("models/").unwrap_or(model);
    if model.is_empty() || !model.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')) {
        return Err(ProviderError::new(
            provider,
            ProviderErrorCode::BadRequest,
            format!("{provider}: {model:?} is not a valid model name"),
        ));
    }
    Ok(format!("{}/v1beta/models/{model}:generateContent", base.trim_end_matches('/')))
}

/// The key as a header value, marked sensitive so it never shows in debug output.
pub(crate) fn key_header(provider: Provider, key: &str) -> ProviderResult<HeaderValue> {
    let mut value = HeaderValue::from_str(key).map_err(|_| {
        ProviderError::new(
            provider,
            ProviderErrorCode::NotConfigured,
            format!("{provider}: the API key contains characters that cannot be sent in a header"),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// POSTs a `generateContent` body and returns the parsed JSON reply, with Gemini's error quirks
/// mapped (`model_env` names the variable that picks the model, for hints).
pub(crate) async fn post_generate(
    base: &super::client::ClientBase,
    what: &str,
    url: &str,
    body: &Value,
    model_env: &str,
) -> ProviderResult<Value> {
    let provider = base.provider;
    let key = key_header(provider, base.key())?;
    let body = serde_json::to_vec(body).expect("a JSON value serialises");
    let build = || {
        base.http
            .post(url)
            .header("x-goog-api-key", key.clone())
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
    };
    let reply = send(provider, what, &build, &base.policy, &*base.sleeper).await.map_err(|e| explain(e, model_env))?;
    reply.json(provider, what)
}

/// Gemini answers an unknown key with 400; say so, and add hints for the common failures.
fn explain(mut e: ProviderError, model_env: &str) -> ProviderError {
    let bad_key = e.status == Some(400)
        && (e.message.contains("API_KEY_INVALID") || e.message.to_ascii_lowercase().contains("api key not valid"));
    if bad_key {
        e.code = ProviderErrorCode::Unauthorized;
    }
    if e.hint.is_none() {
        match e.code {
            ProviderErrorCode::Unauthorized => {
                e.hint = Some("Check GEMINI_API_KEY (or GOOGLE_API_KEY); create a key in Google AI Studio.".into())
            }
            ProviderErrorCode::NotFound => {
                e.hint = Some(format!("The model may not exist or not be available to this key; set {model_env}."))
            }
            _ => {}
        }
    }
    e
}

/// `inlineData` (or `inline_data`) of a part: `(mime type, base64 data)`.
pub(crate) fn inline_data(part: &Value) -> Option<(&str, &str)> {
    let d = part.get("inlineData").or_else(|| part.get("inline_data"))?;
    let mime = d.get("mimeType").or_else(|| d.get("mime_type"))?.as_str()?;
    let data = d.get("data").and_then(Value::as_str).unwrap_or("");
    Some((mime, data))
}

/// Standard base64 (what Google sends), or the URL-safe alphabet; padding optional.
pub(crate) fn decode_base64(data: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    let config = GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    let standard = GeneralPurpose::new(&base64::alphabet::STANDARD, config);
    let url_safe = GeneralPurpose::new(&base64::alphabet::URL_SAFE, config);
    let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    standard.decode(&data).or_else(|_| url_safe.decode(&data)).ok()
}

/// The answer's text: every `text` part of the first candidate that is not a thought, joined.
pub(crate) fn answer_text(parts: &[Value]) -> String {
    parts
        .iter()
        .filter(|p| !p.get("thought").and_then(Value::as_bool).unwrap_or(false))
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<String>()
}

/// The first candidate's parts and finish reason. A blocked prompt or a candidate stopped by the
/// content filters is our input's fault: `BadRequest` with the reason. No candidate at all, or a
/// candidate without content that was not blocked, is `BadResponse`.
pub(crate) fn first_candidate(provider: Provider, what: &str, v: &Value) -> ProviderResult<(Vec<Value>, String)> {
    let block = v.pointer("/promptFeedback/blockReason").or_else(|| v.pointer("/prompt_feedback/block_reason"));
    if let Some(reason) = block.and_then(Value::as_str) {
        let detail = v
            .pointer("/promptFeedback/blockReasonMessage")
            .and_then(Value::as_str)
            .map(|m| format!(" — {}", body_excerpt(m.as_bytes())))
            .unwrap_or_default();
        return Err(ProviderError::new(
            provider,
            ProviderErrorCode::BadRequest,
            format!("{provider} {what}: the prompt was blocked ({}){detail}", body_excerpt(reason.as_bytes())),
        )
        .with_hint("Rephrase the prompt."));
    }
    let Some(candidate) = v.get("candidates").and_then(Value::as_array).and_then(|c| c.first()) else {
        return Err(ProviderError::new(
            provider,
            ProviderErrorCode::BadResponse,
            format!("{provider} {what}: the response has no candidates"),
        ));
    };
    let reason = candidate
        .get("finishReason")
        .or_else(|| candidate.get("finish_reason"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if is_blocking_finish(&reason) {
        let detail = candidate
            .get("finishMessage")
            .and_then(Value::as_str)
            .map(|m| format!(" — {}", body_excerpt(m.as_bytes())))
            .unwrap_or_default();
        return Err(ProviderError::new(
            provider,
            ProviderErrorCode::BadRequest,
            format!("{provider} {what}: stopped by the content filters ({}){detail}", body_excerpt(reason.as_bytes())),
        )
        .with_hint("Rephrase the prompt."));
    }
    let parts = candidate.pointer("/content/parts").and_then(Value::as_array).cloned().unwrap_or_default();
    Ok((parts, reason))
}

/// Finish reasons that mean the filters stopped the candidate (`SAFETY`, `RECITATION`,
/// `BLOCKLIST`, `PROHIBITED_CONTENT`, `SPII`, their `IMAGE_…` variants, and future ones named alike).
pub(crate) fn is_blocking_finish(reason: &str) -> bool {
    let r = reason.to_ascii_uppercase();
    ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED", "SPII"].iter().any(|k| r.contains(k))
}

/// Image descriptions through `generateContent` with the image inline.
#[derive(Clone)]
pub struct Gemini {
    base: ClientBase,
    model: String,
}

impl std::fmt::Debug for Gemini {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gemini").field("base", &self.base).field("model", &self.model).finish()
    }
}

impl Gemini {
    /// A client for `key` at `base_url` (no trailing `/v1beta`), with the default model. The key
    /// is registered with the scrubber.
    pub fn new(key: impl Into<String>, base_url: impl Into<String>, policy: Policy, sleeper: Arc<dyn Sleeper>) -> Self {
        let timeout = policy.timeout;
        let base = ClientBase::new(PROVIDER, key, &base_url.into(), policy, timeout).with_sleeper(sleeper);
        Self { base, model: DEFAULT_MODEL.to_string() }
    }

    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// As [`Self::from_env`], from `env` (the snapshot the plan was made from).
    pub fn from_snapshot(env: &crate::environment::Snapshot) -> Option<Self> {
        Self::from_lookup(&|name| env.get(name))
    }

    pub(crate) fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Option<Self> {
        let key = api_key_from(get)?;
        let timeout = vision::request_timeout_from(get("HYPERFRAMES_VISION_TIMEOUT_MS").as_deref());
        let policy = Policy { timeout, ..Policy::default() };
        let client = Self::new(key, base_url_from(get), policy, Arc::new(TokioSleeper));
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

    /// One sentence (or whatever `prompt` asks) about `img`, at most `max_tokens` long.
    pub async fn describe(&self, img: &ImageInput, prompt: &str, max_tokens: u32) -> ProviderResult<String> {
        let what = "image description";
        let url = generate_url(PROVIDER, self.base.base_url(), &self.model)?;
        let body = json!({
            "contents": [{
                "role": "user",
                "parts": [
                    {"inlineData": {
                        "mimeType": img.mime,
                        "data": base64::engine::general_purpose::STANDARD.encode(&img.bytes),
                    }},
                    {"text": prompt},
                ],
            }],
            "generationConfig": {"maxOutputTokens": max_tokens},
        });
        let v = post_generate(&self.base, what, &url, &body, MODEL_ENV).await?;
        let (parts, finish) = first_candidate(PROVIDER, what, &v)?;
        let text = answer_text(&parts).trim().to_string();
        if text.is_empty() {
            let mut e = ProviderError::new(
                PROVIDER,
                ProviderErrorCode::BadResponse,
                format!("{PROVIDER} {what}: the answer has no text"),
            );
            if finish.eq_ignore_ascii_case("MAX_TOKENS") {
                e = e.with_hint("The model used up its token allowance before answering (thinking models do).");
            }
            return Err(e);
        }
        Ok(text)
    }
}

impl Describer for Gemini {
    fn provider(&self) -> Provider {
        PROVIDER
    }

    fn label(&self) -> &'static str {
        "Gemini"
    }

    fn model(&self) -> &str {
        &self.model
    }

    fn describe<'a>(&'a self, img: &'a ImageInput, prompt: &'a str, max_tokens: u32) -> DescribeFuture<'a> {
        Box::pin(Gemini::describe(self, img, prompt, max_tokens))
    }
}

#[cfg(test)]
mod tests;
