//! The onset-strength envelope: spectral flux of a log-power mel spectrogram (what librosa's
//! `onset_strength` computes), at about 86–94 frames a second.

use realfft::RealFftPlanner;

/// Mel bands of the spectrogram.
const MEL_BANDS: usize = 64;
/// Lowest and highest band edge, Hz (beats live in the kick and the hats, both inside).
const MEL_LOW_HZ: f64 = 30.0;
const MEL_HIGH_HZ: f64 = 11_000.0;
/// Log power is floored this far under the loudest bin (librosa's `top_db`).
const TOP_DB: f32 = 80.0;

/// The envelope and its time grid.
#[derive(Debug, Clone)]
pub struct Onsets {
    /// Onset strength per frame (non-negative).
    pub strength: Vec<f32>,
    /// Power (linear) in the bands under 200 Hz per frame (kicks, bass notes): downbeats are found
    /// in it, where the accent of a bar's first beat is a ratio, not a rise in dB.
    pub low: Vec<f32>,
    /// Frames per second.
    pub frame_rate: f64,
}

fn hz_to_mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn mel_to_hz(mel: f64) -> f64 {
    700.0 * (10f64.powf(mel / 2595.0) - 1.0)
}

/// Triangular mel filters over the `bins` bins of an `n_fft` spectrum: `(first bin, weights)`.
fn mel_filters(rate: u32, n_fft: usize) -> Vec<(usize, Vec<f32>)> {
    let nyquist = f64::from(rate) / 2.0;
    let high = MEL_HIGH_HZ.min(nyquist * 0.95);
    let (lo, hi) = (hz_to_mel(MEL_LOW_HZ), hz_to_mel(high));
    let edges: Vec<f64> =
        (0..MEL_BANDS + 2).map(|i| mel_to_hz(lo + (hi - lo) * i as f64 / (MEL_BANDS + 1) as f64)).collect();
    let bin_hz = f64::from(rate) / n_fft as f64;
    (0..MEL_BANDS)
        .map(|b| {
            let (left, centre, right) = (edges[b], edges[b + 1], edges[b + 2]);
            let first = (left / bin_hz).ceil() as usize;
            let last = ((right / bin_hz).floor() as usize).min(n_fft / 2);
            let mut weights: Vec<f32> = (first..=last)
                .map(|k| {
                    let f = k as f64 * bin_hz;
                    let w = if f <= centre { (f - left) / (centre - left) } else { (right - f) / (right - centre) };
                    w.max(0.0) as f32
                })
                .collect();
            if weights.iter().all(|w| *w == 0.0) {
                // A band narrower than a bin (low bands at low rates): take the nearest bin.
                weights = vec![1.0];
                return (((centre / bin_hz).round() as usize).min(n_fft / 2), weights);
            }
            (first, weights)
        })
        .collect()
}

/// The FFT size for a rate: about 46 ms (2048 at 44.1 and 48 kHz, 1024 at 22.05 and 24 kHz).
pub fn fft_size(rate: u32) -> usize {
    let target = f64::from(rate) * 0.046;
    let below = 1usize << (target.log2().floor() as u32);
    if target / below as f64 > 1.5 { below * 2 } else { below }.max(256)
}

/// The envelope of mono `samples` at `rate`. Frame `t` is centred on `t * hop` samples.
pub fn onset_strength(samples: &[f32], rate: u32) -> Onsets {
    let n_fft = fft_size(rate);
    let hop = n_fft / 4;
    let frame_rate = f64::from(rate) / hop as f64;
    let frames = samples.len() / hop + 1;
    let filters = mel_filters(rate, n_fft);
    let low_bands = filters
        .iter()
        .filter(|(first, w)| (*first + w.len()) as f64 * f64::from(rate) / (n_fft as f64) < 200.0)
        .count()
        .max(1);
    let window: Vec<f32> =
        (0..n_fft).map(|i| (0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n_fft as f64).cos()) as f32).collect();
    let mut planner = RealFftPlanner::<f32>::new();
    let fft = planner.plan_fft_forward(n_fft);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let mut mel = vec![0f32; frames * MEL_BANDS];
    let mut low = vec![0f32; frames];
    let half = (n_fft / 2) as i64;
    for t in 0..frames {
        let start = (t * hop) as i64 - half;
        for (i, x) in input.iter_mut().enumerate() {
            let at = start + i as i64;
            *x = if at >= 0 && (at as usize) < samples.len() { samples[at as usize] * window[i] } else { 0.0 };
        }
        fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).expect("buffers are the planned sizes");
        for (b, (first, weights)) in filters.iter().enumerate() {
            let power: f32 = weights.iter().enumerate().map(|(k, w)| w * spectrum[first + k].norm_sqr()).sum();
            mel[t * MEL_BANDS + b] = 10.0 * (power + 1e-10).log10();
            if b < low_bands {
                low[t] += power;
            }
        }
    }
    let top = mel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in &mut mel {
        *v = v.max(top - TOP_DB);
    }
    let mut strength = vec![0f32; frames];
    for t in 1..frames {
        let (prev, cur) = (&mel[(t - 1) * MEL_BANDS..t * MEL_BANDS], &mel[t * MEL_BANDS..(t + 1) * MEL_BANDS]);
        strength[t] = cur.iter().zip(prev).map(|(c, p)| (c - p).max(0.0)).sum::<f32>() / MEL_BANDS as f32;
    }
    Onsets { strength, low, frame_rate }
}
