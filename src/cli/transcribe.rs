//! `hyperframes transcribe`: recorded speech → text with word times (local Whisper), or, with
//! `--script`, the script's own words placed in the audio.

use std::path::{Path, PathBuf};

use clap::Args;

use super::fail;
use crate::audio::captions::{self, Format};
use crate::engines::error::EngineError;
use crate::engines::whisper::{transcribe_file, TranscribeRequest, Transcript};
use crate::output::Output;
use crate::report::TranscribeResult;

/// `transcribe --json`: `transcribe()`'s result and the files written (null when not asked for).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Transcribed {
    #[serde(flatten)]
    result: TranscribeResult,
    words_path: Option<String>,
    /// The first captions file (`captionsPaths` lists them all).
    captions_path: Option<String>,
    captions_paths: Vec<String>,
}

#[derive(Args, Debug)]
pub(crate) struct TranscribeArgs {
    /// Audio file: WAV, MP3, FLAC or OGG, any sample rate and channel count.
    audio: PathBuf,
    /// The text that is spoken (a file, or the text itself): its words are placed in the audio,
    /// spelled as written.
    #[arg(long)]
    script: Option<String>,
    /// whisper-tiny.en (default) or whisper-base (multilingual).
    #[arg(long)]
    model: Option<String>,
    /// Language code (e.g. en, de); detected by multilingual models when absent.
    #[arg(long)]
    lang: Option<String>,
    /// Also write the timed words as JSON.
    #[arg(long)]
    words: Option<PathBuf>,
    /// Also write captions (.srt, .vtt, .ass, or .json for Remotion); give it again for more formats.
    #[arg(long)]
    captions: Vec<PathBuf>,
    /// Captions format: srt, vtt, ass or remotion (default: from the --captions file's extension).
    #[arg(long)]
    to: Option<String>,
    #[arg(long)]
    json: bool,
}

/// What `--script` may be when it names a file.
const SCRIPT: crate::fsio::input::Input =
    crate::fsio::input::Input { what: "the script", ..crate::fsio::input::limits::TEXT };

/// `--script`: the contents of the file it names (read through [`crate::fsio::input`]: a FIFO or
/// a device is refused, not read), else the argument itself.
pub(crate) fn script_text(arg: &str) -> Result<String, EngineError> {
    let path = Path::new(arg);
    if arg.len() < 4096 && !arg.contains('\n') && std::fs::metadata(path).is_ok_and(|m| !m.is_dir()) {
        return crate::fsio::input::read_text(path, SCRIPT);
    }
    Ok(arg.to_string())
}

fn words_json(t: &Transcript) -> String {
    let mut s = serde_json::to_string_pretty(&t.words).expect("words serialise");
    s.push('\n');
    s
}

fn captions_text(t: &Transcript, format: Format) -> String {
    let words: Vec<captions::Word> = t.words.iter().map(captions::Word::from).collect();
    captions::build(&words, format, &captions::Rules::default())
}

/// The format of each `--captions` file (by its extension, which `--to` must agree with), after
/// checking that no two outputs share a path.
fn caption_formats(args: &TranscribeArgs) -> Result<Vec<Format>, EngineError> {
    if args.captions.is_empty() && args.to.is_some() {
        return Err(EngineError::new("USAGE", "--to names the format of the --captions file, and none was given")
            .with_hint("Add --captions out.srt (or .vtt, .ass, .json)."));
    }
    let mut named: Vec<(&str, &Path)> = args.words.iter().map(|p| ("--words", p.as_path())).collect();
    named.extend(args.captions.iter().map(|p| ("--captions", p.as_path())));
    crate::fsio::check_distinct(&named)?;
    args.captions
        .iter()
        .map(|p| {
            if Format::parse(&p.to_string_lossy()).is_none() {
                return Err(EngineError::new(
                    "BAD_OUTPUT",
                    format!("{} must end in .srt, .vtt, .ass or .json", p.display()),
                )
                .with_hint(
                    "Use --captions out.srt (or .vtt, .ass, .json for Remotion), or name the format with --to.",
                ));
            }
            super::captions::target_format(args.to.as_deref(), Some(p))
        })
        .collect()
}

pub(super) fn run(args: TranscribeArgs, stderr_tty: bool, out: &Output) -> i32 {
    let caption_formats = match caption_formats(&args) {
        Ok(f) => f,
        Err(e) => return fail(out, args.json, &e),
    };
    let script = match args.script.as_deref().map(script_text).transpose() {
        Ok(s) => s,
        Err(e) => return fail(out, args.json, &e),
    };
    let req = TranscribeRequest { model: args.model.clone(), language: args.lang.clone(), script };
    // Milliseconds of audio done, on a terminal's stderr only.
    let bar = (stderr_tty && !args.json)
        .then(|| super::progress::bar(None, "  transcribing [{wide_bar}] {percent:>3}%  ETA {eta}"));
    let progress = |done: f64, total: f64| {
        if let Some(bar) = &bar {
            bar.set_length((total * 1000.0) as u64);
            bar.set_position((done * 1000.0) as u64);
        }
    };
    let result = transcribe_file(&args.audio, &req, &progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let t = match result {
        Ok(t) => t,
        Err(e) => return fail(out, args.json, &e),
    };
    if let Some(path) = &args.words {
        if let Err(e) = crate::fsio::write_bytes(path, words_json(&t).as_bytes()) {
            return fail(out, args.json, &e);
        }
    }
    for (path, format) in args.captions.iter().zip(caption_formats) {
        if let Err(e) = crate::fsio::write_bytes(path, captions_text(&t, format).as_bytes()) {
            return fail(out, args.json, &e);
        }
    }
    if args.json {
        out.success(&Transcribed {
            result: TranscribeResult::from(t),
            words_path: args.words.as_ref().map(|p| p.display().to_string()),
            captions_path: args.captions.first().map(|p| p.display().to_string()),
            captions_paths: args.captions.iter().map(|p| p.display().to_string()).collect(),
        });
        return 0;
    }
    out.out(&t.text);
    let mut summary = format!(
        "{} {} ({:.2}s, {}, {} words",
        out.green("✓"),
        args.audio.display(),
        t.duration_seconds,
        t.model,
        t.words.len()
    );
    if !t.unaligned.is_empty() {
        summary.push_str(&format!(", {} not placed", t.unaligned.len()));
    }
    summary.push(')');
    out.err(&summary);
    for u in &t.unaligned {
        out.err(&out.err_dim(&format!("  not placed: #{} {:?} ({})", u.index, u.text, u.reason)));
    }
    for p in args.words.iter().chain(&args.captions) {
        out.err(&format!("  + {}", p.display()));
    }
    0
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: TranscribeArgs,
    }

    fn formats(argv: &[&str]) -> Result<Vec<Format>, EngineError> {
        caption_formats(&Cli::parse_from(std::iter::once("transcribe").chain(argv.iter().copied())).args)
    }

    #[test]
    fn captions_may_be_given_more_than_once_each_by_its_extension() {
        let f = formats(&["a.wav", "--captions", "x.srt", "--captions", "x.ass", "--captions", "x.json"]).unwrap();
        assert_eq!(f, [Format::Srt, Format::Ass, Format::Remotion]);
        assert_eq!(formats(&["a.wav", "--captions", "x.srt", "--to", "vtt"]).unwrap_err().code, "BAD_OUTPUT");
        assert_eq!(formats(&["a.wav", "--captions", "x.txt"]).unwrap_err().code, "BAD_OUTPUT");
        assert_eq!(formats(&["a.wav", "--to", "vtt"]).unwrap_err().code, "USAGE");
    }

    #[test]
    fn two_outputs_on_one_path_are_refused() {
        let e = formats(&["a.wav", "--words", "x.srt", "--captions", "x.srt"]).unwrap_err();
        assert_eq!(e.code, "USAGE");
        assert!(e.message.contains("--words and --captions"), "{}", e.message);
        assert_eq!(formats(&["a.wav", "--captions", "-", "--words", "-"]).unwrap_err().code, "USAGE");
    }
}
