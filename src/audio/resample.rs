//! Sample-rate conversion (band-limited windowed sinc) and fitting audio to a duration (trim, or
//! loop with an equal-power crossfade, then fade in and out).

use std::sync::OnceLock;

use super::decode::Decoded;

/// Half-width of the interpolation kernel, in samples of the lower of the two rates: each output
/// sample sums 64 inputs when neither side is decimated (more when downsampling).
const HALF_WIDTH: usize = 32;
/// Kernel table resolution: entries per sample of the lower rate (linear interpolation between).
const PHASES: usize = 512;
/// Cutoff as a fraction of the lower rate (0.5 = its Nyquist frequency). With the Kaiser window
/// below the stopband (≈ −90 dB) starts just under Nyquist, so nothing folds back into the band,
/// and the passband is flat to about 0.41 of the rate (≈ 9.8 kHz at 24 kHz).
const CUTOFF: f64 = 0.455;
/// Kaiser window shape parameter (≈ 90 dB stopband attenuation).
const KAISER_BETA: f64 = 9.0;

/// Zeroth-order modified Bessel function of the first kind (power series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let half = x / 2.0;
    for k in 1..64 {
        term *= (half / k as f64) * (half / k as f64);
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// The low-pass kernel sampled at `x = i / PHASES` low-rate samples for `i` in `0..=HALF_WIDTH·PHASES`
/// (it is symmetric), plus one trailing zero so interpolation at the edge needs no branch.
fn kernel_table() -> &'static [f32] {
    static TABLE: OnceLock<Vec<f32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let n = HALF_WIDTH * PHASES;
        let norm = bessel_i0(KAISER_BETA);
        let mut table: Vec<f32> = (0..=n)
            .map(|i| {
                let x = i as f64 / PHASES as f64;
                let arg = 2.0 * CUTOFF * x;
                let sinc = if i == 0 { 1.0 } else { (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg) };
                let r = x / HALF_WIDTH as f64;
                let window = bessel_i0(KAISER_BETA * (1.0 - r * r).max(0.0).sqrt()) / norm;
                (2.0 * CUTOFF * sinc * window) as f32
            })
            .collect();
        table.push(0.0);
        table
    })
}

/// Number of output samples for `len` inputs: `len · to / from`, rounded to nearest.
fn output_len(len: usize, from: u32, to: u32) -> usize {
    ((len as u128 * u128::from(to) + u128::from(from) / 2) / u128::from(from)) as usize
}

/// Converts mono audio from `from` Hz to `to` Hz with a band-limited windowed-sinc interpolator
/// (Kaiser window, 64 taps at the lower rate). Frequencies above the lower rate's Nyquist are
/// removed before they can alias. The output has `round(len · to / from)` samples; the same rate
/// returns a copy, and a zero rate returns nothing. Edges are handled by renormalising the kernel
/// over the samples that exist, so a signal that starts loud is not faded in.
pub fn resample(mono: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == 0 || to == 0 {
        return Vec::new();
    }
    if from == to || mono.is_empty() {
        return mono.to_vec();
    }
    let table = kernel_table();
    let out_len = output_len(mono.len(), from, to);
    let step = f64::from(from) / f64::from(to); // input samples per output sample
                                                // Kernel coordinates are in samples of the lower rate; `scale` converts input-sample distances.
    let scale = (f64::from(to) / f64::from(from)).min(1.0);
    let reach = HALF_WIDTH as f64 / scale; // kernel half-width in input samples
    let phases_per_input = scale * PHASES as f64;
    let last = mono.len() as i64 - 1;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len {
        let pos = n as f64 * step;
        let first = ((pos - reach).ceil() as i64).max(0);
        let end = ((pos + reach).floor() as i64).min(last);
        let mut acc = 0.0f32;
        let mut weight = 0.0f32;
        let mut i = first;
        while i <= end {
            let t = (i as f64 - pos).abs() * phases_per_input;
            let idx = t as usize;
            let w = if idx < HALF_WIDTH * PHASES {
                let frac = (t - idx as f64) as f32;
                table[idx] + (table[idx + 1] - table[idx]) * frac
            } else {
                0.0
            };
            acc += w * mono[i as usize];
            weight += w;
            i += 1;
        }
        // Spaced `scale` apart in kernel units, the taps sum to about 1/scale; dividing by their
        // actual sum makes the DC gain exactly 1, also at the edges where part of the kernel
        // falls outside the signal.
        out.push(if weight.abs() > 1e-3 { acc / weight } else { 0.0 });
    }
    out
}

/// Mixes decoded audio to mono and converts it to `rate` Hz.
pub fn to_mono_resampled(d: &Decoded, rate: u32) -> Vec<f32> {
    resample(&d.to_mono(), d.sample_rate, rate)
}

fn seconds_to_samples(seconds: f64, rate: u32) -> usize {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * f64::from(rate)).round() as usize
    } else {
        0
    }
}

/// Makes `mono` exactly `round(target_seconds · rate)` samples long: trimmed when longer, or
/// looped when shorter, each repeat joined with an equal-power (sine/cosine) crossfade of
/// `crossfade_seconds` (at most half the clip). Then it fades in over `fade_in` seconds and out
/// over `fade_out` seconds (raised-cosine curves, the very first and last samples at 0). Empty
/// input gives silence of the target length. The reference's values are 0.3 s, 0.08 s and 0.5 s.
pub fn fit_duration(
    mono: &[f32],
    rate: u32,
    target_seconds: f64,
    crossfade_seconds: f64,
    fade_in: f64,
    fade_out: f64,
) -> Vec<f32> {
    let target = seconds_to_samples(target_seconds, rate);
    if mono.is_empty() {
        return vec![0.0; target];
    }
    let mut out: Vec<f32>;
    if mono.len() >= target {
        out = mono[..target].to_vec();
    } else {
        let xf = seconds_to_samples(crossfade_seconds, rate).min(mono.len() / 2);
        out = Vec::with_capacity(target + mono.len());
        out.extend_from_slice(mono);
        while out.len() < target {
            let start = out.len() - xf;
            for k in 0..xf {
                let theta = std::f64::consts::FRAC_PI_2 * (k as f64 + 0.5) / xf as f64;
                let (fade_up, fade_down) = (theta.sin() as f32, theta.cos() as f32);
                out[start + k] = out[start + k] * fade_down + mono[k] * fade_up;
            }
            out.extend_from_slice(&mono[xf..]);
        }
        out.truncate(target);
    }
    apply_fades(&mut out, seconds_to_samples(fade_in, rate), seconds_to_samples(fade_out, rate));
    out
}

/// Raised-cosine fade in over the first `fade_in` samples and out over the last `fade_out`
/// (each clamped to the length): gain 0 on the first and last sample, rising smoothly.
fn apply_fades(samples: &mut [f32], fade_in: usize, fade_out: usize) {
    let len = samples.len();
    let gain = |i: usize, n: usize| (0.5 * (1.0 - (std::f64::consts::PI * i as f64 / n as f64).cos())) as f32;
    let fade_in = fade_in.min(len);
    for (i, s) in samples.iter_mut().take(fade_in).enumerate() {
        *s *= gain(i, fade_in);
    }
    let fade_out = fade_out.min(len);
    for i in 0..fade_out {
        samples[len - 1 - i] *= gain(i, fade_out);
    }
}

/// Scales `samples` so the largest absolute value is `peak` (e.g. 0.89, the reference's MusicGen
/// level). Silence (and all-NaN input) is left as it is.
pub fn peak_normalize(samples: &mut [f32], peak: f32) {
    let current = super::wav::peak(samples);
    if current > 0.0 && current.is_finite() && peak.is_finite() {
        let g = peak / current;
        for s in samples.iter_mut() {
            *s *= g;
        }
    }
}

#[cfg(test)]
mod tests;
