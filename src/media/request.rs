//! The media request: what a video script needs voiced, scored and punctuated.
//!
//! ```json
//! {
//!   "provider": "auto", "voice": "…", "speed": 1.0, "lang": "en",
//!   "lines": [{"id": "intro", "text": "…", "sfx": ["whoosh", {"name": "pop", "at": 1.2}]}],
//!   "music": {"prompt": "calm cinematic underscore", "seconds": 30, "volume": 0.12}
//! }
//! ```
//!
//! `bgm` is accepted for `music` and `query` for `prompt` (the request files of the JS engine use
//! them). A line with `"audio": "take.wav"` is recorded narration: it is not voiced, its words are
//! placed in the recording (see `media::recorded`). Every problem in a request is reported at once,
//! before anything is written, and a key the request does not know is one of them, with the key
//! probably meant (`lines[0]: unknown key "txt" (did you mean "text"?)`).

use serde_json::{Map, Value};

use std::sync::Arc;

use super::error::MediaError;
use crate::engines::kokoro::engine::MAX_SPEED;
use crate::engines::kokoro::lexicon::Lexicon;

/// The library query when the request names no mood.
pub const DEFAULT_MUSIC_PROMPT: &str = "calm cinematic underscore";
/// Music under narration sits about 18 dB down; without narration it carries the video.
pub const MUSIC_VOLUME_UNDER_VOICE: f64 = 0.12;
pub const MUSIC_VOLUME_ALONE: f64 = 0.9;
pub const SFX_VOLUME: f64 = 0.35;
/// The longest a line id may be (it names a file).
const MAX_ID_LEN: usize = 64;

/// The keys of each object of a request; any other key is refused as a typo.
const REQUEST_KEYS: &[&str] =
    &["provider", "voice", "speed", "lang", "lines", "music", "bgm", "concurrency", "lexicon"];
const LINE_KEYS: &[&str] = &["id", "text", "audio", "voice", "speed", "lang", "sfx"];
const CUE_KEYS: &[&str] = &["name", "at", "volume"];
const MUSIC_KEYS: &[&str] = &["prompt", "query", "seconds", "provider", "mode", "volume"];

#[derive(Debug, Clone, PartialEq)]
pub struct MediaRequest {
    /// The voice provider (`auto`, `heygen`, `elevenlabs`, `kokoro`).
    pub provider: Option<String>,
    pub voice: Option<String>,
    pub speed: f32,
    pub lang: Option<String>,
    pub lines: Vec<Line>,
    pub music: Option<MusicSpec>,
    /// Requests at once per hosted provider.
    pub concurrency: Option<usize>,
    /// `lexicon`: an object `{ "word": "phonemes" }` or a lexicon file's path; without it, the file
    /// `HYPERFRAMES_LEXICON` names, if any.
    pub lexicon: Option<Arc<Lexicon>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Names the line's files (`voice/<id>.wav`): letters, digits, `-`, `_`, `.`.
    pub id: String,
    /// May be empty: that line fails on its own, the others are still voiced.
    pub text: String,
    pub voice: Option<String>,
    pub speed: Option<f32>,
    pub lang: Option<String>,
    pub sfx: Vec<Cue>,
    /// Recorded narration of `text` to use instead of a voice (a path, relative to the working
    /// folder).
    pub audio: Option<std::path::PathBuf>,
}

/// A sound effect to play during a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub name: String,
    /// Seconds from the start of the line.
    pub at: f64,
    pub volume: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MusicSpec {
    pub prompt: String,
    /// The bed's length; the voiced lines' total (or 30 s without any) when unset.
    pub seconds: Option<f64>,
    /// Pins the music provider; `retrieve` mode pins the HeyGen library.
    pub provider: Option<String>,
    /// `generate`: only providers that compose (never the library).
    pub generate_only: bool,
    /// The mix level; 0.12 under narration, 0.9 alone when unset.
    pub volume: Option<f64>,
}

impl MediaRequest {
    /// The text of a request: the file at `source` or, for `-`, standard input, read through
    /// [`crate::fsio::input`] (a FIFO or device is refused, at most 64 MiB is read).
    pub fn read_text(source: &str) -> Result<String, MediaError> {
        use crate::fsio::input::{self, limits::REQUEST};
        if source == "-" {
            return input::read_stdin_text(REQUEST);
        }
        let path = std::path::Path::new(source);
        input::read_text(path, REQUEST).map_err(|e| {
            let e = if e.code == input::NOT_A_FILE && !path.exists() {
                MediaError::new("IO_ERROR", format!("Cannot read the request {source}: it does not exist"))
            } else {
                e
            };
            e.with_hint("Pass the path of a JSON request file, or - to read it from stdin.")
        })
    }

    /// Parses and checks a request file's text.
    pub fn parse(text: &str) -> Result<MediaRequest, MediaError> {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            MediaError::new("BAD_REQUEST", format!("The media request is not JSON: {e}."))
                .with_hint("Check the file with a JSON validator; a request is an object with a \"lines\" array.")
        })?;
        Self::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<MediaRequest, MediaError> {
        let mut problems = Problems::default();
        let Some(root) = value.as_object() else {
            return Err(MediaError::bad_request(&["the request must be a JSON object".into()]));
        };
        problems.unknown_keys("", root, REQUEST_KEYS);
        let lines = match root.get("lines") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                items.iter().enumerate().filter_map(|(i, v)| line(v, &format!("lines[{i}]"), &mut problems)).collect()
            }
            Some(_) => {
                problems.push("lines", "must be an array of {id, text}");
                Vec::new()
            }
        };
        let mut seen = std::collections::HashSet::new();
        for l in &lines {
            if !seen.insert(l.id.to_ascii_lowercase()) {
                problems
                    .push("lines", format!("the id \"{}\" is used twice (ids name files, so they must differ)", l.id));
            }
        }
        let music = match root.get("music").or_else(|| root.get("bgm")) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => None,
            Some(Value::Bool(true)) => Some(MusicSpec::default_bed()),
            Some(Value::String(prompt)) => Some(MusicSpec { prompt: prompt.clone(), ..MusicSpec::default_bed() }),
            Some(Value::Object(m)) => music(m, &mut problems),
            Some(_) => {
                problems.push("music", "must be an object, a prompt string, true or false");
                None
            }
        };
        if lines.is_empty() && music.is_none() && problems.0.is_empty() {
            problems.push("lines", "there is nothing to build: give at least one line or a music bed");
        }
        let request = MediaRequest {
            provider: opt_string(root, "provider", "", &mut problems),
            voice: opt_string(root, "voice", "", &mut problems),
            speed: opt_speed(root, "", &mut problems).unwrap_or(1.0),
            lang: opt_string(root, "lang", "", &mut problems),
            lines,
            music,
            concurrency: opt_count(root, "concurrency", &mut problems),
            lexicon: lexicon(root.get("lexicon"), &mut problems),
        };
        problems.into_result(request)
    }

    /// The cues of every line, with the line they belong to.
    pub fn cues(&self) -> impl Iterator<Item = (&Line, &Cue)> {
        self.lines.iter().flat_map(|l| l.sfx.iter().map(move |c| (l, c)))
    }
}

impl MusicSpec {
    fn default_bed() -> Self {
        Self { prompt: DEFAULT_MUSIC_PROMPT.into(), seconds: None, provider: None, generate_only: false, volume: None }
    }
}

fn lexicon(value: Option<&Value>, problems: &mut Problems) -> Option<Arc<Lexicon>> {
    let read = match value {
        None | Some(Value::Null) => Lexicon::resolve(None),
        Some(Value::String(path)) => Lexicon::load(std::path::Path::new(path)).map(Some),
        Some(v @ Value::Object(_)) => Lexicon::from_value(v, "in the request").map(Some),
        Some(_) => {
            problems.push("lexicon", "must be an object of \"word\": \"phonemes\" or a lexicon file's path");
            return None;
        }
    };
    match read {
        Ok(lex) => lex.map(Arc::new),
        Err(e) => {
            problems.push("lexicon", e.message);
            None
        }
    }
}

#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, at: &str, what: impl AsRef<str>) {
        if at.is_empty() {
            self.0.push(what.as_ref().to_string());
        } else {
            self.0.push(format!("{at}: {}", what.as_ref()));
        }
    }

    fn unknown_keys(&mut self, at: &str, obj: &Map<String, Value>, known: &[&str]) {
        for problem in crate::json_keys::unknown_keys(obj, known) {
            self.push(at, problem);
        }
    }

    fn into_result<T>(self, value: T) -> Result<T, MediaError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(MediaError::bad_request(&self.0))
        }
    }
}

fn field(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// A non-blank string, trimmed; blank and null mean unset.
fn opt_string(obj: &Map<String, Value>, key: &str, prefix: &str, problems: &mut Problems) -> Option<String> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Some(_) => {
            problems.push(&field(prefix, key), "must be a string");
            None
        }
    }
}

fn opt_number(obj: &Map<String, Value>, key: &str, prefix: &str, problems: &mut Problems) -> Option<f64> {
    match obj.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => {
            problems.push(&field(prefix, key), "must be a number");
            None
        }
    }
}

fn opt_speed(obj: &Map<String, Value>, prefix: &str, problems: &mut Problems) -> Option<f32> {
    let speed = opt_number(obj, "speed", prefix, problems)?;
    if !(speed > 0.0 && speed <= f64::from(MAX_SPEED)) {
        problems.push(&field(prefix, "speed"), format!("must be greater than 0 and at most {MAX_SPEED} (got {speed})"));
        return None;
    }
    Some(speed as f32)
}

fn opt_volume(obj: &Map<String, Value>, prefix: &str, problems: &mut Problems) -> Option<f64> {
    let volume = opt_number(obj, "volume", prefix, problems)?;
    if !(0.0..=4.0).contains(&volume) {
        problems.push(&field(prefix, "volume"), format!("must be between 0 and 4 (got {volume})"));
        return None;
    }
    Some(volume)
}

fn opt_count(obj: &Map<String, Value>, key: &str, problems: &mut Problems) -> Option<usize> {
    let n = opt_number(obj, key, "", problems)?;
    if !((1.0..=64.0).contains(&n) && n.fract() == 0.0) {
        problems.push(key, format!("must be a whole number from 1 to 64 (got {n})"));
        return None;
    }
    Some(n as usize)
}

/// A value from the request as messages show it: quoted, control characters escaped (`\0`,
/// `\u{1b}`), and cut after 60 characters, so a hostile value cannot break or flood a terminal.
fn quoted(value: &str) -> String {
    const SHOWN: usize = 60;
    let mut out: String = value.chars().take(SHOWN).flat_map(|c| c.escape_debug()).collect();
    if value.chars().count() > SHOWN {
        out.push('…');
    }
    format!("\"{out}\"")
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether Windows reserves `id` for a device (`con`, `NUL.wav`, `Com1.words.json`): there the
/// name before the first dot, in any case, opens the device instead of a file.
fn is_windows_device(id: &str) -> bool {
    let stem = id.split('.').next().unwrap_or_default().to_ascii_lowercase();
    match stem.as_bytes() {
        b"con" | b"prn" | b"aux" | b"nul" => true,
        [b'c', b'o', b'm', d] | [b'l', b'p', b't', d] => d.is_ascii_digit(),
        _ => false,
    }
}

fn line(value: &Value, at: &str, problems: &mut Problems) -> Option<Line> {
    let Some(obj) = value.as_object() else {
        problems.push(at, "must be an object {id, text}");
        return None;
    };
    problems.unknown_keys(at, obj, LINE_KEYS);
    let id = match obj.get("id") {
        Some(Value::String(s)) if is_windows_device(s.trim()) => {
            problems.push(
                &field(at, "id"),
                format!("{} cannot name a file: Windows keeps that name for a device; choose another", quoted(s)),
            );
            return None;
        }
        Some(Value::String(s)) if valid_id(s.trim()) => s.trim().to_string(),
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(Value::String(s)) => {
            problems.push(
                &field(at, "id"),
                format!(
                    "{} cannot name a file: use up to {MAX_ID_LEN} letters, digits, '-', '_' or '.' (not first)",
                    quoted(s)
                ),
            );
            return None;
        }
        _ => {
            problems.push(&field(at, "id"), "is required (a short name such as \"intro\")");
            return None;
        }
    };
    let text = match obj.get("text") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => {
            problems.push(&field(at, "text"), "must be a string");
            String::new()
        }
    };
    let sfx = match obj.get("sfx") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(name)) => {
            cue(&Value::String(name.clone()), &field(at, "sfx"), problems).into_iter().collect()
        }
        Some(Value::Array(items)) => {
            items.iter().enumerate().filter_map(|(i, v)| cue(v, &format!("{at}.sfx[{i}]"), problems)).collect()
        }
        Some(_) => {
            problems.push(&field(at, "sfx"), "must be an array of effect names or {name, at, volume}");
            Vec::new()
        }
    };
    Some(Line {
        id,
        text,
        voice: opt_string(obj, "voice", at, problems),
        speed: opt_speed(obj, at, problems),
        lang: opt_string(obj, "lang", at, problems),
        sfx,
        audio: opt_string(obj, "audio", at, problems).map(std::path::PathBuf::from),
    })
}

fn cue(value: &Value, at: &str, problems: &mut Problems) -> Option<Cue> {
    let (name, start, volume) = match value {
        Value::String(name) => (Some(name.trim().to_string()), None, None),
        Value::Object(obj) => {
            problems.unknown_keys(at, obj, CUE_KEYS);
            let name = opt_string(obj, "name", at, problems);
            let start = opt_number(obj, "at", at, problems);
            (name, start, opt_volume(obj, at, problems))
        }
        _ => {
            problems.push(at, "must be an effect name or {name, at, volume}");
            return None;
        }
    };
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        problems.push(at, "needs an effect name (e.g. \"whoosh\")");
        return None;
    };
    let start = start.unwrap_or(0.0);
    if !(start.is_finite() && start >= 0.0) {
        problems.push(&field(at, "at"), format!("must be 0 or more seconds (got {start})"));
        return None;
    }
    Some(Cue { name, at: start, volume: volume.unwrap_or(SFX_VOLUME) })
}

fn music(obj: &Map<String, Value>, problems: &mut Problems) -> Option<MusicSpec> {
    problems.unknown_keys("music", obj, MUSIC_KEYS);
    let mode = opt_string(obj, "mode", "music", problems).map(|m| m.to_ascii_lowercase());
    let mut spec = MusicSpec {
        prompt: opt_string(obj, "prompt", "music", problems)
            .or_else(|| opt_string(obj, "query", "music", problems))
            .unwrap_or_else(|| DEFAULT_MUSIC_PROMPT.into()),
        seconds: opt_number(obj, "seconds", "music", problems),
        provider: opt_string(obj, "provider", "music", problems),
        generate_only: false,
        volume: opt_volume(obj, "music", problems),
    };
    if let Some(s) = spec.seconds {
        if !(s > 0.0 && s <= crate::chains::music::MAX_SECONDS) {
            problems.push(
                "music.seconds",
                format!("must be more than 0 and at most {} (got {s})", crate::chains::music::MAX_SECONDS),
            );
        }
    }
    match mode.as_deref() {
        None | Some("auto") => {}
        Some("none" | "off") => return None,
        Some("retrieve") => spec.provider = spec.provider.or_else(|| Some("heygen".into())),
        Some("generate") => spec.generate_only = true,
        Some(other) => {
            problems.push("music.mode", format!("{} is not one of auto, retrieve, generate, none", quoted(other)))
        }
    }
    Some(spec)
}

#[cfg(test)]
mod tests;
