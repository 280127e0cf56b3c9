//! A look-ahead true-peak limiter: interleaved samples in, the same samples limited out, one gain
//! for all channels (linked, so the stereo image does not move).
//!
//! Our own rather than a crate: none on crates.io limits true peak (the ones there look at
//! samples, and inter-sample peaks of a limited signal then still pass the ceiling by 0.5–1 dB,
//! which a −1 dBTP delivery spec refuses). It works on a whole signal at once, which lets the gain
//! look ahead without delaying the audio.
//!
//! How: each frame's peak is the largest of its samples and the three 4×-interpolated points after
//! it, on every channel. The gain each frame needs (`ceiling / peak`, at most 1) is taken as the
//! minimum over the look-ahead window ahead of it, recovered from exponentially (the release), and
//! smoothed by a triangular average as long as the look-ahead window. Every weight of that average
//! falls on a value no higher than the need of the frame it is averaged for, so no frame gets more
//! gain than it may have, and the gain moves in smooth ramps: no clicks on attack, no pumping on
//! speech with a release of 150 ms.

use std::collections::VecDeque;

/// How the limiter behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// The highest true peak let through, dBTP.
    pub ceiling_dbtp: f64,
    /// How far ahead the gain starts to fall before a peak, ms.
    pub lookahead_ms: f64,
    /// Time constant of the recovery after a peak, ms.
    pub release_ms: f64,
}

impl Default for Settings {
    /// −1 dBTP, 5 ms of look-ahead (the attack is a 5 ms S-curve) and 150 ms of release: fast
    /// enough to follow a sentence, slow enough not to follow each syllable (which is pumping).
    fn default() -> Self {
        Self { ceiling_dbtp: -1.0, lookahead_ms: 5.0, release_ms: 150.0 }
    }
}

/// Half the length of the interpolation kernel, in input samples.
const HALF_TAPS: i64 = 8;
/// Oversampling factor of the peak detector (what BS.1770-4 asks of a true-peak meter).
const OVERSAMPLE: usize = 4;

/// The limiter for one signal's rate and channel count.
#[derive(Debug, Clone)]
pub struct Limiter {
    channels: usize,
    ceiling: f32,
    lookahead: usize,
    release_coeff: f32,
    /// Interpolation kernels of the three points between two samples.
    phases: Vec<[f32; 2 * HALF_TAPS as usize]>,
}

/// A Hann-windowed sinc at `t` input samples from its centre.
fn kernel(t: f64) -> f64 {
    if t.abs() >= HALF_TAPS as f64 {
        return 0.0;
    }
    let sinc = if t == 0.0 { 1.0 } else { (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t) };
    sinc * 0.5 * (1.0 + (std::f64::consts::PI * t / HALF_TAPS as f64).cos())
}

impl Limiter {
    pub fn new(sample_rate: u32, channels: u16, settings: Settings) -> Self {
        let rate = f64::from(sample_rate.max(1));
        // Two boxes of `half` make a triangle of `2 * half - 1` samples; the look-ahead is its length.
        let lookahead = ((settings.lookahead_ms / 1000.0 * rate).round() as usize).max(1);
        let release_samples = (settings.release_ms / 1000.0 * rate).max(1.0);
        let phases = (1..OVERSAMPLE)
            .map(|p| {
                let frac = p as f64 / OVERSAMPLE as f64;
                let mut taps = [0f32; 2 * HALF_TAPS as usize];
                for (i, tap) in taps.iter_mut().enumerate() {
                    let k = i as i64 - HALF_TAPS + 1; // offsets -7..=8 from the sample before the point
                    *tap = kernel(k as f64 - frac) as f32;
                }
                taps
            })
            .collect();
        Self {
            channels: usize::from(channels.max(1)),
            ceiling: 10f64.powf(settings.ceiling_dbtp / 20.0) as f32,
            lookahead,
            release_coeff: (-1.0 / release_samples).exp() as f32,
            phases,
        }
    }

    /// Each frame's true peak over all channels: the frame's samples and the interpolated points
    /// between it and the next frame.
    fn frame_peaks(&self, samples: &[f32]) -> Vec<f32> {
        let ch = self.channels;
        let frames = samples.len() / ch;
        let at = |f: i64, c: usize| -> f32 {
            if f < 0 || f as usize >= frames {
                0.0
            } else {
                samples[f as usize * ch + c]
            }
        };
        let mut peaks = vec![0f32; frames];
        for (n, peak) in peaks.iter_mut().enumerate() {
            let mut m = 0f32;
            for c in 0..ch {
                m = m.max(samples[n * ch + c].abs());
                for taps in &self.phases {
                    let mut y = 0f32;
                    for (i, tap) in taps.iter().enumerate() {
                        y += tap * at(n as i64 + i as i64 - HALF_TAPS + 1, c);
                    }
                    m = m.max(y.abs());
                }
            }
            *peak = m;
        }
        peaks
    }

    /// The gain of every frame (1 where nothing needs limiting).
    pub fn gains(&self, samples: &[f32]) -> Vec<f32> {
        let need: Vec<f32> = self
            .frame_peaks(samples)
            .into_iter()
            .map(|p| if p > self.ceiling { self.ceiling / p } else { 1.0 })
            .collect();
        let frames = need.len();
        if frames == 0 {
            return need;
        }
        let half = self.lookahead.div_ceil(2).max(1);
        let window = 2 * half - 1;
        // The least need over [n, n + window), by a monotone deque.
        let mut ahead = vec![1f32; frames];
        let mut deque: VecDeque<usize> = VecDeque::new();
        for i in (0..frames).rev() {
            while deque.back().is_some_and(|&j| need[j] >= need[i]) {
                deque.pop_back();
            }
            deque.push_back(i);
            while deque.front().is_some_and(|&j| j >= i + window) {
                deque.pop_front();
            }
            ahead[i] = need[*deque.front().expect("just pushed")];
        }
        // Release: recover towards 1 exponentially, never above what is needed.
        let mut held = 1f32;
        for g in ahead.iter_mut() {
            held = (1.0 - (1.0 - held) * self.release_coeff).min(*g);
            *g = held;
        }
        // Two trailing boxes of `half`: a triangle over [n - window + 1, n].
        let boxed = trailing_mean(&ahead, half);
        trailing_mean(&boxed, half)
    }

    /// Limits `samples` (interleaved) in place. Returns the deepest gain reduction in dB (0 when
    /// nothing was over the ceiling).
    pub fn process(&mut self, samples: &mut [f32]) -> f64 {
        let gains = self.gains(samples);
        let mut least = 1f32;
        for (frame, g) in samples.chunks_exact_mut(self.channels).zip(&gains) {
            least = least.min(*g);
            for s in frame {
                *s *= g;
            }
        }
        if least >= 1.0 {
            0.0
        } else {
            -20.0 * f64::from(least).log10()
        }
    }
}

/// The mean of each value and the `len - 1` before it. Values before the start count as the first
/// one: a peak in the first milliseconds has no audio before it to ramp down over.
fn trailing_mean(values: &[f32], len: usize) -> Vec<f32> {
    let Some(&first) = values.first() else { return Vec::new() };
    let mut out = Vec::with_capacity(values.len());
    let mut sum = len as f64 * f64::from(first);
    for (i, v) in values.iter().enumerate() {
        sum += f64::from(*v);
        sum -= f64::from(if i >= len { values[i - len] } else { first });
        out.push((sum / len as f64) as f32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_audio_is_left_alone() {
        let mut s: Vec<f32> = (0..4800).map(|i| 0.5 * (i as f32 * 0.05).sin()).collect();
        let before = s.clone();
        let reduction = Limiter::new(48_000, 1, Settings::default()).process(&mut s);
        assert_eq!(reduction, 0.0);
        assert_eq!(s, before);
    }

    #[test]
    fn no_frame_gets_more_gain_than_it_may_have() {
        // Bursts at full scale with quiet between: every frame's detected peak after the gain is
        // under the ceiling, and the quiet parts recover towards unity.
        let rate = 48_000;
        let mut s: Vec<f32> = (0..rate * 2)
            .flat_map(|i| {
                let loud = (i / 4800) % 3 == 0;
                let v = (i as f32 * 0.3).sin() * if loud { 1.4 } else { 0.1 };
                [v, -v * 0.8]
            })
            .collect();
        let lim = Limiter::new(rate as u32, 2, Settings::default());
        let gains = lim.gains(&s);
        let peaks = lim.frame_peaks(&s);
        let ceiling = 10f32.powf(-1.0 / 20.0);
        for (p, g) in peaks.iter().zip(&gains) {
            assert!(p * g <= ceiling * 1.0001, "peak {p} gain {g}");
        }
        let mut l = lim.clone();
        let reduction = l.process(&mut s);
        assert!(reduction > 3.0, "{reduction}");
        // The middle of a quiet stretch, 150 ms after a burst, has recovered most of the way.
        assert!(gains[4800 + 2400 + 4800] > 0.5, "{}", gains[12000]);
    }

    #[test]
    fn attack_is_a_ramp_not_a_step() {
        let rate = 48_000u32;
        let mut s = vec![0.1f32; 9600];
        for v in &mut s[4800..4900] {
            *v = 1.0;
        }
        let gains = Limiter::new(rate, 1, Settings::default()).gains(&s);
        let steepest = gains.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0f32, f32::max);
        // A 5 ms triangle moves at most 2/240 of the full depth per sample.
        assert!(steepest < 0.01, "{steepest}");
        assert!(gains[4800 - 240] > 0.999 && gains[4799] < 0.95);
    }
}
