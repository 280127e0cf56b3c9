//! Where the pauses of `<break>` tags go in Kokoro's audio.
//!
//! The text around the breaks is spoken as if they were not there: phonemized and chunked as one
//! passage, so every chunk is exactly the chunk the text without the breaks would have had. Each
//! pause is then silence inserted into that audio at the boundary after the last word before the
//! break (its closing punctuation included), and only the words after it move, by exactly its
//! length. So the silence heard between the last word before a break and the first after it is the
//! break's length plus the gap the text has there without it, to the sample; had each part been
//! voiced alone, each would keep the model's own lead-in and tail (its pad tokens' frames), about
//! 0.4 s more than asked.

use super::chunk::Chunk;
use super::g2p::Phonemized;
use super::markup::{Part, Passage, Pronunciation, Script};
use super::timing::SAMPLES_PER_FRAME;
use crate::engines::error::EngineResult;

/// A pause at a byte offset of a passage's text, `samples` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub at: usize,
    pub samples: usize,
}

/// Silence to insert into one chunk's audio: before token `token` (0: before the audio, the
/// chunk's token count: after it), `samples` long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Insert {
    pub token: usize,
    pub samples: usize,
}

/// The script as one passage and its pauses, in order. Where a break has no whitespace on either
/// side (`end.<break/>Next`) a space stands for it, as a pause separates words.
pub fn join(script: Script, pause_samples: impl Fn(std::time::Duration) -> usize) -> (Passage, Vec<Pause>) {
    let mut text = String::new();
    let mut pronunciations: Vec<Pronunciation> = Vec::new();
    let mut pauses: Vec<Pause> = Vec::new();
    for part in script.parts {
        match part {
            Part::Pause(d) => pauses.push(Pause { at: text.len(), samples: pause_samples(d) }),
            Part::Speech(p) => {
                let after_pause = pauses.last().is_some_and(|q| q.at == text.len());
                let glued = !text.ends_with(char::is_whitespace) && !p.text.starts_with(char::is_whitespace);
                if after_pause && glued && !text.is_empty() {
                    text.push(' ');
                }
                let shift = text.len();
                pronunciations.extend(p.pronunciations.into_iter().map(|q| Pronunciation {
                    start: q.start + shift,
                    end: q.end + shift,
                    ..q
                }));
                text.push_str(&p.text);
            }
        }
    }
    (Passage { text, pronunciations }, pauses)
}

/// Per chunk, the silences to insert for `pauses` (offsets into the text `p` was phonemized from),
/// those at the same place added together. A pause goes after the last word that ends at or before
/// it; at the end of its chunk when that word is the chunk's last; before everything when no word
/// precedes it.
pub fn place(p: &Phonemized, chunks: &[Chunk], pauses: &[Pause]) -> Vec<Vec<Insert>> {
    let mut out: Vec<Vec<Insert>> = vec![Vec::new(); chunks.len()];
    if chunks.is_empty() {
        return out;
    }
    // Where each word's tokens end: (chunk, token end) of its last part, if it has tokens.
    let mut ends: Vec<Option<(usize, usize)>> = vec![None; p.words.len()];
    for (k, c) in chunks.iter().enumerate() {
        for (i, s) in c.words.iter().enumerate() {
            let last_in_chunk = i + 1 == c.words.len();
            ends[s.word] = Some((k, if last_in_chunk { c.tokens.len() } else { s.end }));
        }
    }
    for pause in pauses.iter().filter(|q| q.samples > 0) {
        let before = p.words.iter().rposition(|w| w.byte_end <= pause.at);
        let place = before.and_then(|j| ends[..=j].iter().rev().flatten().next().copied()).unwrap_or((0, 0));
        let (k, token) = place;
        match out[k].iter_mut().find(|i| i.token == token) {
            Some(i) => i.samples += pause.samples,
            None => out[k].push(Insert { token, samples: pause.samples }),
        }
    }
    for inserts in &mut out {
        inserts.sort_by_key(|i| i.token);
    }
    out
}

/// How many pieces one chunk is delivered as: its speech, cut at each insert inside it, and each
/// silence as a piece of its own.
pub fn pieces(tokens: usize, inserts: &[Insert]) -> usize {
    1 + inserts.len() + inserts.iter().filter(|i| i.token > 0 && i.token < tokens).count()
}

/// The sample of a chunk's audio where token `token` starts: its leading pad's frames and the
/// frames of the tokens before it (from the model's `durations`, pads included), or, without
/// durations, a share of the audio in proportion to tokens. 0 and `tokens` are the audio's ends.
pub fn sample_at(token: usize, tokens: usize, durations: Option<&[f32]>, audio_len: usize) -> EngineResult<usize> {
    if token == 0 {
        return Ok(0);
    }
    if token >= tokens {
        return Ok(audio_len);
    }
    let at = match durations {
        Some(d) => {
            super::timing::frames(&d[..=token.min(d.len() - 1)])?.iter().sum::<u64>() as usize * SAMPLES_PER_FRAME
        }
        None => token * audio_len / tokens.max(1),
    };
    Ok(at.min(audio_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::kokoro::chunk::chunk;
    use crate::engines::kokoro::g2p::{phonemize_passage, Lang};
    use crate::engines::kokoro::markup::parse;

    fn joined(text: &str) -> (Passage, Vec<Pause>) {
        join(parse(text).unwrap(), |d| d.as_millis() as usize)
    }

    #[test]
    fn the_text_is_joined_as_written_and_pauses_keep_their_offsets() {
        let (p, q) = joined("Wait for it. <break time=\"1.5s\"/> Now.");
        assert_eq!(p.text, "Wait for it.  Now.");
        assert_eq!(q, [Pause { at: 13, samples: 1500 }]);
        let (p, q) = joined("First.<break time=\"1s\"/>Second [word](/wˈɜɹd/).");
        assert_eq!(p.text, "First. Second word.", "a space stands for a glued break");
        assert_eq!(q[0].at, 6);
        assert_eq!(&p.text[p.pronunciations[0].start..p.pronunciations[0].end], "word");
        let (p, q) = joined("<break time=\"1s\"/>Hi.<break time=\"2s\"/>");
        assert_eq!((p.text.as_str(), q.iter().map(|q| q.at).collect::<Vec<_>>()), ("Hi.", vec![0, 3]));
    }

    #[test]
    fn pauses_go_after_the_last_word_before_them_with_exact_token_places() {
        let (passage, pauses) =
            joined("<break time=\"1s\"/>Wait for it. <break time=\"2s\"/> Now, go.<break time=\"3s\"/>");
        let p = phonemize_passage(&passage, Lang::EnUs).unwrap();
        let chunks = chunk(&p, 510);
        assert_eq!(chunks.len(), 1);
        let c = &chunks[0];
        let placed = place(&p, &chunks, &pauses);
        // "." of "it." is the fourth word (Wait for it .): the 2 s go right after its token.
        let dot = c.words.iter().find(|s| p.words[s.word].text == ".").unwrap();
        assert_eq!(
            placed[0],
            [
                Insert { token: 0, samples: 1000 },
                Insert { token: dot.end, samples: 2000 },
                Insert { token: c.tokens.len(), samples: 3000 }
            ]
        );
        assert_eq!(pieces(c.tokens.len(), &placed[0]), 5, "two speech parts and three silences");
        // At a chunk's end, a pause goes after that chunk's audio.
        let chunks = chunk(&p, dot.end);
        assert!(chunks.len() > 1);
        let placed = place(&p, &chunks, &pauses);
        assert_eq!(placed[0].last().unwrap().token, chunks[0].tokens.len());
        assert!(placed[0].iter().all(|i| i.token == 0 || i.token == chunks[0].tokens.len()));
    }

    #[test]
    fn sample_places_follow_the_durations() {
        // pad 2, tokens 1 3 1, pad 4 frames.
        let d = [2.0, 1.0, 3.0, 1.0, 4.0];
        let len = 11 * 600;
        let at = |t| sample_at(t, 3, Some(&d), len).unwrap();
        assert_eq!([at(0), at(1), at(2), at(3)], [0, 3 * 600, 6 * 600, len]);
        assert_eq!(sample_at(1, 4, None, 400).unwrap(), 100);
    }
}
