//! `tts()` and `ttsStream()`: the voice chain ([`crate::chains::voice`]: HeyGen → ElevenLabs →
//! Kokoro) like `hyperframes tts`, with the same result fields whichever provider serves.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use crate::audio::wav::{self, SampleFormat};
use crate::chains::voice::{
    voice_delivered, voice_to_files, Delivery, SummaryWord, VoiceChunk, VoiceRequest, VoiceSummary,
};
use crate::chains::{ChainError, Routing};
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::kokoro::engine;
use crate::engines::kokoro::service;
use crate::engines::kokoro::timing::TimedWord;

#[napi(object)]
#[derive(Default, Clone)]
pub struct TtsOptions {
    /// A voice id or a Kokoro blend (`af_sky.4+af_nicole.6`); default: the serving provider's own
    /// (for Kokoro af_heart, or an installed stand-in).
    pub voice: Option<String>,
    /// 0 < speed ≤ 3 (default 1).
    pub speed: Option<f64>,
    /// en-us, en-gb, es, fr-fr, hi, it, pt-br, ja, zh (default: the chosen voice's language).
    pub lang: Option<String>,
    /// `kokoro` (int8, default) or `kokoro-fp32`.
    pub model: Option<String>,
    /// Also write the WAV here.
    pub output: Option<String>,
    /// `i16` (default) or `f32` samples in the WAV.
    pub format: Option<String>,
    /// Also write captions here (.srt, .vtt, .ass, or .json for Remotion).
    pub captions: Option<String>,
    /// Download the model on first use (default true; false or HYPERFRAMES_OFFLINE=1 never downloads).
    pub download: Option<bool>,
    /// `auto` (default: the plan's choice, falling through), `heygen`, `elevenlabs` or `kokoro`.
    pub provider: Option<String>,
    /// Never use a hosted provider (and never download).
    pub local_only: Option<bool>,
    /// Fail on the first provider failure instead of trying the next provider.
    pub no_fallback: Option<bool>,
    /// A lexicon file, JSON `{ "word": "phonemes" }` (default: the file HYPERFRAMES_LEXICON names).
    pub lexicon: Option<String>,
}

#[napi(object)]
pub struct Word {
    pub id: String,
    pub text: String,
    /// Seconds.
    pub start: f64,
    pub end: f64,
    /// Estimated rather than taken from the model.
    pub approximate: Option<bool>,
}

impl From<SummaryWord> for Word {
    fn from(w: SummaryWord) -> Self {
        Word { id: w.id, text: w.text, start: w.start, end: w.end, approximate: w.approximate }
    }
}

fn js_words(words: &[TimedWord]) -> Vec<Word> {
    words.iter().map(|w| SummaryWord::from(w).into()).collect()
}

/// What `tts()` resolves to: the voice chain's report (the same fields as `tts --json`) and the WAV.
#[napi(object)]
pub struct TtsResult {
    /// A complete WAV file, at `sampleRate` (24 kHz mono from Kokoro; a hosted provider's own rate).
    pub audio: Buffer,
    pub sample_rate: u32,
    pub duration_seconds: f64,
    pub words: Vec<Word>,
    /// True when any word's timing was estimated rather than measured.
    pub words_approximate: bool,
    pub voice: String,
    /// The language spoken: always for Kokoro, for a hosted provider when `lang` was given.
    pub lang: Option<String>,
    /// How many chunks of speech were made (a hosted provider's audio is one; pauses not counted).
    pub chunks: u32,
    /// `heygen`, `elevenlabs` or `kokoro`.
    pub provider: String,
    /// The local model that spoke (`kokoro`, `kokoro-fp32`); absent for a hosted provider.
    pub model: Option<String>,
    pub output_path: Option<String>,
    /// Set when the requested voice could not speak and another one did.
    pub note: Option<String>,
    /// Providers skipped before the one that served, and why.
    pub anomalies: Vec<String>,
}

impl TtsResult {
    fn new(r: VoiceSummary, audio: Vec<u8>, output_path: Option<String>) -> Self {
        TtsResult {
            audio: audio.into(),
            sample_rate: r.sample_rate,
            duration_seconds: r.duration_seconds,
            words: r.words.into_iter().map(Word::from).collect(),
            words_approximate: r.words_approximate,
            voice: r.voice,
            lang: r.lang,
            chunks: r.chunks,
            provider: r.provider.to_string(),
            model: r.model.map(String::from),
            output_path,
            note: r.note,
            anomalies: r.anomalies,
        }
    }
}

/// The checked call: the chain's request, the WAV's sample format and the files to write.
struct Prepared {
    request: VoiceRequest,
    format: SampleFormat,
    outputs: service::Outputs,
}

/// Everything the caller can get wrong before any provider is asked (the chain checks the rest:
/// markup, and Kokoro's language, model and voice before its model is touched).
fn prepare(text: String, o: &TtsOptions) -> EngineResult<Prepared> {
    let speed = o.speed.unwrap_or(1.0) as f32;
    engine::check_speed(speed)?;
    if text.trim().is_empty() {
        return Err(EngineError::new("EMPTY_TEXT", "No text to speak.").with_hint("Pass some text to speak."));
    }
    let format = sample_format(o.format.as_deref())?;
    let outputs = service::Outputs {
        audio: o.output.clone().map(Into::into),
        format: Some(format),
        words: None,
        captions: o.captions.clone().map(Into::into).into_iter().collect(),
    };
    let mut named: Vec<(&str, &std::path::Path)> = outputs.audio.iter().map(|p| ("output", p.as_path())).collect();
    named.extend(outputs.captions.iter().map(|p| ("captions", p.as_path())));
    crate::fsio::check_distinct(&named)?;
    service::check_outputs(&outputs)?;
    let request = VoiceRequest {
        text,
        voice: o.voice.clone(),
        speed,
        lang: o.lang.clone(),
        kokoro_model: o.model.clone(),
        allow_download: o.download.unwrap_or(true) && !o.local_only.unwrap_or(false),
        routing: Routing {
            provider: o.provider.clone(),
            local_only: o.local_only.unwrap_or(false),
            no_fallback: o.no_fallback.unwrap_or(false),
        },
        lexicon: lexicon(o.lexicon.as_deref())?,
    };
    Ok(Prepared { request, format, outputs })
}

fn lexicon(path: Option<&str>) -> EngineResult<Option<Arc<crate::engines::kokoro::lexicon::Lexicon>>> {
    Ok(crate::engines::kokoro::lexicon::Lexicon::resolve(path.map(std::path::Path::new))?.map(Arc::new))
}

fn sample_format(format: Option<&str>) -> EngineResult<SampleFormat> {
    match format {
        None | Some("i16") => Ok(SampleFormat::Int16),
        Some("f32") => Ok(SampleFormat::Float32),
        Some(other) => Err(EngineError::new("BAD_OUTPUT", format!("format must be 'i16' or 'f32', not '{other}'"))),
    }
}

/// Speaks `text` through the voice chain (see the module docs); word timings come from the
/// provider or, with Kokoro, from the model itself.
#[napi(ts_args_type = "text: string, options?: TtsOptions | undefined | null")]
pub fn tts(env: &Env, text: Arg<String>, options: Arg<Option<TtsOptions>>) -> Result<PromiseRaw<'_, TtsResult>> {
    super::errors::promise(env, async move {
        crate::init_logging();
        let text = text.get("tts", "text")?;
        let o = options.get("tts", "options")?.unwrap_or_default();
        let p = prepare(text, &o)?;
        let (facts, providers) = crate::chains::gather(p.request.routing.local_only).await;
        let r = voice_to_files(&p.request, &facts, &providers, &Delivery::default(), p.outputs, true).await?;
        let format = p.format;
        let (r, audio) = crate::blocking(move || -> EngineResult<_> {
            let audio = wav::try_wav_bytes(&r.samples, r.sample_rate, format)?;
            Ok((r, audio))
        })
        .await?;
        Ok(TtsResult::new(r.summary(), audio, o.output))
    })
}

#[napi(object)]
pub struct TtsStreamChunk {
    pub index: u32,
    pub count: u32,
    pub sample_rate: u32,
    /// Mono float samples of this chunk.
    pub samples: Float32Array,
    pub words: Vec<Word>,
}

/// (index, count, sample rate, samples, words)
type ChunkMsg = std::result::Result<(u32, u32, u32, Vec<f32>, Vec<Word>), ChainError>;

/// A running synthesis; use `ttsStream()` from the package, which wraps this in an async iterator.
#[napi]
pub struct TtsStream {
    rx: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<ChunkMsg>>>,
}

#[napi]
impl TtsStream {
    /// The next chunk, or null when the synthesis is complete.
    #[napi(ts_return_type = "Promise<TtsStreamChunk | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Option<TtsStreamChunk>>> {
        let rx = self.rx.clone();
        super::errors::promise(env, async move {
            let msg = rx.lock().await.recv().await;
            match msg {
                None => Ok(None),
                Some(Err(e)) => Err(e.into()),
                Some(Ok((index, count, sample_rate, samples, words))) => {
                    Ok(Some(TtsStreamChunk { index, count, sample_rate, samples: Float32Array::new(samples), words }))
                }
            }
        })
    }

    /// Stops the synthesis after the chunk in progress.
    #[napi]
    pub async fn cancel(&self) {
        self.rx.lock().await.close();
    }
}

const CANCELLED: &str = "CANCELLED";

/// Starts a synthesis through the voice chain whose chunks arrive as they are made (Kokoro's
/// first long before its last); a hosted provider's audio arrives whole, as one chunk at its own
/// rate.
#[napi(ts_args_type = "text: string, options?: TtsOptions | undefined | null")]
pub fn tts_stream_start(env: &Env, text: Arg<String>, options: Arg<Option<TtsOptions>>) -> Result<TtsStream> {
    super::errors::throwing(env, || {
        crate::init_logging();
        let text = text.get("ttsStream", "text")?;
        let o = options.get("ttsStream", "options")?.unwrap_or_default();
        let p = prepare(text, &o)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<ChunkMsg>(2);
        let scope = super::Closing::of(env).scope().clone();
        std::thread::spawn(move || {
            let run = || -> std::result::Result<(), ChainError> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| ChainError::new("IO_ERROR", format!("cannot start a runtime: {e}")))?;
                let sender = tx.clone();
                let handle = rt.handle().clone();
                let for_chunks = scope.clone();
                let delivery = Delivery {
                    on_chunk: Some(Arc::new(move |c: &VoiceChunk| {
                        let msg =
                            Ok((c.index as u32, c.count as u32, c.sample_rate, c.samples.clone(), js_words(&c.words)));
                        let cancelled = || EngineError::new(CANCELLED, "the stream was cancelled");
                        // Waits for room in the stream, unless its environment closes meanwhile
                        // (then nobody reads it any more).
                        handle.block_on(async {
                            tokio::select! {
                                sent = sender.send(msg) => sent.map_err(|_| cancelled()),
                                () = for_chunks.closed() => Err(cancelled()),
                            }
                        })
                    })),
                    stream_only: true,
                    live: true,
                    ..Delivery::default()
                };
                rt.block_on(scope.run(async {
                    let (facts, providers) = crate::chains::gather(p.request.routing.local_only).await;
                    voice_delivered(&p.request, &facts, &providers, &delivery).await.map(|_| ())
                }))
            };
            if let Err(e) = run() {
                if e.code != CANCELLED {
                    let _ = tx.blocking_send(Err(e));
                }
            }
        });
        Ok(TtsStream { rx: Arc::new(tokio::sync::Mutex::new(rx)) })
    })
}

wanted!("an options object", ValueType::Object => TtsOptions);
