//! From a file or bytes in any supported format to a transcript: decode, mix to mono, resample to
//! 16 kHz, load the catalog model (once per process) and run the engine.

use std::path::Path;

use super::engine::{transcribe, Options, Transcript};
use super::mel::SAMPLE_RATE;
use super::model;
use crate::audio::{decode, resample};
use crate::engines::catalog::{self, CAPTIONS};
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::models_dir::models_dir;

#[derive(Debug, Clone, Default)]
pub struct TranscribeRequest {
    /// Catalog name (`whisper-tiny.en` when `None`).
    pub model: Option<String>,
    pub language: Option<String>,
    pub script: Option<String>,
}

/// The installed folder of a captions model.
pub fn model_dir(name: Option<&str>) -> EngineResult<(&'static catalog::ModelSpec, std::path::PathBuf)> {
    let spec = match name {
        Some(n) => catalog::find(n).filter(|m| m.capability == CAPTIONS),
        None => catalog::default_for(CAPTIONS),
    }
    .ok_or_else(|| {
        let known: Vec<&str> = catalog::all().iter().filter(|m| m.capability == CAPTIONS).map(|m| m.name).collect();
        EngineError::new("UNKNOWN_MODEL", format!("Unknown transcription model `{}`.", name.unwrap_or_default()))
            .with_hint(format!("Use one of: {}.", known.join(", ")))
    })?;
    Ok((spec, spec.dir_in(&models_dir())))
}

pub fn transcribe_bytes(
    bytes: &[u8],
    hint: Option<&str>,
    req: &TranscribeRequest,
    progress: &dyn Fn(f64, f64),
) -> EngineResult<Transcript> {
    let (spec, dir) = model_dir(req.model.as_deref())?;
    if bytes.is_empty() {
        return Err(EngineError::new("BAD_AUDIO", "The audio is empty (0 bytes).")
            .with_hint("Pass a WAV, MP3, FLAC or OGG file with speech in it."));
    }
    let decoded = decode::decode_bytes(bytes, hint).map_err(|e| match e.hint {
        None => e.with_hint("Pass a WAV, MP3, FLAC or OGG file (any sample rate and channel count)."),
        Some(_) => e,
    })?;
    if decoded.frames() == 0 {
        return Err(EngineError::new("BAD_AUDIO", "The audio has no samples.")
            .with_hint("Pass a WAV, MP3, FLAC or OGG file with speech in it."));
    }
    let samples = resample::to_mono_resampled(&decoded, SAMPLE_RATE);
    let model = model::shared(&dir)?;
    let opts =
        Options { language: req.language.clone(), script: req.script.clone(), model_name: spec.name.to_string() };
    transcribe(&model, &samples, &opts, progress)
}

pub fn transcribe_file(path: &Path, req: &TranscribeRequest, progress: &dyn Fn(f64, f64)) -> EngineResult<Transcript> {
    let bytes = std::fs::read(path).map_err(|e| {
        let err = EngineError::io(format!("cannot read {}", path.display()), &e);
        if e.kind() == std::io::ErrorKind::NotFound {
            EngineError { code: "NOT_FOUND", ..err }.with_hint("Check the path of the audio file.")
        } else {
            err
        }
    })?;
    let hint = path.extension().and_then(|e| e.to_str());
    transcribe_bytes(&bytes, hint, req, progress)
}
