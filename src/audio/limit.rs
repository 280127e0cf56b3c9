//! A look-ahead peak limiter: keeps every sample at or under a ceiling without clipping, by lowering
//! the gain smoothly around each peak and nowhere else.
//!
//! Written here rather than taken from a crate: the audio is limited a chunk at a time, in hand, so
//! the limiter needs no state, no latency and no sample-rate-dependent filter design; this is two
//! linear passes (a sliding minimum, then a moving average) with a proven bound, which is what the
//! DSP crates' real-time limiters approximate with attack/release followers.
//!
//! For each sample the gain that would put it exactly at the ceiling is `r[n] = min(1, c / |x[n]|)`.
//! The applied gain is the sliding minimum of `r` over `n ± w`, averaged over `n ± w`: every term of
//! that average is a minimum over a window containing `n`, so it is at most `r[n]`, and
//! `|x[n]| · g[n] ≤ c` holds for every sample. The gain ramps down over `w` samples before a peak and
//! back up over `w` after it (linear, no step, so no click), and is exactly 1 where no sample within
//! `2w` is over the ceiling. Nothing moves in time and the sample count is unchanged.

/// -1 dBFS: the ceiling local speech is limited to, so that no sample of a 16-bit WAV is at full
/// scale (32767) and a mix on top has a little room.
pub const SPEECH_CEILING: f32 = 0.891_250_9;

/// How far the gain looks ahead of (and holds after) a peak, in ms: long enough that the gain change
/// is slow next to speech's pitch period (so it is not heard as distortion), short enough that only
/// the peak's own syllable gets quieter.
pub const LOOKAHEAD_MS: f32 = 5.0;

/// What [`limit_peaks`] did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Limited {
    /// The highest absolute sample before limiting.
    pub peak_before: f32,
    /// The lowest gain applied (1.0 when nothing was over the ceiling).
    pub min_gain: f32,
}

/// Limits `samples` in place to `ceiling` (linear, > 0) with a look-ahead and hold of `window`
/// samples either side of each peak. Audio already under the ceiling is left bit for bit as it is.
pub fn limit_peaks(samples: &mut [f32], ceiling: f32, window: usize) -> Limited {
    let peak_before = samples.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    if peak_before <= ceiling || samples.is_empty() {
        return Limited { peak_before, min_gain: 1.0 };
    }
    let n = samples.len();
    let w = window.min(n);
    let wanted: Vec<f32> = samples.iter().map(|v| if v.abs() > ceiling { ceiling / v.abs() } else { 1.0 }).collect();
    let floor = sliding_min(&wanted, w);
    // Prefix sums (in f64) for the moving average of the sliding minimum.
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for v in &floor {
        prefix.push(prefix.last().unwrap() + f64::from(*v));
    }
    let mut min_gain = 1.0f32;
    for (i, s) in samples.iter_mut().enumerate() {
        let (lo, hi) = (i.saturating_sub(w), (i + w + 1).min(n));
        let g = ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32;
        let g = g.min(wanted[i]);
        min_gain = min_gain.min(g);
        // The bound holds in exact arithmetic; the clamp only absorbs rounding in the last bit.
        *s = (*s * g).clamp(-ceiling, ceiling);
    }
    Limited { peak_before, min_gain }
}

/// `out[i] = min(v[i - w ..= i + w])` (clipped to the slice), in linear time.
fn sliding_min(v: &[f32], w: usize) -> Vec<f32> {
    let n = v.len();
    let mut out = vec![0.0; n];
    let mut queue: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut next = 0; // next index to enter the window
    for (i, o) in out.iter_mut().enumerate() {
        while next < n && next <= i + w {
            while queue.back().is_some_and(|&b| v[b] >= v[next]) {
                queue.pop_back();
            }
            queue.push_back(next);
            next += 1;
        }
        while queue.front().is_some_and(|&f| f + w < i) {
            queue.pop_front();
        }
        *o = v[*queue.front().expect("the window holds sample i")];
    }
    out
}

/// Limits one chunk of local speech (24 kHz or any rate) to [`SPEECH_CEILING`].
pub fn limit_speech(samples: &mut [f32], sample_rate: u32) -> Limited {
    let window = super::wav::samples_for_ms(sample_rate, LOOKAHEAD_MS);
    limit_peaks(samples, SPEECH_CEILING, window)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peak(s: &[f32]) -> f32 {
        s.iter().fold(0.0f32, |m, v| m.max(v.abs()))
    }

    #[test]
    fn under_the_ceiling_nothing_changes() {
        let mut s: Vec<f32> = (0..1000).map(|i| 0.8 * (i as f32 * 0.05).sin()).collect();
        let before = s.clone();
        let r = limit_peaks(&mut s, SPEECH_CEILING, 120);
        assert_eq!(s, before);
        assert_eq!(r.min_gain, 1.0);
    }

    #[test]
    fn peaks_over_full_scale_end_under_the_ceiling_and_far_samples_are_untouched() {
        // A sine at 0.5 with three bursts up to 1.4 (past full scale), one at each edge.
        let mut s: Vec<f32> = (0..24_000).map(|i| 0.5 * (i as f32 * 0.07).sin()).collect();
        for centre in [10usize, 12_000, 23_990] {
            for k in centre.saturating_sub(30)..(centre + 30).min(s.len()) {
                s[k] *= 2.8;
            }
        }
        let before = s.clone();
        let r = limit_peaks(&mut s, SPEECH_CEILING, 120);
        assert!(r.peak_before > 1.3);
        assert!(peak(&s) <= SPEECH_CEILING, "peak {}", peak(&s));
        assert_eq!(s.len(), before.len());
        // Further than two windows from any burst the audio is bit for bit the same.
        for (i, (a, b)) in s.iter().zip(&before).enumerate() {
            let near = [10usize, 12_000, 23_990].iter().any(|c| i.abs_diff(*c) <= 30 + 2 * 120);
            if !near {
                assert_eq!(a, b, "sample {i} changed");
            } else {
                assert!(a.abs() <= b.abs() + 1e-7, "the gain never exceeds 1 at {i}");
            }
        }
    }

    #[test]
    fn the_gain_moves_smoothly() {
        // One full-scale-plus sample in silence-level noise: the gain ramps, never steps.
        let mut s = vec![0.1f32; 2000];
        s[1000] = 2.0;
        limit_peaks(&mut s, 0.5, 100);
        assert!((s[1000] - 0.5).abs() < 1e-6);
        let gains: Vec<f32> = s.iter().map(|v| v / 0.1).collect();
        for pair in gains.windows(2).filter(|p| p[0] <= 1.0 && p[1] <= 1.0) {
            assert!((pair[0] - pair[1]).abs() <= 1.0 / 100.0 + 1e-5, "gain step {pair:?}");
        }
    }

    #[test]
    fn the_bound_holds_on_random_loud_audio() {
        // A deterministic pseudo-random signal up to ±3, windows of every size.
        let mut x = 12345u32;
        let mut s: Vec<f32> = (0..5000)
            .map(|_| {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (x >> 8) as f32 / (1u32 << 24) as f32 * 6.0 - 3.0
            })
            .collect();
        for w in [0, 1, 7, 120, 10_000] {
            let mut t = s.clone();
            limit_peaks(&mut t, SPEECH_CEILING, w);
            assert!(peak(&t) <= SPEECH_CEILING, "window {w}: peak {}", peak(&t));
        }
        limit_speech(&mut s, 24_000);
        assert!(peak(&s) <= SPEECH_CEILING);
        assert!(crate::audio::wav::to_i16(peak(&s)) < i16::MAX);
    }
}
