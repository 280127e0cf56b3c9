//! `hyperframes captions`: timed words (JSON) → SRT or WebVTT.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::models::fail;
use crate::audio::captions::{self, Format, Word};
use crate::engines::error::EngineError;
use crate::output::Output;

#[derive(Args, Debug)]
pub(crate) struct CaptionsArgs {
    /// A words file: `[{id?, text, start, end}]` (seconds), or an object with a `words` array (e.g. `tts --json` output).
    input: PathBuf,
    /// srt or vtt (default: from --output's extension, else srt).
    #[arg(long)]
    to: Option<String>,
    /// Where to write the captions (default: stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// One cue per entry instead of grouping words into lines.
    #[arg(long)]
    preserve_cues: bool,
    #[arg(long)]
    json: bool,
}

fn load_words(path: &PathBuf) -> Result<Vec<Word>, EngineError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| EngineError::io(format!("cannot read {}", path.display()), &e))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| EngineError::new("BAD_INPUT", format!("{} is not JSON: {e}", path.display())))?;
    let words = match value {
        serde_json::Value::Object(mut o) => o.remove("words").unwrap_or_default(),
        v => v,
    };
    let words: Vec<Word> = serde_json::from_value(words).map_err(|e| {
        EngineError::new(
            "BAD_INPUT",
            format!("{} does not hold words like [{{text, start, end}}]: {e}", path.display()),
        )
    })?;
    if let Some(w) = words.iter().find(|w| !(w.start.is_finite() && w.end.is_finite() && w.start <= w.end)) {
        return Err(EngineError::new("BAD_INPUT", format!("word '{}' has an invalid time range", w.text)));
    }
    Ok(words)
}

pub(super) fn run(args: CaptionsArgs, out: &Output) -> i32 {
    let format = match (&args.to, &args.output) {
        (Some(t), _) => Format::parse(t),
        (None, Some(o)) => Format::parse(&o.to_string_lossy()).or(Some(Format::Srt)),
        (None, None) => Some(Format::Srt),
    };
    let Some(format) = format else {
        return fail(out, args.json, &EngineError::new("BAD_OUTPUT", "--to must be srt or vtt"));
    };
    let words = match load_words(&args.input) {
        Ok(w) => w,
        Err(e) => return fail(out, args.json, &e),
    };
    let cues = captions::cues(&words, args.preserve_cues);
    let text = captions::render(&cues, format);
    match args.output.as_ref().filter(|p| !crate::fsio::is_stdout(p)) {
        Some(path) => {
            if let Err(e) = crate::fsio::write_bytes(path, text.as_bytes()) {
                return fail(out, args.json, &e);
            }
            if args.json {
                out.json(&json!({"ok": true, "outputPath": path, "cues": cues.len(), "words": words.len()}));
            } else {
                out.out(&format!("{} {} ({} cues)", out.green("✓"), path.display(), cues.len()));
            }
        }
        None => {
            if let Err(e) = crate::fsio::write_bytes(std::path::Path::new(crate::fsio::STDOUT), text.as_bytes()) {
                return fail(out, args.json, &e);
            }
        }
    }
    0
}
