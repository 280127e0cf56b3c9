//! What `hyperframes tts` and the JS `tts()` share: make sure the model is installed (downloading
//! it on first use unless offline), open the engine once, and write audio, words and captions.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::engine::{installed_files, Kokoro};
use super::timing::TimedWord;
use crate::audio::{captions, wav};
use crate::engines::catalog::{self, ModelSpec};
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::install::{self, Progress, Source};
use crate::engines::models_dir;

pub const DEFAULT_MODEL: &str = "kokoro";
pub use crate::engines::offline;

pub fn model_spec(name: Option<&str>) -> EngineResult<&'static ModelSpec> {
    let name = name.unwrap_or(DEFAULT_MODEL);
    catalog::find(name).filter(|m| m.capability == catalog::VOICE).ok_or_else(|| {
        let names: Vec<&str> =
            catalog::all().iter().filter(|m| m.capability == catalog::VOICE).map(|m| m.name).collect();
        EngineError::new("UNKNOWN_MODEL", format!("Unknown voice model '{name}'. Available: {}.", names.join(", ")))
            .with_hint("See `hyperframes models list`.")
    })
}

fn missing(spec: &ModelSpec, dir: &Path) -> EngineError {
    EngineError::new("MODEL_MISSING", format!("The {} model is not installed in {}.", spec.label, dir.display()))
        .with_hint(format!(
            "Run `{}` (on a machine without internet: `hyperframes models install {} --from <folder>`).",
            catalog::install_command(spec.name),
            spec.name
        ))
}

/// Installs the model on first use, unless downloads are not allowed (then a clear error with the
/// exact install command).
pub async fn ensure_installed(
    spec: &'static ModelSpec,
    allow_download: bool,
    on_progress: &(dyn Fn(Progress) + Sync),
) -> EngineResult<()> {
    let dir = models_dir::models_dir();
    if catalog::status(&dir, spec, false).installed {
        return Ok(());
    }
    if !allow_download || offline() {
        return Err(missing(spec, &dir));
    }
    install::install(spec, &dir, &Source::Official, on_progress).await.map_err(|mut e| {
        e.message = format!("{} is not installed and downloading it failed: {}", spec.label, e.message);
        e
    })?;
    if catalog::status(&dir, spec, false).installed {
        Ok(())
    } else {
        Err(missing(spec, &dir))
    }
}

/// A model whose files fail verification is not used. The check goes through the hash cache
/// (size and modification time recorded when the file was last hashed), so it costs a `stat` per
/// file unless a file changed since, which is exactly when it must be hashed again.
fn refuse_damaged(spec: &ModelSpec, dir: &Path) -> EngineResult<()> {
    let status = catalog::status(dir, spec, true);
    let damaged: Vec<&str> = status
        .files
        .iter()
        .filter(|(_, st)| matches!(st, catalog::FileState::Corrupt { .. }))
        .map(|(p, _)| *p)
        .collect();
    if damaged.is_empty() {
        return Ok(());
    }
    Err(EngineError::new(
        "MODEL_CORRUPT",
        format!("The {} model is damaged: {} does not match its published sha256.", spec.label, damaged.join(", ")),
    )
    .with_hint(format!(
        "Run `{}` to download the damaged file(s) again (`hyperframes models verify {}` shows the details).",
        catalog::install_command(spec.name),
        spec.name
    )))
}

/// Opens the installed engine (the model's session is shared per process).
pub fn open(spec: &'static ModelSpec) -> EngineResult<Kokoro> {
    let dir = models_dir::models_dir();
    refuse_damaged(spec, &dir)?;
    let (model, packs) = installed_files(&dir, spec);
    if !model.is_file() || packs.is_empty() {
        return Err(missing(spec, &dir));
    }
    Kokoro::open(&model, &packs)
}

/// The installed voices of a model, without loading the model itself.
pub fn open_voices(spec: &'static ModelSpec) -> EngineResult<super::engine::Voices> {
    let (_, packs) = installed_files(&models_dir::models_dir(), spec);
    super::engine::Voices::open(&packs)
}

pub fn round_ms(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Timed words as JSON, `{id, text, start, end}` in seconds rounded to the millisecond.
pub fn caption_words_json(words: &[captions::Word]) -> Value {
    Value::Array(
        words
            .iter()
            .map(|w| json!({"id": w.id, "text": w.text, "start": round_ms(w.start), "end": round_ms(w.end)}))
            .collect(),
    )
}

pub fn words_json(words: &[TimedWord]) -> Value {
    Value::Array(
        words
            .iter()
            .map(|w| {
                let mut v = json!({"id": w.id, "text": w.text, "start": round_ms(w.start), "end": round_ms(w.end)});
                if w.approximate {
                    v["approximate"] = json!(true);
                }
                v
            })
            .collect(),
    )
}

pub fn caption_words(words: &[TimedWord]) -> Vec<captions::Word> {
    words
        .iter()
        .map(|w| captions::Word {
            id: w.id.clone(),
            text: w.text.clone(),
            start: w.start,
            end: w.end,
            confidence: None,
        })
        .collect()
}

/// Where to write the results; each is optional.
#[derive(Debug, Clone, Default)]
pub struct Outputs {
    pub audio: Option<PathBuf>,
    pub format: Option<wav::SampleFormat>,
    pub words: Option<PathBuf>,
    /// Captions files, each in the format its extension names.
    pub captions: Vec<PathBuf>,
}

/// Checks the output paths before any work is done, so bad input costs nothing.
pub fn check_outputs(o: &Outputs) -> EngineResult<()> {
    let extension = |p: &Path| p.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    // A FIFO, a device or stdout has whatever name it has; only files must be named .wav.
    let names_a_file = |p: &Path| matches!(crate::fsio::destination(p), Ok(crate::fsio::Destination::File(_)));
    if let Some(a) = o.audio.as_ref().filter(|a| names_a_file(a)) {
        if extension(a).is_some_and(|e| e != "wav") {
            return Err(EngineError::new(
                "BAD_OUTPUT",
                format!("The audio is written as WAV, so {} must end in .wav.", a.display()),
            )
            .with_hint("Name the audio file speech.wav (convert it afterwards if you need another format)."));
        }
    }
    for c in &o.captions {
        if captions::Format::parse(&c.to_string_lossy()).is_none() {
            return Err(EngineError::new(
                "BAD_OUTPUT",
                format!("Captions file {} must end in .srt or .vtt (or .ass, or .json for Remotion).", c.display()),
            )
            .with_hint("Name the captions file captions.srt, captions.vtt, captions.ass or captions.json."));
        }
    }
    Ok(())
}

/// Writes mono audio, the words and the captions; if any of them fails, none is left changed
/// (see [`finish_outputs`]). Audio in hand goes through here; audio made chunk by chunk goes
/// straight to a [`wav::WavOut`] and then to [`finish_outputs`].
pub fn write_audio_outputs(
    samples: &[f32],
    sample_rate: u32,
    words: &[captions::Word],
    words_json: &Value,
    o: &Outputs,
) -> EngineResult<()> {
    check_outputs(o)?;
    let audio = match &o.audio {
        Some(p) => {
            let mut w = wav::WavOut::create(p, sample_rate, o.format.unwrap_or_default())?;
            w.push(samples, sample_rate)?;
            Some(w)
        }
        None => None,
    };
    finish_outputs(audio, words, words_json, o)
}

/// Writes the words and captions `o` asks for, then puts the audio (already written, see
/// [`wav::WavOut`]) in place, last: if anything fails, the words and captions written are removed
/// and an earlier file at the audio's path is untouched.
pub fn finish_outputs(
    audio: Option<wav::WavOut>,
    words: &[captions::Word],
    words_json: &Value,
    o: &Outputs,
) -> EngineResult<()> {
    let mut written: Vec<&Path> = Vec::new();
    let result = (|| {
        if let Some(p) = &o.words {
            let text = serde_json::to_string_pretty(words_json).expect("JSON values always serialise");
            crate::fsio::write_bytes(p, (text + "\n").as_bytes())?;
            written.push(p);
        }
        for p in &o.captions {
            let format = captions::Format::parse(&p.to_string_lossy()).expect("checked with the outputs");
            crate::fsio::write_bytes(p, captions::build(words, format, &captions::Rules::default()).as_bytes())?;
            written.push(p);
        }
        audio.map_or(Ok(()), wav::WavOut::finish)
    })();
    if result.is_err() {
        for p in written {
            crate::fsio::discard(p);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs(audio: Option<&str>, captions: Option<&str>) -> Outputs {
        Outputs {
            audio: audio.map(Into::into),
            format: None,
            words: None,
            captions: captions.into_iter().map(Into::into).collect(),
        }
    }

    #[test]
    fn audio_must_be_named_wav_and_captions_srt_or_vtt() {
        for ok in
            [outputs(Some("a.wav"), None), outputs(Some("dir/A.WAV"), Some("c.VTT")), outputs(Some("speech"), None)]
        {
            assert!(check_outputs(&ok).is_ok(), "{:?}", ok.audio);
        }
        for (bad, what) in [(outputs(Some("a.mp3"), None), "a.mp3"), (outputs(None, Some("c.txt")), "c.txt")] {
            let e = check_outputs(&bad).unwrap_err();
            assert_eq!(e.code, "BAD_OUTPUT");
            assert!(e.message.contains(what) && e.hint.is_some(), "{}", e.message);
        }
    }
}
