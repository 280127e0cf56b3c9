//! Generated signals with known answers, for the tests of the audio tools.

/// A sine of `freq` Hz at `amplitude` (linear) for `seconds`, starting at `phase` radians.
pub fn sine(rate: u32, freq: f64, amplitude: f32, seconds: f64, phase: f64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds).round() as usize;
    let w = 2.0 * std::f64::consts::PI * freq / f64::from(rate);
    (0..n).map(|i| amplitude * (w * i as f64 + phase).sin() as f32).collect()
}

/// A repeatable pseudo-random sequence in [-1, 1) (xorshift), so tests need no crate for it.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    }
}

/// White noise with an RMS of `rms` (linear).
pub fn noise(rate: u32, rms: f32, seconds: f64, seed: u64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds).round() as usize;
    let mut rng = Rng::new(seed);
    // Uniform noise on [-1, 1) has an RMS of 1/√3.
    let scale = rms * 3f32.sqrt();
    (0..n).map(|_| rng.next() * scale).collect()
}

/// Something with speech's envelope: voiced harmonics under syllable-rate bursts and pauses, with
/// a peak-to-loudness ratio near a narrator's.
pub fn speech_like(rate: u32, seconds: f64, seed: u64) -> Vec<f32> {
    let n = (f64::from(rate) * seconds).round() as usize;
    let mut rng = Rng::new(seed);
    let r = f64::from(rate);
    (0..n)
        .map(|i| {
            let t = i as f64 / r;
            let syllable = (2.0 * std::f64::consts::PI * 4.0 * t).sin().max(0.0).powi(2);
            let phrase = if (t % 3.0) < 2.4 { 1.0 } else { 0.0 };
            let f0 = 140.0 + 20.0 * (2.0 * std::f64::consts::PI * 0.5 * t).sin();
            let voiced: f64 = (1..6).map(|h| (2.0 * std::f64::consts::PI * f0 * h as f64 * t).sin() / h as f64).sum();
            (0.25 * syllable * phrase * voiced) as f32 + 0.01 * rng.next()
        })
        .collect()
}

/// A drum track at `bpm` with known beats, mono: a kick on every beat (louder on the first of each
/// bar of four), a snare on two and four, closed hats on the eighths and a quiet chord pad. Returns
/// the samples and the beat times (the first beat at `start` seconds).
pub fn drum_track(rate: u32, bpm: f64, seconds: f64, start: f64, seed: u64) -> (Vec<f32>, Vec<f64>) {
    let r = f64::from(rate);
    let n = (r * seconds).round() as usize;
    let mut out = vec![0f32; n];
    let mut rng = Rng::new(seed);
    let period = 60.0 / bpm;
    let tau = 2.0 * std::f64::consts::PI;
    // The pad: a quiet A minor chord under everything.
    for (i, v) in out.iter_mut().enumerate() {
        let t = i as f64 / r;
        *v = (0.03 * [220.0, 261.63, 329.63].iter().map(|f| (tau * f * t).sin()).sum::<f64>()) as f32;
    }
    let mut beats = Vec::new();
    let mut k = 0usize;
    loop {
        let at = start + k as f64 * period;
        if at >= seconds - 0.05 {
            break;
        }
        beats.push(at);
        let first = (at * r) as usize;
        let accent = if k.is_multiple_of(4) { 1.0 } else { 0.6 };
        // Kick: a 150 → 50 Hz sweep dying over about 150 ms.
        let mut phase = 0.0;
        for j in 0..(0.2 * r) as usize {
            let t = j as f64 / r;
            phase += tau * (50.0 + 100.0 * (-t * 30.0).exp()) / r;
            if let Some(v) = out.get_mut(first + j) {
                *v += (accent * 0.7 * (-t * 20.0).exp() * phase.sin()) as f32;
            }
        }
        // Snare on two and four: a noise burst.
        if !k.is_multiple_of(2) {
            for j in 0..(0.12 * r) as usize {
                let t = j as f64 / r;
                if let Some(v) = out.get_mut(first + j) {
                    *v += (0.3 * (-t * 35.0).exp()) as f32 * rng.next();
                }
            }
        }
        // Hats on the beat and the eighth after it: short, bright (differenced) noise.
        for eighth in [0.0, period / 2.0] {
            let h = ((at + eighth) * r) as usize;
            let mut last = 0f32;
            for j in 0..(0.03 * r) as usize {
                let t = j as f64 / r;
                let x = rng.next();
                if let Some(v) = out.get_mut(h + j) {
                    *v += (0.12 * (-t * 150.0).exp()) as f32 * (x - last);
                }
                last = x;
            }
        }
        k += 1;
    }
    (out, beats)
}
