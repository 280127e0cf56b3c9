//! MusicGen's delay pattern: codebook `k` runs `k` steps behind codebook 0, so each step predicts
//! codebook 0's frame `f`, codebook 1's frame `f − 1`, and so on. Positions outside a codebook's
//! window hold the pad token, as in Hugging Face's `build_delay_pattern_mask` and
//! `apply_delay_pattern_mask`.
//!
//! A sequence of `frames` frames has `frames + K` positions per codebook: position 0 is the start
//! token, codebook `k` holds frame `f` at position `f + k + 1`, and everything else is padding
//! (the lower triangle `pos ≤ k` before, the upper one `pos > k + frames` after). Generating it
//! takes `frames + K − 1` decoder steps.

/// The pattern for `codebooks` codebooks and `frames` frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelayPattern {
    pub codebooks: usize,
    pub frames: usize,
}

impl DelayPattern {
    pub fn new(codebooks: usize, frames: usize) -> Self {
        Self { codebooks, frames }
    }

    /// Positions per codebook, the start token included.
    pub fn len(&self) -> usize {
        self.frames + self.codebooks
    }

    #[cfg(test)]
    /// Whether the pattern has no frames.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// Decoder steps to fill every position after the start token.
    pub fn steps(&self) -> usize {
        self.len() - 1
    }

    /// Whether codebook `k` must hold the pad token at `pos`.
    pub fn is_pad(&self, k: usize, pos: usize) -> bool {
        pos <= k || pos > k + self.frames
    }

    #[cfg(test)]
    /// Lays `codes[k][f]` out in the delayed pattern (`[K][len]`), padding with `pad`.
    pub fn build(&self, codes: &[Vec<i64>], pad: i64) -> Vec<Vec<i64>> {
        (0..self.codebooks)
            .map(|k| (0..self.len()).map(|pos| if self.is_pad(k, pos) { pad } else { codes[k][pos - k - 1] }).collect())
            .collect()
    }

    /// Undoes [`build`](Self::build): `[K][frames]` codes from a delayed `[K][len]` sequence.
    /// `None` when the sequence is too short or has the wrong number of codebooks.
    pub fn undo(&self, seq: &[Vec<i64>]) -> Option<Vec<Vec<i64>>> {
        if seq.len() != self.codebooks || seq.iter().any(|row| row.len() < self.len()) {
            return None;
        }
        Some(seq.iter().enumerate().map(|(k, row)| row[k + 1..=k + self.frames].to_vec()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn musicgen_delay_pattern_matches_the_reference_layout() {
        // Hugging Face's build_delay_pattern_mask for 4 codebooks, max_length 6 (2 frames), P = pad:
        // cb0: start a0 a1 P  P  P
        // cb1: P     P  b0 b1 P  P
        // cb2: P     P  P  c0 c1 P
        // cb3: P     P  P  P  d0 d1
        let p = DelayPattern::new(4, 2);
        assert_eq!((p.len(), p.steps()), (6, 5));
        let codes = vec![vec![10, 11], vec![20, 21], vec![30, 31], vec![40, 41]];
        let built = p.build(&codes, 2048);
        assert_eq!(built[0], [2048, 10, 11, 2048, 2048, 2048]);
        assert_eq!(built[1], [2048, 2048, 20, 21, 2048, 2048]);
        assert_eq!(built[2], [2048, 2048, 2048, 30, 31, 2048]);
        assert_eq!(built[3], [2048, 2048, 2048, 2048, 40, 41]);
        assert_eq!(p.undo(&built).unwrap(), codes);
    }

    #[test]
    fn musicgen_delay_pattern_round_trips_and_checks_lengths() {
        let p = DelayPattern::new(4, 500);
        let codes: Vec<Vec<i64>> = (0..4).map(|k| (0..500).map(|f| (f * 7 + k * 3) % 2048).collect()).collect();
        let built = p.build(&codes, 2048);
        assert_eq!(p.steps(), 503, "ceil(10 s × 50) + 3");
        assert_eq!(p.undo(&built).unwrap(), codes);
        // Only the pattern's pad positions hold the pad token.
        for (k, row) in built.iter().enumerate() {
            for (pos, &v) in row.iter().enumerate() {
                assert_eq!(v == 2048, p.is_pad(k, pos), "k {k} pos {pos}");
            }
        }
        assert!(p.undo(&built[..3]).is_none());
        assert!(p.undo(&[vec![0; 503], vec![0; 504], vec![0; 504], vec![0; 504]]).is_none());
        assert!(DelayPattern::new(4, 0).is_empty());
    }
}
