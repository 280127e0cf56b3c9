//! Which decoder cross-attention heads time the words.
//!
//! A checkpoint's `generation_config.json` names its published alignment heads, the ones OpenAI
//! found to follow the audio. For the checkpoints in the catalog, a smaller set times word starts
//! about twice as precisely, so those are used instead; any other checkpoint keeps its published
//! heads.
//!
//! How the sets were chosen (calibration, not the benchmark): 24 passages of Kokoro speech
//! (30–40 words each; voices `jm_kumo`, `jf_gongitsune`, `jf_nezumi`, `jf_tebukuro`; texts and
//! voices unlike those of `bench/whisper.js`), whose word starts are exact, were aligned to their
//! scripts while recording every head's attention. Heads were then added one at a time, each time
//! the one that most lowered the mean word-start error of the whole pipeline (normalise, z-score,
//! median filter, DTW), until a head gained less than 0.5 ms. `bench/whisper-heads.js` repeats
//! this. For tiny.en, the published eight heads gave a mean error of 88 ms (median 55 ms); the
//! chosen three give 63 ms (median 25 ms). On the benchmark's passages, which played no part in
//! the choice, the median fell from 55 to 30 ms and the p90 from 140 to 105 ms (before the start
//! of a word in silence is moved to where its sound starts). base's published heads place words
//! early (median 155 ms on the calibration passages, as CTranslate2's own alignment does); its
//! chosen five give 40 ms there, and on the benchmark's passages 145 → 40 ms (p90 265 → 145 ms).
//!
//! A set is used only for the checkpoint it was measured on, recognised by its shape and its
//! published heads (which differ between checkpoints of the same shape).

/// A checkpoint recognised by its decoder's shape and published alignment heads.
struct Calibrated {
    d_model: usize,
    layers: usize,
    heads: usize,
    published: &'static [[usize; 2]],
    timing: &'static [[usize; 2]],
}

const CALIBRATED: &[Calibrated] = &[
    // whisper-tiny.en
    Calibrated {
        d_model: 384,
        layers: 4,
        heads: 6,
        published: &[[1, 0], [2, 0], [2, 5], [3, 0], [3, 1], [3, 2], [3, 3], [3, 4]],
        timing: &[[2, 0], [3, 2], [2, 2]],
    },
    // whisper-base
    Calibrated {
        d_model: 512,
        layers: 6,
        heads: 8,
        published: &[[3, 1], [4, 2], [4, 3], [4, 7], [5, 1], [5, 2], [5, 4], [5, 6]],
        timing: &[[4, 1], [5, 6], [3, 3], [3, 6], [2, 5]],
    },
];

/// The heads to time words with: the calibrated set for a known checkpoint, else `published`.
pub fn timing_heads(d_model: usize, layers: usize, heads: usize, published: &[[usize; 2]]) -> Vec<[usize; 2]> {
    CALIBRATED
        .iter()
        .find(|c| c.d_model == d_model && c.layers == layers && c.heads == heads && c.published == published)
        .map_or_else(|| published.to_vec(), |c| c.timing.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_calibrated_checkpoint_gets_its_set_and_any_other_keeps_its_published_heads() {
        let tiny_en = &CALIBRATED[0];
        assert_eq!(timing_heads(384, 4, 6, tiny_en.published), vec![[2, 0], [3, 2], [2, 2]]);
        // Same shape, other published heads (another checkpoint): untouched.
        let other = [[2, 2], [3, 0], [3, 2], [3, 3], [3, 4], [3, 5]];
        assert_eq!(timing_heads(384, 4, 6, &other), other.to_vec());
        // Same published heads on another shape: untouched.
        assert_eq!(timing_heads(512, 6, 8, tiny_en.published), tiny_en.published.to_vec());
    }

    #[test]
    fn every_calibrated_head_exists_in_its_checkpoint() {
        for c in CALIBRATED {
            assert!(c.timing.iter().chain(c.published).all(|&[l, h]| l < c.layers && h < c.heads));
            assert!(!c.timing.is_empty());
        }
    }
}
