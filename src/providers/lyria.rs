//! Background music from Google's Lyria 3 through the Gemini API key (`generateContent`).
//!
//! # What this relies on from Google's documentation
//!
//! Music generation guide, <https://ai.google.dev/gemini-api/docs/music-generation>:
//! - Lyria 3 is reached with the ordinary Gemini API key and the standard `generateContent`
//!   method (the Interactions API is the alternative; it is not used here).
//! - `lyria-3-clip-preview` always produces a 30-second clip, MP3, 44.1 kHz stereo (one revision of
//!   the page says 48 kHz; the integrator decodes whatever arrives). `lyria-3-pro-preview` makes
//!   full songs whose length the prompt steers. Duration, tempo, mood and what to avoid are
//!   therefore said in words in the prompt; there is no duration parameter.
//! - The request sets `generationConfig.responseModalities` to `["AUDIO", "TEXT"]` as the guide
//!   does; with `TEXT` the response also carries the generated lyrics / song structure as text
//!   parts, returned here as [`Clip::text`].
//! - The audio comes back as a candidate part `inlineData{mimeType: "audio/…", data: base64}`.
//!
//! The response envelope, the `promptFeedback.blockReason` / `finishReason` filter signals, and
//! the header authentication are those of [`super::gemini`] (see its notes).
//!
//! The model is `lyria-3-clip-preview` unless `HYPERFRAMES_LYRIA_MODEL` names another. A
//! generation is slow and billed per clip, so [`Lyria::from_env`] allows 180 s per attempt and
//! retries once. The caller decodes the clip and trims or loops it to the length it needs.

use std::sync::Arc;

use serde_json::{json, Value};

use super::client::ClientBase;
use super::error::{ProviderError, ProviderErrorCode, ProviderResult};
use super::gemini::{self, answer_text, decode_base64, first_candidate, generate_url, inline_data, post_generate};
use super::http::Policy;
use super::Provider;
use crate::clock::{Sleeper, TokioSleeper};
use crate::environment::non_blank;

pub const PROVIDER: Provider = Provider::Lyria;
pub const DEFAULT_MODEL: &str = "lyria-3-clip-preview";
pub const MODEL_ENV: &str = "HYPERFRAMES_LYRIA_MODEL";

/// One generated piece of music, still encoded (MP3 from the clip model).
#[derive(Clone, PartialEq, Eq)]
pub struct Clip {
    pub audio: Vec<u8>,
    /// As the API labelled it, e.g. `audio/mpeg`.
    pub mime: String,
    /// Any text parts (lyrics, song structure), joined; `None` when there were none.
    pub text: Option<String>,
}

impl std::fmt::Debug for Clip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clip")
            .field("audio", &self.audio.len())
            .field("mime", &self.mime)
            .field("text", &self.text)
            .finish()
    }
}

/// The prompt Lyria receives: the user's description, then (in words) instrumental-only unless
/// vocals are allowed, what to avoid, and the length wanted.
pub fn prompt_text(prompt: &str, negative_prompt: Option<&str>, seconds_hint: f64, vocals: bool) -> String {
    let mut text = prompt.trim().to_string();
    if !vocals {
        text.push_str("\n\nInstrumental only: no vocals, no sung or spoken lyrics.");
    }
    if let Some(neg) = negative_prompt.map(str::trim).filter(|n| !n.is_empty()) {
        text.push_str(&format!("\nAvoid: {neg}."));
    }
    if seconds_hint.is_finite() && seconds_hint > 0.0 {
        let secs = seconds_hint.round().max(1.0) as u64;
        let unit = if secs == 1 { "second" } else { "seconds" };
        text.push_str(&format!("\nLength: about {secs} {unit}, as background music for a video."));
    }
    text
}

#[derive(Clone)]
pub struct Lyria {
    base: ClientBase,
    model: String,
    vocals: bool,
}

impl std::fmt::Debug for Lyria {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lyria")
            .field("base", &self.base)
            .field("model", &self.model)
            .field("vocals", &self.vocals)
            .finish()
    }
}

impl Lyria {
    /// A client for `key` at `base_url` (no trailing `/v1beta`), default model, instrumental. The
    /// key is registered with the scrubber.
    pub fn new(key: impl Into<String>, base_url: impl Into<String>, policy: Policy, sleeper: Arc<dyn Sleeper>) -> Self {
        let timeout = policy.timeout;
        let base = ClientBase::new(PROVIDER, key, &base_url.into(), policy, timeout).with_sleeper(sleeper);
        Self { base, model: DEFAULT_MODEL.to_string(), vocals: false }
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
        let key = gemini::api_key_from(get)?;
        let client = Self::new(key, gemini::base_url_from(get), Self::default_policy(), Arc::new(TokioSleeper));
        Some(match non_blank(get(MODEL_ENV)) {
            Some(model) => client.with_model(model),
            None => client,
        })
    }

    /// 180 s per attempt, two attempts, up to 64 MB of JSON (a full song as base64 WAV fits).
    pub fn default_policy() -> Policy {
        Policy {
            attempts: 2,
            timeout: std::time::Duration::from_secs(180),
            body_limit: 64 * 1024 * 1024,
            ..Policy::default()
        }
    }

    #[cfg(test)]
    pub fn model(&self) -> &str {
        &self.model
    }

    /// Generates music for `prompt`. `seconds_hint` is the length wanted (said in the prompt; the
    /// clip model returns 30 s regardless). Filter refusals are `BadRequest` with the reason.
    pub async fn generate(
        &self,
        prompt: &str,
        negative_prompt: Option<&str>,
        seconds_hint: f64,
    ) -> ProviderResult<Clip> {
        let what = "music generation";
        if prompt.trim().is_empty() {
            return Err(ProviderError::new(
                PROVIDER,
                ProviderErrorCode::BadRequest,
                "lyria: the music prompt is empty",
            ));
        }
        let url = generate_url(PROVIDER, self.base.base_url(), &self.model)?;
        let body = json!({
            "contents": [{
                "role": "user",
                "parts": [{"text": prompt_text(prompt, negative_prompt, seconds_hint, self.vocals)}],
            }],
            "generationConfig": {"responseModalities": ["AUDIO", "TEXT"]},
        });
        let v = post_generate(&self.base, what, &url, &body, MODEL_ENV).await?;
        clip_from_response(&v)
    }
}

fn clip_from_response(v: &Value) -> ProviderResult<Clip> {
    let what = "music generation";
    let (parts, _) = first_candidate(PROVIDER, what, v)?;
    let audio = parts
        .iter()
        .filter_map(inline_data)
        .find(|(mime, _)| mime.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("audio/")));
    let Some((mime, data)) = audio else {
        return Err(ProviderError::new(
            PROVIDER,
            ProviderErrorCode::BadResponse,
            format!("{PROVIDER} {what}: the response has no audio part"),
        ));
    };
    let audio = decode_base64(data).ok_or_else(|| {
        ProviderError::new(
            PROVIDER,
            ProviderErrorCode::BadResponse,
            format!("{PROVIDER} {what}: the audio is not valid base64"),
        )
    })?;
    if audio.is_empty() {
        return Err(ProviderError::new(
            PROVIDER,
            ProviderErrorCode::BadResponse,
            format!("{PROVIDER} {what}: the audio part is empty"),
        ));
    }
    let text = answer_text(&parts).trim().to_string();
    Ok(Clip { audio, mime: mime.to_string(), text: (!text.is_empty()).then_some(text) })
}

#[cfg(test)]
mod tests;
