use super::*;
use crate::audio::test_signals::{noise, sine, speech_like};

fn approx(got: Option<f64>, want: f64, tol: f64) {
    let got = got.expect("a level");
    assert!((got - want).abs() <= tol, "got {got}, want {want} ± {tol}");
}

/// EBU Tech 3341 case 1: a 1 kHz sine at −23 dBFS in both channels reads −23.0 LUFS.
#[test]
fn sine_at_minus_23_dbfs_stereo_reads_minus_23_lufs() {
    for rate in [44_100, 48_000] {
        let mono = sine(rate, 1000.0, db_amplitude(-23.0) as f32, 20.0, 0.0);
        let stereo: Vec<f32> = mono.iter().flat_map(|&s| [s, s]).collect();
        let m = measure(&stereo, rate, 2).unwrap();
        approx(m.integrated_lufs, -23.0, 0.1);
        approx(m.short_term_max_lufs, -23.0, 0.1);
        assert!(m.loudness_range < 0.1, "{}", m.loudness_range);
        approx(m.sample_peak_dbfs, -23.0, 0.05);
        approx(m.true_peak_dbtp, -23.0, 0.1);
        assert!((m.duration_seconds - 20.0).abs() < 1e-9);
    }
}

/// A full-scale 1 kHz sine in one channel: −3.01 LUFS, mono or the left of a stereo pair.
#[test]
fn full_scale_sine_in_one_channel_reads_minus_3_01() {
    let mono = sine(48_000, 1000.0, 1.0, 10.0, 0.0);
    approx(measure(&mono, 48_000, 1).unwrap().integrated_lufs, -3.01, 0.05);
    let left: Vec<f32> = mono.iter().flat_map(|&s| [s, 0.0]).collect();
    approx(measure(&left, 48_000, 2).unwrap().integrated_lufs, -3.01, 0.05);
}

/// A sine at a quarter of the rate with a 45° phase never has a sample on its crest: the samples
/// peak at −3.01 dBFS, the true peak is 0 dBTP.
#[test]
fn true_peak_finds_the_inter_sample_peak() {
    let s = sine(48_000, 12_000.0, 1.0, 2.0, std::f64::consts::FRAC_PI_4);
    let m = measure(&s, 48_000, 1).unwrap();
    approx(m.sample_peak_dbfs, -3.01, 0.05);
    approx(m.true_peak_dbtp, 0.0, 0.3);
}

#[test]
fn silence_has_no_loudness_and_no_peak() {
    let m = measure(&vec![0.0; 48_000 * 4], 48_000, 2).unwrap();
    assert!(m.is_silent());
    assert_eq!((m.short_term_max_lufs, m.sample_peak_dbfs, m.true_peak_dbtp), (None, None, None));
    assert_eq!(m.loudness_range, 0.0);
    let empty = measure(&[], 48_000, 1).unwrap();
    assert!(empty.is_silent() && empty.duration_seconds == 0.0);
}

#[test]
fn many_channels_and_odd_rates_are_measured() {
    // Six channels (5.1): the LFE (the fourth) does not count.
    let tone = sine(32_000, 1000.0, db_amplitude(-20.0) as f32, 5.0, 0.0);
    let six: Vec<f32> = tone.iter().flat_map(|&s| [s, 0.0, 0.0, 1.0, 0.0, 0.0]).collect();
    approx(measure(&six, 32_000, 6).unwrap().integrated_lufs, -23.01, 0.1);
}

#[test]
fn loudness_range_of_a_quiet_then_loud_signal_is_their_difference() {
    // 20 s at −30 then 20 s at −20 LUFS-ish noise: the range is about 10 LU.
    let rate = 48_000;
    let mut s = noise(rate, db_amplitude(-30.0) as f32, 20.0, 1);
    s.extend(noise(rate, db_amplitude(-20.0) as f32, 20.0, 2));
    let m = measure(&s, rate, 1).unwrap();
    assert!((m.loudness_range - 10.0).abs() < 1.0, "{}", m.loudness_range);
}

#[test]
fn targets_by_name_or_number_within_range() {
    assert_eq!(parse_target("podcast").unwrap(), -16.0);
    assert_eq!(parse_target("Broadcast").unwrap(), -23.0);
    assert_eq!(parse_target("-14").unwrap(), -14.0);
    assert_eq!(parse_target("-18.5 LUFS").unwrap(), -18.5);
    for bad in ["5", "-71", "loud", "NaN", "inf"] {
        assert_eq!(parse_target(bad).unwrap_err().code, "BAD_INPUT", "{bad}");
    }
}

fn to_16_bit(s: &mut [f32]) {
    for v in s {
        *v = f32::from(crate::audio::wav::to_i16(*v)) / 32767.0;
    }
}

#[test]
fn speech_is_normalised_to_the_target_under_the_ceiling() {
    for (rate, channels) in [(24_000, 1u16), (48_000, 2)] {
        let mono = speech_like(rate, 12.0, 7);
        let s: Vec<f32> = mono.iter().flat_map(|&v| std::iter::repeat_n(v, usize::from(channels))).collect();
        for lufs in [-14.0, -16.0, -23.0] {
            let target = Target { lufs, ..Target::default() };
            let n = normalize(&s, rate, channels, target, to_16_bit).unwrap();
            approx(n.after.integrated_lufs, lufs, 0.5);
            assert!(n.after.true_peak_dbtp.unwrap() <= -1.0, "{:?}", n.after);
            assert_eq!(n.samples.len(), s.len());
            assert_eq!(n.before, measure(&s, rate, channels).unwrap());
        }
    }
}

#[test]
fn peaky_audio_is_limited_to_the_true_peak_ceiling() {
    // Quiet noise with full-scale clicks: reaching −14 LUFS needs the limiter.
    let rate = 48_000;
    let mut s = noise(rate, db_amplitude(-26.0) as f32, 10.0, 3);
    for k in 0..20 {
        let at = k * rate as usize / 2;
        for (i, v) in s[at..at + 40].iter_mut().enumerate() {
            *v = if i % 2 == 0 { 0.9 } else { -0.9 };
        }
    }
    let target = Target { lufs: -14.0, true_peak_dbtp: -2.0, max_gain_db: 20.0 };
    let n = normalize(&s, rate, 1, target, |_| {}).unwrap();
    assert!(n.limiter_reduction_db > 3.0, "{}", n.limiter_reduction_db);
    assert!(n.after.true_peak_dbtp.unwrap() <= -2.0, "{:?}", n.after);
    approx(n.after.integrated_lufs, -14.0, 0.5);
}

#[test]
fn too_much_gain_is_refused_with_the_gain_needed() {
    let s = noise(48_000, db_amplitude(-45.0) as f32, 5.0, 4);
    let e = normalize(&s, 48_000, 1, Target::default(), |_| {}).unwrap_err();
    assert_eq!(e.code, "GAIN_TOO_LARGE");
    assert!(e.message.contains("dB of gain"), "{}", e.message);
    let silent = normalize(&vec![0.0; 48_000], 48_000, 1, Target::default(), |_| {}).unwrap_err();
    assert_eq!(silent.code, "SILENT_AUDIO");
    let bad = normalize(&s, 48_000, 1, Target { lufs: 5.0, ..Target::default() }, |_| {}).unwrap_err();
    assert_eq!(bad.code, "BAD_INPUT");
}
