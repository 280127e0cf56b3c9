//! Decoding one 30 s window: greedy (or, on fallback, sampled) tokens under the reference's rules
//! (suppressed tokens, blank suppression at the start, paired and non-decreasing timestamps, an
//! initial timestamp of at most 1 s, timestamps forced when they are jointly likelier than any
//! text token), with the no-speech probability, repetition-loop cutting and the quality figures
//! that decide a temperature fallback.

use std::io::Write;

use ort::value::DynValue;

use super::model::{Specials, WhisperModel};
use crate::engines::error::EngineResult;

/// Tokens sampled per window at most (the reference's `sample_len`, half the text context).
pub const SAMPLE_LEN: usize = 224;
const MAX_INITIAL_TIMESTAMP_INDEX: u32 = 50;

#[derive(Debug, Clone)]
pub struct Decoded {
    /// Sampled tokens, timestamps included, without the end token.
    pub tokens: Vec<u32>,
    pub avg_logprob: f64,
    pub no_speech_prob: f64,
    pub compression_ratio: f64,
}

/// Masks `logits` (one row) for the next token after `sampled` (the window's tokens so far).
pub fn apply_rules(logits: &mut [f32], sampled: &[u32], sp: &Specials) {
    let ninf = f32::NEG_INFINITY;
    let vocab = logits.len();
    let tb = sp.timestamp_begin as usize;
    for &id in &sp.suppress {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = ninf;
        }
    }
    for id in [sp.no_timestamps, sp.sot].into_iter().chain(sp.transcribe).chain(sp.no_speech) {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = ninf;
        }
    }
    // Language and task tokens never appear in a transcript.
    for &(_, id) in &sp.languages {
        logits[id as usize] = ninf;
    }
    if sampled.is_empty() {
        for &id in &sp.begin_suppress {
            if let Some(l) = logits.get_mut(id as usize) {
                *l = ninf;
            }
        }
    }
    let is_ts = |t: u32| t >= sp.timestamp_begin;
    let last_ts = sampled.last().is_some_and(|&t| is_ts(t));
    let penultimate_ts = sampled.len() < 2 || is_ts(sampled[sampled.len() - 2]);
    if last_ts {
        if penultimate_ts {
            logits[tb..].fill(ninf);
        } else {
            logits[..sp.eot as usize].fill(ninf);
        }
    }
    if let Some(&last) = sampled.iter().rev().find(|&&t| is_ts(t)) {
        // Timestamps never go back; after a closed pair they must move forward.
        let floor = if last_ts && !penultimate_ts { last } else { last + 1 };
        logits[tb..(floor as usize).min(vocab)].fill(ninf);
    }
    if sampled.is_empty() {
        logits[..tb].fill(ninf);
        let cap = tb + MAX_INITIAL_TIMESTAMP_INDEX as usize + 1;
        if cap < vocab {
            logits[cap..].fill(ninf);
        }
    }
    // If the timestamps together are likelier than the best text token, sample a timestamp.
    let lse = log_sum_exp(&logits[tb..]);
    let max_text = logits[..tb].iter().copied().fold(ninf, f32::max);
    let norm = log_sum_exp(logits);
    if lse - norm > max_text - norm {
        logits[..tb].fill(ninf);
    }
}

fn log_sum_exp(v: &[f32]) -> f32 {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if m == f32::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f32>().ln()
}

/// A small deterministic generator for fallback sampling (reproducible runs).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The next token (argmax at temperature 0, else sampled) and its log-probability.
fn pick(logits: &[f32], temperature: f32, rng: &mut Rng) -> (u32, f64) {
    let norm = log_sum_exp(logits);
    let id = if temperature <= 0.0 {
        logits.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
    } else {
        let scaled: Vec<f64> = logits.iter().map(|&l| f64::from(l / temperature)).collect();
        let m = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scaled.iter().map(|s| (s - m).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut r = rng.next_f64() * total;
        let mut chosen = 0;
        for (i, w) in weights.iter().enumerate() {
            if *w > 0.0 {
                chosen = i;
            }
            r -= w;
            if r <= 0.0 && *w > 0.0 {
                break;
            }
        }
        chosen
    };
    (id as u32, f64::from(logits[id] - norm))
}

/// The length of a repetition loop at the end of `tokens`: an n-gram (1 ≤ n ≤ 16) repeated so that
/// it covers at least 4 repeats (n = 1) or 3 repeats (n ≥ 2). Returns where the repeats after the
/// first start, so cutting there keeps one copy.
pub fn repetition_cut(tokens: &[u32]) -> Option<usize> {
    for n in 1..=16.min(tokens.len() / 3) {
        let needed = if n == 1 { 4 } else { 3 };
        if tokens.len() < n * needed {
            continue;
        }
        let tail = &tokens[tokens.len() - n..];
        let mut repeats = 1;
        while repeats * n + n <= tokens.len()
            && &tokens[tokens.len() - (repeats + 1) * n..tokens.len() - repeats * n] == tail
        {
            repeats += 1;
        }
        if repeats >= needed {
            return Some(tokens.len() - (repeats - 1) * n);
        }
    }
    None
}

/// zlib compression ratio of the text, the reference's measure of degenerate repetition.
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(text.as_bytes());
    let compressed = z.finish().map(|v| v.len()).unwrap_or(text.len()).max(1);
    text.len() as f64 / compressed as f64
}

/// Decodes one window after `prompt` (start-of-transcript and, for multilingual models, the
/// language and task). Returns the decoder state with the cross-attention cache for reuse.
pub fn decode_window(
    model: &WhisperModel,
    hidden: &DynValue,
    prompt: &[u32],
    temperature: f32,
    rng: &mut Rng,
) -> EngineResult<Decoded> {
    let sp = &model.specials;
    let mut state = model.start()?;
    let mut out = model.step(hidden, &mut state, prompt, prompt.len(), None)?;
    let vocab = out.vocab;
    // No-speech probability: at the start-of-transcript position.
    let no_speech_prob = match sp.no_speech {
        Some(ns) => {
            let at = prompt.iter().position(|&t| t == sp.sot).unwrap_or(0);
            let row = &out.logits[at * vocab..(at + 1) * vocab];
            f64::from((row[ns as usize] - log_sum_exp(row)).exp())
        }
        None => 0.0,
    };
    let mut logits = out.logits[(prompt.len() - 1) * vocab..].to_vec();
    let mut tokens: Vec<u32> = Vec::new();
    let mut sum_logprob = 0.0;
    loop {
        apply_rules(&mut logits, &tokens, sp);
        let (next, lp) = pick(&logits, temperature, rng);
        sum_logprob += lp;
        if next == sp.eot || tokens.len() >= SAMPLE_LEN {
            break;
        }
        tokens.push(next);
        if let Some(cut) = repetition_cut(&tokens) {
            tokens.truncate(cut);
            break;
        }
        out = model.step(hidden, &mut state, &[next], 1, None)?;
        logits = out.logits;
    }
    let text_ids: Vec<u32> = tokens.iter().copied().filter(|&t| t < sp.eot).collect();
    let text = model.tokenizer.decode(&text_ids);
    Ok(Decoded {
        avg_logprob: sum_logprob / (tokens.len() + 1) as f64,
        no_speech_prob,
        compression_ratio: compression_ratio(&text),
        tokens,
    })
}

/// The reference's fallback thresholds: a window is redone at the next temperature when its text
/// is too repetitive or too unlikely (unless it is silence).
pub fn needs_fallback(d: &Decoded) -> bool {
    let silent = d.no_speech_prob > 0.6 && d.avg_logprob < -1.0;
    !silent && (d.compression_ratio > 2.4 || d.avg_logprob < -1.0)
}

pub const TEMPERATURES: [f32; 6] = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0];

#[cfg(test)]
mod tests {
    use super::*;

    fn specials() -> Specials {
        // vocab: 0..10 text, 10 eot, 11 sot, 12 transcribe, 13 nospeech, 14 notimestamps, 15.. timestamps
        Specials {
            eot: 10,
            sot: 11,
            transcribe: Some(12),
            no_speech: Some(13),
            no_timestamps: 14,
            timestamp_begin: 15,
            suppress: vec![3],
            begin_suppress: vec![4, 10],
            multilingual: false,
            languages: vec![],
        }
    }

    fn allowed(logits: &[f32]) -> Vec<usize> {
        logits.iter().enumerate().filter(|(_, l)| l.is_finite()).map(|(i, _)| i).collect()
    }

    #[test]
    fn the_first_token_is_an_early_timestamp() {
        let mut l = vec![0.0f32; 15 + 100];
        apply_rules(&mut l, &[], &specials());
        let a = allowed(&l);
        assert_eq!(a.first(), Some(&15));
        assert_eq!(a.last(), Some(&(15 + 50)));
    }

    #[test]
    fn timestamps_pair_up_and_never_go_back() {
        let sp = specials();
        // After text then a timestamp (opening a pair's end): a timestamp ≥ it, or eot.
        let mut l = vec![0.0f32; 40];
        l[10] = 5.0;
        apply_rules(&mut l, &[20, 5, 25], &sp);
        let a = allowed(&l);
        assert!(a.contains(&10) && a.contains(&25) && !a.contains(&24) && !a.contains(&5), "{a:?}");
        // After two timestamps: text only (and never an earlier timestamp).
        let mut l = vec![0.0f32; 40];
        l[0] = 5.0;
        apply_rules(&mut l, &[20, 5, 25, 25], &sp);
        let a = allowed(&l);
        assert!(a.iter().all(|&i| i < 15) && !a.contains(&3) && !a.contains(&14), "{a:?}");
    }

    #[test]
    fn likely_timestamps_win_over_text() {
        let sp = specials();
        let mut l = vec![0.0f32; 40];
        l[1] = 2.0;
        for v in &mut l[15..] {
            *v = 1.0;
        }
        apply_rules(&mut l, &[15, 1], &sp);
        assert!(allowed(&l).iter().all(|&i| i >= 15), "{:?}", allowed(&l));
    }

    #[test]
    fn repetition_loops_are_cut_to_one_copy() {
        assert_eq!(repetition_cut(&[1, 2, 3, 7, 8, 7, 8, 7, 8]), Some(5));
        assert_eq!(repetition_cut(&[1, 5, 5, 5, 5]), Some(2));
        assert_eq!(repetition_cut(&[1, 5, 5, 5]), None);
        assert_eq!(repetition_cut(&[1, 2, 3, 4]), None);
    }

    #[test]
    fn compression_ratio_flags_repetition() {
        assert!(compression_ratio("the cat sat on the mat") < 2.4);
        assert!(compression_ratio(&"I am here. ".repeat(30)) > 2.4);
    }
}
