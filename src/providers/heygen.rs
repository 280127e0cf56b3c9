//! HeyGen's media API for a signed-in user: Starfish voices and speech (`/v3/voices`,
//! `/v3/voices/speech`) and the audio library for music and sound effects (`/v3/audio/sounds`).
//!
//! API calls carry the credential through [`HeygenClient::authorize`] (which also adds
//! `X-HeyGen-Client-Source: hyperframes`); a 401 with a refreshable OAuth credential refreshes
//! once and replays once. Audio links in responses are presigned and are fetched with no HeyGen
//! header at all.
//!
//! Long text: one speech request takes 1–5,000 characters. Longer text is split at sentence
//! boundaries into chunks of at most 5,000 characters, one request each; the result is a
//! [`Speech`] holding one [`SpeechPart`] per chunk, in order. The caller decodes and joins the
//! parts' audio; [`Speech::words`] are already on the joined timeline.
//!
//! The speech types, the splitter and the MP3 duration reader also serve the ElevenLabs client.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::error::{ProviderError, ProviderErrorCode, ProviderResult};
use super::http::{self as provider_http, Policy};
use crate::audio::captions::Word;
use crate::auth::client::HeygenClient;
use crate::auth::error::{AuthErrorCode, LOGIN_AGAIN_HINT};
use crate::auth::resolve::{Credential, Kind};
use crate::auth::scrub;
use crate::clock::{Sleeper, TokioSleeper};

pub const PROVIDER: &str = "heygen";
/// Marcia, the English default.
pub const DEFAULT_ENGLISH_VOICE: &str = "05f19352e8f74b0392a8f411eba40de1";
/// Characters one speech request may carry.
pub const MAX_TEXT_CHARS: usize = 5_000;
pub const MIN_SPEED: f32 = 0.5;
pub const MAX_SPEED: f32 = 2.0;
pub const VOICE_PAGE_SIZE: u32 = 50;
/// The voice catalog is read at most this many pages deep.
pub const MAX_VOICE_PAGES: usize = 20;
pub const MAX_SOUND_LIMIT: u32 = 50;
/// The server's default (0.7) hides good sound-effect hits, which typically score 0.5–0.67.
pub const SFX_DEFAULT_MIN_SCORE: f32 = 0.4;
/// Audio downloads may be this large.
pub const DOWNLOAD_BODY_LIMIT: usize = 256 * 1024 * 1024;
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// The reqwest client's own ceiling; the per-attempt budget comes from the [`Policy`].
const CLIENT_TIMEOUT: Duration = Duration::from_secs(600);

// ---------------------------------------------------------------------------------------------
// Shared speech types (HeyGen and ElevenLabs)
// ---------------------------------------------------------------------------------------------

/// The audio of one request (one chunk of the text).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechPart {
    pub audio: Vec<u8>,
    /// Sniffed from the bytes (e.g. `audio/mpeg`), else the server's content type.
    pub mime: String,
    /// The text this part speaks.
    pub text: String,
    /// Word times relative to the start of this part's audio.
    pub words: Vec<Word>,
    /// Seconds: the server's figure, else measured from the MP3 frames; None when neither is known.
    pub duration: Option<f64>,
    /// Where this part starts on the joined timeline (the running sum of the earlier parts'
    /// durations; a part without a duration counts up to its last word's end).
    pub offset: f64,
}

/// Synthesised speech: one part per request, in order (one part unless the text was split).
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub parts: Vec<SpeechPart>,
    /// Every part's words on the joined timeline (`part.offset + t`), ids `w0…`.
    pub words: Vec<Word>,
    /// The sum of the parts' durations, when every one is known.
    pub duration: Option<f64>,
    pub voice_id: String,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Speech {
    /// Lays the parts end to end and builds the joined word list.
    pub fn from_parts(mut parts: Vec<SpeechPart>, voice_id: String) -> Speech {
        let mut offset = 0.0;
        let mut all_known = true;
        let mut words = Vec::new();
        for part in &mut parts {
            part.offset = round3(offset);
            for w in &part.words {
                words.push(Word {
                    id: format!("w{}", words.len()),
                    text: w.text.clone(),
                    start: round3(offset + w.start),
                    end: round3(offset + w.end),
                });
            }
            offset += match part.duration {
                Some(d) => d,
                None => {
                    all_known = false;
                    part.words.last().map_or(0.0, |w| w.end)
                }
            };
        }
        Speech { duration: all_known.then_some(round3(offset)), parts, words, voice_id }
    }

    /// The audio when the text fit in one request.
    pub fn single(&self) -> Option<&SpeechPart> {
        match self.parts.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | ';')
}

fn is_wide_sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '}' | '»' | '」' | '』')
}

/// The byte index just past the best place to cut within `window`: the last sentence end (or
/// line break), else the last whitespace, else the whole window.
fn cut_point(window: &str) -> usize {
    let chars: Vec<(usize, char)> = window.char_indices().collect();
    let (mut sentence, mut space) = (None, None);
    for (i, &(at, c)) in chars.iter().enumerate() {
        let after = at + c.len_utf8();
        if c == '\n' {
            sentence = Some(after);
        } else if c.is_whitespace() {
            space = Some(after);
            let before = chars[..i].iter().rev().map(|&(_, c)| c).find(|&c| !is_closer(c));
            if before.is_some_and(is_sentence_end) {
                sentence = Some(after);
            }
        } else if is_wide_sentence_end(c) {
            let closers = chars[i + 1..].iter().take_while(|&&(_, c)| is_closer(c)).count();
            // A cut must not land inside the window's final run (the next char is unknown).
            if i + 1 + closers < chars.len() {
                let (at2, c2) = chars[i + closers];
                sentence = Some(at2 + c2.len_utf8());
            }
        }
    }
    sentence.or(space).filter(|&p| p > 0).unwrap_or(window.len())
}

/// Splits text into chunks of at most `max_chars` characters, preferring sentence boundaries,
/// then whitespace, then a hard cut. Chunks are trimmed; none is empty.
pub fn split_text(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(max_chars) else {
            out.push(rest.to_string());
            break;
        };
        // The char after the window shows whether the window's last char ends a sentence.
        let next_len = rest[limit..].chars().next().map_or(0, char::len_utf8);
        let cut = cut_point(&rest[..limit + next_len]).min(limit);
        let chunk = rest[..cut].trim();
        if !chunk.is_empty() {
            out.push(chunk.to_string());
        }
        rest = rest[cut..].trim_start();
    }
    out
}

/// The duration of an MPEG audio layer III stream, counted frame by frame (an ID3v2 tag and a
/// Xing/Info header frame are skipped). None when the bytes are not MP3.
pub fn mp3_duration(bytes: &[u8]) -> Option<f64> {
    const BITRATES_V1: [u32; 15] = [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320];
    const BITRATES_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
    let mut pos = 0usize;
    if bytes.len() >= 10 && &bytes[..3] == b"ID3" {
        let size = bytes[6..10].iter().fold(0usize, |acc, &b| (acc << 7) | (b & 0x7f) as usize);
        pos = 10 + size + if bytes[5] & 0x10 != 0 { 10 } else { 0 };
    }
    // Frame header: (length, samples, sample rate), or None.
    let header = |at: usize| -> Option<(usize, u32, u32)> {
        let h = bytes.get(at..at + 4)?;
        if h[0] != 0xff || h[1] & 0xe0 != 0xe0 {
            return None;
        }
        let version = (h[1] >> 3) & 0x03; // 0 = 2.5, 2 = 2, 3 = 1
        let layer = (h[1] >> 1) & 0x03; // 1 = layer III
        if version == 1 || layer != 1 {
            return None;
        }
        let bitrate_index = (h[2] >> 4) as usize;
        let rate_index = ((h[2] >> 2) & 0x03) as usize;
        if bitrate_index == 0 || bitrate_index == 15 || rate_index == 3 {
            return None;
        }
        let padding = ((h[2] >> 1) & 0x01) as usize;
        let (kbps, rate, samples) = match version {
            3 => (BITRATES_V1[bitrate_index], [44_100, 48_000, 32_000][rate_index], 1152u32),
            2 => (BITRATES_V2[bitrate_index], [22_050, 24_000, 16_000][rate_index], 576),
            _ => (BITRATES_V2[bitrate_index], [11_025, 12_000, 8_000][rate_index], 576),
        };
        let len = (samples as usize / 8) * kbps as usize * 1000 / rate as usize + padding;
        Some((len, samples, rate))
    };
    // Find the first frame (tolerating a little junk before it).
    let scan_end = bytes.len().min(pos.saturating_add(64 * 1024));
    while pos < scan_end && header(pos).is_none() {
        pos += 1;
    }
    let (mut frames, mut seconds) = (0usize, 0.0f64);
    while let Some((len, samples, rate)) = header(pos) {
        if len < 4 {
            break;
        }
        let frame = &bytes[pos..(pos + len).min(bytes.len())];
        let is_info = frames == 0 && frame.windows(4).take(64).any(|w| w == b"Xing" || w == b"Info");
        if !is_info {
            seconds += samples as f64 / rate as f64;
        }
        frames += 1;
        pos += len;
    }
    (frames > 0 && seconds > 0.0).then_some(seconds)
}

/// The media type of downloaded audio: sniffed from the bytes, else a server's `audio/*` type,
/// else the URL's extension.
pub fn audio_mime(bytes: &[u8], content_type: Option<&str>, url: &str) -> String {
    let sniffed = if bytes.starts_with(b"ID3") || mp3_duration(bytes).is_some() {
        Some("audio/mpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        Some("audio/wav")
    } else if bytes.starts_with(b"OggS") {
        Some("audio/ogg")
    } else if bytes.starts_with(b"fLaC") {
        Some("audio/flac")
    } else if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
        Some("audio/mp4")
    } else {
        None
    };
    if let Some(m) = sniffed {
        return m.to_string();
    }
    if let Some(ct) = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        if ct.starts_with("audio/") {
            return ct;
        }
    }
    let path = url.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
    let by_ext = [(".mp3", "audio/mpeg"), (".wav", "audio/wav"), (".ogg", "audio/ogg"), (".m4a", "audio/mp4")];
    by_ext.iter().find(|(ext, _)| path.ends_with(ext)).map_or("application/octet-stream", |(_, m)| m).to_string()
}

// ---------------------------------------------------------------------------------------------
// Languages
// ---------------------------------------------------------------------------------------------

const LANGUAGE_NAMES: &[(&str, &[&str])] = &[
    ("en", &["english"]),
    ("es", &["spanish", "español", "espanol", "castilian"]),
    ("fr", &["french", "français", "francais"]),
    ("de", &["german", "deutsch"]),
    ("it", &["italian", "italiano"]),
    ("pt", &["portuguese", "português", "portugues"]),
    ("nl", &["dutch", "flemish"]),
    ("pl", &["polish"]),
    ("ru", &["russian"]),
    ("uk", &["ukrainian"]),
    ("ja", &["japanese"]),
    ("zh", &["chinese", "mandarin", "cantonese", "cmn", "yue"]),
    ("ko", &["korean"]),
    ("hi", &["hindi"]),
    ("ar", &["arabic"]),
    ("tr", &["turkish"]),
    ("sv", &["swedish"]),
    ("da", &["danish"]),
    ("no", &["norwegian", "nb", "nn", "bokmål"]),
    ("fi", &["finnish"]),
    ("el", &["greek"]),
    ("cs", &["czech"]),
    ("ro", &["romanian"]),
    ("hu", &["hungarian"]),
    ("id", &["indonesian"]),
    ("ms", &["malay"]),
    ("th", &["thai"]),
    ("vi", &["vietnamese"]),
    ("he", &["hebrew", "iw"]),
    ("fil", &["filipino", "tagalog", "tl"]),
    ("bg", &["bulgarian"]),
    ("hr", &["croatian"]),
    ("sk", &["slovak"]),
    ("ta", &["tamil"]),
    ("bn", &["bengali", "bangla"]),
];

/// A comparable key for a language tag or name: `en-US`, `English (US)` and `english` → `en`.
pub fn language_key(lang: &str) -> String {
    let lower = lang.trim().to_lowercase();
    let head = lower.split('(').next().unwrap_or("").trim();
    let first = head.split(['-', '_', ' ']).next().unwrap_or("").trim();
    for (code, names) in LANGUAGE_NAMES {
        if first == *code || names.contains(&first) || names.contains(&head) {
            return code.to_string();
        }
    }
    first.to_string()
}

pub fn is_english(lang: &str) -> bool {
    language_key(lang) == "en"
}

fn language_matches(voice_language: &str, wanted: &str) -> bool {
    let (a, b) = (language_key(voice_language), language_key(wanted));
    !a.is_empty() && a == b
}

// ---------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
pub struct Voice {
    pub voice_id: String,
    pub name: String,
    /// As the catalog states it (e.g. `English`); empty when missing.
    pub language: String,
    pub gender: Option<String>,
    pub preview_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpeechRequest {
    pub text: String,
    /// None: Marcia for English, else the catalog's first voice in `language`.
    pub voice_id: Option<String>,
    /// 0.5–2.0.
    pub speed: f32,
    /// A tag or name (`es`, `pt-BR`, `French`); None means English.
    pub language: Option<String>,
}

impl SpeechRequest {
    pub fn new(text: impl Into<String>) -> Self {
        Self { text: text.into(), voice_id: None, speed: 1.0, language: None }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoundKind {
    Music,
    SoundEffects,
}

impl SoundKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Music => "music",
            Self::SoundEffects => "sound_effects",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sound {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Presigned: fetch it with [`HeygenMedia::download`].
    pub audio_url: String,
    pub duration: Option<f64>,
    pub score: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Response parsing
// ---------------------------------------------------------------------------------------------

fn bad_response(what: &str, detail: impl std::fmt::Display) -> ProviderError {
    ProviderError::new(PROVIDER, ProviderErrorCode::BadResponse, format!("{PROVIDER} {what}: {detail}"))
}

fn bad_request(message: impl Into<String>) -> ProviderError {
    ProviderError::new(PROVIDER, ProviderErrorCode::BadRequest, message)
}

fn text_field(obj: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match obj.get(*k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

fn number_field(obj: &Map<String, Value>, key: &str) -> Option<f64> {
    match obj.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// The object holding the payload: `data` when it is an object, else the body itself.
fn payload(body: &Value) -> Option<&Map<String, Value>> {
    match body.get("data") {
        Some(Value::Object(d)) => Some(d),
        _ => body.as_object(),
    }
}

fn parse_voice(item: &Value) -> Option<Voice> {
    let obj = item.as_object()?;
    let voice_id = text_field(obj, &["voice_id", "id"])?;
    Some(Voice {
        name: text_field(obj, &["name", "display_name"]).unwrap_or_else(|| voice_id.clone()),
        voice_id,
        language: text_field(obj, &["language", "locale"]).unwrap_or_default(),
        gender: text_field(obj, &["gender"]),
        preview_url: text_field(obj, &["preview_audio_url", "preview_url", "preview_audio"]),
    })
}

/// One page of the voice catalog: its voices and the token of the next page, if any.
fn parse_voice_page(body: &Value) -> ProviderResult<(Vec<Voice>, Option<String>)> {
    let list = match body {
        Value::Array(a) => Some(a),
        _ => match body.get("data") {
            Some(Value::Array(a)) => Some(a),
            Some(Value::Object(d)) => d.get("voices").or_else(|| d.get("items")).and_then(Value::as_array),
            _ => body.get("voices").and_then(Value::as_array),
        },
    };
    let Some(list) = list else {
        return Err(bad_response("voice list", "the response holds no voice list"));
    };
    let voices = list.iter().filter_map(parse_voice).collect();
    // Paging fields may sit beside the list (inside `data`) or at the top level.
    let scopes = [body.get("data").and_then(Value::as_object), body.as_object()];
    let has_more = scopes.iter().flatten().find_map(|o| o.get("has_more").and_then(Value::as_bool));
    let token = scopes.iter().flatten().find_map(|o| text_field(o, &["next_token"]));
    Ok((voices, if has_more == Some(false) { None } else { token }))
}

/// `word_timestamps` → words: string `word`, finite `0 ≤ start ≤ end`, `<…>` markers dropped.
fn parse_words(list: Option<&Value>) -> Vec<Word> {
    let Some(Value::Array(items)) = list else { return Vec::new() };
    let mut words = Vec::new();
    for item in items {
        let Some(text) = item.get("word").and_then(Value::as_str).map(str::trim) else { continue };
        if text.is_empty() || (text.starts_with('<') && text.ends_with('>')) {
            continue;
        }
        let (Some(start), Some(end)) =
            (item.get("start").and_then(Value::as_f64), item.get("end").and_then(Value::as_f64))
        else {
            continue;
        };
        if !(start.is_finite() && end.is_finite() && 0.0 <= start && start <= end) {
            continue;
        }
        words.push(Word { id: format!("w{}", words.len()), text: text.to_string(), start, end });
    }
    words
}

fn parse_sound(item: &Value) -> Option<Sound> {
    let obj = item.as_object()?;
    let audio_url = text_field(obj, &["audio_url", "url"])?;
    Some(Sound {
        id: text_field(obj, &["id", "sound_id"]).unwrap_or_default(),
        name: text_field(obj, &["name", "title"]).unwrap_or_default(),
        description: text_field(obj, &["description"]).unwrap_or_default(),
        audio_url,
        duration: number_field(obj, "duration").filter(|d| *d >= 0.0),
        score: number_field(obj, "score"),
    })
}

/// The sound list in any of its envelopes: `data: [...]`, `data: {items: [...]}`, or the legacy
/// object keyed `"0"`, `"1"`, … (under `data` or at the top).
fn parse_sounds(body: &Value) -> ProviderResult<Vec<Sound>> {
    let keyed = |o: &Map<String, Value>| -> Option<Vec<Value>> {
        if o.is_empty() || !o.keys().all(|k| k.parse::<usize>().is_ok()) {
            return None;
        }
        let mut entries: Vec<(usize, &Value)> = o.iter().map(|(k, v)| (k.parse().unwrap_or(0), v)).collect();
        entries.sort_by_key(|(k, _)| *k);
        Some(entries.into_iter().map(|(_, v)| v.clone()).collect())
    };
    let items: Vec<Value> = match body.get("data").unwrap_or(body) {
        Value::Array(a) => a.clone(),
        Value::Object(o) => match o.get("items").or_else(|| o.get("sounds")) {
            Some(Value::Array(a)) => a.clone(),
            _ => match keyed(o) {
                Some(list) => list,
                None if o.is_empty() => Vec::new(),
                None => return Err(bad_response("sound search", "the response holds no sound list")),
            },
        },
        Value::Null => Vec::new(),
        _ => return Err(bad_response("sound search", "the response holds no sound list")),
    };
    let mut sounds: Vec<Sound> = items.iter().filter_map(parse_sound).collect();
    sounds.sort_by(|a, b| b.score.unwrap_or(f64::MIN).total_cmp(&a.score.unwrap_or(f64::MIN)));
    Ok(sounds)
}

// ---------------------------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------------------------

/// The HeyGen media client. Not configured (no credential) is the caller's concern: build one
/// only when a credential resolved.
pub struct HeygenMedia {
    client: HeygenClient,
    http: reqwest::Client,
    base_url: String,
    policy: Policy,
    download_policy: Policy,
    sleeper: Arc<dyn Sleeper>,
}

impl HeygenMedia {
    /// Reads `HEYGEN_API_URL` and the OAuth settings from the environment (via [`HeygenClient`]).
    pub fn new(cred: Credential) -> Self {
        Self::with_client(HeygenClient::new(cred))
    }

    pub fn with_client(client: HeygenClient) -> Self {
        Self {
            base_url: client.base_url().to_string(),
            client,
            http: crate::http::client(CLIENT_TIMEOUT),
            policy: Policy::default(),
            download_policy: Policy { timeout: DOWNLOAD_TIMEOUT, body_limit: DOWNLOAD_BODY_LIMIT, ..Policy::default() },
            sleeper: Arc::new(TokioSleeper),
        }
    }

    /// Overrides the API base URL (tests, proxies). Trailing slashes are dropped.
    pub fn with_base_url(mut self, url: &str) -> Self {
        self.base_url = url.trim().trim_end_matches('/').to_string();
        self
    }

    /// Sets the policy of API calls; downloads use the same one with a body limit of at least
    /// [`DOWNLOAD_BODY_LIMIT`].
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.download_policy = Policy { body_limit: policy.body_limit.max(DOWNLOAD_BODY_LIMIT), ..policy.clone() };
        self.policy = policy;
        self
    }

    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn client(&self) -> &HeygenClient {
        &self.client
    }

    /// Refreshes the OAuth token unless another request already did since `used` was read.
    async fn refresh(&self, used: &Credential) -> ProviderResult<()> {
        if self.client.credential().await.secret != used.secret {
            return Ok(());
        }
        self.client.refresh_now().await.map_err(|e| {
            let code = if e.code == AuthErrorCode::Network {
                ProviderErrorCode::Network
            } else {
                ProviderErrorCode::Unauthorized
            };
            ProviderError::new(
                PROVIDER,
                code,
                format!("{PROVIDER}: the sign-in has expired and could not be refreshed: {}", scrub::scrub(&e.message)),
            )
            .with_hint(LOGIN_AGAIN_HINT)
        })
    }

    /// One API call with auth headers, the shared retry policy, and one refresh-and-replay on 401.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        what: &str,
    ) -> ProviderResult<Value> {
        let url = format!("{}{}", self.base_url, path);
        let refreshable = |c: &Credential| c.kind == Kind::OAuth && c.refresh_token.is_some();
        let mut cred = self.client.credential().await;
        let mut refreshed = false;
        if cred.expired && refreshable(&cred) {
            refreshed = true;
            self.refresh(&cred).await?;
            cred = self.client.credential().await;
        }
        loop {
            let build = || {
                let req = self.client.authorize(self.http.request(method.clone(), &url), &cred).query(query);
                match body {
                    Some(b) => req.json(b),
                    None => req,
                }
            };
            tracing::debug!(%method, path, kind = cred.kind.as_str(), "HeyGen media request");
            match provider_http::send(PROVIDER, what, &build, &self.policy, self.sleeper.as_ref()).await {
                Ok(reply) => return reply.json(PROVIDER, what),
                Err(e) if e.status == Some(401) && !refreshed && refreshable(&cred) => {
                    tracing::debug!("HeyGen answered 401; refreshing the OAuth token once");
                    refreshed = true;
                    self.refresh(&cred).await?;
                    cred = self.client.credential().await;
                }
                Err(e) => return Err(explain(e)),
            }
        }
    }

    /// The public Starfish voices, optionally only those in `language` (a tag or a name).
    pub async fn list_voices(&self, language: Option<&str>) -> ProviderResult<Vec<Voice>> {
        self.voices(language.map(str::trim).filter(|l| !l.is_empty()), false).await
    }

    async fn voices(&self, language: Option<&str>, first_only: bool) -> ProviderResult<Vec<Voice>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut seen = std::collections::HashSet::new();
        for page in 0..MAX_VOICE_PAGES {
            let mut query = vec![
                ("engine", "starfish".to_string()),
                ("type", "public".into()),
                ("limit", VOICE_PAGE_SIZE.to_string()),
            ];
            if let Some(t) = &token {
                query.push(("token", t.clone()));
            }
            let body = self.call(Method::GET, "/v3/voices", &query, None, "voice list").await?;
            let (voices, next) = parse_voice_page(&body)?;
            for v in voices {
                if language.is_none_or(|l| language_matches(&v.language, l)) {
                    out.push(v);
                    if first_only {
                        return Ok(out);
                    }
                }
            }
            match next {
                Some(t) if seen.insert(t.clone()) => token = Some(t),
                _ => return Ok(out),
            }
            if page + 1 == MAX_VOICE_PAGES {
                tracing::debug!(pages = MAX_VOICE_PAGES, "HeyGen voice catalog truncated");
            }
        }
        Ok(out)
    }

    /// The voice used when none is given: Marcia for English, else the catalog's first voice in
    /// that language (NotFound when there is none, so another provider may serve).
    pub async fn default_voice(&self, language: Option<&str>) -> ProviderResult<String> {
        match language.map(str::trim).filter(|l| !l.is_empty() && !is_english(l)) {
            None => Ok(DEFAULT_ENGLISH_VOICE.to_string()),
            Some(lang) => match self.voices(Some(lang), true).await?.into_iter().next() {
                Some(v) => Ok(v.voice_id),
                None => Err(ProviderError::new(
                    PROVIDER,
                    ProviderErrorCode::NotFound,
                    format!("{PROVIDER}: no Starfish voice speaks `{lang}`"),
                )
                .with_hint("Pass a voice id explicitly, or use another voice provider for this language.")),
            },
        }
    }

    /// Speaks `req.text` (split into ≤ 5,000-char chunks at sentence boundaries when longer).
    pub async fn speech(&self, req: SpeechRequest) -> ProviderResult<Speech> {
        if !(req.speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&req.speed)) {
            return Err(bad_request(format!(
                "{PROVIDER}: speed must be between {MIN_SPEED} and {MAX_SPEED} (got {})",
                req.speed
            )));
        }
        let text = req.text.trim();
        if text.is_empty() {
            return Err(bad_request(format!("{PROVIDER}: there is no text to speak")));
        }
        let language = req.language.as_deref().map(str::trim).filter(|l| !l.is_empty());
        let voice_id = match req.voice_id.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => v.to_string(),
            None => self.default_voice(language).await?,
        };
        let mut parts = Vec::new();
        for chunk in split_text(text, MAX_TEXT_CHARS) {
            let mut body = json!({"text": chunk, "voice_id": voice_id, "speed": req.speed});
            if let Some(lang) = language.filter(|l| !is_english(l)) {
                body["language"] = json!(lang);
            }
            let reply = self.call(Method::POST, "/v3/voices/speech", &[], Some(&body), "speech").await?;
            let data = payload(&reply).ok_or_else(|| bad_response("speech", "the response is not an object"))?;
            let audio_url = text_field(data, &["audio_url"])
                .ok_or_else(|| bad_response("speech", "the response has no audio_url"))?;
            let words = parse_words(data.get("word_timestamps"));
            let server_duration = number_field(data, "duration").filter(|d| *d > 0.0);
            let (audio, mime) = self.fetch(&audio_url, "speech audio download").await?;
            let duration = server_duration.or_else(|| mp3_duration(&audio));
            parts.push(SpeechPart { audio, mime, text: chunk, words, duration, offset: 0.0 });
        }
        Ok(Speech::from_parts(parts, voice_id))
    }

    /// Searches the audio library. `limit` is 1–50; sound effects default to `min_score` 0.4,
    /// music to the server's default. Results are sorted by score, best first.
    pub async fn search_sounds(
        &self,
        kind: SoundKind,
        query: &str,
        limit: u32,
        min_score: Option<f32>,
    ) -> ProviderResult<Vec<Sound>> {
        let query = query.trim();
        if query.is_empty() {
            return Err(bad_request(format!("{PROVIDER}: a sound search needs a query")));
        }
        if !(1..=MAX_SOUND_LIMIT).contains(&limit) {
            return Err(bad_request(format!(
                "{PROVIDER}: limit must be between 1 and {MAX_SOUND_LIMIT} (got {limit})"
            )));
        }
        let min_score = match (kind, min_score) {
            (_, Some(s)) if !(s.is_finite() && (0.0..=1.0).contains(&s)) => {
                return Err(bad_request(format!("{PROVIDER}: min_score must be between 0 and 1 (got {s})")))
            }
            (_, Some(s)) => Some(s),
            (SoundKind::SoundEffects, None) => Some(SFX_DEFAULT_MIN_SCORE),
            (SoundKind::Music, None) => None,
        };
        let mut params =
            vec![("query", query.to_string()), ("type", kind.as_str().to_string()), ("limit", limit.to_string())];
        if let Some(s) = min_score {
            params.push(("min_score", s.to_string()));
        }
        let body = self.call(Method::GET, "/v3/audio/sounds", &params, None, "sound search").await?;
        let mut sounds = parse_sounds(&body)?;
        if let Some(s) = min_score {
            sounds.retain(|x| x.score.is_none_or(|v| v >= f64::from(s) - 1e-6));
        }
        sounds.truncate(limit as usize);
        Ok(sounds)
    }

    /// Fetches a presigned audio link: a plain GET with no HeyGen or auth header.
    pub async fn download(&self, url: &str) -> ProviderResult<(Vec<u8>, String)> {
        self.fetch(url, "audio download").await
    }

    async fn fetch(&self, url: &str, what: &str) -> ProviderResult<(Vec<u8>, String)> {
        let parsed = url::Url::parse(url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| bad_response(what, "the audio link is not an http(s) URL"))?;
        let build = || self.http.get(parsed.clone());
        let reply = provider_http::send(PROVIDER, what, &build, &self.download_policy, self.sleeper.as_ref())
            .await
            .map_err(|mut e| {
                // A refused presigned link is not the user's credential: it expired or is wrong.
                if matches!(e.status, Some(401 | 403)) {
                    e.code = ProviderErrorCode::BadResponse;
                    e.message.push_str(" (the presigned link was refused; it may have expired)");
                }
                e
            })?;
        if reply.body.is_empty() {
            return Err(bad_response(what, "the audio is empty").with_status(reply.status));
        }
        let content_type = reply.headers.get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let mime = audio_mime(&reply.body, content_type, parsed.path());
        Ok((reply.body, mime))
    }
}

/// Adds what the user can do to an API error.
fn explain(e: ProviderError) -> ProviderError {
    if e.hint.is_some() {
        return e;
    }
    match e.code {
        ProviderErrorCode::Unauthorized => {
            e.with_hint(format!("{LOGIN_AGAIN_HINT} With an API key, check HEYGEN_API_KEY (or HYPERFRAMES_API_KEY)."))
        }
        ProviderErrorCode::PaymentRequired => {
            e.with_hint("Your HeyGen plan does not include this; upgrade it at app.heygen.com or use another provider.")
        }
        _ => e,
    }
}
