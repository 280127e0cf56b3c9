//! ElevenLabs text-to-speech with per-character timestamps
//! (`POST /v1/text-to-speech/{voice_id}/with-timestamps`), rebuilt into words, and the voice list.
//!
//! Long text is handled like HeyGen's: above 5,000 characters it is split at sentence boundaries,
//! one request per chunk (each told its neighbours' text as `previous_text` / `next_text` for
//! continuous prosody), and the result is a [`Speech`] with one MP3 part per chunk.

use std::collections::BTreeMap;
#[cfg(test)]
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::client::ClientBase;
use super::error::{ProviderError, ProviderErrorCode, ProviderResult};
use super::http::Policy;
use super::speech::{
    audio_duration, audio_mime, f32_decimal, is_english, language_key, split_text, Speech, SpeechPart,
};
use super::Provider;
use crate::audio::captions::Word;
#[cfg(test)]
use crate::clock::Sleeper;
use crate::environment::non_blank;

pub const PROVIDER: Provider = Provider::Elevenlabs;
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
/// Rachel.
pub const DEFAULT_VOICE: &str = "21m00Tcm4TlvDq8ikWAM";
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";
pub const OUTPUT_FORMAT: &str = "mp3_44100_128";
/// Characters per request (the models accept more; this keeps requests and responses moderate).
pub const MAX_TEXT_CHARS: usize = 5_000;
/// The range ElevenLabs accepts for `voice_settings.speed`.
pub const MIN_SPEED: f32 = 0.7;
pub const MAX_SPEED: f32 = 1.2;
/// A with-timestamps response carries the audio as base64: allow several minutes of MP3.
pub const SPEECH_BODY_LIMIT: usize = 64 * 1024 * 1024;
pub const SPEECH_TIMEOUT: Duration = Duration::from_secs(180);
/// How much neighbouring text each chunk is given as context.
const CONTEXT_CHARS: usize = 500;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, PartialEq)]
pub struct ElevenVoice {
    pub voice_id: String,
    pub name: String,
    /// `accent`, `gender`, `age`, `language`, … as the API labels the voice.
    pub labels: BTreeMap<String, String>,
    pub category: Option<String>,
    pub preview_url: Option<String>,
}

impl ElevenVoice {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

pub struct ElevenLabs {
    base: ClientBase,
    model_id: String,
    speech_policy: Policy,
}

impl std::fmt::Debug for ElevenLabs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ElevenLabs").field("base", &self.base).field("model_id", &self.model_id).finish()
    }
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(PROVIDER, ProviderErrorCode::BadRequest, message)
}

fn bad_response(what: &str, detail: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(PROVIDER, ProviderErrorCode::BadResponse, format!("{PROVIDER} {what}: {detail}"))
}

/// Models that take `language_code` (the others refuse it and detect the language themselves).
fn takes_language_code(model_id: &str) -> bool {
    model_id.ends_with("_v2_5") || model_id.starts_with("eleven_v3")
}

/// Voice ids go into the URL path: only letters, digits, `_` and `-`.
fn is_valid_voice_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn tail_chars(s: &str, n: usize) -> &str {
    let count = s.chars().count();
    match s.char_indices().nth(count.saturating_sub(n)) {
        Some((at, _)) if count > n => &s[at..],
        _ => s,
    }
}

fn head_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F)
}

/// Rebuilds words from ElevenLabs' per-character alignment
/// (`characters[]`, `character_start_times_seconds[]`, `character_end_times_seconds[]`).
///
/// Characters between whitespace form a word (start = its first char's start, end = its last
/// char's end). A run without letters or digits (a dash, a lone quote) joins the previous word,
/// or the next one at the start. CJK ideographs and kana are one word each. Ids are `w0…`.
pub fn words_from_alignment(alignment: &Value) -> ProviderResult<Vec<Word>> {
    const WHAT: &str = "speech alignment";
    let array = |key: &str| {
        alignment
            .get(key)
            .and_then(Value::as_array)
            .ok_or_else(|| bad_response(WHAT, format!("`{key}` is missing or not a list")))
    };
    let (chars, starts, ends) =
        (array("characters")?, array("character_start_times_seconds")?, array("character_end_times_seconds")?);
    if chars.len() != starts.len() || chars.len() != ends.len() {
        return Err(bad_response(
            WHAT,
            format!(
                "the lists differ in length ({} characters, {} start times, {} end times)",
                chars.len(),
                starts.len(),
                ends.len()
            ),
        ));
    }
    let time = |v: &Value, i: usize| {
        v.as_f64().filter(|t| t.is_finite()).ok_or_else(|| bad_response(WHAT, format!("time #{i} is not a number")))
    };

    // Pass 1: runs of non-space characters (CJK characters stand alone).
    let mut runs: Vec<(String, f64, f64)> = Vec::new();
    let mut current: Option<(String, f64, f64)> = None;
    for (i, ch) in chars.iter().enumerate() {
        let ch = ch.as_str().ok_or_else(|| bad_response(WHAT, format!("character #{i} is not a string")))?;
        let (start, end) = (time(&starts[i], i)?, time(&ends[i], i)?);
        if ch.is_empty() {
            continue;
        }
        if ch.chars().all(char::is_whitespace) {
            runs.extend(current.take());
            continue;
        }
        if ch.chars().any(is_cjk) {
            runs.extend(current.take());
            runs.push((ch.to_string(), start, end));
            continue;
        }
        match &mut current {
            Some((text, _, last)) => {
                text.push_str(ch);
                *last = end;
            }
            None => current = Some((ch.to_string(), start, end)),
        }
    }
    runs.extend(current);

    // Pass 2: punctuation-only runs attach to a neighbouring word.
    let mut words: Vec<Word> = Vec::new();
    let mut pending: Option<(String, f64)> = None;
    for (text, start, end) in runs {
        let standalone = text.chars().any(char::is_alphanumeric);
        if !standalone {
            if let Some(prev) = words.last_mut() {
                let cjk_prev = prev.text.chars().last().is_some_and(is_cjk);
                if !cjk_prev {
                    prev.text.push(' ');
                }
                prev.text.push_str(&text);
                prev.end = prev.end.max(end);
                continue;
            }
            pending = Some(match pending.take() {
                Some((t, s)) => (format!("{t} {text}"), s),
                None => (text, start),
            });
            continue;
        }
        let (text, start) = match pending.take() {
            Some((p, s)) => (format!("{p} {text}"), s),
            None => (text, start),
        };
        words.push(Word { id: String::new(), text, start, end: end.max(start), confidence: None });
    }
    if let Some((text, start)) = pending {
        // Only punctuation was spoken: keep it rather than lose the time span.
        words.push(Word { id: String::new(), text, start, end: start, confidence: None });
    }
    for (i, w) in words.iter_mut().enumerate() {
        w.id = format!("w{i}");
        w.end = w.end.max(w.start);
    }
    Ok(words)
}

impl ElevenLabs {
    /// A client for `key` at `base_url` (trailing slashes dropped). The key is registered with
    /// the scrubber so it never appears in output.
    pub fn new(key: impl Into<String>, base_url: &str) -> Self {
        Self {
            base: ClientBase::new(PROVIDER, key, base_url, Policy::default(), CLIENT_TIMEOUT),
            model_id: DEFAULT_MODEL.to_string(),
            speech_policy: Policy { timeout: SPEECH_TIMEOUT, body_limit: SPEECH_BODY_LIMIT, ..Policy::default() },
        }
    }

    #[cfg(test)]
    /// `ELEVENLABS_API_KEY` (non-empty), `ELEVENLABS_API_URL` and `ELEVENLABS_MODEL`.
    pub fn from_env() -> Option<Self> {
        Self::from_snapshot(&crate::environment::Snapshot::variables())
    }

    /// As [`Self::from_env`], from `env`; the key is read as the plan reads it
    /// ([`crate::environment::Snapshot::api_key`]), so a key one calls unusable is so for both.
    pub fn from_snapshot(env: &crate::environment::Snapshot) -> Option<Self> {
        let key = env.api_key(super::plan::ELEVENLABS_KEYS).key()?.to_string();
        let base = non_blank(env.get("ELEVENLABS_API_URL")).unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let mut client = Self::new(key, &base);
        if let Some(model) = non_blank(env.get("ELEVENLABS_MODEL")) {
            client.model_id = model;
        }
        Some(client)
    }

    #[cfg(test)]
    pub fn with_model(mut self, model_id: &str) -> Self {
        self.model_id = model_id.trim().to_string();
        self
    }

    #[cfg(test)]
    /// Sets the policy of every call; speech keeps a body limit of at least [`SPEECH_BODY_LIMIT`].
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.speech_policy = Policy { body_limit: policy.body_limit.max(SPEECH_BODY_LIMIT), ..policy.clone() };
        self.base.policy = policy;
        self
    }

    #[cfg(test)]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.base.sleeper = sleeper;
        self
    }

    #[cfg(test)]
    pub fn base_url(&self) -> &str {
        self.base.base_url()
    }

    #[cfg(test)]
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    async fn call(
        &self,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Sync),
        policy: &Policy,
        what: &str,
    ) -> ProviderResult<Value> {
        let reply = self.base.send(what, build, Some(policy)).await.map_err(explain)?;
        reply.json(PROVIDER, what)
    }

    /// Speaks `text` with per-word timings. `speed` is 0.7–1.2 (None: the voice's own);
    /// `language_code` is sent only to models that take it (`*_v2_5`, `eleven_v3*`).
    pub async fn speech(
        &self,
        text: &str,
        voice_id: Option<&str>,
        model_id: Option<&str>,
        speed: Option<f32>,
        language_code: Option<&str>,
    ) -> ProviderResult<Speech> {
        let text = text.trim();
        if text.is_empty() {
            return Err(bad_request(format!("{PROVIDER}: there is no text to speak")));
        }
        if let Some(s) = speed {
            if !(s.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&s)) {
                return Err(bad_request(format!(
                    "{PROVIDER}: speed must be between {MIN_SPEED} and {MAX_SPEED} (got {s})"
                )));
            }
        }
        let voice_id = voice_id.map(str::trim).filter(|v| !v.is_empty()).unwrap_or(DEFAULT_VOICE);
        if !is_valid_voice_id(voice_id) {
            return Err(bad_request(format!("{PROVIDER}: `{voice_id}` is not a valid voice id")));
        }
        let model_id = model_id.map(str::trim).filter(|m| !m.is_empty()).unwrap_or(&self.model_id);
        let language = language_code
            .map(str::trim)
            .filter(|l| !l.is_empty() && takes_language_code(model_id))
            .map(language_key)
            .filter(|l| !l.is_empty() && !is_english(l));
        let url = format!("{}/v1/text-to-speech/{voice_id}/with-timestamps", self.base.base_url());

        let chunks = split_text(text, MAX_TEXT_CHARS);
        let mut parts = Vec::with_capacity(chunks.len());
        for (i, chunk) in chunks.iter().enumerate() {
            let mut body = json!({"text": chunk, "model_id": model_id});
            if let Some(s) = speed.filter(|s| (*s - 1.0).abs() > f32::EPSILON) {
                body["voice_settings"] = json!({"speed": f32_decimal(s)});
            }
            if let Some(l) = &language {
                body["language_code"] = json!(l);
            }
            if i > 0 {
                body["previous_text"] = json!(tail_chars(&chunks[i - 1], CONTEXT_CHARS));
            }
            if let Some(next) = chunks.get(i + 1) {
                body["next_text"] = json!(head_chars(next, CONTEXT_CHARS));
            }
            let build = || {
                self.base
                    .http
                    .post(&url)
                    .query(&[("output_format", OUTPUT_FORMAT)])
                    .header("xi-api-key", self.base.key())
                    .header("accept", "application/json")
                    .json(&body)
            };
            let reply = self.call(&build, &self.speech_policy, "speech").await?;
            parts.push(parse_speech_part(&reply, chunk)?);
        }
        Ok(Speech::from_parts(parts, voice_id.to_string()))
    }

    /// `GET /v1/voices`.
    pub async fn list_voices(&self) -> ProviderResult<Vec<ElevenVoice>> {
        let url = format!("{}/v1/voices", self.base.base_url());
        let build =
            || self.base.http.get(&url).header("xi-api-key", self.base.key()).header("accept", "application/json");
        let body = self.call(&build, &self.base.policy, "voice list").await?;
        let list = body
            .get("voices")
            .and_then(Value::as_array)
            .ok_or_else(|| bad_response("voice list", "the response has no `voices` list"))?;
        Ok(list.iter().filter_map(parse_voice).collect())
    }
}

fn string_of(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(String::from)
}

fn parse_voice(item: &Value) -> Option<ElevenVoice> {
    let obj = item.as_object()?;
    let voice_id = string_of(obj, "voice_id")?;
    let labels = obj
        .get("labels")
        .and_then(Value::as_object)
        .map(|l| {
            l.iter().filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string()))).collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    Some(ElevenVoice {
        name: string_of(obj, "name").unwrap_or_else(|| voice_id.clone()),
        voice_id,
        labels,
        category: string_of(obj, "category"),
        preview_url: string_of(obj, "preview_url"),
    })
}

fn parse_speech_part(reply: &Value, text: &str) -> ProviderResult<SpeechPart> {
    let encoded = reply
        .get("audio_base64")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| bad_response("speech", "the response has no audio_base64"))?;
    let audio = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad_response("speech", "audio_base64 is not valid base64"))?;
    if audio.is_empty() {
        return Err(bad_response("speech", "the audio is empty"));
    }
    let alignment = [reply.get("alignment"), reply.get("normalized_alignment")]
        .into_iter()
        .flatten()
        .find(|v| !v.is_null())
        .ok_or_else(|| bad_response("speech", "the response has no alignment"))?;
    let words = words_from_alignment(alignment)?;
    let mime = audio_mime(&audio, Some("audio/mpeg"), "");
    let duration = audio_duration(&audio, &mime, text).or_else(|| {
        alignment
            .get("character_end_times_seconds")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().filter_map(Value::as_f64).reduce(f64::max))
    });
    Ok(SpeechPart::checked(audio, mime, text.to_string(), words, duration))
}

/// What the user can do about an error. ElevenLabs answers an exhausted quota with 401
/// `quota_exceeded`, which is a payment matter, not a bad key.
fn explain(mut e: ProviderError) -> ProviderError {
    if e.code == ProviderErrorCode::Unauthorized && e.message.contains("quota_exceeded") {
        e.code = ProviderErrorCode::PaymentRequired;
    }
    if e.hint.is_some() {
        return e;
    }
    match e.code {
        ProviderErrorCode::Unauthorized => e.with_hint("Check ELEVENLABS_API_KEY."),
        ProviderErrorCode::PaymentRequired => {
            e.with_hint("The ElevenLabs quota or plan does not cover this request; check your ElevenLabs subscription.")
        }
        _ => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};
    use crate::test_support::silent_mp3;
    use crate::test_support::{env_lock, EnvGuard};

    const KEY: &str = "el_test_secret_key_9f8e7d";

    fn client(server: &TestServer) -> ElevenLabs {
        ElevenLabs::new(KEY, &format!("{}/", server.url()))
            .with_policy(Policy { timeout: Duration::from_millis(300), ..Policy::default() })
            .with_sleeper(Arc::new(RecordingSleeper::default()))
    }

    /// An alignment for `text`, 0.1 s per character.
    fn alignment(text: &str) -> Value {
        let chars: Vec<String> = text.chars().map(String::from).collect();
        let starts: Vec<f64> = (0..chars.len()).map(|i| i as f64 / 10.0).collect();
        let ends: Vec<f64> = (0..chars.len()).map(|i| (i + 1) as f64 / 10.0).collect();
        json!({"characters": chars, "character_start_times_seconds": starts, "character_end_times_seconds": ends})
    }

    fn reply(text: &str) -> Scripted {
        let audio = base64::engine::general_purpose::STANDARD.encode(silent_mp3(4));
        Scripted::json(
            200,
            json!({"audio_base64": audio, "alignment": alignment(text), "normalized_alignment": alignment("zzz")}),
        )
    }

    fn words(text: &str) -> Vec<(String, f64, f64)> {
        words_from_alignment(&alignment(text))
            .unwrap()
            .into_iter()
            .enumerate()
            .map(|(i, w)| {
                assert_eq!(w.id, format!("w{i}"));
                (w.text, (w.start * 10.0).round() / 10.0, (w.end * 10.0).round() / 10.0)
            })
            .collect()
    }

    fn w(text: &str, start: f64, end: f64) -> (String, f64, f64) {
        (text.to_string(), start, end)
    }

    #[test]
    fn words_are_rebuilt_from_characters() {
        assert_eq!(words("Hello,  world! "), [w("Hello,", 0.0, 0.6), w("world!", 0.8, 1.4)]);
        assert_eq!(words(" Wait — what?"), [w("Wait —", 0.1, 0.7), w("what?", 0.8, 1.3)]);
        assert_eq!(words("\" Quoted\" text"), [w("\" Quoted\"", 0.0, 0.9), w("text", 1.0, 1.4)]);
        assert_eq!(
            words("it's 3.5\tkm\nok"),
            [w("it's", 0.0, 0.4), w("3.5", 0.5, 0.8), w("km", 0.9, 1.1), w("ok", 1.2, 1.4)]
        );
        assert_eq!(words("你好。"), [w("你", 0.0, 0.1), w("好。", 0.1, 0.3)]);
        assert_eq!(words("   "), []);
        assert_eq!(words("..."), [w("...", 0.0, 0.0)]);
    }

    /// Character times of 1e308 or negative, and control characters, go
    /// through the one word check: dropped or fixed, each kind reported.
    #[test]
    fn hostile_character_times_are_checked_like_every_provider_s() {
        let mut a = alignment("ab cd ef g\u{1b}h");
        a["character_start_times_seconds"] = json!([0.0, 0.1, 0.2, 1e308, 0.4, 0.5, -3.0, 0.7, 0.8, 0.05, 0.9, 1.0]);
        a["character_end_times_seconds"] = json!([0.1, 0.2, 0.3, 1e308, 0.5, 0.6, 0.7, 0.8, 0.9, 0.06, 1.0, 1.1]);
        let audio = base64::engine::general_purpose::STANDARD.encode(silent_mp3(4));
        let part = parse_speech_part(&json!({"audio_base64": audio, "alignment": a}), "t").unwrap();
        let got: Vec<(&str, f64, f64)> = part.words.iter().map(|w| (w.text.as_str(), w.start, w.end)).collect();
        assert_eq!(got, [("ab", 0.0, 0.2), ("gh", 0.05, 1.1)]);
        assert_eq!(
            part.anomalies,
            [
                "control characters removed from the text of 1 word",
                "2 words dropped: a time is not a number from 0 to 3600 seconds"
            ]
        );
    }

    #[test]
    fn malformed_alignments_are_bad_responses() {
        let mut a = alignment("abc");
        a["character_end_times_seconds"] = json!([0.1, 0.2]);
        let e = words_from_alignment(&a).unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadResponse);
        assert!(e.message.contains("differ in length"), "{}", e.message);
        let mut a = alignment("abc");
        a["characters"] = json!(["a", 1, "c"]);
        assert_eq!(words_from_alignment(&a).unwrap_err().code, ProviderErrorCode::BadResponse);
        let mut a = alignment("abc");
        a["character_start_times_seconds"] = json!([0.0, "x", 0.2]);
        assert_eq!(words_from_alignment(&a).unwrap_err().code, ProviderErrorCode::BadResponse);
        assert_eq!(words_from_alignment(&json!({})).unwrap_err().code, ProviderErrorCode::BadResponse);
    }

    #[tokio::test]
    async fn speech_sends_the_documented_request_and_rebuilds_words() {
        let server = TestServer::start().await;
        server.push(reply("Hello,  world! "));
        let el = client(&server);
        let speech = el.speech("Hello,  world!", None, None, None, Some("en")).await.unwrap();

        let reqs = server.requests();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].method, "POST");
        assert_eq!(
            reqs[0].target,
            format!("/v1/text-to-speech/{DEFAULT_VOICE}/with-timestamps?output_format=mp3_44100_128")
        );
        assert_eq!(reqs[0].header("xi-api-key"), Some(KEY));
        assert_eq!(reqs[0].header("authorization"), None);
        assert_eq!(reqs[0].json(), json!({"text": "Hello,  world!", "model_id": DEFAULT_MODEL}));

        assert_eq!(speech.voice_id, DEFAULT_VOICE);
        let part = speech.single().unwrap();
        assert_eq!((part.audio.as_slice(), part.mime.as_str()), (silent_mp3(4).as_slice(), "audio/mpeg"));
        assert!((part.duration.unwrap() - 4.0 * 1152.0 / 44100.0).abs() < 1e-9);
        let texts: Vec<&str> = speech.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["Hello,", "world!"], "from `alignment`, not `normalized_alignment`");
    }

    #[tokio::test]
    async fn speed_language_and_model_options() {
        let server = TestServer::start().await;
        server.push(reply("Hola"));
        server.push(reply("Hola"));
        let el = client(&server).with_model("eleven_flash_v2_5");
        el.speech("Hola", Some("voiceABC123"), None, Some(0.9), Some("es-MX")).await.unwrap();
        el.speech("Hola", Some("voiceABC123"), Some("eleven_multilingual_v2"), Some(1.0), Some("es")).await.unwrap();
        let reqs = server.requests();
        assert_eq!(reqs[0].target, "/v1/text-to-speech/voiceABC123/with-timestamps?output_format=mp3_44100_128");
        assert_eq!(
            reqs[0].json(),
            json!({"text": "Hola", "model_id": "eleven_flash_v2_5", "voice_settings": {"speed": 0.9}, "language_code": "es"})
        );
        assert_eq!(reqs[1].json(), json!({"text": "Hola", "model_id": "eleven_multilingual_v2"}));

        for (speed, voice) in [(Some(0.5), None), (Some(1.3), None), (Some(f32::NAN), None), (None, Some("../x"))] {
            let e = el.speech("Hola", voice, None, speed, None).await.unwrap_err();
            assert_eq!(e.code, ProviderErrorCode::BadRequest);
        }
        assert_eq!(el.speech("  ", None, None, None, None).await.unwrap_err().code, ProviderErrorCode::BadRequest);
        assert_eq!(server.requests().len(), 2);
    }

    #[tokio::test]
    async fn normalized_alignment_is_the_fallback() {
        let server = TestServer::start().await;
        let audio = base64::engine::general_purpose::STANDARD.encode(b"not really mp3");
        server.push(Scripted::json(
            200,
            json!({"audio_base64": audio, "alignment": null, "normalized_alignment": alignment("three apples")}),
        ));
        server.push(Scripted::json(200, json!({"audio_base64": "%%%", "alignment": alignment("x")})));
        server.push(Scripted::json(200, json!({"audio_base64": audio})));
        let el = client(&server);
        let speech = el.speech("3 apples", None, None, None, None).await.unwrap();
        assert_eq!(speech.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["three", "apples"]);
        assert_eq!(speech.duration, Some(1.2), "without MP3 frames, the last character's end");
        for _ in 0..2 {
            assert_eq!(el.speech("x", None, None, None, None).await.unwrap_err().code, ProviderErrorCode::BadResponse);
        }
    }

    #[tokio::test]
    async fn the_key_never_appears_in_errors() {
        let server = TestServer::start().await;
        server.push(Scripted::json(
            401,
            json!({"detail": {"status": "invalid_api_key", "message": format!("bad key {KEY}")}}),
        ));
        server.push(Scripted::json(401, json!({"detail": {"status": "quota_exceeded", "message": "0 credits left"}})));
        server.push(Scripted::json(422, json!({"detail": [{"msg": "text too long", "input": KEY}]})));
        let el = client(&server);
        let e = el.speech("hi", None, None, None, None).await.unwrap_err();
        assert_eq!((e.code, e.status), (ProviderErrorCode::Unauthorized, Some(401)));
        assert!(e.hint.as_deref().unwrap().contains("ELEVENLABS_API_KEY"));
        let quota = el.speech("hi", None, None, None, None).await.unwrap_err();
        assert_eq!(quota.code, ProviderErrorCode::PaymentRequired);
        let bad = el.speech("hi", None, None, None, None).await.unwrap_err();
        assert_eq!(bad.code, ProviderErrorCode::BadRequest);
        for err in [&e, &quota, &bad] {
            let shown = format!("{err:?} {err} {}", err.anomaly());
            assert!(!shown.contains(KEY), "{shown}");
        }
        assert!(!format!("{el:?}").contains(KEY));
    }

    #[tokio::test]
    async fn long_text_is_chunked_with_neighbouring_context() {
        let text = "Sentence number one is here. ".repeat(400); // 11,600 chars → 3 chunks
        let server = TestServer::start().await;
        for _ in 0..3 {
            server.push(reply("ab cd"));
        }
        let el = client(&server);
        let speech = el.speech(&text, None, None, None, None).await.unwrap();
        let bodies: Vec<Value> = server.requests().iter().map(|r| r.json()).collect();
        assert_eq!(bodies.len(), 3);
        let texts: Vec<&str> = bodies.iter().map(|b| b["text"].as_str().unwrap()).collect();
        assert!(texts.iter().all(|t| t.chars().count() <= MAX_TEXT_CHARS && t.ends_with("here.")));
        assert_eq!(texts.join(" "), text.trim());
        assert!(bodies[0].get("previous_text").is_none());
        assert!(texts[0].ends_with(bodies[1]["previous_text"].as_str().unwrap()));
        assert!(texts[1].starts_with(bodies[0]["next_text"].as_str().unwrap()));
        assert!(bodies[2].get("next_text").is_none());
        let d = 4.0 * 1152.0 / 44100.0;
        let starts: Vec<f64> = speech.words.iter().map(|w| w.start).collect();
        assert_eq!(starts, [0.0, 0.3, round(d), round(d + 0.3), round(2.0 * d), round(2.0 * d + 0.3)]);
        assert_eq!(speech.words[5].id, "w5");
    }

    fn round(x: f64) -> f64 {
        (x * 1000.0).round() / 1000.0
    }

    #[tokio::test]
    async fn voices_are_listed() {
        let server = TestServer::start().await;
        server.push(Scripted::json(
            200,
            json!({"voices": [
                {"voice_id": "21m00Tcm4TlvDq8ikWAM", "name": "Rachel", "category": "premade",
                 "labels": {"accent": "american", "gender": "female", "n": 3}, "preview_url": "https://x.invalid/r.mp3"},
                {"name": "no id"}
            ]}),
        ));
        server.push(Scripted::json(200, json!({"detail": "nope"})));
        let el = client(&server);
        let voices = el.list_voices().await.unwrap();
        assert_eq!(voices.len(), 1);
        assert_eq!((voices[0].name.as_str(), voices[0].label("gender")), ("Rachel", Some("female")));
        assert_eq!(voices[0].labels.len(), 2, "non-string labels are skipped");
        assert_eq!(voices[0].category.as_deref(), Some("premade"));
        let reqs = server.requests();
        assert_eq!((reqs[0].method.as_str(), reqs[0].target.as_str()), ("GET", "/v1/voices"));
        assert_eq!(reqs[0].header("xi-api-key"), Some(KEY));
        assert_eq!(el.list_voices().await.unwrap_err().code, ProviderErrorCode::BadResponse);
    }

    #[test]
    fn from_env_needs_a_non_empty_key() {
        let _lock = env_lock();
        let _env = EnvGuard::set(&[
            ("ELEVENLABS_API_KEY", Some("  ")),
            ("ELEVENLABS_API_URL", None),
            ("ELEVENLABS_MODEL", None),
        ]);
        assert!(ElevenLabs::from_env().is_none());
        let _env2 = EnvGuard::set(&[("ELEVENLABS_API_KEY", Some("el_env_key_123456"))]);
        let el = ElevenLabs::from_env().unwrap();
        assert_eq!((el.base_url(), el.model_id()), (DEFAULT_BASE_URL, DEFAULT_MODEL));
        assert_eq!(crate::auth::scrub::scrub("x el_env_key_123456 y"), "x <redacted> y");
        let _env3 = EnvGuard::set(&[
            ("ELEVENLABS_API_URL", Some("http://127.0.0.1:9/el/")),
            ("ELEVENLABS_MODEL", Some("eleven_turbo_v2_5")),
        ]);
        let el = ElevenLabs::from_env().unwrap();
        assert_eq!((el.base_url(), el.model_id()), ("http://127.0.0.1:9/el", "eleven_turbo_v2_5"));
    }
}
