//! Choosing each code: classifier-free guidance, then top-k sampling with a temperature, from a
//! small seedable generator (PCG32) so a seed always gives the same music.

/// PCG-XSH-RR 32 (O'Neill), seeded through SplitMix64.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
    inc: u64,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let (init, seq) = (next(), next());
        let mut rng = Rng { state: 0, inc: (seq << 1) | 1 };
        rng.next_u32();
        rng.state = rng.state.wrapping_add(init);
        rng.next_u32();
        rng
    }

    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        let hi = u64::from(self.next_u32()) << 21;
        let lo = u64::from(self.next_u32()) >> 11;
        ((hi | lo) as f64) / (1u64 << 53) as f64
    }
}

/// Seeds stay below 2^53 so a JS number holds them exactly (results report the seed used).
pub const MAX_SEED: u64 = (1 << 53) - 1;

/// A seed from the OS, for when the caller gives none.
pub fn random_seed() -> u64 {
    let mut b = [0u8; 8];
    let raw = if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        (t as u64) ^ u64::from(std::process::id()).rotate_left(32)
    } else {
        u64::from_le_bytes(b)
    };
    raw & MAX_SEED
}

/// Classifier-free guidance into `out`: `uncond + scale · (cond − uncond)`.
pub fn guide(cond: &[f32], uncond: &[f32], scale: f32, out: &mut Vec<f32>) {
    out.clear();
    out.extend(cond.iter().zip(uncond).map(|(&c, &u)| u + scale * (c - u)));
}

/// Samples an index from the `top_k` largest `logits` (all of them when `top_k` is 0 or larger
/// than the vocabulary), softmax at `temperature`. `top_k == 1` or a zero temperature is greedy.
/// NaN counts as −∞; ties go to the lower index. `scratch` is reused between calls.
pub fn sample_top_k(logits: &[f32], top_k: usize, temperature: f32, rng: &mut Rng, scratch: &mut Vec<u32>) -> usize {
    let key = |i: u32| {
        let v = logits[i as usize];
        if v.is_nan() {
            f32::NEG_INFINITY
        } else {
            v
        }
    };
    // Descending by value, then ascending by index: a total order, so the result never depends on
    // how the selection happened to arrange equal values.
    let order = |a: &u32, b: &u32| key(*b).total_cmp(&key(*a)).then(a.cmp(b));
    if logits.is_empty() {
        return 0;
    }
    if top_k == 1 || temperature <= 0.0 || !temperature.is_finite() {
        return (0..logits.len() as u32).min_by(order).unwrap_or(0) as usize;
    }
    let k = if top_k == 0 { logits.len() } else { top_k.min(logits.len()) };
    scratch.clear();
    scratch.extend(0..logits.len() as u32);
    if k < scratch.len() {
        scratch.select_nth_unstable_by(k - 1, order);
        scratch.truncate(k);
    }
    scratch.sort_unstable_by(order);
    let max = key(scratch[0]);
    if max == f32::NEG_INFINITY {
        return scratch[0] as usize;
    }
    let inv_t = 1.0 / f64::from(temperature);
    let weight = |i: u32| (f64::from(key(i) - max) * inv_t).exp();
    let total: f64 = scratch.iter().map(|&i| weight(i)).sum();
    let mut r = rng.next_f64() * total;
    for &i in scratch.iter() {
        r -= weight(i);
        if r < 0.0 {
            return i as usize;
        }
    }
    scratch[0] as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn musicgen_rng_is_seeded_and_uniform_enough() {
        let a: Vec<u32> = {
            let mut r = Rng::new(42);
            (0..8).map(|_| r.next_u32()).collect()
        };
        let b: Vec<u32> = {
            let mut r = Rng::new(42);
            (0..8).map(|_| r.next_u32()).collect()
        };
        let c: Vec<u32> = {
            let mut r = Rng::new(43);
            (0..8).map(|_| r.next_u32()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mut r = Rng::new(7);
        let mean: f64 = (0..10_000).map(|_| r.next_f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "{mean}");
        assert_ne!(random_seed(), random_seed());
        assert!((0..100).all(|_| random_seed() <= MAX_SEED));
    }

    #[test]
    fn musicgen_guidance_extrapolates_from_unconditional() {
        let mut out = Vec::new();
        guide(&[1.0, 5.0, -2.0], &[0.0, 1.0, -2.0], 3.0, &mut out);
        assert_eq!(out, [3.0, 13.0, -2.0]);
        guide(&[1.0, 5.0], &[0.0, 1.0], 1.0, &mut out);
        assert_eq!(out, [1.0, 5.0], "scale 1 is the conditional logits");
        // Two parabolas peaking at c (cond) and u (uncond): the guided one peaks at u + 3(c − u).
        let (c, u) = (110.0f32, 100.0f32);
        let cond: Vec<f32> = (0..2048).map(|v| -(v as f32 - c).powi(2)).collect();
        let uncond: Vec<f32> = (0..2048).map(|v| -(v as f32 - u).powi(2)).collect();
        guide(&cond, &uncond, 3.0, &mut out);
        let mut scratch = Vec::new();
        assert_eq!(sample_top_k(&out, 1, 1.0, &mut Rng::new(0), &mut scratch), 130);
    }

    #[test]
    fn musicgen_top_k_only_draws_from_the_k_best() {
        let logits: Vec<f32> = (0..100).map(|i| if i % 10 == 3 { 5.0 + i as f32 / 100.0 } else { 0.0 }).collect();
        let mut rng = Rng::new(1);
        let mut scratch = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2000 {
            seen.insert(sample_top_k(&logits, 3, 1.0, &mut rng, &mut scratch));
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), [73, 83, 93]);
        // Greedy, ties to the lower index, NaN ignored.
        assert_eq!(sample_top_k(&[1.0, f32::NAN, 3.0, 3.0], 1, 1.0, &mut rng, &mut scratch), 2);
        assert_eq!(sample_top_k(&[1.0, 9.0, 3.0], 250, 0.0, &mut rng, &mut scratch), 1);
        // A low temperature sharpens, a high one flattens.
        let two = [0.0f32, 1.0];
        let share = |t: f32, rng: &mut Rng, s: &mut Vec<u32>| {
            (0..4000).filter(|_| sample_top_k(&two, 0, t, rng, s) == 1).count() as f64 / 4000.0
        };
        let (cold, warm) = (share(0.25, &mut rng, &mut scratch), share(4.0, &mut rng, &mut scratch));
        assert!(cold > 0.95 && (0.5..0.65).contains(&warm), "{cold} {warm}");
        // Same seed, same draws.
        let draw = |seed| {
            let mut r = Rng::new(seed);
            (0..50).map(|_| sample_top_k(&logits, 0, 1.0, &mut r, &mut Vec::new())).collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
    }
}
