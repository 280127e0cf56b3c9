//! Word timings from Kokoro's own per-token durations.
//!
//! Kokoro predicts how many frames each input token lasts, pads included; one frame is 600 samples
//! at 24 kHz (25 ms) and the audio is exactly `sum(frames) × 600` samples long. The graph rounds
//! each predicted duration to an integer and clips it to at least 1 before expanding the frames;
//! [`frames`] repeats that (a no-op on the values the model exports), so the times below line up
//! with the audio exactly.
//!
//! A word starts where its first token starts (the leading pad's frames included) and ends where
//! its last token ends. Punctuation is not a word of its own: closing marks extend the word before
//! them, opening ones (`(` `“`) start the word after them.

use super::chunk::Chunk;
use super::g2p::Phonemized;
use crate::engines::error::{EngineError, EngineResult};

pub const SAMPLES_PER_FRAME: usize = 600;
pub const SAMPLE_RATE: u32 = 24_000;

/// One spoken word and when it is heard.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedWord {
    /// `w0`, `w1`, … numbered across all chunks of one synthesis.
    pub id: String,
    /// The word as written, with the punctuation merged into it (`world.`, `(quietly)`).
    pub text: String,
    /// Seconds from the start of the whole audio.
    pub start: f64,
    pub end: f64,
    /// Estimated from token counts rather than taken from the model's durations.
    pub approximate: bool,
}

/// Frame counts as the model uses them: each duration rounded to the nearest integer, at least 1.
pub fn frames(durations: &[f32]) -> EngineResult<Vec<u64>> {
    durations
        .iter()
        .map(|&d| {
            if d.is_finite() {
                Ok((d.round() as u64).max(1))
            } else {
                Err(EngineError::new("INFERENCE_FAILED", format!("the model returned a non-finite duration ({d})")))
            }
        })
        .collect()
}

/// The audio length, in samples, that `durations` imply: `sum(frames) × 600`.
pub fn total_samples(durations: &[f32]) -> EngineResult<u64> {
    Ok(frames(durations)?.iter().sum::<u64>() * SAMPLES_PER_FRAME as u64)
}

/// Word timings for one chunk from the model's durations (`[1, tokens + 2]`, pads at both ends).
///
/// `offset_samples` is where this chunk's audio starts in the whole output; `next_id` numbers the
/// words and is advanced, so pass the same counter for every chunk. Every word of the chunk that is
/// not punctuation gets exactly one entry, in order, except the later parts of a word split over
/// several chunks, which were reported with its first part.
pub fn words_from_durations(
    p: &Phonemized,
    chunk: &Chunk,
    durations: &[f32],
    offset_samples: u64,
    next_id: &mut usize,
) -> EngineResult<Vec<TimedWord>> {
    let n = chunk.tokens.len();
    if durations.len() != n + 2 {
        return Err(EngineError::new(
            "INFERENCE_FAILED",
            format!("the model returned {} durations for {} tokens (expected {})", durations.len(), n, n + 2),
        ));
    }
    if chunk.words.iter().any(|s| s.word >= p.words.len() || s.end > n || s.start >= s.end) {
        return Err(EngineError::new("INFERENCE_FAILED", "the chunk does not belong to this phonemized text"));
    }
    let frames = frames(durations)?;
    // boundary[k]: samples before token k, leading pad included; boundary[n] is the end of the last
    // token, before the trailing pad.
    let mut boundary = Vec::with_capacity(n + 1);
    let mut acc = frames[0];
    boundary.push(acc * SAMPLES_PER_FRAME as u64);
    for f in &frames[1..=n] {
        acc += f;
        boundary.push(acc * SAMPLES_PER_FRAME as u64);
    }
    Ok(assemble(p, chunk, |k| boundary[k] as f64, offset_samples, next_id, false))
}

/// Word timings for a model that reports no durations: the chunk's `audio_len` samples are shared
/// out in proportion to token counts, so the words cover the whole audio, in order.
pub fn approximate_words(
    p: &Phonemized,
    chunk: &Chunk,
    audio_len: usize,
    offset_samples: u64,
    next_id: &mut usize,
) -> Vec<TimedWord> {
    let n = chunk.tokens.len().max(1) as f64;
    let per_token = audio_len as f64 / n;
    assemble(p, chunk, |k| k as f64 * per_token, offset_samples, next_id, true)
}

/// Whether a punctuation word opens (belongs to the word after it) rather than closes.
fn is_opening(p: &Phonemized, w: usize) -> bool {
    let word = &p.words[w];
    let before_word = !word.space_after && p.words.get(w + 1).is_some_and(|n| !n.is_punct);
    match word.phonemes.as_str() {
        "(" | "“" => true,
        "\"" => before_word && (w == 0 || p.words[w - 1].space_after),
        _ => false,
    }
}

struct Group {
    first: usize,
    last: usize,
    start: f64,
    end: f64,
}

fn assemble(
    p: &Phonemized,
    chunk: &Chunk,
    at: impl Fn(usize) -> f64,
    offset_samples: u64,
    next_id: &mut usize,
    approximate: bool,
) -> Vec<TimedWord> {
    let mut groups: Vec<Group> = Vec::with_capacity(chunk.words.len());
    // Punctuation waiting for the next word: opening marks, or marks at the start of a chunk.
    let mut pending: Option<Group> = None;
    let n = chunk.tokens.len();
    for span in &chunk.words {
        if span.continued || span.word >= p.words.len() || span.end > n || span.start >= span.end {
            continue;
        }
        let (start, end) = (at(span.start), at(span.end));
        if p.words[span.word].is_punct {
            match groups.last_mut() {
                Some(last) if pending.is_none() && !is_opening(p, span.word) => {
                    last.last = span.word;
                    last.end = end;
                }
                _ => {
                    let g = pending.get_or_insert(Group { first: span.word, last: span.word, start, end });
                    g.last = span.word;
                    g.end = end;
                }
            }
        } else {
            let (first, start) = pending.take().map_or((span.word, start), |g| (g.first, g.start));
            groups.push(Group { first, last: span.word, start, end });
        }
    }
    // Opening marks with no word after them in this chunk go with the word before.
    if let (Some(g), Some(last)) = (pending, groups.last_mut()) {
        last.last = g.last;
        last.end = g.end;
    }

    let rate = f64::from(SAMPLE_RATE);
    let offset = offset_samples as f64;
    groups
        .into_iter()
        .map(|g| {
            let mut text = String::new();
            for (k, w) in p.words[g.first..=g.last].iter().enumerate() {
                text.push_str(&w.text);
                if w.space_after && g.first + k < g.last {
                    text.push(' ');
                }
            }
            let id = format!("w{}", *next_id);
            *next_id += 1;
            TimedWord { id, text, start: (offset + g.start) / rate, end: (offset + g.end) / rate, approximate }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::kokoro::chunk::{chunk, MAX_TOKENS};
    use crate::engines::kokoro::g2p::PhonemeWord;
    use crate::engines::kokoro::vocab;

    /// Words given as (text, phonemes, space_after); punctuation is recognised by its phonemes.
    fn words(spec: &[(&str, &str, bool)]) -> Phonemized {
        let mut pos = 0;
        let words = spec
            .iter()
            .map(|&(text, phonemes, space_after)| {
                let w = PhonemeWord {
                    text: text.into(),
                    byte_start: pos,
                    byte_end: pos + text.len(),
                    phonemes: phonemes.into(),
                    space_after,
                    is_punct: phonemes.chars().all(vocab::is_punctuation),
                };
                pos += text.len() + usize::from(space_after);
                w
            })
            .collect();
        Phonemized { words }
    }

    fn one_chunk(p: &Phonemized) -> Chunk {
        let mut c = chunk(p, MAX_TOKENS);
        assert_eq!(c.len(), 1);
        c.remove(0)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn exact_times_from_durations() {
        // "ab cde." → tokens a b ␠ c d e .
        let p = words(&[("ab", "ab", true), ("cde", "cde", false), (".", ".", false)]);
        let c = one_chunk(&p);
        assert_eq!(c.tokens.len(), 7);
        // pad, a, b, ␠, c, d, e, ., pad — fractional values are rounded, and 0.2 becomes 1.
        let durations = [2.0, 1.4, 1.6, 3.0, 0.2, 1.0, 1.0, 4.0, 5.0];
        let mut next = 0;
        let got = words_from_durations(&p, &c, &durations, 0, &mut next).unwrap();
        assert_eq!(next, 2);
        assert_eq!(got.len(), 2);
        // frames: pad 2 | a 1, b 2 | ␠ 3 | c 1, d 1, e 1 | . 4 | pad 5 → 20 frames
        assert_eq!((got[0].id.as_str(), got[0].text.as_str()), ("w0", "ab"));
        assert!(close(got[0].start, 2.0 * 0.025) && close(got[0].end, 5.0 * 0.025), "{:?}", got[0]);
        assert_eq!((got[1].id.as_str(), got[1].text.as_str()), ("w1", "cde."));
        assert!(close(got[1].start, 8.0 * 0.025), "{:?}", got[1]);
        assert!(close(got[1].end, 15.0 * 0.025), "the full stop extends the word: {:?}", got[1]);
        assert!(!got[0].approximate);

        // sum(frames) × 600 is the audio length, and the words lie inside it.
        let total = total_samples(&durations).unwrap();
        assert_eq!(total, 20 * 600);
        assert!(got[1].end < total as f64 / 24_000.0);
        assert_eq!(frames(&durations).unwrap(), [2, 1, 2, 3, 1, 1, 1, 4, 5]);

        // An offset shifts everything.
        let shifted = words_from_durations(&p, &c, &durations, 24_000, &mut next).unwrap();
        assert_eq!(shifted[0].id, "w2");
        assert!(close(shifted[0].start, 1.0 + got[0].start) && close(shifted[1].end, 1.0 + got[1].end));
    }

    #[test]
    fn durations_are_validated() {
        let p = words(&[("ab", "ab", false)]);
        let c = one_chunk(&p);
        let mut next = 0;
        for bad in [&[1.0, 1.0, 1.0][..], &[1.0; 5][..], &[]] {
            let e = words_from_durations(&p, &c, bad, 0, &mut next).unwrap_err();
            assert_eq!(e.code, "INFERENCE_FAILED");
        }
        let e = words_from_durations(&p, &c, &[1.0, f32::NAN, 1.0, 1.0], 0, &mut next).unwrap_err();
        assert_eq!(e.code, "INFERENCE_FAILED");
        // A chunk of another text.
        let e = words_from_durations(&Phonemized::default(), &c, &[1.0; 4], 0, &mut next).unwrap_err();
        assert_eq!(e.code, "INFERENCE_FAILED");
        assert!(approximate_words(&Phonemized::default(), &c, 100, 0, &mut next).is_empty());
        assert_eq!(next, 0, "no ids are used up by a failure");
    }

    #[test]
    fn punctuation_merges_into_words() {
        // He said, “wait” (quietly).
        let p = words(&[
            ("He", "hi", true),
            ("said", "sɛd", false),
            (",", ",", true),
            ("“", "“", false),
            ("wait", "wAt", false),
            ("”", "”", true),
            ("(", "(", false),
            ("quietly", "kwIətli", false),
            (")", ")", false),
            (".", ".", false),
        ]);
        let c = one_chunk(&p);
        let durations = vec![1.0; c.tokens.len() + 2];
        let mut next = 0;
        let got = words_from_durations(&p, &c, &durations, 0, &mut next).unwrap();
        let texts: Vec<&str> = got.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["He", "said,", "“wait”", "(quietly)."]);
        // With one frame per token, times are token positions (+1 for the leading pad).
        let frame = 600.0 / 24_000.0;
        let at = |k: usize| (k + 1) as f64 * frame;
        let span = |w: usize| c.words.iter().find(|s| s.word == w).unwrap();
        assert!(close(got[1].end, at(span(2).end)), "comma extends said");
        assert!(close(got[2].start, at(span(3).start)), "opening quote starts wait");
        assert!(close(got[3].start, at(span(6).start)) && close(got[3].end, at(span(9).end)));
        for pair in got.windows(2) {
            assert!(pair[0].start < pair[1].start && pair[0].end <= pair[1].start);
        }
    }

    #[test]
    fn punctuation_at_chunk_edges() {
        // A chunk that starts with a closing mark or ends with an opening one still merges it.
        let p = words(&[(")", ")", false), ("ab", "ab", true), ("(", "(", false)]);
        let c = one_chunk(&p);
        let mut next = 0;
        let got = words_from_durations(&p, &c, &[1.0; 7], 0, &mut next).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].text, ")ab (");
        assert!(close(got[0].start, 0.025) && close(got[0].end, 6.0 * 0.025));
        // Punctuation alone gives no words.
        let p = words(&[("…", "…", false)]);
        let c = one_chunk(&p);
        assert!(words_from_durations(&p, &c, &[1.0; 3], 0, &mut next).unwrap().is_empty());
        assert_eq!(next, 1);
    }

    #[test]
    fn ids_continue_across_chunks() {
        let spec: Vec<(String, bool)> = (0..60).map(|i| (format!("w{}rd", "o".repeat(i % 5)), true)).collect();
        let spec: Vec<(&str, &str, bool)> = spec.iter().map(|(t, s)| (t.as_str(), t.as_str(), *s)).collect();
        let p = words(&spec);
        let chunks = chunk(&p, 40);
        assert!(chunks.len() > 3);
        let mut next = 0;
        let mut offset = 0u64;
        let mut all = Vec::new();
        for c in &chunks {
            let durations: Vec<f32> = (0..c.tokens.len() + 2).map(|k| (k % 3 + 1) as f32).collect();
            let got = words_from_durations(&p, c, &durations, offset, &mut next).unwrap();
            let chunk_start = offset as f64 / 24_000.0;
            let chunk_end = (offset + total_samples(&durations).unwrap()) as f64 / 24_000.0;
            for pair in got.windows(2) {
                assert!(pair[0].start < pair[1].start, "starts strictly increase within a chunk");
            }
            assert!(got.iter().all(|w| w.start > chunk_start && w.end < chunk_end && w.start < w.end));
            offset += total_samples(&durations).unwrap();
            all.extend(got);
        }
        assert_eq!(next, 60);
        let ids: Vec<String> = all.iter().map(|w| w.id.clone()).collect();
        assert_eq!(ids, (0..60).map(|i| format!("w{i}")).collect::<Vec<_>>());
        let texts: Vec<&str> = all.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, spec.iter().map(|s| s.0).collect::<Vec<_>>());
        for pair in all.windows(2) {
            assert!(pair[0].end <= pair[1].start, "monotonic across chunks");
        }
    }

    #[test]
    fn a_split_word_is_reported_once() {
        let long = "a".repeat(1200);
        let p = words(&[("x", "ab", true), ("long", &long, true), ("y", "ab", false), (".", ".", false)]);
        let chunks = chunk(&p, MAX_TOKENS);
        assert_eq!(chunks.len(), 4);
        let mut next = 0;
        let mut offset = 0;
        let mut all = Vec::new();
        for c in &chunks {
            let durations = vec![1.0; c.tokens.len() + 2];
            all.extend(words_from_durations(&p, c, &durations, offset, &mut next).unwrap());
            offset += total_samples(&durations).unwrap();
        }
        let texts: Vec<&str> = all.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["x", "long", "y."]);
    }

    #[test]
    fn approximate_mode_covers_the_audio() {
        let p =
            words(&[("Hello", "həlˈO", true), ("big", "bˈɪɡ", true), ("world", "wˈɜɹld", false), ("!", "!", false)]);
        let c = one_chunk(&p);
        let audio_len = 48_000;
        let mut next = 5;
        let got = approximate_words(&p, &c, audio_len, 12_000, &mut next);
        assert_eq!(next, 8);
        assert_eq!(got.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), ["w5", "w6", "w7"]);
        assert!(got.iter().all(|w| w.approximate));
        assert!(close(got[0].start, 0.5), "starts at the chunk offset");
        assert!(close(got[2].end, 0.5 + 2.0), "ends at the end of the chunk's audio");
        assert_eq!(got[2].text, "world!");
        for pair in got.windows(2) {
            assert!(pair[0].start < pair[0].end && pair[0].end <= pair[1].start);
        }
        // Proportional to tokens: "Hello" is 5 of 18 tokens.
        assert!(close(got[0].end - got[0].start, 2.0 * 5.0 / 18.0));
    }
}
