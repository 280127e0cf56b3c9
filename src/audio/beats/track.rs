//! Beat tracking by dynamic programming (Ellis 2007, as librosa's `beat_track`): the beats are the
//! path through the onset envelope that best trades onset strength against spacing close to the
//! tempo's period.

/// How hard the spacing is held to the period (librosa's `tightness`).
const TIGHTNESS: f64 = 100.0;

/// Beat frames (in order) of `env` for a tempo whose period is `period` frames.
pub fn track(env: &[f32], period: f64) -> Vec<usize> {
    let n = env.len();
    if n == 0 || period < 1.0 {
        return Vec::new();
    }
    let std = {
        let mean = env.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        (env.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n as f64).sqrt()
    };
    if std <= 0.0 {
        return Vec::new();
    }
    // The envelope smoothed by a Gaussian of a 32nd of the period, as librosa does.
    let sigma = period / 32.0;
    let reach = period.round() as i64;
    let kernel: Vec<f64> = (-reach..=reach).map(|k| (-0.5 * (k as f64 / sigma).powi(2)).exp()).collect();
    let local: Vec<f64> = (0..n as i64)
        .map(|t| {
            kernel
                .iter()
                .enumerate()
                .filter_map(|(i, w)| {
                    let at = t + i as i64 - reach;
                    (at >= 0 && (at as usize) < n).then(|| w * f64::from(env[at as usize]) / std)
                })
                .sum()
        })
        .collect();
    let (near, far) = ((period / 2.0).round() as usize, (2.0 * period).round() as usize);
    let penalty: Vec<f64> =
        (0..=far).map(|d| if d == 0 { 0.0 } else { -TIGHTNESS * (d as f64 / period).ln().powi(2) }).collect();
    let mut score = vec![0f64; n];
    let mut back = vec![usize::MAX; n];
    for t in 0..n {
        let mut best = f64::NEG_INFINITY;
        let mut from = usize::MAX;
        for d in near.max(1)..=far.min(t) {
            let s = score[t - d] + penalty[d];
            if s > best {
                best = s;
                from = t - d;
            }
        }
        score[t] = local[t] + if from == usize::MAX { 0.0 } else { best };
        back[t] = from;
    }
    // The path ends at the best score in the last period.
    let tail = n.saturating_sub(period.ceil() as usize);
    let mut at = (tail..n).max_by(|&a, &b| score[a].total_cmp(&score[b])).expect("n > 0");
    let mut beats = vec![at];
    while back[at] != usize::MAX {
        at = back[at];
        beats.push(at);
    }
    beats.reverse();
    // Leading and trailing beats on nothing (silence before and after the music) are dropped.
    let rms = (local.iter().map(|v| v * v).sum::<f64>() / n as f64).sqrt();
    let strong = |b: usize| local[b] >= 0.5 * rms;
    let first = beats.iter().position(|&b| strong(b)).unwrap_or(beats.len());
    let last = beats.iter().rposition(|&b| strong(b)).map_or(first, |p| p + 1);
    beats[first..last].to_vec()
}
