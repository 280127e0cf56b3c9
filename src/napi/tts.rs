//! The JS surface of the voice chain, the local voice and the model manager: the same functions the
//! CLI uses. `tts()` goes through the voice chain (HeyGen → ElevenLabs → Kokoro) like `hyperframes
//! tts`; when Kokoro serves, the local path runs directly (chunks, notes, streaming).

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::errors::engine_error;
use crate::audio::wav::{self, SampleFormat};
use crate::chains::limits::local_turn;
use crate::engines::catalog;
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::kokoro::engine::{self, ChunkAudio, TtsOptions as EngineOptions, SAMPLE_RATE};
use crate::engines::kokoro::g2p::Lang;
use crate::engines::kokoro::timing::TimedWord;
use crate::engines::kokoro::{service, voices};

#[napi(object)]
#[derive(Default, Clone)]
pub struct TtsOptions {
    /// A voice id or blend (`af_sky.4+af_nicole.6`); default af_heart, or an installed stand-in.
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

fn js_word(id: &str, text: &str, start: f64, end: f64, approximate: bool) -> Word {
    Word {
        id: id.to_string(),
        text: text.to_string(),
        start: service::round_ms(start),
        end: service::round_ms(end),
        approximate: approximate.then_some(true),
    }
}

fn js_words(words: &[TimedWord]) -> Vec<Word> {
    words.iter().map(|w| js_word(&w.id, &w.text, w.start, w.end, w.approximate)).collect()
}

#[napi(object)]
pub struct TtsResult {
    /// A complete WAV file (24 kHz mono).
    pub audio: Buffer,
    pub sample_rate: u32,
    pub duration_seconds: f64,
    pub words: Vec<Word>,
    pub voice: String,
    pub lang: String,
    pub chunks: u32,
    pub provider: String,
    pub output_path: Option<String>,
    /// Set when the default voice was not installed and another one spoke.
    pub note: Option<String>,
    /// Providers skipped before the one that served, and why.
    pub anomalies: Vec<String>,
}

struct Prepared {
    text: String,
    spec: &'static catalog::ModelSpec,
    opts: EngineOptions,
    format: SampleFormat,
    outputs: service::Outputs,
    download: bool,
}

fn prepare(text: String, o: Option<TtsOptions>) -> EngineResult<Prepared> {
    let o = o.unwrap_or_default();
    let speed = o.speed.unwrap_or(1.0) as f32;
    engine::check_speed(speed)?;
    if text.trim().is_empty() {
        return Err(EngineError::new("EMPTY_TEXT", "No text to speak.").with_hint("Pass some text to speak."));
    }
    crate::engines::kokoro::markup::parse(&text)?;
    let lang = o.lang.as_deref().map(Lang::parse).transpose()?;
    if let Some(v) = &o.voice {
        voices::parse_blend(v)?;
    }
    let format = sample_format(o.format.as_deref())?;
    let outputs = service::Outputs {
        audio: o.output.map(Into::into),
        format: Some(format),
        words: None,
        captions: o.captions.map(Into::into),
    };
    service::check_outputs(&outputs)?;
    Ok(Prepared {
        text,
        spec: service::model_spec(o.model.as_deref())?,
        opts: EngineOptions { voice: o.voice, speed, lang, lexicon: lexicon(o.lexicon.as_deref())? },
        format,
        outputs,
        download: o.download.unwrap_or(true) && !o.local_only.unwrap_or(false),
    })
}

/// Speaks `text` with the first voice provider that can (see the module docs); word timings come
/// from the provider or, with Kokoro, from the model itself.
#[napi(ts_args_type = "text: string, options?: TtsOptions | undefined | null")]
pub fn tts(env: &Env, text: Arg<String>, options: Arg<Option<TtsOptions>>) -> Result<PromiseRaw<'_, TtsResult>> {
    super::errors::promise(env, async move {
        crate::init_logging();
        let text = text.get("tts", "text")?;
        let o = options.get("tts", "options")?.unwrap_or_default();
        match hosted_route(&o).await {
            Some((facts, providers)) => tts_chain(text, o, &facts, &providers).await,
            None => tts_kokoro(text, o).await,
        }
    })
}

/// The environment's facts and clients when the voice chain should serve (a hosted provider is
/// pinned, or the plan picks one); `None` when the local Kokoro path should run directly.
async fn hosted_route(o: &TtsOptions) -> Option<(crate::providers::plan::Facts, crate::chains::Providers)> {
    let pinned = o.provider.as_deref().map(str::trim).filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("auto"));
    let local_only = o.local_only.unwrap_or(false);
    match pinned {
        Some(p) if p.eq_ignore_ascii_case("kokoro") => None,
        Some(_) => Some(crate::chains::gather(local_only).await),
        None if local_only => None,
        None => {
            let (facts, providers) = crate::chains::gather(false).await;
            let chosen = crate::providers::plan::plan_for(crate::providers::plan::Capability::Voice, &facts).chosen;
            matches!(chosen, Some(crate::providers::Provider::Heygen | crate::providers::Provider::Elevenlabs))
                .then_some((facts, providers))
        }
    }
}

/// A hosted provider speaks (falling through to the next, Kokoro last); same result shape.
async fn tts_chain(
    text: String,
    o: TtsOptions,
    facts: &crate::providers::plan::Facts,
    providers: &crate::chains::Providers,
) -> EngineResult<TtsResult> {
    let req = chain_request(text, &o).map_err(engine_error)?;
    let format = sample_format(o.format.as_deref()).map_err(engine_error)?;
    let outputs = service::Outputs {
        audio: o.output.clone().map(Into::into),
        format: Some(format),
        words: None,
        captions: o.captions.clone().map(Into::into),
    };
    service::check_outputs(&outputs).map_err(engine_error)?;
    let r = crate::chains::voice::voice_with(&req, facts, providers).await.map_err(super::errors::chain_error)?;
    let written = {
        let r = r.clone();
        crate::blocking(move || -> EngineResult<Vec<u8>> {
            let words = service::caption_words_json(&r.words);
            service::write_audio_outputs(&r.samples, r.sample_rate, &r.words, &words, &outputs)?;
            wav::try_wav_bytes(&r.samples, r.sample_rate, format)
        })
        .await
        .map_err(engine_error)?
    };
    Ok(TtsResult {
        duration_seconds: service::round_ms(r.duration_seconds()),
        audio: written.into(),
        sample_rate: r.sample_rate,
        words: chain_words(&r.words),
        voice: r.voice,
        lang: o.lang.unwrap_or_default(),
        chunks: 1,
        provider: r.provider.to_string(),
        output_path: o.output,
        note: None,
        anomalies: r.anomalies,
    })
}

/// What the voice chain is asked for `text` with these options.
fn chain_request(text: String, o: &TtsOptions) -> EngineResult<crate::chains::voice::VoiceRequest> {
    let speed = o.speed.unwrap_or(1.0) as f32;
    engine::check_speed(speed)?;
    Ok(crate::chains::voice::VoiceRequest {
        text,
        voice: o.voice.clone(),
        speed,
        lang: o.lang.clone(),
        kokoro_model: o.model.clone(),
        allow_download: o.download.unwrap_or(true) && !o.local_only.unwrap_or(false),
        routing: crate::chains::Routing {
            provider: o.provider.clone(),
            local_only: o.local_only.unwrap_or(false),
            no_fallback: o.no_fallback.unwrap_or(false),
        },
        lexicon: lexicon(o.lexicon.as_deref())?,
    })
}

fn lexicon(path: Option<&str>) -> EngineResult<Option<Arc<crate::engines::kokoro::lexicon::Lexicon>>> {
    Ok(crate::engines::kokoro::lexicon::Lexicon::resolve(path.map(std::path::Path::new))?.map(Arc::new))
}

fn chain_words(words: &[crate::audio::captions::Word]) -> Vec<Word> {
    words.iter().map(|w| js_word(&w.id, &w.text, w.start, w.end, false)).collect()
}

fn sample_format(format: Option<&str>) -> EngineResult<SampleFormat> {
    match format {
        None | Some("i16") => Ok(SampleFormat::Int16),
        Some("f32") => Ok(SampleFormat::Float32),
        Some(other) => Err(EngineError::new("BAD_OUTPUT", format!("format must be 'i16' or 'f32', not '{other}'"))),
    }
}

/// The local Kokoro engine speaks.
async fn tts_kokoro(text: String, options: TtsOptions) -> EngineResult<TtsResult> {
    let p = prepare(text, Some(options)).map_err(engine_error)?;
    service::ensure_installed(p.spec, p.download, &|_| {}).await.map_err(engine_error)?;
    // Concurrent calls take turns: each synthesis at once holds its own working memory.
    let _turn = local_turn(crate::providers::Provider::Kokoro).await;
    let out = crate::blocking(move || -> EngineResult<_> {
        let engine = service::open(p.spec)?;
        let s = engine.synthesize(&p.text, &p.opts, &mut |_| Ok(()))?;
        service::write_outputs(&s, &p.outputs)?;
        let bytes = wav::try_wav_bytes(&s.samples, SAMPLE_RATE, p.format)?;
        Ok((s, bytes, p.outputs.audio))
    })
    .await
    .map_err(engine_error)?;
    let (s, bytes, output) = out;
    Ok(TtsResult {
        duration_seconds: service::round_ms(s.duration_seconds()),
        audio: bytes.into(),
        sample_rate: SAMPLE_RATE,
        words: js_words(&s.words),
        voice: s.voice,
        lang: s.lang.code().to_string(),
        chunks: s.chunks as u32,
        provider: "kokoro".into(),
        output_path: output.map(|p| p.display().to_string()),
        note: s.voice_note,
        anomalies: Vec::new(),
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
type ChunkMsg = std::result::Result<(u32, u32, u32, Vec<f32>, Vec<Word>), EngineError>;

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
                Some(Err(e)) => Err(engine_error(e)),
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

/// Starts a synthesis whose chunks arrive as they are made (the first long before the last). A
/// hosted provider's audio arrives whole, as one chunk at its own rate.
#[napi(ts_args_type = "text: string, options?: TtsOptions | undefined | null")]
pub fn tts_stream_start(env: &Env, text: Arg<String>, options: Arg<Option<TtsOptions>>) -> Result<TtsStream> {
    super::errors::throwing(env, || {
        crate::init_logging();
        let text = text.get("ttsStream", "text")?;
        let o = options.get("ttsStream", "options")?.unwrap_or_default();
        let hosted = chain_request(text.clone(), &o).map_err(engine_error)?;
        let p = prepare(text, Some(o.clone())).map_err(engine_error)?;
        let (tx, rx) = tokio::sync::mpsc::channel::<ChunkMsg>(2);
        std::thread::spawn(move || {
            let run = || -> EngineResult<()> {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| EngineError::new("IO_ERROR", format!("cannot start a runtime: {e}")))?;
                if let Some((facts, providers)) = rt.block_on(hosted_route(&o)) {
                    let r = rt
                        .block_on(crate::chains::voice::voice_with(&hosted, &facts, &providers))
                        .map_err(crate::error::Error::from)?;
                    let msg = Ok((0, 1, r.sample_rate, r.samples, chain_words(&r.words)));
                    return tx
                        .blocking_send(msg)
                        .map_err(|_| EngineError::new("CANCELLED", "the stream was cancelled"));
                }
                rt.block_on(service::ensure_installed(p.spec, p.download, &|_| {}))?;
                // Synthesis takes turns with other calls, chunk by chunk: the turn is given up while a
                // chunk waits for the reader, so a stream nobody reads holds up no one.
                let mut turn = rt.block_on(local_turn(crate::providers::Provider::Kokoro));
                let engine = service::open(p.spec)?;
                let mut send = |c: &ChunkAudio| -> EngineResult<()> {
                    let msg = Ok((c.index as u32, c.count as u32, SAMPLE_RATE, c.samples.clone(), js_words(&c.words)));
                    drop(turn.take());
                    tx.blocking_send(msg).map_err(|_| EngineError::new("CANCELLED", "the stream was cancelled"))?;
                    turn = rt.block_on(local_turn(crate::providers::Provider::Kokoro));
                    Ok(())
                };
                engine.synthesize_streaming(&p.text, &p.opts, &mut send).map(|_| ())
            };
            if let Err(e) = run() {
                if e.code != "CANCELLED" {
                    let _ = tx.blocking_send(Err(e));
                }
            }
        });
        Ok(TtsStream { rx: Arc::new(tokio::sync::Mutex::new(rx)) })
    })
}

wanted!("an options object", ValueType::Object => TtsOptions);
