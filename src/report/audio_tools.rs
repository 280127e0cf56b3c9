//! The results of the audio tools: `loudness` (measure and normalise) and `beats`.

use napi_derive::napi;
use serde::Serialize;

use super::shape::Nullable;
use crate::audio::loudness::Measures;

/// Rounds to 0.01 (levels in dB and LU; the meters are not finer than that).
fn hundredths(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn level(v: Option<f64>) -> Nullable<f64> {
    Nullable(v.map(hundredths))
}

/// The loudness of one file (`loudness --json`'s `files`, `loudness()` in JS).
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoudnessMeasures {
    pub path: String,
    /// Integrated loudness (ITU-R BS.1770-4, gated), LUFS; null for silence (−∞).
    #[napi(ts_type = "number | null")]
    pub integrated_lufs: Nullable<f64>,
    /// Loudness range (EBU Tech 3342), LU.
    pub loudness_range: f64,
    /// The loudest 3-second window, LUFS; null for silence.
    #[napi(ts_type = "number | null")]
    pub short_term_max_lufs: Nullable<f64>,
    /// True peak (4× oversampled), dBTP; null when every sample is 0.
    #[napi(ts_type = "number | null")]
    pub true_peak_dbtp: Nullable<f64>,
    /// Largest sample, dBFS; null when every sample is 0.
    #[napi(ts_type = "number | null")]
    pub sample_peak_dbfs: Nullable<f64>,
    pub duration_seconds: f64,
    pub sample_rate: u32,
    pub channels: u32,
    /// Set when a figure is missing and why (`silent: integrated loudness is -inf`).
    #[napi(ts_type = "string | null")]
    pub note: Nullable<String>,
}

impl LoudnessMeasures {
    pub fn new(path: &str, m: &Measures, sample_rate: u32, channels: u16) -> Self {
        let note = if m.duration_seconds == 0.0 {
            Some("empty: no audio to measure".to_string())
        } else if m.is_silent() {
            Some("silent: integrated loudness is -inf (below the -70 LUFS gate)".to_string())
        } else {
            None
        };
        Self {
            path: path.to_string(),
            integrated_lufs: level(m.integrated_lufs),
            loudness_range: hundredths(m.loudness_range),
            short_term_max_lufs: level(m.short_term_max_lufs),
            true_peak_dbtp: level(m.true_peak_dbtp),
            sample_peak_dbfs: level(m.sample_peak_dbfs),
            duration_seconds: (m.duration_seconds * 1000.0).round() / 1000.0,
            sample_rate,
            channels: u32::from(channels),
            note: Nullable(note),
        }
    }
}

/// `loudness FILE… --json`.
#[derive(Debug, Clone, Serialize)]
pub struct LoudnessList {
    pub files: Vec<LoudnessMeasures>,
}

/// `loudness FILE --target … -o OUT --json`, `normalizeLoudness()` in JS.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NormalizeResult {
    /// Where the normalised WAV was written.
    pub output_path: String,
    pub target_lufs: f64,
    pub true_peak_limit_dbtp: f64,
    /// The gain applied before the limiter, dB.
    pub gain_db: f64,
    /// The deepest gain reduction of the true-peak limiter, dB (0: it had nothing to do).
    pub limiter_reduction_db: f64,
    /// The input's measures.
    pub input: LoudnessMeasures,
    /// The written file's measures.
    pub output: LoudnessMeasures,
}

impl NormalizeResult {
    pub fn new(
        input: &str,
        output: &str,
        target: crate::audio::loudness::Target,
        n: &crate::audio::loudness::Normalized,
        sample_rate: u32,
        channels: u16,
    ) -> Self {
        Self {
            output_path: output.to_string(),
            target_lufs: target.lufs,
            true_peak_limit_dbtp: target.true_peak_dbtp,
            gain_db: hundredths(n.gain_db),
            limiter_reduction_db: hundredths(n.limiter_reduction_db),
            input: LoudnessMeasures::new(input, &n.before, sample_rate, channels),
            output: LoudnessMeasures::new(output, &n.after, sample_rate, channels),
        }
    }
}

/// One beat of `beats`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct BeatTime {
    /// Seconds from the start of the audio.
    pub time: f64,
    /// 0–1: the beat's onset against the loudest beat's.
    pub strength: f64,
}

/// `beats FILE --json`, `beats()` in JS. The file `-o` writes is the same without `ok` and
/// `outputPath`: HyperFrames' `{version, audio, beats: [{time, strength}]}` plus `bpm`,
/// `downbeats` and `durationSeconds`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BeatsResult {
    /// The shape's version (1).
    pub version: u32,
    /// The audio file, as given.
    pub audio: String,
    /// Tempo, BPM; null when no beat was found (silence, or no pulse).
    #[napi(ts_type = "number | null")]
    pub bpm: Nullable<f64>,
    pub beats: Vec<BeatTime>,
    /// Times of the first beats of bars (4/4) where the bars stand out; else empty.
    pub downbeats: Vec<f64>,
    pub duration_seconds: f64,
    /// Where the beats file was written; null without `-o`.
    #[napi(ts_type = "string | null")]
    pub output_path: Nullable<String>,
}

impl BeatsResult {
    pub fn new(audio: &str, a: &crate::audio::beats::Analysis, output_path: Option<String>) -> Self {
        Self {
            version: 1,
            audio: audio.to_string(),
            bpm: Nullable(a.bpm),
            beats: a.beats.iter().map(|b| BeatTime { time: b.time, strength: b.strength }).collect(),
            downbeats: a.downbeats.clone(),
            duration_seconds: (a.duration_seconds * 1000.0).round() / 1000.0,
            output_path: Nullable(output_path),
        }
    }

    /// The beats file's content (pretty JSON with a final newline).
    pub fn file_text(&self) -> String {
        let mut v = serde_json::to_value(self).expect("reports always serialise");
        if let Some(o) = v.as_object_mut() {
            o.remove("outputPath");
        }
        let mut text = serde_json::to_string_pretty(&v).expect("reports always serialise");
        text.push('\n');
        text
    }
}
