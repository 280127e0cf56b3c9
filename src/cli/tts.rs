//! `hyperframes tts`: speech with word timings and captions, through the voice chain
//! ([`crate::chains::voice`]: HeyGen → ElevenLabs → Kokoro, or the one `--provider` pins) like
//! every other caller. With `--stream`, Kokoro's chunks go to stdout as 24 kHz PCM as they are
//! made; a hosted provider's audio arrives whole and is written the same way once it has.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::fail;
use super::progress::{Printer, Style};
use super::routing::print_anomalies;
use crate::audio::wav::{self, SampleFormat};
use crate::chains::voice::{voice_to_files, Delivery, VoiceChunk, VoiceRequest, VoiceSummary};
use crate::chains::{ChainError, Routing};
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::kokoro::engine::SAMPLE_RATE;
use crate::engines::kokoro::lexicon::Lexicon;
use crate::engines::kokoro::service;
use crate::output::Output;

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
    /// Text to speak, or a text file (.txt, .md, …); `-` reads stdin.
    input: Option<String>,
    /// Read the text from this file.
    #[arg(long, value_name = "PATH")]
    text_file: Option<PathBuf>,
    /// Output WAV file.
    #[arg(short, long, visible_alias = "out", default_value = "speech.wav")]
    output: PathBuf,
    /// Voice id, or a Kokoro blend such as `af_sky.4+af_nicole.6` (default: the serving provider's
    /// own voice; af_heart for Kokoro).
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
    /// Also write captions (.srt, .vtt, .ass, or .json for Remotion); give it again for more formats.
    #[arg(long, value_name = "PATH")]
    captions: Vec<PathBuf>,
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

fn read_text(args: &TtsArgs) -> EngineResult<String> {
    if let Some(p) = &args.text_file {
        if p.is_dir() {
            return Err(EngineError::new(
                "BAD_INPUT",
                format!("--text-file {} is a directory, not a text file", p.display()),
            )
            .with_hint("Name a file, e.g. --text-file script.txt."));
        }
        return super::text_input::text_file(p);
    }
    match args.input.as_deref() {
        None => Err(EngineError::new("EMPTY_TEXT", "Provide text to speak, or use --list to see the voices.")
            .with_hint("hyperframes tts \"Hello world\" -o hello.wav")),
        Some(arg) => super::text_input::positional(arg),
    }
}

/// Audio on stdout in the `--stream` format: 16-bit little-endian PCM, 24 kHz mono (a hosted
/// provider's audio is resampled); a reader that went away is [`crate::fsio::STDOUT_CLOSED`].
fn write_pcm(samples: &[f32], rate: u32) -> EngineResult<()> {
    let resampled;
    let samples = if rate == SAMPLE_RATE {
        samples
    } else {
        resampled = crate::audio::resample::resample(samples, rate, SAMPLE_RATE);
        &resampled
    };
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
    let mut named: Vec<(&str, &Path)> = Vec::new();
    named.extend(outputs.audio.as_deref().map(|p| ("--output", p)));
    named.extend(outputs.words.as_deref().map(|p| ("--words", p)));
    named.extend(outputs.captions.iter().map(|p| ("--captions", p.as_path())));
    crate::fsio::check_distinct(&named)?;
    service::check_outputs(&outputs)?;
    Ok(outputs)
}

/// `--to` picks the captions format: it must agree with each `--captions` file's extension, and
/// without one names the captions file after the audio (`speech.ass`, `speech.captions.json`).
fn captions_paths(args: &TtsArgs) -> EngineResult<Vec<PathBuf>> {
    let Some(to) = args.to.as_deref() else { return Ok(args.captions.clone()) };
    if args.captions.is_empty() {
        let format = super::captions::target_format(Some(to), None)?;
        let ext = match format {
            crate::audio::captions::Format::Remotion => "captions.json",
            f => f.extension(),
        };
        return Ok(vec![args.output.with_extension(ext)]);
    }
    for p in &args.captions {
        let format = super::captions::target_format(Some(to), Some(p))?;
        if crate::audio::captions::Format::parse(&p.to_string_lossy()).is_none() {
            return Err(EngineError::new(
                "BAD_OUTPUT",
                format!("Captions file {} must end in .{}.", p.display(), format.extension()),
            ));
        }
    }
    Ok(args.captions.clone())
}

/// Every failure of `tts` in the one shape the voice chain's have (`{ok, error, code, hint,
/// provider, anomalies}`), whether it was found before or after a provider was asked.
fn fail_before_chain(out: &Output, json: bool, e: EngineError) -> i32 {
    fail(out, json, &ChainError::from(e))
}

/// `tts --json`: the run's settings and files, then what the voice chain reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TtsReport<'a> {
    ok: bool,
    speed: f32,
    lang_applied: bool,
    output_path: Option<&'a Path>,
    words_path: Option<&'a Path>,
    /// The first captions file (`captionsPaths` lists them all).
    captions_path: Option<&'a Path>,
    captions_paths: &'a [PathBuf],
    #[serde(flatten)]
    result: VoiceSummary,
}

pub(super) async fn run(mut args: TtsArgs, stderr_tty: bool, out: &Output) -> i32 {
    match captions_paths(&args) {
        Ok(p) => args.captions = p,
        Err(e) => return fail_before_chain(out, args.json, e),
    }
    // When stdout carries data (`--stream`, or `-` for the audio, words or captions), results go to stderr.
    let to_stdout = [Some(&args.output), args.words.as_ref()]
        .into_iter()
        .flatten()
        .chain(&args.captions)
        .any(|p| crate::fsio::is_stdout(p));
    let out = &if args.stream || (to_stdout && !args.list) { out.results_on_stderr() } else { *out };
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
            return Err(EngineError::new("EMPTY_TEXT", "No text provided.")
                .with_hint("hyperframes tts \"Hello world\" -o hello.wav"));
        }
        let speed = crate::engines::kokoro::engine::parse_speed(&args.speed)?;
        let outputs = outputs(&args)?;
        let lexicon = Lexicon::resolve(args.lexicon.as_deref())?.map(Arc::new);
        Ok((text, speed, outputs, lexicon))
    })();
    let (text, speed, outputs, lexicon) = match prepared {
        Ok(p) => p,
        Err(e) => return fail_before_chain(out, args.json, e),
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
    let stream = args.stream;
    let printer = Printer::new(if args.json {
        Style::Json
    } else if stderr_tty {
        Style::Bar
    } else {
        Style::Lines
    });
    let show_progress = stderr_tty && !args.json && !stream;
    let delivery = Delivery {
        on_chunk: Some(Arc::new(move |c: &VoiceChunk| {
            if stream {
                write_pcm(&c.samples, c.sample_rate)?;
            } else if show_progress && c.count > 1 {
                eprint!("\r  synthesising chunk {}/{}", c.index + 1, c.count);
                if c.index + 1 == c.count {
                    eprintln!();
                }
            }
            Ok(())
        })),
        on_progress: Some(Arc::new(move |p| printer.event(p))),
        // Streamed audio is never gathered, so memory stays flat however long the text (nor is a
        // WAV's: `voice_to_files` writes it as it comes).
        stream_only: stream,
        speaks_once: true,
        live: stream,
    };
    let (facts, providers) = crate::chains::gather(args.local_only).await;
    let r = match voice_to_files(&req, &facts, &providers, &delivery, outputs, false).await {
        Ok(r) => r,
        Err(e) => return fail(out, args.json, &e),
    };
    if args.json {
        let mut result = r.summary();
        if stream {
            result.sample_rate = SAMPLE_RATE;
        }
        let report = TtsReport {
            ok: true,
            speed,
            lang_applied: true,
            output_path: (!stream).then_some(args.output.as_path()),
            words_path: args.words.as_deref(),
            captions_path: args.captions.first().map(PathBuf::as_path),
            captions_paths: &args.captions,
            result,
        };
        // With --stream, stdout carries only the PCM: `out` puts the report on stderr.
        out.out(&serde_json::to_string_pretty(&report).expect("reports always serialise"));
        return 0;
    }
    print_anomalies(out, &r.anomalies);
    if let Some(note) = &r.note {
        out.err(&out.err_dim(note));
    }
    if !stream {
        out.out(&format!(
            "{} {} ({:.2}s, {} voice {}, {} words{})",
            out.green("✓"),
            args.output.display(),
            r.duration_seconds(),
            r.provider,
            r.voice,
            r.words.len(),
            if r.words_approximate() { ", approximate timings" } else { "" },
        ));
        for p in args.words.iter().chain(&args.captions) {
            out.out(&format!("  + {}", p.display()));
        }
    }
    0
}
