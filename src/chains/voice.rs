//! The voice chain: HeyGen Starfish → ElevenLabs → local Kokoro. The only way anything in this
//! package speaks: `hyperframes tts`, the JS `tts()`/`ttsStream()` and `media build` all come
//! here, so the route (auto, pinned, local-only, no-fallback) is chosen once, and the result has
//! the same fields whichever provider served ([`VoiceResult`]). Audio can be taken chunk by chunk
//! as it is made ([`Delivery::on_chunk`]): Kokoro's chunks as it synthesises them, a hosted
//! provider's audio as one chunk at its own rate once it has arrived. The voice listing lives here
//! too ([`list_voices`]).

use std::sync::Arc;

use serde::Serialize;

use super::{decode, order, walk, ChainError, ChainResult, Providers, Routing};
use crate::audio::captions::Word;
use crate::audio::decode::limits;
use crate::audio::resample::resample;
use crate::audio::wav;
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::install::Progress;
use crate::engines::kokoro::engine::{ChunkAudio, TtsOptions, SAMPLE_RATE as KOKORO_RATE};
use crate::engines::kokoro::g2p::Lang;
use crate::engines::kokoro::lexicon::Lexicon;
use crate::engines::kokoro::markup::{self, Part, Script};
use crate::engines::kokoro::timing::TimedWord;
use crate::engines::kokoro::{service, voices};
use crate::providers::heygen::SpeechRequest;
use crate::providers::plan::{pin, plan_for, Capability, Facts, Plan};
use crate::providers::speech::{check_words, Speech};
use crate::providers::Provider;

mod files;
pub use files::voice_to_files;

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
    #[cfg(test)]
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

/// One piece of the audio as it is delivered (see [`Delivery::on_chunk`]).
#[derive(Debug, Clone)]
pub struct VoiceChunk {
    pub index: usize,
    pub count: usize,
    pub sample_rate: u32,
    /// Mono samples of this chunk only.
    pub samples: Vec<f32>,
    /// The words of this chunk, timed from the start of the whole audio.
    pub words: Vec<TimedWord>,
}

/// Hands a chunk on; an error stops the synthesis (and is the chain's error, never a fall-through).
pub type OnChunk = Arc<dyn Fn(&VoiceChunk) -> EngineResult<()> + Send + Sync>;
/// Hears a model download's progress (Kokoro's first use).
pub type OnProgress = Arc<dyn Fn(Progress) + Send + Sync>;

/// How the audio is delivered besides the result.
#[derive(Clone, Default)]
pub struct Delivery {
    /// Each chunk as soon as it is ready.
    pub on_chunk: Option<OnChunk>,
    pub on_progress: Option<OnProgress>,
    /// The audio goes to `on_chunk` only and is never gathered, so memory stays flat however long
    /// the text (the result's `samples` is then empty; `sample_count` still says how many).
    pub stream_only: bool,
    /// A process that speaks once: Kokoro's G2P is released before the model loads, so their
    /// memory never adds up (it loads again, in about 0.4 s, when next needed).
    pub speaks_once: bool,
    /// Someone listens as the chunks come (`--stream`, `ttsStream()`), so the first should come
    /// soon: Kokoro then keeps its first chunk short. A file is written whole, with no seam there.
    pub live: bool,
}

/// What the chain made, with the same fields whoever served.
#[derive(Debug, Clone, PartialEq)]
pub struct VoiceResult {
    /// Mono samples at `sample_rate` (the provider's own rate); empty when streamed only.
    pub samples: Vec<f32>,
    /// How many samples were made (`samples.len()` when they were kept).
    pub sample_count: usize,
    pub sample_rate: u32,
    /// Timed from the start of the audio; `approximate` when estimated rather than measured.
    pub words: Vec<TimedWord>,
    /// How many chunks of speech were delivered (Kokoro's: one per model call, cut in two where a
    /// pause goes inside it; a hosted provider's audio is one). A pause is delivered as a chunk of
    /// its own but is not counted.
    pub chunks: usize,
    /// The language spoken: Kokoro's always, a hosted provider's when the request named one.
    pub lang: Option<String>,
    /// Set when the requested voice could not speak and another one did.
    pub note: Option<String>,
    /// The local model that spoke (`kokoro`, `kokoro-fp32`); `None` for a hosted provider.
    pub model: Option<&'static str>,
    pub provider: &'static str,
    pub voice: String,
    pub anomalies: Vec<String>,
}

impl VoiceResult {
    pub fn duration_seconds(&self) -> f64 {
        self.sample_count as f64 / f64::from(self.sample_rate.max(1))
    }

    /// Whether any word's timing was estimated rather than measured.
    pub fn words_approximate(&self) -> bool {
        self.words.iter().any(|w| w.approximate)
    }

    /// The words for captions and `--words` files.
    pub fn caption_words(&self) -> Vec<Word> {
        service::caption_words(&self.words)
    }

    /// The result as `tts --json` and the JS `tts()` report it.
    pub fn summary(&self) -> VoiceSummary {
        VoiceSummary {
            provider: self.provider,
            model: self.model,
            voice: self.voice.clone(),
            lang: self.lang.clone(),
            duration_seconds: service::round_ms(self.duration_seconds()),
            sample_rate: self.sample_rate,
            chunks: self.chunks as u32,
            words_approximate: self.words_approximate(),
            note: self.note.clone(),
            words: self.words.iter().map(SummaryWord::from).collect(),
            anomalies: self.anomalies.clone(),
        }
    }
}

/// The reported part of a [`VoiceResult`] (camelCase, as `tts --json` documents it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceSummary {
    pub provider: &'static str,
    pub model: Option<&'static str>,
    pub voice: String,
    pub lang: Option<String>,
    pub duration_seconds: f64,
    pub sample_rate: u32,
    pub chunks: u32,
    pub words_approximate: bool,
    pub note: Option<String>,
    pub words: Vec<SummaryWord>,
    pub anomalies: Vec<String>,
}

/// A word as reported: seconds rounded to the millisecond, `approximate` only when it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryWord {
    pub id: String,
    pub text: String,
    pub start: f64,
    pub end: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approximate: Option<bool>,
}

impl From<&TimedWord> for SummaryWord {
    fn from(w: &TimedWord) -> Self {
        SummaryWord {
            id: w.id.clone(),
            text: w.text.clone(),
            start: service::round_ms(w.start),
            end: service::round_ms(w.end),
            approximate: w.approximate.then_some(true),
        }
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

#[cfg(test)]
/// Speaks `req.text` with the first provider that can: see the module docs of [`super`].
pub async fn voice(req: &VoiceRequest) -> ChainResult<VoiceResult> {
    let (facts, providers) = super::gather(req.routing.local_only).await;
    voice_with(req, &facts, &providers).await
}

/// [`voice_delivered`] with the whole audio in the result and no callbacks.
pub async fn voice_with(req: &VoiceRequest, facts: &Facts, providers: &Providers) -> ChainResult<VoiceResult> {
    voice_delivered(req, facts, providers, &Delivery::default()).await
}

/// Speaks `req.text` with the first provider that can, delivering the audio as `delivery` says.
pub async fn voice_delivered(
    req: &VoiceRequest,
    facts: &Facts,
    providers: &Providers,
    delivery: &Delivery,
) -> ChainResult<VoiceResult> {
    if req.text.trim().is_empty() {
        return Err(ChainError::new("EMPTY_TEXT", "No text to speak."));
    }
    // Bad markup is the caller's mistake whoever speaks: refused before any provider is asked.
    let mut script = markup::parse(&req.text)?;
    if let Some(lex) = &req.lexicon {
        lex.apply(&mut script);
    }
    let plan = plan_for(Capability::Voice, facts);
    let (mut order, mut unavailable) = route(&plan, &req.routing, facts)?;
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
    let walked =
        walk(Capability::Voice, &order, &req.routing, providers, |p| attempt(p, req, &script, providers, delivery));
    let (mut result, anomalies) = walked.await.map_err(|mut e| {
        skipped_ahead.append(&mut e.anomalies);
        skipped_ahead.append(&mut skipped_after);
        unavailable.append(&mut skipped_ahead);
        e.anomalies = unavailable;
        e
    })?;
    skipped_ahead.extend(anomalies);
    skipped_ahead.append(&mut result.anomalies);
    result.anomalies = skipped_ahead;
    if result.provider != Provider::Kokoro.as_str() {
        deliver_whole(&mut result, delivery).await?;
    }
    Ok(result)
}

/// The providers to try, in order (see [`super::order`]), and why the others cannot serve. When
/// none can (or Kokoro is pinned and cannot), Kokoro is tried anyway so the failure is the local
/// engine's own, with its exact fix (`MODEL_MISSING` and the install command, `ORT_NOT_FOUND` and
/// where the runtime was looked for); the hosted providers' reasons come with it as anomalies.
fn route(plan: &Plan, routing: &Routing, facts: &Facts) -> ChainResult<(Vec<Provider>, Vec<String>)> {
    let failed = match order(plan, routing, facts) {
        Ok(order) => return Ok((order, Vec::new())),
        Err(e) => e,
    };
    let kokoro_explains = routing.pinned().is_none_or(|p| p.eq_ignore_ascii_case("kokoro"))
        && pin(plan, "kokoro").is_err()
        && plan.candidates.iter().any(|c| c.provider == Provider::Kokoro);
    if !kokoro_explains {
        return Err(failed);
    }
    let reasons = plan
        .candidates
        .iter()
        .filter(|c| !c.available && c.provider != Provider::Kokoro && routing.pinned().is_none())
        .map(|c| format!("{}: {}", c.provider, c.reason.as_deref().unwrap_or("unavailable")))
        .collect();
    if !facts.onnx_runtime {
        return match crate::engines::runtime::locate() {
            Err(e) => {
                let mut e = ChainError::engine("kokoro", e.into());
                e.anomalies = reasons;
                Err(e)
            }
            // Found after all (the facts are older than this call): the plan's answer stands.
            Ok(_) => Err(failed),
        };
    }
    Ok((vec![Provider::Kokoro], reasons))
}

/// A hosted provider's audio as one chunk, once it has all arrived.
async fn deliver_whole(result: &mut VoiceResult, delivery: &Delivery) -> ChainResult<()> {
    result.chunks = 1;
    let Some(on_chunk) = delivery.on_chunk.clone() else { return Ok(()) };
    let samples = if delivery.stream_only { std::mem::take(&mut result.samples) } else { result.samples.clone() };
    let chunk =
        VoiceChunk { index: 0, count: 1, sample_rate: result.sample_rate, samples, words: result.words.clone() };
    // Off the async runtime: the callback may block (a pipe, a full channel).
    crate::blocking(move || on_chunk(&chunk)).await.map_err(|e| delivery_error(result.provider, e))
}

/// A delivery failure (the reader went away, stdout closed) ends the call: no other provider
/// could deliver better.
fn delivery_error(provider: &'static str, e: EngineError) -> ChainError {
    ChainError::from(e).at(provider, false)
}

async fn attempt(
    provider: Provider,
    req: &VoiceRequest,
    script: &Script,
    providers: &Providers,
    delivery: &Delivery,
) -> ChainResult<VoiceResult> {
    let lang = req.lang.as_deref().map(str::trim).filter(|l| !l.is_empty());
    let voice = req.voice.as_deref().map(str::trim).filter(|v| !v.is_empty());
    // The provider's turn (its concurrency slot) is held by `walk` for the whole attempt.
    if provider == Provider::Kokoro {
        return kokoro(req, voice, lang, delivery).await;
    }
    let hosted = hosted(provider, req, script, providers, voice, lang).await?;
    Ok(VoiceResult {
        sample_count: hosted.samples.len(),
        samples: hosted.samples,
        sample_rate: hosted.sample_rate,
        words: hosted
            .words
            .into_iter()
            .map(|w| TimedWord { id: w.id, text: w.text, start: w.start, end: w.end, approximate: false })
            .collect(),
        chunks: 1,
        lang: lang.map(String::from),
        note: None,
        model: None,
        provider: provider.as_str(),
        voice: hosted.voice,
        anomalies: hosted.anomalies,
    })
}

/// A hosted provider's audio, joined from its parts, with the words its alignment gave.
#[derive(Debug, Clone, PartialEq)]
struct Hosted {
    samples: Vec<f32>,
    sample_rate: u32,
    words: Vec<Word>,
    voice: String,
    anomalies: Vec<String>,
}

async fn hosted(
    provider: Provider,
    req: &VoiceRequest,
    script: &Script,
    providers: &Providers,
    voice: Option<&str>,
    lang: Option<&str>,
) -> ChainResult<Hosted> {
    let say = |text: String| async move {
        match provider {
            Provider::Heygen => {
                let client = providers.heygen.as_ref().ok_or_else(|| super::not_configured(provider))?;
                let request = SpeechRequest {
                    text,
                    voice_id: voice.map(String::from),
                    speed: req.speed,
                    language: lang.map(String::from),
                };
                join_speech(provider, client.speech(request).await?)
            }
            Provider::Elevenlabs => {
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
    for seg in hosted_segments(script, max_break_tag(provider.as_str())) {
        pieces.push(match seg {
            Segment::Say(text) => Piece::Voiced(say(text).await?),
            Segment::Silence(d) => Piece::Silence(d),
        });
    }
    let mut r = join_pieces(pieces)?;
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
    Voiced(Hosted),
    Silence(std::time::Duration),
}

/// Joins voiced parts and silences on one timeline at the first part's rate: each silence is
/// exactly its length in samples, and the words after it move by exactly that much.
fn join_pieces(pieces: Vec<Piece>) -> ChainResult<Hosted> {
    let first = pieces.iter().find_map(|p| if let Piece::Voiced(r) = p { Some(r) } else { None });
    let Some(first) = first else {
        return Err(ChainError::new("EMPTY_TEXT", "No text to speak: the text has only pauses or punctuation."));
    };
    let (rate, voice) = (first.sample_rate, first.voice.clone());
    let mut out = Hosted { samples: Vec::new(), sample_rate: rate, words: Vec::new(), voice, anomalies: Vec::new() };
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
/// lays the words out on the decoded timeline, each part's words checked against its decoded
/// length ([`check_words`]: a word past the end says the audio looks truncated).
fn join_speech(provider: Provider, speech: Speech) -> ChainResult<Hosted> {
    let mut rate = 0u32;
    let mut chunks: Vec<Vec<f32>> = Vec::with_capacity(speech.parts.len());
    let mut words = Vec::new();
    let mut anomalies = Vec::new();
    let mut offset = 0usize;
    let many = speech.parts.len() > 1;
    for (n, part) in speech.parts.into_iter().enumerate() {
        let d = decode(provider, &part.audio, &part.mime, limits::speech_clip(&part.text))?;
        if rate == 0 {
            rate = d.sample_rate;
        }
        let mono = if d.sample_rate == rate { d.to_mono() } else { resample(&d.to_mono(), d.sample_rate, rate) };
        let start = offset as f64 / f64::from(rate);
        let (checked, notes) = check_words(part.words, Some(mono.len() as f64 / f64::from(rate)));
        let which = if many { format!(" (part {} of the text)", n + 1) } else { String::new() };
        anomalies.extend(part.anomalies.into_iter().chain(notes).map(|a| format!("{provider}: {a}{which}")));
        for w in &checked {
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
            provider.as_str(),
            crate::engines::error::EngineError::new("BAD_AUDIO", format!("{provider} returned no audio")),
        ));
    }
    let samples = wav::join_chunks(&chunks, wav::samples_for_ms(rate, 2.5));
    Ok(Hosted { samples, sample_rate: rate, words, voice: speech.voice_id, anomalies })
}

fn kokoro_lang(lang: &str) -> ChainResult<Lang> {
    match lang.to_ascii_lowercase().as_str() {
        "en" | "english" => Ok(Lang::EnUs),
        _ => Lang::parse(lang).map_err(|e| ChainError::engine("kokoro", e)),
    }
}

/// The local engine. Everything the request can get wrong (language, model name, voice blend) is
/// refused before the model is installed or loaded.
async fn kokoro(
    req: &VoiceRequest,
    voice: Option<&str>,
    lang: Option<&str>,
    delivery: &Delivery,
) -> ChainResult<VoiceResult> {
    let provider = "kokoro";
    let engine_error = move |e: EngineError| ChainError::engine(provider, e);
    let lang = lang.map(kokoro_lang).transpose()?;
    let spec = service::model_spec(req.kokoro_model.as_deref()).map_err(engine_error)?;
    if let Some(v) = voice {
        voices::parse_blend(v).map_err(engine_error)?;
    }
    let allow = req.allow_download && !req.routing.local_only;
    let progress = delivery.on_progress.clone();
    service::ensure_installed(spec, allow, &move |p| progress.as_ref().map_or((), |f| f(p)))
        .await
        .map_err(engine_error)?;
    let opts = TtsOptions {
        voice: voice.map(String::from),
        speed: req.speed,
        lang,
        lexicon: req.lexicon.clone(),
        stream: delivery.live,
    };
    let (text, delivery) = (req.text.clone(), delivery.clone());
    let s = crate::blocking(move || {
        let stopped = || EngineError::new("CANCELLED", "stopped: the program that asked for it has gone");
        if crate::work::closed() {
            return Err(engine_error(stopped()));
        }
        // Phonemize first, so bad text fails before the model loads (and, for a process that
        // speaks once, the G2P's memory is let go before the model's is taken).
        let prepared = crate::engines::kokoro::engine::prepare(&text, &opts).map_err(engine_error)?;
        if delivery.speaks_once && prepared.is_phonemized() {
            crate::engines::kokoro::g2p::release();
        }
        // Its JS environment closed meanwhile (a worker torn down): stop before the model
        // loads, and between chunks.
        if crate::work::closed() {
            return Err(engine_error(stopped()));
        }
        let engine = service::open(spec).map_err(engine_error)?;
        let mut failed = None;
        let mut on_chunk = |c: &ChunkAudio| {
            if crate::work::closed() {
                return Err(stopped());
            }
            let Some(f) = &delivery.on_chunk else { return Ok(()) };
            let chunk = VoiceChunk {
                index: c.index,
                count: c.count,
                sample_rate: KOKORO_RATE,
                samples: c.samples.clone(),
                words: c.words.clone(),
            };
            f(&chunk).inspect_err(|e| failed = Some(e.clone()))
        };
        let spoken = engine.speak(prepared, &opts, &mut on_chunk, !delivery.stream_only);
        match (spoken, failed) {
            (_, Some(e)) => Err(delivery_error(provider, e)),
            (r, None) => r.map_err(engine_error),
        }
    })
    .await?;
    Ok(VoiceResult {
        sample_count: s.sample_count,
        samples: s.samples,
        sample_rate: KOKORO_RATE,
        words: s.words,
        chunks: s.chunks,
        lang: Some(s.lang.code().to_string()),
        note: s.voice_note,
        model: Some(spec.name),
        provider,
        voice: s.voice,
        anomalies: Vec::new(),
    })
}

/// One voice a provider offers. `installed` is said for the local voices only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceRow {
    pub id: String,
    pub name: String,
    pub language: String,
    pub gender: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub installed: Option<bool>,
}

/// The voices one provider offers: `voices --json`, `tts --list --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceList {
    pub provider: &'static str,
    pub voices: Vec<VoiceRow>,
}

/// Whether a voice's `language` (a tag or a name) is the `wanted` one (`None`: every language).
fn lang_matches(language: &str, wanted: Option<&str>) -> bool {
    let Some(w) = wanted.map(str::trim).filter(|w| !w.is_empty()) else { return true };
    let (l, w) = (language.to_ascii_lowercase(), w.to_ascii_lowercase());
    l == w || l.starts_with(&format!("{w}-")) || w.starts_with(&format!("{l}-")) || l.contains(&w)
}

/// Kokoro's 54 voices (those speaking `lang`), marking the ones installed for the default model.
pub fn kokoro_voices(lang: Option<&str>) -> Vec<VoiceRow> {
    let installed: Vec<String> =
        service::model_spec(None).and_then(service::open_voices).map(|v| v.names()).unwrap_or_default();
    voices::catalog()
        .iter()
        .filter(|v| lang_matches(v.language, lang))
        .map(|v| VoiceRow {
            id: v.id.to_string(),
            name: v.display_name.to_string(),
            language: v.language.to_string(),
            gender: Some(v.gender.to_string()),
            installed: Some(installed.iter().any(|i| i.eq_ignore_ascii_case(v.id))),
        })
        .collect()
}

/// The voices of `provider` (`None` or `auto`: the provider the plan chooses for speech).
pub async fn list_voices(provider: Option<&str>, lang: Option<&str>, local_only: bool) -> ChainResult<VoiceList> {
    let wanted = provider.map(str::trim).filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("auto"));
    if wanted.is_some_and(|p| p.eq_ignore_ascii_case("kokoro")) {
        return Ok(VoiceList { provider: "kokoro", voices: kokoro_voices(lang) });
    }
    let (facts, providers) = super::gather(local_only).await;
    let plan = plan_for(Capability::Voice, &facts);
    let provider = match wanted {
        Some(p) => pin(&plan, p).map_err(|m| super::pin_error(&plan, p, m, facts.local_only))?,
        None => plan.chosen.unwrap_or(Provider::Kokoro),
    };
    let voices = match provider {
        Provider::Heygen => {
            let c = providers.heygen.as_ref().ok_or_else(|| super::not_configured(provider))?;
            let list = c.list_voices(lang).await?;
            list.into_iter()
                .map(|v| VoiceRow {
                    id: v.voice_id,
                    name: v.name,
                    language: v.language,
                    gender: v.gender,
                    installed: None,
                })
                .collect()
        }
        Provider::Elevenlabs => {
            let c = providers.elevenlabs.as_ref().ok_or_else(|| super::not_configured(provider))?;
            let list = c.list_voices().await?;
            list.iter()
                .map(|v| VoiceRow {
                    id: v.voice_id.clone(),
                    name: v.name.clone(),
                    language: v.label("language").unwrap_or_default().to_string(),
                    gender: v.label("gender").map(String::from),
                    installed: None,
                })
                .filter(|r| lang.is_none() || lang_matches(&r.language, lang))
                .collect()
        }
        _ => return Ok(VoiceList { provider: "kokoro", voices: kokoro_voices(lang) }),
    };
    Ok(VoiceList { provider: provider.as_str(), voices })
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
                {"word": "hello", "start": 0.1, "end": 0.3}, {"word": "there", "start": 0.32, "end": 0.5}
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
        assert_eq!(
            r.sample_rate,
            crate::audio::decode::decode_bytes(SINE_MP3, Some("mp3"), crate::audio::decode::limits::TRANSCRIPTION)
                .unwrap()
                .sample_rate
        );
        assert!(!r.samples.is_empty());
        assert_eq!(r.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), ["hello", "there"]);
        assert!(r.anomalies.is_empty());
    }

    /// Hostile word times and a clip cut short (0.5 s of audio, words to 3 s): the words that come
    /// out are finite, ordered, within the audio and free of control characters, captions of them
    /// have sane times, and the anomalies say what was dropped and that the audio looks truncated.
    #[tokio::test]
    async fn hostile_provider_word_times_are_checked_against_the_decoded_audio() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(
            200,
            json!({"data": {"audio_url": "{base}/audio/1.mp3", "duration": 1e308, "word_timestamps": [
                {"word": "hello", "start": 0.1, "end": 0.3},
                {"word": "huge", "start": 1e308, "end": 1e308},
                {"word": "neg", "start": -5.0, "end": 0.2},
                {"word": "nan", "start": "NaN", "end": 0.4},
                {"word": "back", "start": 0.45, "end": 0.35},
                {"word": "\u{0}there\u{1b}[31m", "start": 0.4, "end": 0.5},
                {"word": "late", "start": 1.0, "end": 3.0}
            ]}}),
        ));
        hg.push(Scripted::bytes(200, "audio/mpeg", SINE_MP3.to_vec()));
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let r = voice_with(&VoiceRequest::new("hello there"), &all_keys(), &providers).await.unwrap();
        let audio_end = r.samples.len() as f64 / f64::from(r.sample_rate);
        let got: Vec<&str> = r.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(got, ["hello", "back", "late"], "{:?}", r.words);
        for w in &r.words {
            assert!(w.start.is_finite() && 0.0 <= w.start && w.start <= w.end && w.end <= audio_end + 0.01, "{w:?}");
        }
        assert_eq!(
            r.anomalies,
            [
                "heygen: the audio's duration (1e308) is not a plausible length; ignored",
                "heygen: control characters removed from the text of 1 word",
                "heygen: 3 words dropped: a time is not a number from 0 to 3600 seconds",
                "heygen: 1 word ending before it starts: the end set to the start",
                "heygen: 1 word out of order dropped: starting before the word before it",
                &format!(
                    "heygen: the audio looks truncated: 1 word runs past its end at {audio_end:.3} s (clamped to it)"
                ),
            ]
        );
        let words = serde_json::to_string(&r.caption_words()).unwrap();
        assert!(!words.contains("null"), "{words}");
        let srt =
            crate::audio::captions::build(&r.caption_words(), crate::audio::captions::Format::Srt, &Default::default());
        assert!(srt.lines().filter(|l| l.contains("-->")).all(|l| l.starts_with("00:00:0")), "{srt}");
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

    #[test]
    fn nothing_available_without_a_runtime_is_the_runtimes_own_error() {
        let e = {
            let _lock = crate::test_support::env_lock();
            let dir = tempfile::tempdir().unwrap();
            let missing = dir.path().join("libonnxruntime.so");
            let _env = crate::test_support::EnvGuard::set(&[("ORT_DYLIB_PATH", missing.to_str())]);
            route(&plan_for(Capability::Voice, &Facts::default()), &Routing::default(), &Facts::default()).unwrap_err()
        };
        assert!(e.code.starts_with("ORT_"), "{e:?}");
        assert_eq!(e.provider, Some("kokoro"));
        assert!(e.message.contains("libonnxruntime.so"), "{}", e.message);
        assert!(e.hint.is_some());
        assert_eq!(
            e.anomalies,
            ["heygen: not signed in to HeyGen", "elevenlabs: no ELEVENLABS_API_KEY"],
            "{:?}",
            e.anomalies
        );
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
        let Some(RealKokoro { _lock, _env, rt, facts }) =
            real_kokoro("kokoro_serves_when_nothing_hosted_is_configured")
        else {
            return;
        };
        let mut req = VoiceRequest::new("Hello there.");
        req.routing.local_only = true;
        let r = rt.block_on(voice_with(&req, &facts, &Providers::default())).unwrap();
        assert_eq!((r.provider, r.sample_rate), ("kokoro", KOKORO_RATE));
        assert!(r.words.len() >= 2);
    }

    /// What a test of the real Kokoro needs: a runtime, the environment held with the models dir
    /// set to the installed real models, and the facts that say they are there. Bind every field
    /// (`_lock` and `_env` first, so they drop last): a field left to `..` is dropped at once,
    /// letting the environment go.
    struct RealKokoro {
        rt: tokio::runtime::Runtime,
        facts: Facts,
        // Restored before the lock is let go (fields drop in order).
        _env: crate::test_support::EnvGuard,
        _lock: std::sync::MutexGuard<'static, ()>,
    }

    /// The real Kokoro (`HYPERFRAMES_TEST_MODELS_DIR`), or `None` with a visible skip.
    fn real_kokoro(test: &str) -> Option<RealKokoro> {
        let Some(dir) = std::env::var("HYPERFRAMES_TEST_MODELS_DIR").ok().filter(|d| std::path::Path::new(d).is_dir())
        else {
            eprintln!("SKIPPED {test}: set HYPERFRAMES_TEST_MODELS_DIR to a models dir with Kokoro installed");
            return None;
        };
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let lock = crate::test_support::env_lock();
        let env = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_MODELS_DIR", Some(dir.as_str()))]);
        let facts = Facts::gather(true);
        if !facts.kokoro_installed || !facts.onnx_runtime {
            eprintln!("SKIPPED {test}: no Kokoro model or no ONNX Runtime in HYPERFRAMES_TEST_MODELS_DIR");
            return None;
        }
        Some(RealKokoro { rt, facts, _env: env, _lock: lock })
    }

    /// Kokoro reached directly and by fall-through from a failed hosted provider reports the same
    /// chunks, note, language, model and words; only the anomalies say how it got there.
    #[test]
    fn kokoro_direct_and_by_fall_through_report_the_same() {
        // The client takes the environment lock to read its URL: made before the lock is held, on a
        // server with its own threads.
        let servers = tokio::runtime::Runtime::new().unwrap();
        let hg = servers.block_on(TestServer::start());
        hg.push(Scripted::json(402, json!({"error": {"code": "plan_upgrade_required"}})));
        let hosted = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let Some(RealKokoro { _lock, _env, rt, facts: local }) =
            real_kokoro("kokoro_direct_and_by_fall_through_report_the_same")
        else {
            return;
        };
        let mut req = VoiceRequest::new("Hello there. <break time=\"200ms\"/> General Kenobi.");
        req.allow_download = false;
        req.routing.provider = Some("kokoro".into());
        let direct = rt.block_on(voice_with(&req, &local, &Providers::default())).unwrap();
        req.routing.provider = None;
        let facts = Facts { heygen: true, elevenlabs_key: false, local_only: false, ..local };
        let fell = rt.block_on(voice_with(&req, &facts, &hosted)).unwrap();
        assert_eq!(hg.requests().len(), 1, "HeyGen was asked first");
        assert_eq!(fell.provider, "kokoro");
        assert!(fell.anomalies[0].starts_with("heygen: HTTP 402"), "{:?}", fell.anomalies);
        assert!(direct.anomalies.is_empty(), "{:?}", direct.anomalies);
        assert!(direct.chunks >= 2, "the pause is a chunk of its own: {}", direct.chunks);
        let (d, f) = (direct.summary(), fell.summary());
        assert_eq!((d.chunks, &d.note, &d.lang, d.model), (f.chunks, &f.note, &f.lang, f.model));
        assert_eq!((d.lang.as_deref(), d.model), (Some("en-us"), Some("kokoro")));
        assert_eq!(d.words, f.words);
        assert_eq!(direct.samples, fell.samples);
        assert_eq!(direct.sample_count, direct.samples.len());
        assert_eq!(serde_json::to_value(&d).unwrap()["anomalies"], json!([]));
    }

    /// Streaming through the chain: Kokoro's chunks arrive in order as they are made and add up
    /// to the result exactly; with `stream_only` nothing is gathered.
    #[test]
    fn kokoro_chunks_arrive_in_order_and_add_up() {
        let Some(RealKokoro { _lock, _env, rt, facts }) = real_kokoro("kokoro_chunks_arrive_in_order_and_add_up")
        else {
            return;
        };
        let mut req = VoiceRequest::new("One sentence here. <break time=\"300ms\"/> And another one after it.");
        req.routing.local_only = true;
        let whole = rt.block_on(voice_with(&req, &facts, &Providers::default())).unwrap();
        let got = Arc::new(std::sync::Mutex::new(Vec::<VoiceChunk>::new()));
        let sink = got.clone();
        let delivery = Delivery {
            on_chunk: Some(Arc::new(move |c: &VoiceChunk| {
                sink.lock().unwrap().push(c.clone());
                Ok(())
            })),
            stream_only: true,
            ..Delivery::default()
        };
        let streamed = rt.block_on(voice_delivered(&req, &facts, &Providers::default(), &delivery)).unwrap();
        let chunks = got.lock().unwrap().clone();
        assert!(streamed.samples.is_empty(), "stream_only gathers nothing");
        assert_eq!(streamed.sample_count, whole.samples.len());
        let spoken = chunks.iter().filter(|c| c.samples.iter().any(|v| *v != 0.0)).count();
        assert_eq!((spoken, chunks.len()), (whole.chunks, whole.chunks + 1), "the pause is a chunk of its own");
        assert!(chunks.iter().enumerate().all(|(i, c)| c.index == i && c.count == chunks.len()));
        assert!(chunks.iter().all(|c| c.sample_rate == KOKORO_RATE));
        assert_eq!(chunks.iter().flat_map(|c| c.samples.clone()).collect::<Vec<_>>(), whole.samples);
        assert_eq!(chunks.iter().flat_map(|c| c.words.clone()).collect::<Vec<_>>(), whole.words);
        assert_eq!(streamed.summary(), whole.summary());
    }

    /// Kokoro into files: the WAV written chunk by chunk is byte for byte the WAV of the whole
    /// audio, the words and captions match, and nothing is gathered.
    #[test]
    fn kokoro_writes_its_wav_as_it_speaks() {
        let Some(RealKokoro { _lock, _env, rt, facts }) = real_kokoro("kokoro_writes_its_wav_as_it_speaks") else {
            return;
        };
        let mut req = VoiceRequest::new("One sentence here. <break time=\"300ms\"/> And another one after it.");
        req.routing.local_only = true;
        let whole = rt.block_on(voice_with(&req, &facts, &Providers::default())).unwrap();
        let out = tempfile::tempdir().unwrap();
        let outputs = |name: &str| service::Outputs {
            audio: Some(out.path().join(format!("{name}.wav"))),
            format: None,
            words: Some(out.path().join(format!("{name}.words.json"))),
            captions: vec![out.path().join(format!("{name}.srt"))],
        };
        let chunks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let seen = chunks.clone();
        let delivery = Delivery {
            on_chunk: Some(Arc::new(move |_: &VoiceChunk| {
                seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            })),
            ..Delivery::default()
        };
        let r =
            rt.block_on(voice_to_files(&req, &facts, &Providers::default(), &delivery, outputs("a"), false)).unwrap();
        assert!(r.samples.is_empty(), "nothing gathered");
        assert_eq!(r.sample_count, whole.samples.len());
        assert_eq!(r.summary(), whole.summary());
        assert_eq!(
            chunks.load(std::sync::atomic::Ordering::Relaxed),
            whole.chunks + 1,
            "the caller still hears every chunk"
        );
        let read = |f: &str| std::fs::read(out.path().join(f)).unwrap();
        assert_eq!(read("a.wav"), wav::wav_bytes(&whole.samples, KOKORO_RATE, wav::SampleFormat::Int16));
        let kept = rt
            .block_on(voice_to_files(&req, &facts, &Providers::default(), &Delivery::default(), outputs("b"), true))
            .unwrap();
        assert_eq!(kept.samples, whole.samples);
        for ext in ["wav", "words.json", "srt"] {
            assert_eq!(read(&format!("a.{ext}")), read(&format!("b.{ext}")), "{ext}");
        }
        let words: serde_json::Value = serde_json::from_slice(&read("a.words.json")).unwrap();
        assert_eq!(words, service::words_json(&whole.words));
    }

    /// A run that fails after its audio began (here the caller's callback stops it at the first
    /// chunk) leaves an earlier file as it was, writes no words or captions and leaves no temporary
    /// file; the error is the callback's.
    #[tokio::test]
    async fn a_failed_run_leaves_earlier_files_untouched() {
        let hg = TestServer::start().await;
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let out = tempfile::tempdir().unwrap();
        let (audio, captions) = (out.path().join("speech.wav"), out.path().join("speech.vtt"));
        std::fs::write(&audio, b"earlier take").unwrap();
        let outputs = service::Outputs {
            audio: Some(audio.clone()),
            format: None,
            words: None,
            captions: vec![captions.clone()],
        };
        let stop = Delivery {
            on_chunk: Some(Arc::new(|_: &VoiceChunk| Err(EngineError::new("STOPPED", "stopped by the caller")))),
            ..Delivery::default()
        };
        speech_reply(&hg);
        let mut req = VoiceRequest::new("hello there");
        req.lang = Some("en".into());
        let e = voice_to_files(&req, &all_keys(), &providers, &stop, outputs.clone(), false).await.unwrap_err();
        assert_eq!((e.code, e.provider), ("STOPPED", Some("heygen")));
        assert_eq!(std::fs::read(&audio).unwrap(), b"earlier take");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1, "no captions, no temporary file");

        // The same request delivered: the hosted provider's audio is the file, at its own rate.
        speech_reply(&hg);
        let r = voice_to_files(&req, &all_keys(), &providers, &Delivery::default(), outputs, false).await.unwrap();
        assert!(r.samples.is_empty() && r.sample_count > 0);
        let (samples, rate, channels) = wav::read_wav(&audio).unwrap();
        assert_eq!((samples.len(), rate, channels), (r.sample_count, r.sample_rate, 1));
        assert!(std::fs::read_to_string(&captions).unwrap().contains("hello there"));
    }

    /// A hosted provider's audio is delivered as one chunk, at its own rate, once it has arrived.
    #[tokio::test]
    async fn a_hosted_voice_arrives_as_one_chunk() {
        let hg = TestServer::start().await;
        speech_reply(&hg);
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let got = Arc::new(std::sync::Mutex::new(Vec::<VoiceChunk>::new()));
        let sink = got.clone();
        let delivery = Delivery {
            on_chunk: Some(Arc::new(move |c: &VoiceChunk| {
                sink.lock().unwrap().push(c.clone());
                Ok(())
            })),
            ..Delivery::default()
        };
        let mut req = VoiceRequest::new("hello there");
        req.lang = Some("en".into());
        let r = voice_delivered(&req, &all_keys(), &providers, &delivery).await.unwrap();
        let chunks = got.lock().unwrap().clone();
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].index, chunks[0].count, chunks[0].sample_rate), (0, 1, r.sample_rate));
        assert_eq!(chunks[0].samples, r.samples);
        assert_eq!(chunks[0].words, r.words);
        let s = r.summary();
        assert_eq!((s.provider, s.chunks, s.model, s.lang.as_deref(), &s.note), ("heygen", 1, None, Some("en"), &None));
        assert!(!s.words_approximate);
        let v = serde_json::to_value(&s).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "anomalies",
                "chunks",
                "durationSeconds",
                "lang",
                "model",
                "note",
                "provider",
                "sampleRate",
                "voice",
                "words",
                "wordsApproximate"
            ]
        );
        assert_eq!(v["words"][0], json!({"id": "w0", "text": "hello", "start": 0.1, "end": 0.3}));

        // The reader going away ends the call with its own error; no other provider is tried.
        speech_reply(&hg);
        let el = TestServer::start().await;
        let providers = Providers { elevenlabs: Some(testing::elevenlabs(&el)), ..providers };
        let closed = Delivery {
            on_chunk: Some(Arc::new(|_: &VoiceChunk| {
                Err(crate::engines::error::EngineError::new(crate::fsio::STDOUT_CLOSED, "the reader went away"))
            })),
            ..Delivery::default()
        };
        let e = voice_delivered(&req, &all_keys(), &providers, &closed).await.unwrap_err();
        assert_eq!((e.code, e.provider), (crate::fsio::STDOUT_CLOSED, Some("heygen")));
        assert!(el.requests().is_empty());
    }

    /// Offline with no model: rather than "no provider", Kokoro's own error with its install
    /// command, and why each hosted provider could not serve.
    #[test]
    fn nothing_available_offline_is_kokoros_own_model_missing() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _lock = crate::test_support::env_lock();
        let empty = tempfile::tempdir().unwrap();
        let _env = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_MODELS_DIR", empty.path().to_str())]);
        let facts = Facts { onnx_runtime: true, kokoro_installed: false, local_only: true, ..Facts::default() };
        let mut req = VoiceRequest::new("hello");
        req.routing.local_only = true;
        for pinned in [None, Some("kokoro")] {
            req.routing.provider = pinned.map(String::from);
            let e = rt.block_on(voice_with(&req, &facts, &Providers::default())).unwrap_err();
            assert_eq!((e.code, e.provider), ("MODEL_MISSING", Some("kokoro")), "{pinned:?}: {e:?}");
            assert!(e.hint.as_deref().unwrap().contains("hyperframes models install kokoro"), "{:?}", e.hint);
            assert_eq!(e.anomalies.len(), if pinned.is_none() { 2 } else { 0 }, "{:?}", e.anomalies);
        }
        // A pinned hosted provider that cannot serve is still that provider's answer.
        req.routing.provider = Some("heygen".into());
        let e = rt.block_on(voice_with(&req, &facts, &Providers::default())).unwrap_err();
        assert_eq!(e.code, "PROVIDER_UNAVAILABLE");
    }

    #[test]
    fn the_kokoro_listing_is_one_row_per_voice_with_its_name() {
        let _lock = crate::test_support::env_lock();
        let empty = tempfile::tempdir().unwrap();
        let _env = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_MODELS_DIR", empty.path().to_str())]);
        let rows = kokoro_voices(None);
        assert_eq!(rows.len(), 54);
        let heart = serde_json::to_value(rows.iter().find(|r| r.id == "af_heart").unwrap()).unwrap();
        assert_eq!(
            heart,
            json!({"id": "af_heart", "name": "Heart", "language": "en-us", "gender": "female", "installed": false})
        );
        let ja = kokoro_voices(Some("ja"));
        assert!(!ja.is_empty() && ja.iter().all(|r| r.language == "ja"), "{ja:?}");
    }
}
