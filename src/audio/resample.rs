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
mod tests {
    use super::*;
    use crate::audio::wav::{peak, rms};

    fn sine(n: usize, rate: u32, hz: f64, amp: f32) -> Vec<f32> {
        (0..n).map(|i| amp * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin() as f32).collect()
    }

    /// Amplitude of the `hz` component (single-bin DFT over the middle, away from the edges).
    fn tone_level(s: &[f32], rate: u32, hz: f64) -> f64 {
        let mid = &s[s.len() / 4..s.len() * 3 / 4];
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &v) in mid.iter().enumerate() {
            let ph = 2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate);
            re += f64::from(v) * ph.cos();
            im += f64::from(v) * ph.sin();
        }
        2.0 * (re * re + im * im).sqrt() / mid.len() as f64
    }

    fn zero_crossing_hz(s: &[f32], rate: u32) -> f64 {
        let mid = &s[s.len() / 5..s.len() * 4 / 5];
        let ups: Vec<usize> = (1..mid.len()).filter(|&i| mid[i - 1] < 0.0 && mid[i] >= 0.0).collect();
        (ups.len() - 1) as f64 * f64::from(rate) / (ups[ups.len() - 1] - ups[0]) as f64
    }

    #[test]
    fn lengths_are_exact() {
        for (len, from, to, want) in [
            (48_000, 48_000, 24_000, 24_000),
            (24_000, 24_000, 48_000, 48_000),
            (44_100, 44_100, 48_000, 48_000),
            (32_000, 32_000, 44_100, 44_100),
            (1, 48_000, 24_000, 1),
            (3, 48_000, 16_000, 1),
            (1_000, 44_100, 16_000, 363), // 362.8 rounds up
            (7, 16_000, 48_000, 21),
        ] {
            assert_eq!(resample(&vec![0.1; len], from, to).len(), want, "{len} {from}->{to}");
        }
        assert!(resample(&[], 48_000, 24_000).is_empty());
        assert!(resample(&[0.5; 10], 0, 24_000).is_empty());
        assert!(resample(&[0.5; 10], 24_000, 0).is_empty());
        assert_eq!(resample(&[0.5, -0.25], 24_000, 24_000), vec![0.5, -0.25]);
    }

    #[test]
    fn dc_is_preserved_including_edges() {
        for (from, to) in [(48_000, 24_000), (24_000, 48_000), (44_100, 32_000), (32_000, 44_100)] {
            let out = resample(&vec![0.5; 4_000], from, to);
            assert!(out.iter().all(|v| (v - 0.5).abs() < 1e-3), "{from}->{to}");
        }
    }

    #[test]
    fn one_khz_survives_downsampling() {
        let input = sine(48_000, 48_000, 1_000.0, 0.8);
        let out = resample(&input, 48_000, 24_000);
        let hz = zero_crossing_hz(&out, 24_000);
        assert!((hz - 1_000.0).abs() < 2.0, "{hz} Hz");
        let level = tone_level(&out, 24_000, 1_000.0);
        assert!((level - 0.8).abs() < 0.8 * 0.02, "level {level}");
        assert!((f64::from(rms(&out[2_000..22_000])) - 0.8 / 2f64.sqrt()).abs() < 0.01);
        // Sample-exact against the ideal 1 kHz sine at 24 kHz (away from the edges).
        let ideal = sine(24_000, 24_000, 1_000.0, 0.8);
        let err = out[100..23_900].iter().zip(&ideal[100..23_900]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err < 2e-3, "max error {err}");
    }

    #[test]
    fn upsampling_and_odd_ratios_keep_the_tone() {
        for (from, to, hz) in [(24_000, 48_000, 3_000.0), (44_100, 48_000, 5_000.0), (32_000, 44_100, 440.0)] {
            let out = resample(&sine(from as usize, from, hz, 0.5), from, to);
            let ideal = sine(to as usize, to, hz, 0.5);
            let err =
                out[200..out.len() - 200].iter().zip(&ideal[200..]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
            assert!(err < 3e-3, "{from}->{to} @ {hz}: max error {err}");
        }
    }

    #[test]
    fn content_above_the_new_nyquist_is_removed() {
        // 15 kHz at 48 kHz would alias to 9 kHz at 24 kHz without filtering.
        let out = resample(&sine(48_000, 48_000, 15_000.0, 0.8), 48_000, 24_000);
        let alias = tone_level(&out, 24_000, 9_000.0);
        assert!(alias < 0.8 * 1e-3, "alias level {alias}");
        assert!(rms(&out[1_000..23_000]) < 1e-3, "rms {}", rms(&out[1_000..23_000]));
        // Just above Nyquist (12.5 kHz → 11.5 kHz alias) is still well attenuated.
        let out = resample(&sine(48_000, 48_000, 12_500.0, 0.8), 48_000, 24_000);
        assert!(rms(&out[1_000..23_000]) < 0.8 * 0.03, "rms {}", rms(&out[1_000..23_000]));
    }

    #[test]
    fn decoded_stereo_to_mono_at_a_new_rate() {
        let left = sine(4_800, 48_000, 500.0, 0.5);
        let samples = left.iter().flat_map(|&l| [l, l]).collect();
        let d = Decoded { samples, sample_rate: 48_000, channels: 2 };
        let out = to_mono_resampled(&d, 16_000);
        assert_eq!(out.len(), 1_600);
        assert!((tone_level(&out, 16_000, 500.0) - 0.5).abs() < 0.01);
    }

    #[test]
    fn fit_trims_exactly_and_fades() {
        let rate = 32_000;
        let clip = vec![0.5f32; rate as usize * 3];
        let out = fit_duration(&clip, rate, 2.0, 0.3, 0.08, 0.5);
        assert_eq!(out.len(), 64_000);
        assert_eq!(out[0], 0.0);
        assert!(out[out.len() - 1].abs() < 1e-6);
        assert!(out[1] < 1e-3 && out[out.len() - 2] < 1e-3);
        // Full level between the fades, ramps monotonic inside them.
        assert!(out[2_560..48_000].iter().all(|&v| v == 0.5));
        assert!(out[..2_560].windows(2).all(|w| w[1] >= w[0]));
        assert!(out[48_000..].windows(2).all(|w| w[1] <= w[0]));
        // Rounded to whole samples.
        assert_eq!(fit_duration(&clip, rate, 1.00001, 0.3, 0.0, 0.0).len(), 32_000);
        assert_eq!(fit_duration(&clip, rate, 0.0, 0.3, 0.08, 0.5).len(), 0);
        assert_eq!(fit_duration(&clip, rate, f64::NAN, 0.3, 0.08, 0.5).len(), 0);
        assert_eq!(fit_duration(&[], rate, 1.0, 0.3, 0.08, 0.5), vec![0.0; 32_000]);
    }

    #[test]
    fn fit_loops_with_a_smooth_crossfade() {
        let rate = 32_000;
        // 1.013 s of 220 Hz: the clip ends mid-cycle, so a plain butt-join would jump.
        let clip = sine(32_416, rate, 220.0, 0.8);
        let plain_jump = (clip[0] - clip[clip.len() - 1]).abs();
        assert!(plain_jump > 0.1, "fixture should have a seam: {plain_jump}");
        let out = fit_duration(&clip, rate, 10.0, 0.3, 0.0, 0.0);
        assert_eq!(out.len(), 320_000);
        // Largest step of the sine itself is 2π·f·A/rate; a crossfade of two such signals
        // with equal-power gains can at most add √2 of that plus the slow gain change.
        let sine_step = (2.0 * std::f64::consts::PI * 220.0 * 0.8 / f64::from(rate)) as f32;
        let max_step = out.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
        assert!(max_step < sine_step * 1.5 + 1e-3, "max step {max_step} vs sine step {sine_step}");
        assert!(peak(&out) < 0.8 * 1.45);
        // The first repeat starts where the clip did, the loop content is the clip's.
        assert_eq!(&out[..1_000], &clip[..1_000]);
        let xf = 9_600;
        let second = clip.len() - xf; // where the second copy's crossfade began
        assert_eq!(&out[second + xf..second + xf + 1_000], &clip[xf..xf + 1_000]);

        // Crossfade longer than half the clip is clamped; a tiny clip still fills the target.
        let short = fit_duration(&[0.5; 10], rate, 0.01, 1.0, 0.0, 0.0);
        assert_eq!(short.len(), 320);
        assert!(short.iter().all(|v| v.is_finite() && v.abs() <= 0.5 * 1.42));
        assert_eq!(fit_duration(&[0.5], rate, 0.001, 0.3, 0.0, 0.0), vec![0.5; 32]);
    }

    #[test]
    fn fades_on_a_looped_bed() {
        let rate = 32_000;
        let clip = sine(rate as usize, rate, 110.0, 0.9);
        let out = fit_duration(&clip, rate, 2.5, 0.3, 0.08, 0.5);
        assert_eq!(out.len(), 80_000);
        assert_eq!(out[0], 0.0);
        assert!(out[..8].iter().all(|v| v.abs() < 0.01));
        assert!(out[out.len() - 8..].iter().all(|v| v.abs() < 0.01));
        assert!(peak(&out[..2_560]) < 0.9 && peak(&out[3_000..40_000]) > 0.85);
    }

    #[test]
    fn peak_normalisation() {
        let mut s = vec![0.1, -0.4, 0.2];
        peak_normalize(&mut s, 0.89);
        assert!((peak(&s) - 0.89).abs() < 1e-6);
        assert!((s[0] - 0.2225).abs() < 1e-6 && s[1] < 0.0);
        let mut silent = vec![0.0; 5];
        peak_normalize(&mut silent, 0.89);
        assert_eq!(silent, vec![0.0; 5]);
        let mut empty: Vec<f32> = Vec::new();
        peak_normalize(&mut empty, 0.89);
    }

    #[test]
    fn bessel_matches_known_values() {
        assert!((bessel_i0(0.0) - 1.0).abs() < 1e-15);
        assert!((bessel_i0(1.0) - 1.266_065_877_752_008_4).abs() < 1e-12);
        assert!((bessel_i0(9.0) - 1_093.588_354_511_374_5).abs() < 1e-8);
    }
}
