//! Recorded narration: a line with `"audio": "take1.wav"` is not voiced. Its recording (WAV, MP3,
//! FLAC or OGG) is written as the line's `voice/<id>.wav` (mono, at its own rate) and its `text`
//! is placed in it word by word with the in-process Whisper engine, as `transcribe --script`
//! does; without `text`, the words Whisper hears are used. The manifest entry is a voiced line's,
//! with provider `recorded` and the recording's path (as the request gave it) as its voice.

use std::path::{Path, PathBuf};

use super::manifest::{VoiceEntry, VOICE_DIR};
use super::request::Line;
use crate::audio::{captions, decode, wav};
use crate::chains::ChainError;
use crate::engines::error::EngineResult;
use crate::engines::kokoro::service::{self, round_ms};
use crate::engines::whisper::{transcribe_decoded, TranscribeRequest};

/// The manifest's provider for a recorded line.
pub const PROVIDER: &str = "recorded";

/// What decides a recorded line's files: its text and the recording's bytes (streamed through the
/// hash, never held). A recording that cannot be read (missing, a FIFO, a device, too large) gets
/// a digest no earlier build has, so the line is tried (and fails) again.
pub(super) fn input_digest(line: &Line, audio: &Path) -> String {
    use crate::fsio::input::{limits::AUDIO, open};
    let recording = open(audio, AUDIO)
        .ok()
        .and_then(|(file, _)| crate::engines::catalog::sha256_reader(std::io::Read::take(file, AUDIO.max_bytes)).ok())
        .unwrap_or_default();
    let inputs = serde_json::json!([PROVIDER, line.text, recording]);
    crate::engines::catalog::sha256_hex(inputs.to_string().as_bytes())
}

/// Writes the line's audio and words from its recording; the anomalies name the words of the
/// text that could not be placed.
pub(super) async fn record(
    line: &Line,
    audio: &Path,
    digest: &str,
    out: &Path,
) -> Result<(VoiceEntry, Vec<String>), ChainError> {
    let file = format!("{}.wav", line.id);
    let words_file = format!("{}.words.json", line.id);
    let (text, source, wav_path, words_path) = (
        line.text.clone(),
        audio.to_path_buf(),
        out.join(VOICE_DIR).join(&file),
        out.join(VOICE_DIR).join(&words_file),
    );
    let (duration, rate, words, anomalies) = crate::blocking(move || write_line(&text, &source, wav_path, words_path))
        .await
        .map_err(|e| ChainError::engine(PROVIDER, e))?;
    let entry = VoiceEntry {
        id: line.id.clone(),
        path: format!("{VOICE_DIR}/{file}"),
        words_path: format!("{VOICE_DIR}/{words_file}"),
        provider: PROVIDER,
        voice: audio.display().to_string(),
        duration_s: round_ms(duration),
        sample_rate: rate,
        words,
        input_sha256: digest.to_string(),
        reused: false,
    };
    let (dir, journaled) = (out.to_path_buf(), entry.clone());
    if let Err(e) = crate::blocking(move || super::manifest::journal_line(&dir, &journaled)).await {
        // As for a voiced line: only a rerun after an interruption would align it again.
        tracing::warn!(line = %line.id, "cannot record the finished line in the build journal: {e}");
    }
    Ok((entry, anomalies))
}

fn write_line(
    text: &str,
    source: &Path,
    wav_path: PathBuf,
    words_path: PathBuf,
) -> EngineResult<(f64, u32, serde_json::Value, Vec<String>)> {
    // Decoded once, at the recording's own rate, and read as it decodes (never held whole).
    let decoded = decode::decode_file_mono(source, decode::limits::RECORDED_LINE).map_err(|e| match e.code {
        "NOT_FOUND" => e.with_hint("Check the line's \"audio\" path (relative to the folder the build runs in)."),
        _ => e,
    })?;
    let script = Some(text.trim().to_string()).filter(|t| !t.is_empty());
    let transcript = transcribe_decoded(&decoded, &TranscribeRequest { script, ..Default::default() }, &|_, _| {})?;
    let samples = decoded.samples;
    let words: Vec<captions::Word> = transcript.words.iter().map(captions::Word::from).collect();
    let json = service::caption_words_json(&words);
    let outputs = service::Outputs {
        audio: Some(wav_path),
        format: Some(wav::SampleFormat::Int16),
        words: Some(words_path),
        captions: Vec::new(),
    };
    service::write_audio_outputs(&samples, decoded.sample_rate, &words, &json, &outputs)?;
    let anomalies = transcript
        .unaligned
        .iter()
        .map(|u| format!("the word \"{}\" of the text could not be placed in the recording ({})", u.text, u.reason))
        .collect();
    Ok((samples.len() as f64 / f64::from(decoded.sample_rate), decoded.sample_rate, json, anomalies))
}
