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
