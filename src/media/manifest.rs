//! `audio_meta.json`: what a build produced, where, from which provider, and what went wrong.
//! Paths are relative to the output folder, with `/` separators. The field names follow the JS
//! engine's manifest (`tts_provider`, `voices[].duration_s`, `total_duration_s`, …) so tools that
//! read it keep working.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::error::MediaError;

pub const FILE_NAME: &str = "audio_meta.json";
/// Beside the manifest while a build runs: one JSON line per finished voice line, so a build that
/// is interrupted (Ctrl-C, kill, a crash) keeps its finished lines for the next run. The manifest
/// replaces it when the build completes.
pub const JOURNAL_FILE: &str = "audio_meta.journal.jsonl";

/// What an earlier build's manifest, journal or words file may be (read through
/// [`crate::fsio::input`]: the output folder is the user's, and a FIFO or device there must not
/// stall the build).
pub const EARLIER: crate::fsio::input::Input =
    crate::fsio::input::Input { what: "the earlier build's file", ..crate::fsio::input::limits::REQUEST };
pub const VERSION: u32 = 1;
/// The folder layout the manifest's paths name (relative to the output folder).
pub const VOICE_DIR: &str = "voice";
pub const SFX_DIR: &str = "sfx";
pub const MUSIC_FILE: &str = "music/bed.wav";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    pub version: u32,
    /// Every line was voiced (music and sound-effect failures are anomalies, not failures).
    pub ok: bool,
    /// The provider that voiced the first voiced line.
    pub tts_provider: Option<&'static str>,
    /// The voice the request asked for, else the first voiced line's.
    pub voice_id: Option<String>,
    pub providers: ProvidersUsed,
    /// The voiced lines, in request order.
    pub voices: Vec<VoiceEntry>,
    /// The lines that could not be voiced, in request order.
    pub failed: Vec<FailedLine>,
    pub bgm: Option<MusicEntry>,
    pub sfx: Vec<SfxEntry>,
    /// Everything that did not go to plan: skipped providers, failed lines, cues and music.
    pub anomalies: Vec<String>,
    /// The voiced lines' durations added up.
    pub total_duration_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProvidersUsed {
    pub voice: Vec<&'static str>,
    pub music: Option<&'static str>,
    pub sfx: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoiceEntry {
    pub id: String,
    pub path: String,
    pub words_path: String,
    pub provider: &'static str,
    pub voice: String,
    pub duration_s: f64,
    pub sample_rate: u32,
    /// `[{id: "w0", text, start, end}]`, seconds from the start of the line.
    pub words: Value,
    /// A fingerprint of the line's text, voice, speed, language and pinned provider.
    pub input_sha256: String,
    /// Kept from the previous build: its inputs had not changed.
    pub reused: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedLine {
    pub id: String,
    pub code: &'static str,
    pub error: String,
    pub hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MusicEntry {
    pub path: String,
    pub provider: &'static str,
    pub prompt: String,
    /// The library track's name, when the library served.
    pub title: Option<String>,
    pub duration_s: f64,
    pub volume: f64,
    pub sample_rate: u32,
    pub channels: u16,
    /// A licence note when the music's licence restricts its use (MusicGen: non-commercial).
    pub license: Option<&'static str>,
}

/// One cue: an effect placed on a line. Cues with the same effect share its file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SfxEntry {
    pub line: String,
    /// The name the request asked for.
    pub name: String,
    /// Seconds from the start of the line.
    pub offset_s: f64,
    pub volume: f64,
    pub path: String,
    pub provider: &'static str,
    /// The effect's name in the library that served it.
    pub source_name: String,
    pub duration_s: f64,
}

/// Records a finished line in the folder's journal. One `write` of one whole line in append mode,
/// serialised within the process, so lines never interleave; a line cut short by a kill is
/// skipped when read. Not synced to disk: the journal has to survive the process, not the machine.
pub fn journal_line(dir: &Path, entry: &VoiceEntry) -> std::io::Result<()> {
    use std::io::Write;
    static APPENDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let line = serde_json::to_string(entry).expect("a voice entry always serialises") + "\n";
    let _one_at_a_time = APPENDING.lock().unwrap_or_else(|e| e.into_inner());
    let mut file = std::fs::File::options().create(true).append(true).open(dir.join(JOURNAL_FILE))?;
    file.write_all(line.as_bytes())
}

/// The journal's entries, oldest first (lines that do not parse are skipped).
pub fn journal_entries(dir: &Path) -> Vec<Value> {
    let Ok(text) = crate::fsio::input::read_text(&dir.join(JOURNAL_FILE), EARLIER) else {
        return Vec::new();
    };
    text.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).filter(Value::is_object).collect()
}

impl Manifest {
    /// Writes `audio_meta.json` into `dir` through a temporary file and a rename.
    pub fn write(&self, dir: &Path) -> Result<(), MediaError> {
        let path = dir.join(FILE_NAME);
        let text = serde_json::to_string_pretty(self).expect("the manifest always serialises") + "\n";
        crate::fsio::write_bytes(&path, text.as_bytes()).map_err(|e| {
            MediaError::new("IO_ERROR", e.message).with_hint("Check that the output folder is writable.")
        })?;
        // Everything the journal held is in the manifest now.
        match std::fs::remove_file(dir.join(JOURNAL_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                tracing::debug!("cannot remove the build journal: {e}");
            }
            _ => {}
        }
        Ok(())
    }
}
