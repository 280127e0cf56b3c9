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
        let err = out[200..out.len() - 200].iter().zip(&ideal[200..]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
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
