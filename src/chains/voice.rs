//! The voice chain: HeyGen Starfish → ElevenLabs → local Kokoro.

use super::{decode, order, walk, ChainError, ChainResult, Providers, Routing};
use crate::audio::captions::Word;
use crate::audio::resample::resample;
use crate::audio::wav;
use crate::engines::kokoro::engine::{TtsOptions, SAMPLE_RATE as KOKORO_RATE};
use crate::engines::kokoro::g2p::Lang;
use crate::engines::kokoro::lexicon::Lexicon;
use crate::engines::kokoro::markup::{self, Part, Script};
use crate::engines::kokoro::{service, voices};
use crate::providers::heygen::{Speech, SpeechRequest};
use crate::providers::plan::{plan_for, Capability, Facts};

#[derive(Debug, Clone)]
pub struct VoiceRequest {
    pub text: String,
    /// A provider's voice id (or a Kokoro blend). In auto mode, providers whose ids look different
    /// are skipped (with an anomaly) instead of being sent a voice they do not have.
    pub voice: Option<String>,
    pub speed: f32,
    /// A language tag (`en`, `es`, `fr-fr`…).
    pub lang: Option<String>,
    /// Kokoro model (`kokoro` or `kokoro-fp32`).
    pub kokoro_model: Option<String>,
    /// Kokoro may download its model on first use (never in local-only mode).
    pub allow_download: bool,
    pub routing: Routing,
    /// Pronunciations for whole words (Kokoro applies them before G2P).
    pub lexicon: Option<std::sync::Arc<Lexicon>>,
}

impl VoiceRequest {
    pub fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            voice: None,
            speed: 1.0,
            lang: None,
            kokoro_model: None,
            allow_download: true,
            routing: Routing::default(),
            lexicon: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct VoiceResult {
    /// Mono samples at `sample_rate` (the provider's own rate).
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub words: Vec<Word>,
    pub provider: &'static str,
    pub voice: String,
    pub anomalies: Vec<String>,
}

impl VoiceResult {
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate.max(1))
    }
}

/// Which provider's ids `voice` looks like: HeyGen ids are 32 hex digits, Kokoro's are
/// `xx_name` (or blends of them), anything else is taken for ElevenLabs.
pub fn voice_family(voice: &str) -> &'static str {
    let v = voice.trim();
    if v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return "heygen";
    }
    let kokoro_name = |n: &str| {
        let b = n.as_bytes();
        b.len() > 3 && b[..2].iter().all(u8::is_ascii_lowercase) && b[2] == b'_'
    };
    if voices::parse_blend(v).is_ok_and(|terms| terms.iter().all(|t| kokoro_name(&t.voice))) {
        return "kokoro";
    }
    "elevenlabs"
}

/// Speaks `req.text` with the first provider that can: see the module docs of [`super`].
pub async fn voice(req: &VoiceRequest) -> ChainResult<VoiceResult> {
    let (facts, providers) = super::gather(req.routing.local_only).await;
    voice_with(req, &facts, &providers).await
}

pub async fn voice_with(req: &VoiceRequest, facts: &Facts, providers: &Providers) -> ChainResult<VoiceResult> {
    if req.text.trim().is_empty() {
        return Err(ChainError::new("EMPTY_TEXT", "No text to speak."));
    }
    // Bad markup is the caller's mistake whoever speaks: refused before any provider is asked.
    let mut script = markup::parse(&req.text).map_err(|e| {
        let mut c = ChainError::new(e.code, e.message);
        c.hint = e.hint;
        c
    })?;
    if let Some(lex) = &req.lexicon {
        lex.apply(&mut script);
    }
    let plan = plan_for(Capability::Voice, facts);
    let mut order = order(&plan, &req.routing, facts)?;
    // Providers skipped because the voice is another family's. Those ahead of it in the order are
    // worth a note (they would have served); those after it only matter if the voice's own fails.
    let (mut skipped_ahead, mut skipped_after) = (Vec::new(), Vec::new());
    if let (Some(v), None) = (req.voice.as_deref(), req.routing.pinned()) {
        let family = voice_family(v);
        if let Some(at) = order.iter().position(|p| *p == family) {
            for (i, p) in order.iter().enumerate().filter(|(_, p)| **p != family) {
                let note = format!("{p}: skipped: voice `{}` belongs to {family}", v.trim());
                if i < at {
                    skipped_ahead.push(note)
                } else {
                    skipped_after.push(note)
                }
            }
            order.retain(|p| *p == family);
        }
    }
    let walked = walk(Capability::Voice, &order, &req.routing, providers, |p| attempt(p, req, &script, providers));
    let (mut result, anomalies) = walked.await.map_err(|mut e| {
        skipped_ahead.append(&mut e.anomalies);
        skipped_ahead.append(&mut skipped_after);
        e.anomalies = std::mem::take(&mut skipped_ahead);
        e
    })?;
    skipped_ahead.extend(anomalies);
    skipped_ahead.append(&mut result.anomalies);
    result.anomalies = skipped_ahead;
    Ok(result)
}

async fn attempt(
    provider: &'static str,
    req: &VoiceRequest,
    script: &Script,
    providers: &Providers,
) -> ChainResult<VoiceResult> {
    let lang = req.lang.as_deref().map(str::trim).filter(|l| !l.is_empty());
    let voice = req.voice.as_deref().map(str::trim).filter(|v| !v.is_empty());
    // The provider's turn (its concurrency slot) is held by `walk` for the whole attempt.
    if provider == "kokoro" {
        return kokoro(req, voice, lang).await;
    }
    let say = |text: String| async move {
        match provider {
            "heygen" => {
                let client = providers.heygen.as_ref().ok_or_else(|| super::not_configured(provider))?;
                let request = SpeechRequest {
                    text,
                    voice_id: voice.map(String::from),
                    speed: req.speed,
                    language: lang.map(String::from),
                };
                join_speech(provider, client.speech(request).await?)
            }
            "elevenlabs" => {
                let client = providers.elevenlabs.as_ref().ok_or_else(|| super::not_configured(provider))?;
                let speed = (req.speed != 1.0).then_some(req.speed);
                let mut r = join_speech(provider, client.speech(&text, voice, None, speed, lang).await?)?;
                drop_break_tags(&mut r.words);
                Ok(r)
            }
            other => Err(super::not_configured(other)),
        }
    };
    if !script.has_markup() {
        return say(req.text.clone()).await;
    }
    let mut pieces = Vec::new();
    for seg in hosted_segments(script, max_break_tag(provider)) {
        pieces.push(match seg {
            Segment::Say(text) => Piece::Voiced(say(text).await?),
            Segment::Silence(d) => Piece::Silence(d),
        });
    }
    let mut r = join_pieces(provider, pieces)?;
    if script.parts.iter().any(|p| matches!(p, Part::Speech(s) if !s.pronunciations.is_empty())) {
        r.anomalies.push(format!(
            "{provider}: pronunciations are not sent (it takes no Kokoro phonemes); the written words were spoken"
        ));
    }
    Ok(r)
}

/// The longest pause a provider takes as a `<break time="…"/>` tag in the text it speaks; longer
/// pauses (and providers without tags) are voiced in parts joined by exact silence.
fn max_break_tag(provider: &str) -> Option<std::time::Duration> {
    // ElevenLabs documents break tags of up to 3 seconds.
    (provider == "elevenlabs").then_some(std::time::Duration::from_secs(3))
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    /// Text for one request (with break tags where the provider takes them).
    Say(String),
    Silence(std::time::Duration),
}

/// The script as requests and silences: passages between short pauses go out in one request with
/// break tags (when `max_tag` allows), every other pause becomes exact silence between requests.
fn hosted_segments(script: &Script, max_tag: Option<std::time::Duration>) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut pending_tag: Option<std::time::Duration> = None;
    for part in &script.parts {
        match part {
            Part::Speech(p) if !p.has_words() => {}
            Part::Speech(p) => {
                let text = p.text.trim();
                match (out.last_mut(), pending_tag.take()) {
                    // A request the provider would have to split could be cut inside a tag.
                    (Some(Segment::Say(prev)), Some(d))
                        if prev.len() + text.len() + 32 > crate::providers::elevenlabs::MAX_TEXT_CHARS =>
                    {
                        out.push(Segment::Silence(d));
                        out.push(Segment::Say(text.to_string()));
                    }
                    (Some(Segment::Say(prev)), Some(d)) => {
                        prev.push_str(&format!(" <break time=\"{}s\"/> {text}", service::round_ms(d.as_secs_f64())));
                    }
                    _ => out.push(Segment::Say(text.to_string())),
                }
            }
            Part::Pause(d) => {
                if let Some(t) = pending_tag.take() {
                    out.push(Segment::Silence(t));
                }
                let taggable = max_tag.is_some_and(|m| *d <= m) && matches!(out.last(), Some(Segment::Say(_)));
                if taggable {
                    pending_tag = Some(*d);
                } else {
                    out.push(Segment::Silence(*d));
                }
            }
        }
    }
    out.extend(pending_tag.map(Segment::Silence));
    out
}

/// Removes the words a provider's alignment made of break tags (`<break`, `time="1s"/>`).
fn drop_break_tags(words: &mut Vec<Word>) {
    let mut in_tag = false;
    words.retain(|w| {
        let t = w.text.trim();
        if t.starts_with("<break") {
            in_tag = !t.ends_with("/>");
            return false;
        }
        if in_tag {
            in_tag = !t.ends_with("/>");
            return false;
        }
        true
    });
    for (i, w) in words.iter_mut().enumerate() {
        w.id = format!("w{i}");
    }
}

enum Piece {
    Voiced(VoiceResult),
    Silence(std::time::Duration),
}

/// Joins voiced parts and silences on one timeline at the first part's rate: each silence is
/// exactly its length in samples, and the words after it move by exactly that much.
fn join_pieces(provider: &'static str, pieces: Vec<Piece>) -> ChainResult<VoiceResult> {
    let first = pieces.iter().find_map(|p| if let Piece::Voiced(r) = p { Some(r) } else { None });
    let Some(first) = first else {
        return Err(ChainError::new("EMPTY_TEXT", "No text to speak: the text has only pauses or punctuation."));
    };
    let (rate, voice) = (first.sample_rate, first.voice.clone());
    let mut out = VoiceResult {
        samples: Vec::new(),
        sample_rate: rate,
        words: Vec::new(),
        provider,
        voice,
        anomalies: Vec::new(),
    };
    for piece in pieces {
        match piece {
            Piece::Silence(d) => {
                let n = (d.as_secs_f64() * f64::from(rate)).round() as usize;
                out.samples.resize(out.samples.len() + n, 0.0);
            }
            Piece::Voiced(r) => {
                let start = out.samples.len() as f64 / f64::from(rate);
                for w in r.words {
                    let id = format!("w{}", out.words.len());
                    out.words.push(Word { id, start: start + w.start, end: start + w.end, ..w });
                }
                if r.sample_rate == rate {
                    out.samples.extend_from_slice(&r.samples);
                } else {
                    out.samples.extend(resample(&r.samples, r.sample_rate, rate));
                }
                out.anomalies.extend(r.anomalies);
            }
        }
    }
    Ok(out)
}

/// Decodes every part, joins them (resampled to the first part's rate only if they differ), and
/// lays the words out on the decoded timeline.
fn join_speech(provider: &'static str, speech: Speech) -> ChainResult<VoiceResult> {
    let mut rate = 0u32;
    let mut chunks: Vec<Vec<f32>> = Vec::with_capacity(speech.parts.len());
    let mut words = Vec::new();
    let mut offset = 0usize;
    for part in &speech.parts {
        let d = decode(provider, &part.audio, &part.mime)?;
        if rate == 0 {
            rate = d.sample_rate;
        }
        let mono = if d.sample_rate == rate { d.to_mono() } else { resample(&d.to_mono(), d.sample_rate, rate) };
        let start = offset as f64 / f64::from(rate);
        for w in &part.words {
            words.push(Word {
                id: format!("w{}", words.len()),
                text: w.text.clone(),
                start: service::round_ms(start + w.start),
                end: service::round_ms(start + w.end),
                confidence: None,
            });
        }
        offset += mono.len();
        chunks.push(mono);
    }
    if rate == 0 || offset == 0 {
        return Err(ChainError::engine(
            provider,
            crate::engines::error::EngineError::new("BAD_AUDIO", format!("{provider} returned no audio")),
        ));
    }
    let samples = wav::join_chunks(&chunks, wav::samples_for_ms(rate, 2.5));
    Ok(VoiceResult { samples, sample_rate: rate, words, provider, voice: speech.voice_id, anomalies: Vec::new() })
}

fn kokoro_lang(lang: &str) -> ChainResult<Lang> {
    match lang.to_ascii_lowercase().as_str() {
        "en" | "english" => Ok(Lang::EnUs),
        _ => Lang::parse(lang).map_err(|e| ChainError::engine("kokoro", e)),
    }
}

async fn kokoro(req: &VoiceRequest, voice: Option<&str>, lang: Option<&str>) -> ChainResult<VoiceResult> {
    let provider = "kokoro";
    let lang = lang.map(kokoro_lang).transpose()?;
    let spec = service::model_spec(req.kokoro_model.as_deref()).map_err(|e| ChainError::engine(provider, e))?;
    let allow = req.allow_download && !req.routing.local_only;
    service::ensure_installed(spec, allow, &|_| {}).await.map_err(|e| ChainError::engine(provider, e))?;
    let opts = TtsOptions { voice: voice.map(String::from), speed: req.speed, lang, lexicon: req.lexicon.clone() };
    let text = req.text.clone();
    let s = crate::blocking(move || {
        let engine = service::open(spec)?;
        engine.synthesize(&text, &opts, &mut |_| Ok(()))
    })
    .await
    .map_err(|e| ChainError::engine(provider, e))?;
    Ok(VoiceResult {
        words: service::caption_words(&s.words),
        samples: s.samples,
        sample_rate: KOKORO_RATE,
        provider,
        voice: s.voice,
        anomalies: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::chains::testing::{self, all_keys, SINE_MP3};
    use crate::providers::test_server::{Scripted, TestServer};

    fn speech_reply(server: &TestServer) {
        server.push(Scripted::json(
            200,
            json!({"data": {"audio_url": "{base}/audio/1.mp3", "word_timestamps": [
                {"word": "hello", "start": 0.1, "end": 0.4}, {"word": "there", "start": 0.5, "end": 0.9}
            ]}}),
        ));
        server.push(Scripted::bytes(200, "audio/mpeg", SINE_MP3.to_vec()));
    }

    fn eleven_reply(server: &TestServer) {
        use base64::Engine;
        let text = "hi";
        server.push(Scripted::json(
            200,
            json!({
                "audio_base64": base64::engine::general_purpose::STANDARD.encode(SINE_MP3),
                "alignment": {
                    "characters": text.chars().map(String::from).collect::<Vec<_>>(),
                    "character_start_times_seconds": [0.0, 0.1],
                    "character_end_times_seconds": [0.1, 0.2],
                },
            }),
        ));
    }

    #[tokio::test]
    async fn heygen_serves_first_and_its_rate_is_kept() {
        let hg = TestServer::start().await;
        speech_reply(&hg);
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let r = voice_with(&VoiceRequest::new("hello there"), &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "heygen");
        assert_eq!(r.voice, crate::providers::heygen::DEFAULT_ENGLISH_VOICE);
        assert_eq!(r.sample_rate, crate::audio::decode::decode_bytes(SINE_MP3, Some("mp3")).unwrap().sample_rate);
        assert!(!r.samples.is_empty());
        assert_eq!(r.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["hello", "there"]);
        assert!(r.anomalies.is_empty());
    }

    #[tokio::test]
    async fn heygen_402_falls_through_to_elevenlabs_with_an_anomaly() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(402, json!({"error": {"code": "plan_upgrade_required"}})));
        let el = TestServer::start().await;
        eleven_reply(&el);
        let providers = Providers {
            heygen: Some(testing::heygen(&hg)),
            elevenlabs: Some(testing::elevenlabs(&el)),
            ..Providers::default()
        };
        let r = voice_with(&VoiceRequest::new("hi"), &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "elevenlabs");
        assert_eq!(r.anomalies.len(), 1, "{:?}", r.anomalies);
        assert!(r.anomalies[0].starts_with("heygen: HTTP 402"), "{:?}", r.anomalies);
        assert_eq!(hg.requests().len(), 1, "402 is not retried");
        assert_eq!(el.requests().len(), 1);
        assert_eq!(r.words.len(), 1);
    }

    #[tokio::test]
    async fn server_errors_exhaust_retries_then_fall_through() {
        let hg = TestServer::start().await;
        for _ in 0..3 {
            hg.push(Scripted::json(503, json!({"error": "busy"})));
        }
        let el = TestServer::start().await;
        eleven_reply(&el);
        let providers = Providers {
            heygen: Some(testing::heygen(&hg)),
            elevenlabs: Some(testing::elevenlabs(&el)),
            ..Providers::default()
        };
        let r = voice_with(&VoiceRequest::new("hi"), &all_keys(), &providers).await.unwrap();
        assert_eq!(hg.requests().len(), 3, "every attempt was used");
        assert_eq!(r.provider, "elevenlabs");
        assert!(r.anomalies[0].contains("503"), "{:?}", r.anomalies);
    }

    #[tokio::test]
    async fn no_fallback_returns_the_first_failure() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(402, json!({"error": "plan_upgrade_required"})));
        let el = TestServer::start().await;
        let providers = Providers {
            heygen: Some(testing::heygen(&hg)),
            elevenlabs: Some(testing::elevenlabs(&el)),
            ..Providers::default()
        };
        let mut req = VoiceRequest::new("hi");
        req.routing.no_fallback = true;
        let e = voice_with(&req, &all_keys(), &providers).await.unwrap_err();
        assert_eq!(e.code, "PROVIDER_PAYMENT_REQUIRED");
        assert_eq!(e.provider, Some("heygen"));
        assert!(e.hint.is_some());
        assert!(el.requests().is_empty());
    }

    #[tokio::test]
    async fn bad_requests_do_not_fall_through() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(400, json!({"error": "bad voice"})));
        let el = TestServer::start().await;
        let providers = Providers {
            heygen: Some(testing::heygen(&hg)),
            elevenlabs: Some(testing::elevenlabs(&el)),
            ..Providers::default()
        };
        let e = voice_with(&VoiceRequest::new("hi"), &all_keys(), &providers).await.unwrap_err();
        assert_eq!(e.code, "PROVIDER_BAD_REQUEST");
        assert!(el.requests().is_empty());
    }

    #[tokio::test]
    async fn pinning_serves_alone_or_explains_why_not() {
        let el = TestServer::start().await;
        eleven_reply(&el);
        let providers = Providers { elevenlabs: Some(testing::elevenlabs(&el)), ..Providers::default() };
        let mut req = VoiceRequest::new("hi");
        req.routing.provider = Some("elevenlabs".into());
        let r = voice_with(&req, &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "elevenlabs");

        let signed_out = Facts { heygen: false, ..all_keys() };
        req.routing.provider = Some("heygen".into());
        let e = voice_with(&req, &signed_out, &providers).await.unwrap_err();
        assert_eq!(e.code, "PROVIDER_UNAVAILABLE");
        assert!(e.message.contains("not signed in"), "{}", e.message);
        assert_eq!(e.hint.as_deref(), Some("npx hyperframes auth login"));

        req.routing.provider = Some("lyria".into());
        let e = voice_with(&req, &signed_out, &providers).await.unwrap_err();
        assert_eq!(e.code, "PROVIDER_UNAVAILABLE");
        assert!(e.message.contains("choose one of"), "{}", e.message);
    }

    #[tokio::test]
    async fn nothing_available_is_no_provider_with_hints() {
        let e = voice_with(&VoiceRequest::new("hi"), &Facts::default(), &Providers::default()).await.unwrap_err();
        assert_eq!(e.code, "NO_PROVIDER");
        assert!(e.hint.as_deref().unwrap().contains("onnxruntime"), "{:?}", e.hint);
    }

    #[tokio::test]
    async fn a_voice_id_selects_its_provider_family() {
        let el = TestServer::start().await;
        eleven_reply(&el);
        let hg = TestServer::start().await;
        let providers = Providers {
            heygen: Some(testing::heygen(&hg)),
            elevenlabs: Some(testing::elevenlabs(&el)),
            ..Providers::default()
        };
        let mut req = VoiceRequest::new("hi");
        req.voice = Some("21m00Tcm4TlvDq8ikWAM".into());
        let r = voice_with(&req, &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "elevenlabs");
        assert!(hg.requests().is_empty());
        assert_eq!(r.anomalies, vec!["heygen: skipped: voice `21m00Tcm4TlvDq8ikWAM` belongs to elevenlabs"]);
        assert_eq!(voice_family("af_sky.4+af_nicole.6"), "kokoro");

        // A HeyGen voice served by HeyGen: the providers after it were never going to serve.
        let hg = TestServer::start().await;
        hg.push(Scripted::json(
            200,
            json!({"data": {"audio_url": "{base}/a.mp3", "word_timestamps": [{"word": "hi", "start": 0.0, "end": 0.2}]}}),
        ));
        hg.push(Scripted::bytes(200, "audio/mpeg", SINE_MP3.to_vec()));
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..providers };
        req.voice = Some(crate::providers::heygen::DEFAULT_ENGLISH_VOICE.into());
        let r = voice_with(&req, &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "heygen");
        assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);

        // …but when it fails, they are part of the explanation.
        hg.push(Scripted::json(400, json!({"error": "bad voice"})));
        let e = voice_with(&req, &all_keys(), &providers).await.unwrap_err();
        assert!(e.anomalies.iter().any(|a| a.starts_with("elevenlabs: skipped: voice")), "{:?}", e.anomalies);
        assert_eq!(voice_family(crate::providers::heygen::DEFAULT_ENGLISH_VOICE), "heygen");
    }

    #[tokio::test]
    async fn heygen_speaks_around_pauses_and_joins_with_exact_silence() {
        let hg = TestServer::start().await;
        speech_reply(&hg);
        speech_reply(&hg);
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let plain = voice_with(&VoiceRequest::new("hello there"), &all_keys(), &providers).await.unwrap();
        speech_reply(&hg);
        let req = VoiceRequest::new("Hello [there](/ðˈɛɹ/). <break time=\"1.5s\"/> General Kenobi.");
        let r = voice_with(&req, &all_keys(), &providers).await.unwrap();
        let texts: Vec<String> =
            hg.requests().iter().filter(|q| q.method == "POST").map(|q| q.json()["text"].to_string()).collect();
        assert_eq!(
            texts,
            ["\"hello there\"", "\"Hello there.\"", "\"General Kenobi.\""],
            "the written words, no markup"
        );
        let n = plain.samples.len();
        let gap = (1.5 * f64::from(r.sample_rate)).round() as usize;
        assert_eq!(r.samples.len(), 2 * n + gap);
        assert!(r.samples[n..n + gap].iter().all(|v| *v == 0.0));
        let shift = (n + gap) as f64 / f64::from(r.sample_rate);
        assert_eq!(r.words.len(), 4);
        assert!((r.words[2].start - (plain.words[0].start + shift)).abs() < 1e-9);
        assert_eq!(r.words.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), ["w0", "w1", "w2", "w3"]);
        assert!(r.anomalies.iter().any(|a| a.contains("pronunciations are not sent")), "{:?}", r.anomalies);
    }

    #[tokio::test]
    async fn elevenlabs_gets_short_breaks_as_tags_and_long_ones_as_silence() {
        let el = TestServer::start().await;
        eleven_reply(&el);
        eleven_reply(&el);
        let providers = Providers { elevenlabs: Some(testing::elevenlabs(&el)), ..Providers::default() };
        let mut req = VoiceRequest::new("One. <break time=\"500ms\"/> Two.<break time=\"4s\"/>Three.");
        req.routing.provider = Some("elevenlabs".into());
        let r = voice_with(&req, &all_keys(), &providers).await.unwrap();
        let texts: Vec<String> = el.requests().iter().map(|q| q.json()["text"].as_str().unwrap().to_string()).collect();
        assert_eq!(texts, ["One. <break time=\"0.5s\"/> Two.", "Three."]);
        assert!(r.samples.len() >= (4.0 * f64::from(r.sample_rate)) as usize);

        let mut words = vec![
            Word { id: String::new(), text: "One.".into(), start: 0.0, end: 0.3, confidence: None },
            Word { id: String::new(), text: "<break".into(), start: 0.3, end: 0.4, confidence: None },
            Word { id: String::new(), text: "time=\"0.5s\"/>".into(), start: 0.4, end: 0.5, confidence: None },
            Word { id: String::new(), text: "Two.".into(), start: 1.0, end: 1.3, confidence: None },
        ];
        drop_break_tags(&mut words);
        assert_eq!(
            words.iter().map(|w| (w.id.as_str(), w.text.as_str())).collect::<Vec<_>>(),
            [("w0", "One."), ("w1", "Two.")]
        );
    }

    #[test]
    fn tags_never_make_a_request_the_provider_would_split() {
        let long = "word ".repeat(900);
        let script = markup::parse(&format!("{long}<break time=\"1s\"/>{long}<break time=\"1s\"/>Short.")).unwrap();
        let segs = hosted_segments(&script, max_break_tag("elevenlabs"));
        let second = long.trim().to_string() + " <break time=\"1s\"/> Short.";
        let want = [
            Segment::Say(long.trim().to_string()),
            Segment::Silence(std::time::Duration::from_secs(1)),
            Segment::Say(second),
        ];
        assert_eq!(segs, want);
        assert!(segs
            .iter()
            .all(|s| !matches!(s, Segment::Say(t) if t.len() > crate::providers::elevenlabs::MAX_TEXT_CHARS)));
        // HeyGen takes no tags: every pause is silence between requests.
        let segs = hosted_segments(&markup::parse("A.<break time=\"1s\"/>B.").unwrap(), max_break_tag("heygen"));
        assert_eq!(
            segs,
            [Segment::Say("A.".into()), Segment::Silence(std::time::Duration::from_secs(1)), Segment::Say("B.".into())]
        );
    }

    #[tokio::test]
    async fn bad_markup_is_refused_before_any_provider() {
        let hg = TestServer::start().await;
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let e = voice_with(&VoiceRequest::new("Wait <break time=\"2\"/>"), &all_keys(), &providers).await.unwrap_err();
        assert_eq!(e.code, "BAD_MARKUP");
        assert!(e.message.contains("column 20") && e.hint.is_some(), "{}", e.message);
        assert!(hg.requests().is_empty());
    }

    /// The real entry point in local-only mode: a HeyGen key and URL are set, yet nothing connects.
    #[test]
    fn local_only_never_connects() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _lock = crate::test_support::env_lock();
        let dir = tempfile::tempdir().unwrap();
        let server = rt.block_on(TestServer::start());
        let url = server.url();
        let _env = crate::test_support::EnvGuard::set(&[
            ("HEYGEN_API_KEY", Some("hg_local_only_key_0001")),
            ("HEYGEN_API_URL", Some(url.as_str())),
            ("ELEVENLABS_API_KEY", Some("el_local_only_key_0001")),
            ("ELEVENLABS_API_URL", Some(url.as_str())),
            ("HEYGEN_CONFIG_DIR", dir.path().to_str()),
            ("HYPERFRAMES_MODELS_DIR", dir.path().to_str()),
        ]);
        let mut req = VoiceRequest::new("hello");
        req.routing.local_only = true;
        let result = rt.block_on(voice(&req));
        // Without an installed Kokoro model nothing can serve offline; with one, Kokoro speaks.
        match result {
            Ok(r) => assert_eq!(r.provider, "kokoro"),
            Err(e) => assert!(matches!(e.code, "NO_PROVIDER" | "MODEL_MISSING"), "{e:?}"),
        }
        req.routing.provider = Some("heygen".into());
        let e = rt.block_on(voice(&req)).unwrap_err();
        assert_eq!(e.code, "PROVIDER_UNAVAILABLE");
        assert!(e.message.contains("local-only"), "{}", e.message);
        assert!(server.requests().is_empty(), "local-only mode connected to {:?}", server.requests());
    }

    /// The real local engine; runs only with `HYPERFRAMES_TEST_MODELS_DIR` pointing at a models dir.
    #[test]
    fn kokoro_serves_when_nothing_hosted_is_configured() {
        let Ok(dir) = std::env::var("HYPERFRAMES_TEST_MODELS_DIR") else { return };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _lock = crate::test_support::env_lock();
        let _env = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_MODELS_DIR", Some(dir.as_str()))]);
        let facts = Facts::gather(true);
        if !facts.kokoro_installed || !facts.onnx_runtime {
            return;
        }
        let mut req = VoiceRequest::new("Hello there.");
        req.routing.local_only = true;
        let r = rt.block_on(voice_with(&req, &facts, &Providers::default())).unwrap();
        assert_eq!((r.provider, r.sample_rate), ("kokoro", KOKORO_RATE));
        assert!(r.words.len() >= 2);
    }
}
