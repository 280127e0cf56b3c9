//! The tempo of an onset envelope: its autocorrelation, weighted by a log-normal prior around
//! 120 BPM (one octave wide, as librosa's `tempo`), the best lag refined between frames.

/// The tempo range searched, BPM.
pub const MIN_BPM: f64 = 40.0;
pub const MAX_BPM: f64 = 240.0;
/// Centre of the prior, BPM, and its width in octaves.
const PRIOR_BPM: f64 = 120.0;
const PRIOR_OCTAVES: f64 = 1.0;

/// The autocorrelation of `env` (mean removed) at lags `0..=max_lag`, each divided by the number of
/// products it sums so long lags are not penalised.
fn autocorrelation(env: &[f32], max_lag: usize) -> Vec<f64> {
    let mean = env.iter().map(|&v| f64::from(v)).sum::<f64>() / env.len().max(1) as f64;
    let x: Vec<f64> = env.iter().map(|&v| f64::from(v) - mean).collect();
    (0..=max_lag.min(x.len().saturating_sub(1)))
        .map(|lag| {
            let n = x.len() - lag;
            x[..n].iter().zip(&x[lag..]).map(|(a, b)| a * b).sum::<f64>() / n as f64
        })
        .collect()
}

/// The tempo in BPM of an envelope at `frame_rate`, or `None` when it has no periodicity (silence,
/// or too short for two beats at the slowest tempo).
pub fn estimate(env: &[f32], frame_rate: f64) -> Option<f64> {
    let min_lag = (frame_rate * 60.0 / MAX_BPM).floor().max(1.0) as usize;
    let max_lag = (frame_rate * 60.0 / MIN_BPM).ceil() as usize;
    if env.len() < 2 * max_lag {
        return None;
    }
    let ac = autocorrelation(env, max_lag + 1);
    if ac[0] <= 0.0 {
        return None;
    }
    let weight = |lag: f64| {
        let bpm = frame_rate * 60.0 / lag;
        (-0.5 * ((bpm / PRIOR_BPM).log2() / PRIOR_OCTAVES).powi(2)).exp()
    };
    let score = |lag: usize| ac[lag].max(0.0) * weight(lag as f64);
    let best = (min_lag..=max_lag).max_by(|&a, &b| score(a).total_cmp(&score(b)))?;
    if score(best) <= 0.0 {
        return None;
    }
    // A parabola through the peak and its neighbours places it between frames.
    let (l, c, r) = (score(best - 1), score(best), score(best + 1));
    let denom = l - 2.0 * c + r;
    let shift = if denom < 0.0 { (0.5 * (l - r) / denom).clamp(-0.5, 0.5) } else { 0.0 };
    Some(frame_rate * 60.0 / (best as f64 + shift))
}
