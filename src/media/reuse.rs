//! Incremental builds: a line whose inputs (text, voice, speed, language, pinned provider) are the
//! same as in the folder's last manifest keeps its audio, as long as its files are still there and
//! whole. Editing one line of a script then re-voices that line only, and hosted credits are not
//! spent twice on the same sentence. `--fresh` turns this off.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

use super::manifest::{journal_entries, VoiceEntry, EARLIER, FILE_NAME, VOICE_DIR};
use crate::chains::voice::VoiceRequest;
use crate::fsio::input;

/// The voice providers a manifest may name.
const VOICE_PROVIDERS: &[&str] = &["heygen", "elevenlabs", "kokoro", super::recorded::PROVIDER];

/// A fingerprint of what decides a line's audio.
pub fn input_digest(vr: &VoiceRequest) -> String {
    let mut inputs = serde_json::json!([vr.text, vr.voice, vr.speed, vr.lang, vr.routing.pinned()]);
    // A lexicon entry the line uses changes its audio; lines it does not touch keep their digest.
    let used = vr.lexicon.as_ref().map(|lex| lex.used_by(&vr.text)).unwrap_or_default();
    if !used.is_empty() {
        inputs.as_array_mut().expect("built as an array").push(serde_json::json!(used));
    }
    crate::engines::catalog::sha256_hex(inputs.to_string().as_bytes())
}

/// The voiced lines of the folder's last manifest, by id.
#[derive(Debug, Default)]
pub struct Previous {
    voices: HashMap<String, Value>,
}

impl Previous {
    /// The last manifest's lines, overlaid with the lines an interrupted build finished since
    /// (its journal). Nothing when there is neither: the build then voices every line.
    pub fn load(dir: &Path) -> Previous {
        let manifest = input::read_text(&dir.join(FILE_NAME), EARLIER)
            .ok()
            .and_then(|text| serde_json::from_str::<Value>(&text).ok())
            .and_then(|value| value["voices"].as_array().cloned())
            .unwrap_or_default();
        let voices = manifest
            .into_iter()
            .chain(journal_entries(dir))
            .filter_map(|v| Some((v["id"].as_str()?.to_string(), v)))
            .collect();
        Previous { voices }
    }

    /// The earlier entry for line `id`, when it was made from `digest` and its files are intact.
    pub fn reusable(&self, id: &str, digest: &str, dir: &Path) -> Option<VoiceEntry> {
        let v = self.voices.get(id)?;
        if v["input_sha256"].as_str()? != digest {
            return None;
        }
        let provider = *VOICE_PROVIDERS.iter().find(|p| Some(**p) == v["provider"].as_str())?;
        let entry = VoiceEntry {
            id: id.to_string(),
            path: v["path"].as_str()?.to_string(),
            words_path: v["words_path"].as_str()?.to_string(),
            provider,
            voice: v["voice"].as_str()?.to_string(),
            duration_s: v["duration_s"].as_f64()?,
            sample_rate: u32::try_from(v["sample_rate"].as_u64()?).ok()?,
            words: v["words"].clone(),
            input_sha256: digest.to_string(),
            reused: true,
        };
        // Only files this build would have written, and only if they are still what was recorded.
        if entry.path != format!("{}/{id}.wav", VOICE_DIR)
            || entry.words_path != format!("{}/{id}.words.json", VOICE_DIR)
        {
            return None;
        }
        let (file, _) = input::open(&dir.join(&entry.path), input::limits::AUDIO).ok()?;
        let wav = hound::WavReader::new(std::io::BufReader::new(file)).ok()?;
        let seconds = f64::from(wav.duration()) / f64::from(wav.spec().sample_rate);
        let words: Value = serde_json::from_str(&input::read_text(&dir.join(&entry.words_path), EARLIER).ok()?).ok()?;
        let intact = wav.spec().sample_rate == entry.sample_rate
            && (seconds - entry.duration_s).abs() < 0.002
            && words == entry.words;
        intact.then_some(entry)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn fifos_or_devices_in_the_output_folder_are_not_waited_on() {
        let dir = tempfile::tempdir().unwrap();
        crate::test_support::make_fifo(&dir.path().join(FILE_NAME));
        std::os::unix::fs::symlink("/dev/zero", dir.path().join(super::super::manifest::JOURNAL_FILE)).unwrap();
        assert!(Previous::load(dir.path()).voices.is_empty());

        std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
        std::fs::create_dir(dir.path().join(VOICE_DIR)).unwrap();
        crate::test_support::make_fifo(&dir.path().join("voice/a.wav"));
        let entry = serde_json::json!({"id": "a", "path": "voice/a.wav", "words_path": "voice/a.words.json",
            "provider": "kokoro", "voice": "af_heart", "duration_s": 1.0, "sample_rate": 24000, "words": [],
            "input_sha256": "d"});
        std::fs::write(dir.path().join(FILE_NAME), serde_json::json!({"voices": [entry]}).to_string()).unwrap();
        let previous = Previous::load(dir.path());
        assert_eq!(previous.voices.len(), 1);
        assert!(previous.reusable("a", "d", dir.path()).is_none(), "a FIFO is not a reusable take");
    }
}
