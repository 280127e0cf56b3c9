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

/// Transcribes audio held in memory (decoded to mono as it decodes, at most
/// [`decode::limits::TRANSCRIPTION`] long).
pub fn transcribe_bytes(
    bytes: &[u8],
    hint: Option<&str>,
    req: &TranscribeRequest,
    progress: &dyn Fn(f64, f64),
) -> EngineResult<Transcript> {
    model_dir(req.model.as_deref())?;
    if bytes.is_empty() {
        return Err(EngineError::new("BAD_AUDIO", "The audio is empty (0 bytes).").with_hint(WITH_SPEECH));
    }
    let decoded = decode::decode_bytes_mono(bytes, hint, decode::limits::TRANSCRIPTION).map_err(with_format_hint)?;
    transcribe_decoded(&decoded, req, progress)
}

/// Transcribes the audio file at `path`, read as it decodes (never held whole) through
/// [`crate::fsio::input`]: a FIFO or device is refused at once.
pub fn transcribe_file(path: &Path, req: &TranscribeRequest, progress: &dyn Fn(f64, f64)) -> EngineResult<Transcript> {
    model_dir(req.model.as_deref())?;
    let decoded = decode::decode_file_mono(path, decode::limits::TRANSCRIPTION).map_err(|e| match e.code {
        "NOT_FOUND" => e.with_hint("Check the path of the audio file."),
        _ => with_format_hint(e),
    })?;
    transcribe_decoded(&decoded, req, progress)
}

/// Transcribes decoded audio (any rate and layout; mixed to mono and resampled to 16 kHz here).
pub fn transcribe_decoded(
    decoded: &decode::Decoded,
    req: &TranscribeRequest,
    progress: &dyn Fn(f64, f64),
) -> EngineResult<Transcript> {
    let (spec, dir) = model_dir(req.model.as_deref())?;
    if decoded.frames() == 0 {
        return Err(EngineError::new("BAD_AUDIO", "The audio has no samples.").with_hint(WITH_SPEECH));
    }
    let samples = resample::to_mono_resampled(decoded, SAMPLE_RATE);
    let model = model::shared(&dir)?;
    let opts =
        Options { language: req.language.clone(), script: req.script.clone(), model_name: spec.name.to_string() };
    transcribe(&model, &samples, &opts, progress)
}

const WITH_SPEECH: &str = "Pass a WAV, MP3, FLAC or OGG file with speech in it.";

/// Undecodable audio gets the formats we read as its hint, unless it has one.
fn with_format_hint(e: EngineError) -> EngineError {
    match e.hint {
        None if e.code == "BAD_AUDIO" => {
            e.with_hint("Pass a WAV, MP3, FLAC or OGG file (any sample rate and channel count).")
        }
        _ => e,
    }
}
