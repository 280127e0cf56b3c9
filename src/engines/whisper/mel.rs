//! Whisper's log-mel features: 16 kHz audio, periodic Hann window of 400, hop 160, power spectrum,
//! Slaney-normalised mel filters, log10, floor at (max − 8), then (x + 4) / 4. The maximum is taken
//! over the whole input, as the reference does when it computes features for a whole file at once.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

pub const SAMPLE_RATE: u32 = 16_000;
pub const N_FFT: usize = 400;
pub const HOP: usize = 160;
/// Mel frames in one 30 s window.
pub const WINDOW_FRAMES: usize = 3000;
/// Samples in one 30 s window.
pub const WINDOW_SAMPLES: usize = WINDOW_FRAMES * HOP;
/// Mel frames per second.
pub const FRAMES_PER_SECOND: f64 = (SAMPLE_RATE as usize / HOP) as f64;

/// Log-mel features, `[mels][frames]` row-major.
#[derive(Debug, Clone)]
pub struct LogMel {
    pub mels: usize,
    pub frames: usize,
    pub data: Vec<f32>,
}

impl LogMel {
    /// The `[mels, 3000]` window starting at `start` frames, zero-padded past the end (zero is what
    /// the reference's padding with 30 s of silence gives after normalisation only approximately;
    /// the audio is padded with silence before [`log_mel`], so real frames cover every window).
    pub fn window(&self, start: usize) -> Vec<f32> {
        let mut out = vec![0f32; self.mels * WINDOW_FRAMES];
        for m in 0..self.mels {
            let row = &self.data[m * self.frames..(m + 1) * self.frames];
            let end = (start + WINDOW_FRAMES).min(self.frames);
            if start < end {
                out[m * WINDOW_FRAMES..m * WINDOW_FRAMES + end - start].copy_from_slice(&row[start..end]);
            }
        }
        out
    }
}

fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// librosa's `filters.mel(sr=16000, n_fft=400, n_mels)` (Slaney scale and norm), `[mels][201]`.
pub fn mel_filters(mels: usize) -> Vec<f32> {
    let bins = N_FFT / 2 + 1;
    let fft_freqs: Vec<f64> = (0..bins).map(|i| i as f64 * f64::from(SAMPLE_RATE) / N_FFT as f64).collect();
    let (lo, hi) = (hz_to_mel(0.0), hz_to_mel(f64::from(SAMPLE_RATE) / 2.0));
    let mel_f: Vec<f64> = (0..mels + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (mels + 1) as f64)).collect();
    let mut out = vec![0f32; mels * bins];
    for m in 0..mels {
        let (f0, f1, f2) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (f2 - f0);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - f0) / (f1 - f0);
            let upper = (f2 - f) / (f2 - f1);
            out[m * bins + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    out
}

fn hann() -> Vec<f32> {
    (0..N_FFT).map(|n| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64).cos()) as f32).collect()
}

/// Features for 16 kHz mono `samples` (STFT centred with reflect padding, the last frame dropped,
/// as in the reference): `samples.len() / 160` frames.
pub fn log_mel(samples: &[f32], mels: usize) -> LogMel {
    let frames = samples.len() / HOP;
    let bins = N_FFT / 2 + 1;
    let pad = N_FFT / 2;
    let n = samples.len();
    // Reflect padding; inputs shorter than the pad are zero-extended first (only tiny inputs).
    let at = |i: isize| -> f32 {
        if n == 0 {
            return 0.0;
        }
        let mut i = i;
        if n > 1 {
            let period = 2 * (n as isize - 1);
            i = i.rem_euclid(period);
            if i >= n as isize {
                i = period - i;
            }
        } else {
            i = 0;
        }
        samples[i as usize]
    };
    let window = hann();
    let filters = mel_filters(mels);
    let fft: Arc<dyn RealToComplex<f32>> = RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut power = vec![0f32; bins];
    let mut data = vec![0f32; mels * frames];
    for t in 0..frames {
        let start = (t * HOP) as isize - pad as isize;
        for (j, slot) in input.iter_mut().enumerate() {
            *slot = at(start + j as isize) * window[j];
        }
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).expect("fixed-size FFT buffers");
        for (p, c) in power.iter_mut().zip(&spectrum) {
            *p = c.re * c.re + c.im * c.im;
        }
        for m in 0..mels {
            let row = &filters[m * bins..(m + 1) * bins];
            let e: f32 = row.iter().zip(&power).map(|(w, p)| w * p).sum();
            data[m * frames + t] = e.max(1e-10).log10();
        }
    }
    let max = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in &mut data {
        *v = ((*v).max(max - 8.0) + 4.0) / 4.0;
    }
    LogMel { mels, frames, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values from scripts/whisper/mel_reference.py (faster-whisper 1.2.1's numpy
    /// FeatureExtractor, the peer's own implementation of the reference recipe) for the signal
    /// below: 0.5 s of a 440 Hz sine (amplitude 0.3) plus a 1 kHz sine (0.1), then 0.25 s of
    /// silence.
    fn reference_signal() -> Vec<f32> {
        (0..12_000)
            .map(|i| {
                if i >= 8000 {
                    return 0.0;
                }
                let t = i as f64 / 16_000.0;
                (0.3 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()
                    + 0.1 * (2.0 * std::f64::consts::PI * 1000.0 * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn filters_match_librosa_slaney() {
        let f = mel_filters(80);
        assert_eq!(f.len(), 80 * 201);
        // faster-whisper's filters (librosa's Slaney recipe): row 1, bin 2, and row 1's sum.
        let row1: f64 = f[201..402].iter().map(|&v| f64::from(v)).sum();
        assert!((f64::from(f[201 + 2]) - REF_FILTER_1_2).abs() < 1e-6, "{}", f[201 + 2]);
        assert!((row1 - REF_FILTER_1_SUM).abs() < 1e-5, "{row1}");
    }

    include!("mel_fixtures.rs");

    #[test]
    fn log_mel_matches_the_reference_within_float_tolerance() {
        let mel = log_mel(&reference_signal(), 80);
        assert_eq!(mel.frames, 75);
        for &(m, t, expected) in REF_LOG_MEL {
            let got = mel.data[m * mel.frames + t];
            assert!((got - expected).abs() < 2e-4, "mel[{m}][{t}] = {got}, reference {expected}");
        }
    }

    #[test]
    fn windows_are_zero_padded_past_the_end() {
        let mel = log_mel(&reference_signal(), 80);
        let w = mel.window(70);
        assert_eq!(w.len(), 80 * WINDOW_FRAMES);
        assert_eq!(w[0], mel.data[70]);
        assert_eq!(w[10], 0.0);
    }
}
