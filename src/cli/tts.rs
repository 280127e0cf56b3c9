//! `hyperframes tts`: speech with word timings and captions. `--provider auto` (the default) goes
//! through the voice chain (HeyGen → ElevenLabs → Kokoro); when the plan picks the local Kokoro
//! engine (or `--provider kokoro`), the local path below runs as it always has, streaming included.
//! Hosted providers deliver their audio whole; with `--stream` it is written to stdout as the same
//! 24 kHz PCM as soon as it has arrived.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde_json::json;

use super::fail;
use super::progress::{Printer, Style};
use super::routing::print_anomalies;
use crate::audio::wav::{self, SampleFormat};
use crate::chains::voice::{voice_with, VoiceRequest};
use crate::chains::{Providers, Routing};
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::kokoro::engine::{ChunkAudio, TtsOptions, SAMPLE_RATE};
use crate::engines::kokoro::g2p::Lang;
use crate::engines::kokoro::lexicon::Lexicon;
use crate::engines::kokoro::{markup, service, voices};
use crate::output::Output;
use crate::providers::plan::{plan_for, Capability, Facts};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum WavFormat {
    /// 16-bit PCM.
    I16,
    /// 32-bit float.
    F32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum TtsProvider {
    /// The plan's choice, falling through to the next provider on provider failures.
    #[default]
    Auto,
    Heygen,
    Elevenlabs,
    Kokoro,
}

impl TtsProvider {
    fn name(self) -> Option<&'static str> {
        match self {
            Self::Auto => None,
            Self::Heygen => Some("heygen"),
            Self::Elevenlabs => Some("elevenlabs"),
            Self::Kokoro => Some("kokoro"),
        }
    }
}

#[derive(Args, Debug)]
pub(crate) struct TtsArgs {
    /// Text to speak, or a .txt file; `-` reads stdin.
    input: Option<String>,
    /// Read the text from this file.
    #[arg(long, value_name = "PATH")]
    text_file: Option<PathBuf>,
    /// Output WAV file.
    #[arg(short, long, visible_alias = "out", default_value = "speech.wav")]
    output: PathBuf,
    /// Voice id, or a blend such as `af_sky.4+af_nicole.6` (default af_heart).
    #[arg(short, long)]
    voice: Option<String>,
    /// 0 < speed ≤ 3.
    #[arg(short, long, default_value = "1", allow_negative_numbers = true)]
    speed: String,
    /// en-us, en-gb, es, fr-fr, hi, it, pt-br, ja, zh (default: the voice's language).
    #[arg(short, long)]
    lang: Option<String>,
    /// Voice model: kokoro (int8, default) or kokoro-fp32.
    #[arg(long)]
    model: Option<String>,
    /// WAV sample format.
    #[arg(long, value_enum, default_value = "i16")]
    format: WavFormat,
    /// Also write the word timings as JSON.
    #[arg(long, value_name = "PATH")]
    words: Option<PathBuf>,
    /// Also write captions (.srt, .vtt, .ass, or .json for Remotion).
    #[arg(long, value_name = "PATH")]
    captions: Option<PathBuf>,
    /// Captions format: srt, vtt, ass or remotion (without --captions: written next to the audio).
    #[arg(long, value_name = "FORMAT")]
    to: Option<String>,
    /// Write raw 16-bit little-endian PCM (24 kHz mono) to stdout as each chunk is ready.
    #[arg(long)]
    stream: bool,
    /// List the voices and which are installed.
    #[arg(long)]
    list: bool,
    /// Fail instead of downloading a missing model.
    #[arg(long)]
    no_download: bool,
    /// Who speaks: auto (HeyGen when signed in, then ElevenLabs, then the local Kokoro), or one.
    #[arg(long, value_enum, default_value = "auto")]
    provider: TtsProvider,
    /// Never use a hosted provider (nothing touches the network).
    #[arg(long)]
    local_only: bool,
    /// Fail on the first provider failure instead of trying the next provider.
    #[arg(long)]
    no_fallback: bool,
    /// A lexicon file, JSON `{"word": "phonemes"}` (default: the file HYPERFRAMES_LEXICON names).
    #[arg(long, value_name = "FILE")]
    lexicon: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

fn list_voices(json: bool, out: &Output) -> i32 {
    let installed: Vec<String> =
        service::model_spec(None).and_then(service::open_voices).map(|v| v.names()).unwrap_or_default();
    let rows: Vec<_> =
        voices::catalog().iter().map(|v| (v, installed.iter().any(|i| i.eq_ignore_ascii_case(v.id)))).collect();
    if json {
        out.json(&json!(rows
            .iter()
            .map(|(v, inst)| json!({
                "id": v.id, "label": v.display_name, "language": v.language, "gender": v.gender, "installed": inst,
            }))
            .collect::<Vec<_>>()));
        return 0;
    }
    out.out(&format!("{:<14} {:<12} {:<7} {:<7} installed", "ID", "Name", "Lang", "Gender"));
    for (v, inst) in &rows {
        let mark = if *inst { out.green("✓") } else { String::new() };
        out.out(&format!("{:<14} {:<12} {:<7} {:<7} {mark}", v.id, v.display_name, v.language, v.gender));
    }
    if installed.is_empty() {
        out.out(&out.dim("No voices installed: run `hyperframes models install kokoro`."));
    }
    0
}

fn read_text(args: &TtsArgs) -> EngineResult<String> {
    if let Some(p) = &args.text_file {
        return match std::fs::metadata(p) {
            Ok(m) if m.is_dir() => Err(EngineError::new(
                "BAD_INPUT",
                format!("--text-file {} is a directory, not a text file", p.display()),
            )
            .with_hint("Name a file, e.g. --text-file script.txt.")),
            Ok(_) => match std::fs::read_to_string(p) {
                Ok(text) if text.trim().is_empty() => {
                    Err(EngineError::new("EMPTY_TEXT", format!("File is empty: {}", p.display())))
                }
                Ok(text) => Ok(text),
                Err(e) => Err(EngineError::io(format!("cannot read the text file {}", p.display()), &e)),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(EngineError::new("BAD_INPUT", format!("Text file not found: {}", p.display())))
            }
            Err(e) => Err(EngineError::io(format!("cannot read the text file {}", p.display()), &e)),
        };
    }
    match args.input.as_deref() {
        None => Err(EngineError::new("EMPTY_TEXT", "Provide text to speak, or use --list to see the voices.")
            .with_hint("hyperframes tts \"Hello world\" -o hello.wav")),
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s)
                .map_err(|e| EngineError::io("cannot read stdin", &e))?;
            Ok(s)
        }
        Some(text) => service::read_input(text),
    }
}

/// A hosted result on stdout in the `--stream` format: 16-bit little-endian PCM, 24 kHz mono.
fn write_pcm(samples: &[f32], rate: u32) -> EngineResult<()> {
    let resampled;
    let samples = if rate == SAMPLE_RATE {
        samples
    } else {
        resampled = crate::audio::resample::resample(samples, rate, SAMPLE_RATE);
        &resampled
    };
    pcm_to_stdout(samples)
}

/// 16-bit little-endian PCM on stdout; a reader that went away is [`crate::fsio::STDOUT_CLOSED`].
fn pcm_to_stdout(samples: &[f32]) -> EngineResult<()> {
    let bytes: Vec<u8> = samples.iter().flat_map(|s| wav::to_i16(*s).to_le_bytes()).collect();
    crate::fsio::write_bytes(std::path::Path::new(crate::fsio::STDOUT), &bytes)
}

/// The files a run writes (no audio file when streaming), checked before any work.
fn outputs(args: &TtsArgs) -> EngineResult<service::Outputs> {
    let format = match args.format {
        WavFormat::I16 => SampleFormat::Int16,
        WavFormat::F32 => SampleFormat::Float32,
    };
    let outputs = service::Outputs {
        audio: (!args.stream).then(|| args.output.clone()),
        format: Some(format),
        words: args.words.clone(),
        captions: args.captions.clone(),
    };
    service::check_outputs(&outputs)?;
    Ok(outputs)
}

/// `--to` picks the captions format: it must agree with a `--captions` file's extension, and
/// without one names the captions file after the audio (`speech.ass`, `speech.captions.json`).
fn captions_path(args: &TtsArgs) -> EngineResult<Option<PathBuf>> {
    let Some(to) = args.to.as_deref() else { return Ok(args.captions.clone()) };
    let format = super::captions::target_format(Some(to), args.captions.as_deref())?;
    if let Some(p) = &args.captions {
        if crate::audio::captions::Format::parse(&p.to_string_lossy()).is_none() {
            return Err(EngineError::new(
                "BAD_OUTPUT",
                format!("Captions file {} must end in .{}.", p.display(), format.extension()),
            ));
        }
        return Ok(Some(p.clone()));
    }
    let ext = match format {
        crate::audio::captions::Format::Remotion => "captions.json",
        f => f.extension(),
    };
    Ok(Some(args.output.with_extension(ext)))
}

pub(super) async fn run(mut args: TtsArgs, stderr_tty: bool, out: &Output) -> i32 {
    match captions_path(&args) {
        Ok(p) => args.captions = p,
        Err(e) => return fail(out, args.json, &e),
    }
    // When stdout carries data (`--stream`, or `-` for the audio, words or captions), results go to stderr.
    let to_stdout = [Some(&args.output), args.words.as_ref(), args.captions.as_ref()]
        .into_iter()
        .flatten()
        .any(|p| crate::fsio::is_stdout(p));
    let out = &if args.stream || (to_stdout && !args.list) { out.results_on_stderr() } else { *out };
    if args.list && matches!(args.provider, TtsProvider::Auto | TtsProvider::Kokoro) {
        return list_voices(args.json, out);
    }
    match args.provider {
        TtsProvider::Kokoro => {}
        TtsProvider::Heygen | TtsProvider::Elevenlabs => {
            let (facts, providers) = crate::chains::gather(args.local_only).await;
            return run_chain(args, &facts, &providers, out).await;
        }
        TtsProvider::Auto if args.local_only => {}
        TtsProvider::Auto => {
            let (facts, providers) = crate::chains::gather(false).await;
            if matches!(
                plan_for(Capability::Voice, &facts).chosen,
                Some(crate::providers::Provider::Heygen | crate::providers::Provider::Elevenlabs)
            ) {
                return run_chain(args, &facts, &providers, out).await;
            }
        }
    }
    run_kokoro(args, stderr_tty, out).await
}

/// A hosted provider (or the chain falling through to Kokoro) speaks; the outputs are the same.
async fn run_chain(args: TtsArgs, facts: &Facts, providers: &Providers, out: &Output) -> i32 {
    if args.list {
        let sub = super::voices::VoicesArgs::for_provider(
            args.provider.name(),
            args.lang.clone(),
            args.local_only,
            args.json,
        );
        return super::voices::run(sub, out).await;
    }
    let prepared = (|| -> EngineResult<_> {
        let text = read_text(&args)?;
        if text.trim().is_empty() {
            return Err(EngineError::new("EMPTY_TEXT", "No text provided."));
        }
        let outputs = outputs(&args)?;
        let speed = crate::engines::kokoro::engine::parse_speed(&args.speed)?;
        let lexicon = Lexicon::resolve(args.lexicon.as_deref())?.map(Arc::new);
        Ok((text, speed, outputs, lexicon))
    })();
    let (text, speed, outputs, lexicon) = match prepared {
        Ok(p) => p,
        Err(e) => return fail(out, args.json, &e),
    };
    let req = VoiceRequest {
        text,
        voice: args.voice.clone(),
        speed,
        lang: args.lang.clone(),
        kokoro_model: args.model.clone(),
        allow_download: !args.no_download,
        routing: Routing {
            provider: args.provider.name().map(String::from),
            local_only: args.local_only,
            no_fallback: args.no_fallback,
        },
        lexicon,
    };
    let r = match voice_with(&req, facts, providers).await {
        Ok(r) => r,
        Err(e) => return fail(out, args.json, &e),
    };
    let written = {
        let outputs = outputs.clone();
        let r = r.clone();
        crate::blocking(move || {
            let words = service::caption_words_json(&r.words);
            service::write_audio_outputs(&r.samples, r.sample_rate, &r.words, &words, &outputs)
        })
        .await
    };
    if let Err(e) = written {
        return fail(out, args.json, &e);
    }
    let stream = args.stream;
    if stream {
        let (samples, rate) = (r.samples.clone(), r.sample_rate);
        if let Err(e) = crate::blocking(move || write_pcm(&samples, rate)).await {
            return fail(out, args.json, &e);
        }
    }
    if args.json {
        let report = json!({
            "ok": true,
            "provider": r.provider,
            "model": (r.provider == "kokoro").then(|| args.model.clone().unwrap_or_else(|| service::DEFAULT_MODEL.to_string())),
            "voice": r.voice,
            "speed": speed,
            "lang": args.lang,
            "langApplied": true,
            "durationSeconds": service::round_ms(r.duration_seconds()),
            "sampleRate": if stream { SAMPLE_RATE } else { r.sample_rate },
            "outputPath": (!stream).then(|| args.output.clone()),
            "wordsPath": args.words,
            "captionsPath": args.captions,
            "chunks": null,
            "wordsApproximate": false,
            "note": null,
            "words": service::caption_words_json(&r.words),
            "anomalies": r.anomalies,
        });
        // With --stream, stdout carries only the PCM; the report goes to stderr.
        if stream {
            out.err(&serde_json::to_string_pretty(&report).expect("JSON values always serialise"));
        } else {
            out.json(&report);
        }
    } else if stream {
        print_anomalies(out, &r.anomalies);
    } else {
        print_anomalies(out, &r.anomalies);
        out.out(&format!(
            "{} {} ({:.2}s, {} voice {}, {} words) ",
            out.green("✓"),
            args.output.display(),
            r.duration_seconds(),
            r.provider,
            r.voice,
            r.words.len(),
        ));
        for p in [&args.words, &args.captions].into_iter().flatten() {
            out.out(&format!("  + {}", p.display()));
        }
    }
    0
}

async fn run_kokoro(args: TtsArgs, stderr_tty: bool, out: &Output) -> i32 {
    let prepared = (|| -> EngineResult<_> {
        let text = read_text(&args)?;
        if text.trim().is_empty() {
            return Err(EngineError::new("EMPTY_TEXT", "No text provided.")
                .with_hint("hyperframes tts \"Hello world\" -o hello.wav"));
        }
        let speed = crate::engines::kokoro::engine::parse_speed(&args.speed)?;
        let lang = args.lang.as_deref().map(Lang::parse).transpose()?;
        if let Some(v) = &args.voice {
            voices::parse_blend(v)?;
        }
        let spec = service::model_spec(args.model.as_deref())?;
        let outputs = outputs(&args)?;
        // Bad markup or a bad lexicon fails here, before any download or model load.
        markup::parse(&text)?;
        let lexicon = Lexicon::resolve(args.lexicon.as_deref())?.map(Arc::new);
        Ok((text, speed, lang, spec, outputs, lexicon))
    })();
    let (text, speed, lang, spec, outputs, lexicon) = match prepared {
        Ok(p) => p,
        Err(e) => return fail(out, args.json, &e),
    };
    let printer = Printer::new(if args.json {
        Style::Json
    } else if stderr_tty {
        Style::Bar
    } else {
        Style::Lines
    });
    // Local-only never touches the network: a missing model is an error, not a download.
    let allow_download = !args.no_download && !args.local_only;
    if let Err(e) = service::ensure_installed(spec, allow_download, &|p| printer.event(p)).await {
        return fail(out, args.json, &e);
    }
    let opts = TtsOptions { voice: args.voice.clone(), speed, lang, lexicon };
    let stream = args.stream;
    let show_progress = stderr_tty && !args.json && !stream;
    let result = crate::blocking(move || {
        // Phonemize first and let the G2P go before the model loads: their memory never adds up.
        let prepared = crate::engines::kokoro::engine::prepare(&text, &opts)?;
        if prepared.is_phonemized() {
            crate::engines::kokoro::g2p::release();
        }
        let engine = service::open(spec)?;
        let mut on_chunk = |c: &ChunkAudio| -> EngineResult<()> {
            if stream {
                pcm_to_stdout(&c.samples)?;
            } else if show_progress && c.count > 1 {
                eprint!("\r  synthesising chunk {}/{}", c.index + 1, c.count);
                if c.index + 1 == c.count {
                    eprintln!();
                }
            }
            Ok(())
        };
        // Streamed audio is never gathered, so memory stays flat however long the text.
        let synthesis = engine.speak(prepared, &opts, &mut on_chunk, !stream)?;
        service::write_outputs(&synthesis, &outputs)?;
        Ok::<_, EngineError>(synthesis)
    })
    .await;
    let s = match result {
        Ok(s) => s,
        Err(e) => return fail(out, args.json, &e),
    };
    if args.json {
        let report = json!({
            "ok": true,
            "provider": "kokoro",
            "model": spec.name,
            "voice": s.voice,
            "speed": speed,
            "lang": s.lang.code(),
            "langApplied": true,
            "durationSeconds": service::round_ms(s.duration_seconds()),
            "sampleRate": SAMPLE_RATE,
            "outputPath": (!stream).then(|| args.output.clone()),
            "wordsPath": args.words,
            "captionsPath": args.captions,
            "chunks": s.chunks,
            "wordsApproximate": s.approximate,
            "note": s.voice_note,
            "words": service::words_json(&s.words),
        });
        // With --stream, stdout carries only the PCM; the report goes to stderr.
        let text = serde_json::to_string_pretty(&report).expect("JSON values always serialise");
        if stream {
            out.err(&text);
        } else {
            out.out(&text);
        }
    } else if !stream {
        if let Some(note) = &s.voice_note {
            out.err(&out.err_dim(note));
        }
        out.out(&format!(
            "{} {} ({:.2}s, voice {}, {} words{}) ",
            out.green("✓"),
            args.output.display(),
            s.duration_seconds(),
            s.voice,
            s.words.len(),
            if s.approximate { ", approximate timings" } else { "" }
        ));
        for p in [&args.words, &args.captions].into_iter().flatten() {
            out.out(&format!("  + {}", p.display()));
        }
    }
    0
}
