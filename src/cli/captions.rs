//! `hyperframes captions`: timed words (JSON) → SRT, WebVTT, ASS (karaoke) or Remotion captions.

use std::path::{Path, PathBuf};

use clap::Args;

use super::fail;
use crate::audio::captions::{self, Format, Rules, Word};
use crate::engines::error::EngineError;
use crate::output::Output;

/// `captions -o FILE --json`. (`words` is the timed words everywhere else, so the count is
/// `wordCount`.)
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Written {
    /// The first file written (`outputPaths` lists them all).
    output_path: String,
    output_paths: Vec<String>,
    cues: usize,
    word_count: usize,
}

/// Caption layout flags, shared by the commands that write captions.
#[derive(Args, Debug, Clone)]
pub(crate) struct LayoutArgs {
    /// Characters per caption line.
    #[arg(long, value_name = "N", default_value_t = captions::MAX_CUE_CHARS)]
    max_chars: usize,
    /// Lines per cue.
    #[arg(long, value_name = "N", default_value_t = 2)]
    max_lines: usize,
    /// Reading speed: a cue stays up long enough for this many characters a second, where the next cue leaves room.
    #[arg(long, value_name = "CPS", default_value_t = 17.0)]
    max_cps: f64,
    /// Seconds a cue stays up at least, where the next cue leaves room.
    #[arg(long, value_name = "SECONDS", default_value_t = 5.0 / 6.0)]
    min_duration: f64,
    /// One cue per entry instead of grouping words into lines.
    #[arg(long)]
    preserve_cues: bool,
}

impl LayoutArgs {
    pub(crate) fn rules(&self) -> Result<Rules, EngineError> {
        let rules = Rules {
            max_chars: self.max_chars,
            max_lines: self.max_lines,
            max_cps: self.max_cps,
            min_duration: self.min_duration,
            preserve: self.preserve_cues,
            ..Rules::default()
        };
        rules.check().map_err(|m| EngineError::new("BAD_INPUT", m).with_hint("See `hyperframes captions --help`."))?;
        Ok(rules)
    }
}

#[derive(Args, Debug)]
pub(crate) struct CaptionsArgs {
    /// A words file: `[{id?, text, start, end}]` (seconds), or an object with a `words` array (e.g.
    /// `tts --json` output); `-` reads stdin.
    input: PathBuf,
    /// srt, vtt, ass or remotion (default: from --output's extension, else srt).
    #[arg(long)]
    to: Option<String>,
    /// Where to write the captions (default: stdout); give it again for more formats, each by its extension.
    #[arg(short, long)]
    output: Vec<PathBuf>,
    #[command(flatten)]
    layout: LayoutArgs,
    #[arg(long)]
    json: bool,
}

fn load_words(path: &Path) -> Result<Vec<Word>, EngineError> {
    use crate::fsio::input::{self, limits};
    let text = if crate::fsio::is_stdout(path) {
        input::read_stdin_text(limits::WORDS)?
    } else {
        input::read_text(path, limits::WORDS)?
    };
    let path = if crate::fsio::is_stdout(path) { Path::new("standard input") } else { path };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| EngineError::new("BAD_INPUT", format!("{} is not JSON: {e}", path.display())))?;
    let words = match value {
        serde_json::Value::Object(mut o) => o.remove("words").unwrap_or_default(),
        v => v,
    };
    if let Some(typo) = word_key_typo(&words) {
        return Err(EngineError::new("BAD_INPUT", format!("{}: {typo}", path.display())));
    }
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

/// A word that misses `text`, `start` or `end` and has a key that looks like it (`"strat"`).
/// Other keys are let through: words files come from many tools, each with its own extras.
fn word_key_typo(words: &serde_json::Value) -> Option<String> {
    const REQUIRED: &[&str] = &["text", "start", "end"];
    words.as_array()?.iter().enumerate().find_map(|(i, w)| {
        let w = w.as_object()?;
        let missing: Vec<&str> = REQUIRED.iter().copied().filter(|k| !w.contains_key(*k)).collect();
        w.keys().filter(|k| !matches!(k.as_str(), "id" | "confidence" | "approximate")).find_map(|k| {
            let meant = crate::json_keys::closest(k, &missing)?;
            Some(format!("word {i} has an unknown key \"{}\" (did you mean \"{meant}\"?)", k.escape_debug()))
        })
    })
}

/// The format `--to` names (a format name, not a file name), checked against the output file's
/// extension when both are given.
pub(crate) fn target_format(to: Option<&str>, output: Option<&std::path::Path>) -> Result<Format, EngineError> {
    let from_path = output.and_then(|o| Format::parse(&o.to_string_lossy()).filter(|_| o.extension().is_some()));
    let Some(to) = to else { return Ok(from_path.unwrap_or(Format::Srt)) };
    let format = Format::parse(to).filter(|_| !to.contains('.')).ok_or_else(|| {
        EngineError::new("BAD_OUTPUT", format!("--to must be {}, not '{to}'", Format::NAMES))
            .with_hint("e.g. --to remotion for @remotion/captions, --to ass for karaoke subtitles")
    })?;
    if let (Some(p), Some(f)) = (output, from_path) {
        if f != format {
            return Err(EngineError::new(
                "BAD_OUTPUT",
                format!("--to {to} does not match the file name {} (a .{} file)", p.display(), f.extension()),
            )
            .with_hint(format!("Name the file *.{}, or leave out --to.", format.extension())));
        }
    }
    Ok(format)
}

pub(super) fn run(args: CaptionsArgs, out: &Output) -> i32 {
    let prepared = (|| -> Result<_, EngineError> {
        let named: Vec<(&str, &Path)> = args.output.iter().map(|p| ("--output", p.as_path())).collect();
        crate::fsio::check_distinct(&named)?;
        let formats = match args.output.as_slice() {
            [] => vec![target_format(args.to.as_deref(), None)?],
            outputs => outputs.iter().map(|o| target_format(args.to.as_deref(), Some(o))).collect::<Result<_, _>>()?,
        };
        let rules = args.layout.rules()?;
        Ok((formats, rules, load_words(&args.input)?))
    })();
    let (formats, rules, words) = match prepared {
        Ok(p) => p,
        Err(e) => return fail(out, args.json, &e),
    };
    let cues_in = |format: Format| {
        if format == Format::Remotion {
            words.len()
        } else {
            captions::cues_with(&words, &rules).len()
        }
    };
    let stdout = PathBuf::from(crate::fsio::STDOUT);
    let targets: Vec<&PathBuf> = if args.output.is_empty() { vec![&stdout] } else { args.output.iter().collect() };
    // Captions on stdout: the summary goes to stderr.
    let out = &if targets.iter().any(|p| crate::fsio::is_stdout(p)) { out.results_on_stderr() } else { *out };
    let mut written = Vec::new();
    for (path, format) in targets.iter().zip(&formats) {
        let text = captions::build(&words, *format, &rules);
        if let Err(e) = crate::fsio::write_bytes(path, text.as_bytes()) {
            return fail(out, args.json, &e);
        }
        if !crate::fsio::is_stdout(path) {
            written.push((path.display().to_string(), cues_in(*format)));
        }
    }
    let Some((first, cues)) = written.first().cloned() else { return 0 };
    if args.json {
        let output_paths = written.iter().map(|(p, _)| p.clone()).collect();
        out.success(&Written { output_path: first, output_paths, cues, word_count: words.len() });
    } else {
        for (p, cues) in &written {
            out.out(&format!("{} {p} ({cues} cues)", out.green("✓")));
        }
    }
    0
}
