use super::*;
use crate::audio::test_signals::drum_track;

/// mir_eval's beat F-measure: beats matched one to one within ±`window` s, both lists trimmed of
/// their first 5 s.
fn f_measure(reference: &[f64], estimated: &[f64], window: f64) -> f64 {
    let reference: Vec<f64> = reference.iter().copied().filter(|&t| t >= 5.0).collect();
    let estimated: Vec<f64> = estimated.iter().copied().filter(|&t| t >= 5.0).collect();
    if reference.is_empty() || estimated.is_empty() {
        return 0.0;
    }
    let mut used = vec![false; estimated.len()];
    let mut hits = 0;
    for r in &reference {
        if let Some(j) = (0..estimated.len()).find(|&j| !used[j] && (estimated[j] - r).abs() <= window) {
            used[j] = true;
            hits += 1;
        }
    }
    let (p, r) = (hits as f64 / estimated.len() as f64, hits as f64 / reference.len() as f64);
    if hits == 0 {
        0.0
    } else {
        2.0 * p * r / (p + r)
    }
}

fn decoded(mono: &[f32], rate: u32, channels: u16) -> Decoded {
    let samples = mono.iter().flat_map(|&v| std::iter::repeat_n(v, usize::from(channels))).collect();
    Decoded { samples, sample_rate: rate, channels }
}

#[test]
fn generated_tracks_give_their_tempo_and_beats() {
    for (bpm, rate, channels) in [(87.0, 44_100, 2), (100.0, 22_050, 1), (128.0, 48_000, 2), (140.0, 32_000, 1)] {
        let (mono, truth) = drum_track(rate, bpm, 24.0, 0.5, bpm as u64);
        let a = analyse(&decoded(&mono, rate, channels));
        let got = a.bpm.expect("a tempo");
        assert!((got - bpm).abs() / bpm <= 0.01, "{bpm} BPM at {rate} Hz read {got}");
        let times: Vec<f64> = a.beats.iter().map(|b| b.time).collect();
        let f = f_measure(&truth, &times, 0.07);
        assert!(f >= 0.9, "{bpm} BPM: F-measure {f}\n{times:?}");
        assert!(a.beats.iter().all(|b| (0.0..=1.0).contains(&b.strength)));
        // The accented first beat of each bar is found as the downbeat.
        let bars: Vec<f64> = truth.iter().copied().step_by(4).collect();
        assert!(!a.downbeats.is_empty(), "{bpm} BPM: no downbeats");
        assert!(f_measure(&bars, &a.downbeats, 0.07) >= 0.9, "{bpm}: downbeats {:?}", a.downbeats);
    }
}

#[test]
fn silence_has_no_tempo_and_no_beats() {
    let a = analyse(&decoded(&vec![0.0; 44_100 * 10], 44_100, 1));
    assert_eq!((a.bpm, a.beats.len(), a.downbeats.len()), (None, 0, 0));
    assert_eq!(a.duration_seconds, 10.0);
    let short = analyse(&decoded(&[0.1; 100], 44_100, 1));
    assert_eq!(short.bpm, None);
}

#[test]
fn steady_clicks_have_no_downbeat_but_do_have_beats() {
    // Identical clicks: beats, but no bar position stands out.
    let rate = 22_050;
    let mut s = vec![0f32; rate as usize * 20];
    let period = 60.0 / 110.0;
    let mut t = 0.3;
    while t < 19.9 {
        let at = (t * f64::from(rate)) as usize;
        for (j, v) in s[at..at + 200].iter_mut().enumerate() {
            *v = (0.8 * (-(j as f32) / 40.0).exp()) * if j % 2 == 0 { 1.0 } else { -1.0 };
        }
        t += period;
    }
    let a = analyse(&decoded(&s, rate, 1));
    assert!((a.bpm.unwrap() - 110.0).abs() < 1.1, "{:?}", a.bpm);
    assert!(a.downbeats.is_empty(), "{:?}", a.downbeats);
}
