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
