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
//! The speech types, the splitter and the audio helpers are [`super::speech`]'s, shared with
//! ElevenLabs.

#[cfg(test)]
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Map, Value};

use super::client::ClientBase;
use super::error::{ProviderError, ProviderErrorCode, ProviderResult};
use super::http::Policy;
use super::speech::{
    audio_duration, audio_mime, f32_decimal, is_english, language_matches, split_text, Speech, SpeechPart,
};
use super::Provider;
use crate::audio::captions::Word;
use crate::auth::client::{Attempt, HeygenClient};
use crate::auth::error::{AuthErrorCode, LOGIN_AGAIN_HINT};
use crate::auth::resolve::Credential;
use crate::auth::scrub;
#[cfg(test)]
use crate::clock::Sleeper;

pub const PROVIDER: Provider = Provider::Heygen;
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
/// Redirects a presigned audio link may take (a CDN may bounce the first hop).
const DOWNLOAD_REDIRECTS: usize = 5;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(600);

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
    #[cfg(test)]
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

/// `word_timestamps` → words: each with a string `word`, `<…>` markers dropped. A time that is not
/// a number is NaN here, for [`SpeechPart::checked`] to drop and report with the other bad times.
fn parse_words(list: Option<&Value>) -> Vec<Word> {
    let Some(Value::Array(items)) = list else { return Vec::new() };
    let mut words = Vec::new();
    for item in items {
        let Some(text) = item.get("word").and_then(Value::as_str).map(str::trim) else { continue };
        if text.is_empty() || (text.starts_with('<') && text.ends_with('>')) {
            continue;
        }
        let time = |key: &str| item.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN);
        let (start, end) = (time("start"), time("end"));
        words.push(Word { id: format!("w{}", words.len()), text: text.to_string(), start, end, confidence: None });
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
    /// No key: the credential lives in [`HeygenClient`].
    base: ClientBase,
    /// For presigned links: no auth, and up to [`DOWNLOAD_REDIRECTS`] redirects followed (a CDN
    /// may bounce the first hop), with no `Referer` and nothing but content headers to another host.
    download_http: reqwest::Client,
    download_policy: Policy,
}

impl HeygenMedia {
    /// Reads `HEYGEN_API_URL` and the OAuth settings from the environment (via [`HeygenClient`]).
    pub fn new(cred: Credential) -> Self {
        Self::with_client(HeygenClient::new(cred))
    }

    pub fn with_client(client: HeygenClient) -> Self {
        Self {
            base: ClientBase::new(PROVIDER, "", client.base_url(), Policy::default(), CLIENT_TIMEOUT),
            client,
            download_http: crate::http::client(CLIENT_TIMEOUT),
            download_policy: Policy {
                timeout: DOWNLOAD_TIMEOUT,
                body_limit: DOWNLOAD_BODY_LIMIT,
                redirects: DOWNLOAD_REDIRECTS,
                ..Policy::default()
            },
        }
    }

    #[cfg(test)]
    /// Overrides the API base URL (tests, proxies). Trailing slashes are dropped.
    pub fn with_base_url(mut self, url: &str) -> Self {
        self.base.set_base_url(url);
        self
    }

    #[cfg(test)]
    /// Sets the policy of API calls; downloads use the same one with a body limit of at least
    /// [`DOWNLOAD_BODY_LIMIT`].
    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.download_policy = Policy {
            body_limit: policy.body_limit.max(DOWNLOAD_BODY_LIMIT),
            redirects: DOWNLOAD_REDIRECTS,
            ..policy.clone()
        };
        self.base.policy = policy;
        self
    }

    #[cfg(test)]
    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.base.sleeper = sleeper;
        self
    }

    #[cfg(test)]
    pub fn client(&self) -> &HeygenClient {
        &self.client
    }

    /// One API call with auth headers and the shared retry policy, through the auth client's
    /// refresh-and-replay path ([`HeygenClient::with_refresh`]).
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        what: &str,
    ) -> ProviderResult<Value> {
        let url = self.base.url(path);
        let attempt = |cred: Credential| {
            let (method, url) = (method.clone(), url.clone());
            async move {
                let build = || {
                    let req = self.client.authorize(self.base.http.request(method.clone(), &url), &cred).query(query);
                    match body {
                        Some(b) => req.json(b),
                        None => req,
                    }
                };
                tracing::debug!(%method, path, kind = cred.kind.as_str(), "HeyGen media request");
                match self.base.send(what, &build, None).await {
                    Ok(reply) => Attempt::Done(reply.json(PROVIDER, what)),
                    Err(e) if e.status == Some(401) => Attempt::Unauthorized(explain(e)),
                    Err(e) => Attempt::Done(Err(explain(e))),
                }
            }
        };
        self.client.with_refresh(true, attempt, |e, _| refresh_failed(e)).await
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
            let mut body = json!({"text": chunk, "voice_id": voice_id, "speed": f32_decimal(req.speed)});
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
            let duration = server_duration.or_else(|| audio_duration(&audio, &mime, &chunk));
            parts.push(SpeechPart::checked(audio, mime, chunk, words, duration));
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
        let build = || self.download_http.get(parsed.clone());
        let reply = self.base.send(what, &build, Some(&self.download_policy)).await.map_err(|mut e| {
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

/// A refresh that failed: the sign-in has expired (or the network is down).
fn refresh_failed(e: crate::auth::error::AuthError) -> ProviderError {
    let code =
        if e.code == AuthErrorCode::Network { ProviderErrorCode::Network } else { ProviderErrorCode::Unauthorized };
    ProviderError::new(
        PROVIDER,
        code,
        format!("{PROVIDER}: the sign-in has expired and could not be refreshed: {}", scrub::scrub(&e.message)),
    )
    .with_hint(LOGIN_AGAIN_HINT)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::resolve::{Kind, Source};
    use crate::providers::test_server::{Recorded, RecordingSleeper, Scripted, TestServer};
    use crate::test_support::silent_mp3;
    use crate::test_support::{env_lock, EnvGuard};

    const KEY: &str = "hg_test_media_key_0001";

    fn api_key() -> Credential {
        Credential::api_key(Source::Env, KEY)
    }

    /// An env-sourced OAuth credential, so a refresh never writes to a credentials store.
    fn oauth(expired: bool) -> Credential {
        Credential {
            kind: Kind::OAuth,
            secret: "at_old_access_0001".into(),
            refresh_token: Some("rt_old_refresh_0001".into()),
            expired,
            refreshable: expired,
            ..api_key()
        }
    }

    fn fast() -> Policy {
        Policy { timeout: Duration::from_millis(300), ..Policy::default() }
    }

    /// A client pointed at `server` for the API and the OAuth token endpoint.
    fn setup(server: &TestServer, cred: Credential) -> (HeygenMedia, Arc<RecordingSleeper>) {
        let client = {
            let _lock = env_lock();
            let token_url = format!("{}/oauth/token", server.url());
            let _env = EnvGuard::set(&[("HYPERFRAMES_OAUTH_TOKEN_URL", Some(token_url.as_str()))]);
            HeygenClient::new(cred)
        };
        let sleeper = Arc::new(RecordingSleeper::default());
        let media = HeygenMedia::with_client(client)
            .with_base_url(&format!("{}/", server.url()))
            .with_policy(fast())
            .with_sleeper(sleeper.clone());
        (media, sleeper)
    }

    fn no_auth_headers(r: &Recorded) {
        for h in ["authorization", "x-api-key", "x-heygen-source", "x-heygen-client-source"] {
            assert_eq!(r.header(h), None, "{h} was sent to a presigned link");
        }
    }

    fn voice(id: &str, language: &str) -> Value {
        json!({"voice_id": id, "name": format!("Voice {id}"), "language": language, "gender": "female",
               "preview_audio_url": "https://example.invalid/p.mp3"})
    }

    fn speech_reply(words: Value, duration: Option<f64>) -> Scripted {
        let mut data = json!({"audio_url": "{base}/files/speech.mp3?X-Amz-Signature=abc", "word_timestamps": words});
        if let Some(d) = duration {
            data["duration"] = json!(d);
        }
        Scripted::json(200, json!({"data": data}))
    }

    fn audio() -> Scripted {
        Scripted::bytes(200, "binary/octet-stream", silent_mp3(3))
    }

    #[tokio::test]
    async fn api_key_headers_and_voice_paging_across_envelopes() {
        let server = TestServer::start().await;
        server.push(Scripted::json(
            200,
            json!({"data": [voice("v1", "English"), {"name": "no id"}], "has_more": true, "next_token": "page2"}),
        ));
        server.push(Scripted::json(
            200,
            json!({"data": {"voices": [voice("v2", "Spanish")], "has_more": true, "next_token": "page3"}}),
        ));
        server.push(Scripted::json(200, json!({"voices": [voice("v3", "es-MX")]})));
        let (media, _) = setup(&server, api_key());
        let voices = media.list_voices(None).await.unwrap();
        let ids: Vec<&str> = voices.iter().map(|v| v.voice_id.as_str()).collect();
        assert_eq!(ids, ["v1", "v2", "v3"]);
        assert_eq!(voices[0].gender.as_deref(), Some("female"));
        assert_eq!(voices[0].preview_url.as_deref(), Some("https://example.invalid/p.mp3"));

        let reqs = server.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].target, "/v3/voices?engine=starfish&type=public&limit=50");
        assert_eq!(reqs[1].target, "/v3/voices?engine=starfish&type=public&limit=50&token=page2");
        assert_eq!(reqs[2].target, "/v3/voices?engine=starfish&type=public&limit=50&token=page3");
        for r in &reqs {
            assert_eq!(r.method, "GET");
            assert_eq!(r.header("x-api-key"), Some(KEY));
            assert_eq!(r.header("x-heygen-client-source"), Some("hyperframes"));
            assert_eq!(r.header("authorization"), None);
            assert_eq!(r.header("x-heygen-source"), None);
        }
    }

    #[tokio::test]
    async fn voices_filter_by_language_tag_or_name() {
        let server = TestServer::start().await;
        let page = json!({"data": [voice("en1", "English"), voice("es1", "Spanish"), voice("es2", "es-ES"),
                                   voice("zh1", "Chinese (Mandarin)")], "has_more": false, "next_token": "ignored"});
        for _ in 0..3 {
            server.push(Scripted::json(200, page.clone()));
        }
        let (media, _) = setup(&server, api_key());
        let es: Vec<String> = media.list_voices(Some("es-MX")).await.unwrap().into_iter().map(|v| v.voice_id).collect();
        assert_eq!(es, ["es1", "es2"]);
        let zh: Vec<String> = media.list_voices(Some("zh-CN")).await.unwrap().into_iter().map(|v| v.voice_id).collect();
        assert_eq!(zh, ["zh1"]);
        assert!(media.list_voices(Some("German")).await.unwrap().is_empty());
        assert_eq!(server.requests().len(), 3, "has_more=false stops paging");
    }

    #[tokio::test]
    async fn voice_paging_is_bounded_and_stops_on_a_repeated_token() {
        let server = TestServer::start().await;
        for n in 0..25 {
            server.push(Scripted::json(
                200,
                json!({"data": [voice(&format!("v{n}"), "English")], "next_token": format!("t{n}")}),
            ));
        }
        let (media, _) = setup(&server, api_key());
        assert_eq!(media.list_voices(None).await.unwrap().len(), MAX_VOICE_PAGES);
        assert_eq!(server.requests().len(), MAX_VOICE_PAGES);

        let server = TestServer::start().await;
        for _ in 0..5 {
            server.push(Scripted::json(200, json!({"data": [voice("same", "English")], "next_token": "loop"})));
        }
        let (media, _) = setup(&server, api_key());
        assert_eq!(media.list_voices(None).await.unwrap().len(), 2);
        assert_eq!(server.requests().len(), 2);

        let server = TestServer::start().await;
        server.push(Scripted::json(200, json!({"data": {"unexpected": true}})));
        let (media, _) = setup(&server, api_key());
        assert_eq!(media.list_voices(None).await.unwrap_err().code, ProviderErrorCode::BadResponse);
    }

    #[tokio::test]
    async fn oauth_headers_and_one_refresh_after_a_401() {
        let server = TestServer::start().await;
        server.push(Scripted::json(401, json!({"error": {"code": "token_expired"}})));
        server.push(Scripted::json(
            200,
            json!({"access_token": "at_new_access_0002", "refresh_token": "rt_new_refresh_0002", "expires_in": 3600}),
        ));
        server.push(Scripted::json(200, json!({"data": [voice("v1", "English")]})));
        let (media, _) = setup(&server, oauth(false));
        assert_eq!(media.list_voices(None).await.unwrap().len(), 1);

        let reqs = server.requests();
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[0].header("authorization"), Some("Bearer at_old_access_0001"));
        assert_eq!(reqs[0].header("x-heygen-source"), Some("cli"));
        assert_eq!(reqs[0].header("x-heygen-client-source"), Some("hyperframes"));
        assert_eq!(reqs[0].header("x-api-key"), None);
        assert_eq!((reqs[1].method.as_str(), reqs[1].target.as_str()), ("POST", "/oauth/token"));
        let form = String::from_utf8_lossy(&reqs[1].body).to_string();
        assert!(
            form.contains("grant_type=refresh_token") && form.contains("refresh_token=rt_old_refresh_0001"),
            "{form}"
        );
        assert_eq!(reqs[1].header("x-heygen-client-source"), None, "the token endpoint gets no API headers");
        assert_eq!(reqs[2].header("authorization"), Some("Bearer at_new_access_0002"));
        assert_eq!(reqs[2].header("x-heygen-client-source"), Some("hyperframes"));
        assert_eq!(media.client().credential().await.refresh_token.as_deref(), Some("rt_new_refresh_0002"));
    }

    #[tokio::test]
    async fn a_second_401_is_unauthorized_with_the_login_hint() {
        let server = TestServer::start().await;
        server.push(Scripted::json(401, json!({})));
        server.push(Scripted::json(200, json!({"access_token": "at_new_access_0003", "expires_in": 3600})));
        server.push(Scripted::json(401, json!({"message": "still no"})));
        let (media, _) = setup(&server, oauth(false));
        let e = media.list_voices(None).await.unwrap_err();
        assert_eq!((e.code, e.status), (ProviderErrorCode::Unauthorized, Some(401)));
        assert!(e.hint.as_deref().unwrap().contains("hyperframes auth login"), "{e:?}");
        assert!(e.falls_through());
        assert_eq!(server.requests().len(), 3, "one refresh, one replay, no more");

        // A refused refresh is also Unauthorized with the hint.
        let server = TestServer::start().await;
        server.push(Scripted::json(401, json!({})));
        server.push(Scripted::json(400, json!({"error": "invalid_grant"})));
        let (media, _) = setup(&server, oauth(false));
        let e = media.list_voices(None).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::Unauthorized);
        assert!(e.hint.as_deref().unwrap().contains("hyperframes auth login"));
        assert_eq!(server.requests().len(), 2);

        // An API key is never refreshed.
        let server = TestServer::start().await;
        server.push(Scripted::json(401, json!({"echo": KEY})));
        let (media, _) = setup(&server, api_key());
        let e = media.list_voices(None).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::Unauthorized);
        assert!(e.hint.as_deref().unwrap().contains("hyperframes auth login"));
        assert!(!e.message.contains(KEY), "{}", e.message);
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn an_expired_oauth_token_is_refreshed_before_the_first_call() {
        let server = TestServer::start().await;
        server.push(Scripted::json(200, json!({"access_token": "at_new_access_0004", "expires_in": 3600})));
        server.push(Scripted::json(200, json!({"data": []})));
        let (media, _) = setup(&server, oauth(true));
        assert!(media.list_voices(None).await.unwrap().is_empty());
        let reqs = server.requests();
        assert_eq!(reqs[0].target, "/oauth/token");
        assert_eq!(reqs[1].header("authorization"), Some("Bearer at_new_access_0004"));
    }

    #[tokio::test]
    async fn english_speech_uses_marcia_normalises_words_and_downloads_without_auth() {
        let server = TestServer::start().await;
        server.push(speech_reply(
            json!([
                {"word": "<start>", "start": 0.0, "end": 0.0},
                {"word": " Hello,", "start": 0.05, "end": 0.4},
                {"word": "world", "start": 0.45, "end": 0.9},
                {"word": "bad", "start": 1.0, "end": 0.5},
                {"word": "nan", "start": "x", "end": 1.0},
                {"word": 7, "start": 1.0, "end": 1.1},
                {"word": "", "start": 1.0, "end": 1.1},
                {"word": "again.", "start": 1.0, "end": 1.4},
                {"word": "<end>", "start": 1.4, "end": 1.4}
            ]),
            Some(1.6),
        ));
        server.push(audio());
        let (media, _) = setup(&server, api_key());
        let mut req = SpeechRequest::new("  Hello, world again.  ");
        req.language = Some("en-US".into());
        let speech = media.speech(req).await.unwrap();

        assert_eq!(speech.voice_id, DEFAULT_ENGLISH_VOICE);
        let part = speech.single().unwrap();
        assert_eq!(part.audio, silent_mp3(3));
        assert_eq!(part.mime, "audio/mpeg");
        assert_eq!(part.duration, Some(1.6), "the server's duration wins");
        let texts: Vec<(&str, &str)> = speech.words.iter().map(|w| (w.id.as_str(), w.text.as_str())).collect();
        assert_eq!(texts, [("w0", "Hello,"), ("w1", "world"), ("w2", "bad"), ("w3", "again.")]);
        assert_eq!((speech.words[2].start, speech.words[2].end), (1.0, 1.0), "an end before the start: fixed");
        assert_eq!((speech.words[3].start, speech.words[3].end), (1.0, 1.4));
        assert_eq!(
            part.anomalies,
            [
                "1 word dropped: a time is not a number from 0 to 3600 seconds",
                "1 word ending before it starts: the end set to the start"
            ]
        );
        assert_eq!(speech.duration, Some(1.6));

        let reqs = server.requests();
        assert_eq!(reqs.len(), 2);
        assert_eq!((reqs[0].method.as_str(), reqs[0].target.as_str()), ("POST", "/v3/voices/speech"));
        assert_eq!(
            reqs[0].json(),
            json!({"text": "Hello, world again.", "voice_id": DEFAULT_ENGLISH_VOICE, "speed": 1.0}),
            "no language for English"
        );
        assert_eq!(reqs[0].header("x-api-key"), Some(KEY));
        assert_eq!(reqs[1].target, "/files/speech.mp3?X-Amz-Signature=abc");
        no_auth_headers(&reqs[1]);
    }

    #[tokio::test]
    async fn other_languages_take_the_first_catalog_voice_and_send_the_language() {
        let server = TestServer::start().await;
        server.push(Scripted::json(200, json!({"data": [voice("en1", "English")], "next_token": "p2"})));
        server.push(Scripted::json(
            200,
            json!({"data": [voice("fr1", "French"), voice("fr2", "French")], "next_token": "p3"}),
        ));
        // The bare-object response form, with an explicit speed and no duration.
        server.push(Scripted::json(
            200,
            json!({"audio_url": "{base}/a.mp3", "word_timestamps": [{"word": "Bonjour", "start": 0.1, "end": 0.5}]}),
        ));
        server.push(audio());
        let (media, _) = setup(&server, api_key());
        let req = SpeechRequest { text: "Bonjour".into(), voice_id: None, speed: 1.1, language: Some("fr".into()) };
        let speech = media.speech(req).await.unwrap();
        assert_eq!(speech.voice_id, "fr1");
        let reqs = server.requests();
        assert_eq!(reqs.len(), 4, "paging stops at the first match");
        assert_eq!(reqs[2].json(), json!({"text": "Bonjour", "voice_id": "fr1", "speed": 1.1, "language": "fr"}));
        let expected = 3.0 * 1152.0 / 44100.0;
        assert!((speech.duration.unwrap() - expected).abs() < 1e-3, "measured from the MP3 frames");

        // No voice in that language: NotFound, and no speech request.
        let server = TestServer::start().await;
        server.push(Scripted::json(200, json!({"data": [voice("en1", "English")]})));
        let (media, _) = setup(&server, api_key());
        let req = SpeechRequest { language: Some("Klingon".into()), ..SpeechRequest::new("Qapla'") };
        let e = media.speech(req).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::NotFound);
        assert!(e.message.contains("Klingon"));
        assert!(e.falls_through());
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn speed_and_empty_text_are_refused_without_a_request() {
        let server = TestServer::start().await;
        let (media, _) = setup(&server, api_key());
        for speed in [0.49, 2.01, f32::NAN, f32::INFINITY, 0.0] {
            let req = SpeechRequest { speed, voice_id: Some("v".into()), ..SpeechRequest::new("hi") };
            let e = media.speech(req).await.unwrap_err();
            assert_eq!(e.code, ProviderErrorCode::BadRequest, "{speed}");
            assert!(!e.falls_through());
        }
        let e = media.speech(SpeechRequest::new(" \n ")).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadRequest);
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn long_text_is_split_at_sentences_with_words_on_one_timeline() {
        let sentence = "This sentence is exactly fifty characters long ok. ";
        assert_eq!(sentence.chars().count(), 51);
        let text = sentence.repeat(230); // 11,730 chars → 3 chunks
        let server = TestServer::start().await;
        for (n, d) in [(0, 10.0), (1, 20.0), (2, 5.0)] {
            server.push(speech_reply(
                json!([{"word": format!("first{n}"), "start": 0.5, "end": 1.0},
                       {"word": format!("last{n}"), "start": 2.0, "end": 2.5}]),
                Some(d),
            ));
            server.push(Scripted::bytes(200, "audio/mpeg", vec![n as u8 + 1; 10]));
        }
        let (media, _) = setup(&server, api_key());
        let req = SpeechRequest { voice_id: Some("voice-x".into()), ..SpeechRequest::new(text.clone()) };
        let speech = media.speech(req).await.unwrap();

        let reqs = server.requests();
        let posted: Vec<String> = reqs
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.json()["text"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(posted.len(), 3);
        for t in &posted {
            assert!(t.chars().count() <= MAX_TEXT_CHARS);
            assert!(t.ends_with("ok."), "cut at a sentence end: …{}", &t[t.len() - 10..]);
        }
        assert_eq!(posted.join(" "), text.trim());
        assert_eq!(speech.parts.len(), 3);
        assert_eq!(speech.parts.iter().map(|p| p.audio[0]).collect::<Vec<_>>(), [1, 2, 3], "in order");
        assert_eq!(speech.parts.iter().map(|p| p.offset).collect::<Vec<_>>(), [0.0, 10.0, 30.0]);
        assert_eq!(speech.parts[1].words[0].start, 0.5, "part words stay relative");
        let joined: Vec<(String, f64)> = speech.words.iter().map(|w| (w.id.clone(), w.start)).collect();
        assert_eq!(
            joined,
            [("w0", 0.5), ("w1", 2.0), ("w2", 10.5), ("w3", 12.0), ("w4", 30.5), ("w5", 32.0)]
                .map(|(i, t)| (i.to_string(), t))
        );
        assert_eq!(speech.duration, Some(35.0));
        assert!(speech.single().is_none());
    }

    #[tokio::test]
    async fn payment_required_keeps_the_server_code() {
        let server = TestServer::start().await;
        server.push(Scripted::json(
            402,
            json!({"error": {"code": "plan_upgrade_required", "message": "Upgrade to use Starfish"}}),
        ));
        let (media, _) = setup(&server, api_key());
        let e =
            media.speech(SpeechRequest { voice_id: Some("v".into()), ..SpeechRequest::new("hi") }).await.unwrap_err();
        assert_eq!((e.code, e.status), (ProviderErrorCode::PaymentRequired, Some(402)));
        assert!(e.message.contains("plan_upgrade_required"), "{}", e.message);
        assert!(e.anomaly().starts_with("heygen: HTTP 402"));
        assert!(e.hint.is_some());
        assert!(e.falls_through());
        assert_eq!(server.requests().len(), 1);
    }

    #[tokio::test]
    async fn rate_limit_waits_then_succeeds_and_server_errors_exhaust() {
        let server = TestServer::start().await;
        server.push(Scripted::json(429, json!({})).with_header("retry-after", "2"));
        server.push(Scripted::json(200, json!({"data": []})));
        let (media, sleeper) = setup(&server, api_key());
        media.list_voices(None).await.unwrap();
        assert_eq!(*sleeper.sleeps.lock().unwrap(), [Duration::from_secs(2)]);
        assert_eq!(server.requests().len(), 2);

        let server = TestServer::start().await;
        for _ in 0..3 {
            server.push(Scripted::json(503, json!({"error": "unavailable"})));
        }
        let (media, sleeper) = setup(&server, api_key());
        let e = media.search_sounds(SoundKind::Music, "calm", 5, None).await.unwrap_err();
        assert_eq!((e.code, e.status), (ProviderErrorCode::ServerError, Some(503)));
        assert!(e.falls_through());
        assert_eq!(server.requests().len(), 3);
        assert_eq!(sleeper.sleeps.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn truncated_or_missing_audio_fails_the_speech() {
        let server = TestServer::start().await;
        server.push(speech_reply(json!([]), Some(1.0)));
        for _ in 0..3 {
            server.push(Scripted::Truncate { declared: 5000, body: silent_mp3(1) });
        }
        let (media, _) = setup(&server, api_key());
        let req = SpeechRequest { voice_id: Some("v".into()), ..SpeechRequest::new("hi") };
        let e = media.speech(req.clone()).await.unwrap_err();
        assert!(matches!(e.code, ProviderErrorCode::Network | ProviderErrorCode::Timeout), "{e:?}");
        assert_eq!(server.requests().len(), 4, "the download is retried");

        let server = TestServer::start().await;
        server.push(Scripted::json(200, json!({"data": {"word_timestamps": []}})));
        let (media, _) = setup(&server, api_key());
        let e = media.speech(req.clone()).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadResponse);
        assert!(e.message.contains("audio_url"));

        let server = TestServer::start().await;
        server.push(speech_reply(json!([]), None));
        server.push(Scripted::json(403, json!({"message": "Request has expired"})));
        let (media, _) = setup(&server, api_key());
        let e = media.speech(req).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadResponse);
        assert!(e.message.contains("expired"));
    }

    fn sound(id: &str, score: f64) -> Value {
        json!({"id": id, "name": format!("Sound {id}"), "description": "d", "audio_url": format!("{{base}}/s/{id}.mp3"),
               "duration": 12.5, "score": score, "type": "music"})
    }

    #[tokio::test]
    async fn music_search_parses_the_array_envelope_and_sorts_by_score() {
        let server = TestServer::start().await;
        server.push(Scripted::json(
            200,
            json!({"data": [sound("b", 0.71), sound("a", 0.93), {"id": "no-url", "score": 0.99}, sound("c", 0.8)],
                   "has_more": false}),
        ));
        let (media, _) = setup(&server, api_key());
        let found = media.search_sounds(SoundKind::Music, " calm cinematic underscore ", 5, None).await.unwrap();
        assert_eq!(found.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["a", "c", "b"]);
        assert_eq!(found[0].audio_url, format!("{}/s/a.mp3", server.url()));
        assert_eq!((found[0].duration, found[0].score), (Some(12.5), Some(0.93)));
        let reqs = server.requests();
        assert_eq!(reqs[0].target, "/v3/audio/sounds?query=calm+cinematic+underscore&type=music&limit=5");
        assert_eq!(reqs[0].header("x-heygen-client-source"), Some("hyperframes"));
    }

    #[tokio::test]
    async fn sound_effects_send_min_score_and_parse_items_and_legacy_envelopes() {
        let server = TestServer::start().await;
        server.push(Scripted::json(
            200,
            json!({"data": {"items": [sound("x", 0.5), sound("y", 0.62)], "next_token": null}}),
        ));
        server.push(Scripted::json(
            200,
            json!({"data": {"0": sound("l0", 0.9), "1": sound("l1", 0.95), "2": sound("l2", 0.91)}}),
        ));
        let (media, _) = setup(&server, api_key());
        let found = media.search_sounds(SoundKind::SoundEffects, "whoosh", 3, None).await.unwrap();
        assert_eq!(found.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["y", "x"]);
        let legacy = media.search_sounds(SoundKind::SoundEffects, "door slam", 2, Some(0.8)).await.unwrap();
        assert_eq!(legacy.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["l1", "l2"], "sorted, then limited");

        let reqs = server.requests();
        assert_eq!(reqs[0].target, "/v3/audio/sounds?query=whoosh&type=sound_effects&limit=3&min_score=0.4");
        assert_eq!(reqs[1].target, "/v3/audio/sounds?query=door+slam&type=sound_effects&limit=2&min_score=0.8");
    }

    #[tokio::test]
    async fn sound_search_input_is_checked_locally() {
        let server = TestServer::start().await;
        let (media, _) = setup(&server, api_key());
        for (query, limit, min) in [("  ", 5, None), ("rain", 0, None), ("rain", 51, None), ("rain", 5, Some(1.5))] {
            let e = media.search_sounds(SoundKind::Music, query, limit, min).await.unwrap_err();
            assert_eq!(e.code, ProviderErrorCode::BadRequest, "{query:?} {limit} {min:?}");
        }
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn download_is_a_plain_get() {
        let server = TestServer::start().await;
        server.push(Scripted::bytes(200, "application/octet-stream", silent_mp3(2)));
        server.push(
            Scripted::bytes(302, "text/plain", vec![]).with_header("location", &format!("{}/cdn/t.wav", server.url())),
        );
        server.push(Scripted::bytes(200, "audio/wav", b"RIFF\x24\0\0\0WAVEfmt ".to_vec()));
        let (media, _) = setup(&server, oauth(false));
        let (bytes, mime) = media.download(&format!("{}/s/track.mp3?sig=1", server.url())).await.unwrap();
        assert_eq!((bytes.len(), mime.as_str()), (834, "audio/mpeg"));
        let (_, mime) = media.download(&format!("{}/s/t.wav", server.url())).await.unwrap();
        assert_eq!(mime, "audio/wav", "after a redirect");
        assert_eq!(server.requests().len(), 3);
        for r in server.requests() {
            assert_eq!(r.method, "GET");
            no_auth_headers(&r);
        }
        assert_eq!(media.download("file:///etc/passwd").await.unwrap_err().code, ProviderErrorCode::BadResponse);
    }

    /// A presigned link that bounces to a CDN on another origin: the CDN never sees the signed
    /// URL (no `Referer`).
    #[tokio::test]
    async fn a_download_redirected_to_another_host_sends_no_referer() {
        let (server, cdn) = (TestServer::start().await, TestServer::start().await);
        server
            .push(Scripted::bytes(302, "text/plain", vec![]).with_header("location", &format!("{}/c.mp3", cdn.url())));
        cdn.push(Scripted::bytes(200, "audio/mpeg", silent_mp3(1)));
        let (media, _) = setup(&server, oauth(false));
        media.download(&format!("{}/s/track.mp3?X-Amz-Signature=s3cr3t-0001", server.url())).await.unwrap();
        let got = &cdn.requests()[0];
        assert_eq!(got.header("referer"), None, "{got:?}");
        assert!(!format!("{got:?}").contains("s3cr3t"), "{got:?}");
        no_auth_headers(got);
    }
}
