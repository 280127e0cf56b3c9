//! Splits a phonemized text into model-sized chunks of tokens.
//!
//! Kokoro reads at most 510 tokens per call (512 with the two pads). The text's tokens are each
//! word's phonemes, with a space token between words separated by whitespace. A chunk ends, in
//! order of preference:
//! 1. after a sentence end (`.` `!` `?` `…`, with any closing quote or bracket glued to it);
//! 2. after clause punctuation (`,` `;` `:` `—`);
//! 3. at any word boundary with whitespace, then at any word boundary at all;
//! 4. inside a word, only for a single word longer than a chunk.
//!
//! A sentence or clause end is preferred only when it leaves the chunk at least a third full, so a
//! short sentence followed by a very long one does not produce a tiny chunk (Kokoro reads very short
//! inputs badly). The work is linear in the number of tokens.

use super::g2p::Phonemized;
use super::vocab;

#[cfg(test)]
/// Kokoro's token limit per call, without the two pads.
pub const MAX_TOKENS: usize = 510;

/// Where one word's tokens lie within a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WordSpan {
    /// Index into [`Phonemized::words`].
    pub word: usize,
    /// Token range within [`Chunk::tokens`], end exclusive; never empty.
    pub start: usize,
    pub end: usize,
    /// The word began in an earlier chunk: only a word longer than a chunk is split, and then the
    /// later parts are marked so that timing reports the word once.
    pub continued: bool,
}

/// One model call's worth of tokens.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Chunk {
    /// Token ids without the pads; never empty, never starts or ends with a space token.
    pub tokens: Vec<i64>,
    /// The words in this chunk, in order.
    pub words: Vec<WordSpan>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Break {
    /// No whitespace between the two words (`world|.`, `“|maybe`).
    Glued,
    Word,
    Clause,
    Sentence,
}

/// The best break after each class's latest occurrence in the current chunk; the latest one of a
/// class is always the one worth using, so one per class is enough.
#[derive(Default)]
struct Candidates {
    sentence: Option<usize>,
    clause: Option<usize>,
    spaced: Option<usize>,
    glued: Option<usize>,
}

impl Candidates {
    fn record(&mut self, after_word: usize, class: Break) {
        match class {
            Break::Glued => self.glued = Some(after_word),
            Break::Word => self.spaced = Some(after_word),
            Break::Clause => {
                self.clause = Some(after_word);
                self.spaced = Some(after_word);
            }
            Break::Sentence => {
                self.sentence = Some(after_word);
                self.spaced = Some(after_word);
            }
        }
    }

    fn choose(&self, fill: impl Fn(usize) -> usize, min_fill: usize) -> Option<usize> {
        let full_enough = |j: &usize| fill(*j) >= min_fill;
        self.sentence.filter(full_enough).or(self.clause.filter(full_enough)).or(self.spaced).or(self.glued)
    }

    fn forget_through(&mut self, word: usize) {
        for slot in [&mut self.sentence, &mut self.clause, &mut self.spaced, &mut self.glued] {
            if slot.is_some_and(|j| j <= word) {
                *slot = None;
            }
        }
    }
}

fn break_after(p: &Phonemized, j: usize) -> Break {
    let words = &p.words;
    if !words[j].space_after {
        return Break::Glued;
    }
    // Look back over the punctuation run that ends here (`.”`, `?)`); a few marks are enough.
    let mut class = Break::Word;
    for k in (j.saturating_sub(8)..=j).rev() {
        let w = &words[k];
        if !w.is_punct || (k != j && w.space_after) {
            break;
        }
        if w.phonemes.contains(['.', '!', '?', '…']) {
            return Break::Sentence;
        }
        if w.phonemes.contains([',', ';', ':', '—']) {
            class = Break::Clause;
        }
    }
    class
}

struct Builder<'a> {
    tokens: &'a [i64],
    ranges: &'a [(usize, usize)],
    /// First word that may still have tokens in a chunk to come.
    next_word: usize,
    chunks: Vec<Chunk>,
}

impl Builder<'_> {
    fn emit(&mut self, mut start: usize, mut end: usize) {
        while start < end && self.tokens[start] == vocab::SPACE {
            start += 1;
        }
        while end > start && self.tokens[end - 1] == vocab::SPACE {
            end -= 1;
        }
        if start == end {
            return;
        }
        let mut words = Vec::new();
        let mut k = self.next_word;
        while k < self.ranges.len() && self.ranges[k].0 < end {
            let (ws, we) = self.ranges[k];
            let (s, e) = (ws.max(start), we.min(end));
            if s < e {
                words.push(WordSpan { word: k, start: s - start, end: e - start, continued: ws < start });
            }
            if we <= end {
                k += 1;
            } else {
                break;
            }
        }
        self.next_word = k;
        self.chunks.push(Chunk { tokens: self.tokens[start..end].to_vec(), words });
    }
}

#[cfg(test)]
/// Splits `p` into chunks of at most `max_tokens` tokens (at least 1; [`MAX_TOKENS`] for Kokoro).
pub fn chunk(p: &Phonemized, max_tokens: usize) -> Vec<Chunk> {
    chunk_with_first(p, max_tokens, max_tokens)
}

/// Like [`chunk`], but the first chunk holds at most `first_max` tokens, so that streamed audio
/// starts after a short first chunk instead of a full one.
pub fn chunk_with_first(p: &Phonemized, first_max: usize, max_tokens: usize) -> Vec<Chunk> {
    let full = max_tokens.max(1);
    let first = first_max.clamp(1, full);
    let n = p.words.len();

    let mut tokens: Vec<i64> = Vec::new();
    let mut ranges: Vec<(usize, usize)> = Vec::with_capacity(n);
    for (i, w) in p.words.iter().enumerate() {
        let start = tokens.len();
        tokens.extend(vocab::tokenize(&w.phonemes));
        ranges.push((start, tokens.len()));
        if w.space_after && i + 1 < n {
            tokens.push(vocab::SPACE);
        }
    }

    let mut out = Builder { tokens: &tokens, ranges: &ranges, next_word: 0, chunks: Vec::new() };
    let mut cands = Candidates::default();
    let mut cs = 0; // start of the current chunk in `tokens`
    let mut i = 0;
    while i < n {
        let max = if out.chunks.is_empty() { first } else { full };
        let min_fill = max / 3;
        let we = ranges[i].1;
        if we - cs <= max {
            if i + 1 < n {
                cands.record(i, break_after(p, i));
            }
            i += 1;
            continue;
        }
        // Word i does not fit: end the chunk at the best earlier boundary and try again.
        if let Some(j) = cands.choose(|j| ranges[j].1 - cs, min_fill) {
            out.emit(cs, ranges[j].1);
            cs = ranges[j + 1].0;
            cands.forget_through(j);
            continue;
        }
        // No boundary: the chunk holds nothing but word i, which is longer than a chunk. Cut it
        // into full chunks; its tail stays open for the words that follow.
        loop {
            let max = if out.chunks.is_empty() { first } else { full };
            if we - cs <= max {
                break;
            }
            out.emit(cs, cs + max);
            cs += max;
            while cs < we && tokens[cs] == vocab::SPACE {
                cs += 1;
            }
        }
        if i + 1 < n {
            cands.record(i, break_after(p, i));
        }
        i += 1;
    }
    out.emit(cs, tokens.len());
    out.chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::kokoro::g2p::{phonemize, Lang, PhonemeWord};

    /// A stand-in for the G2P: words split on whitespace, trailing punctuation split off, and each
    /// letter of a word one token (`g` is not a Kokoro symbol, so it becomes `k`).
    fn fake(text: &str) -> Phonemized {
        let mut words: Vec<PhonemeWord> = Vec::new();
        let push = |start: usize, end: usize, words: &mut Vec<PhonemeWord>| {
            let t = &text[start..end];
            let is_punct = t.chars().all(vocab::is_punctuation);
            let phonemes = if is_punct { t.to_owned() } else { t.to_lowercase().replace('g', "k") };
            let space_after = text[end..].starts_with(char::is_whitespace);
            words.push(PhonemeWord {
                text: t.to_owned(),
                byte_start: start,
                byte_end: end,
                phonemes,
                space_after,
                is_punct,
            });
        };
        let mut pos = 0;
        for run in text.split_whitespace() {
            let start = pos + text[pos..].find(run).unwrap();
            let end = start + run.len();
            pos = end;
            let body = run.trim_end_matches(vocab::is_punctuation);
            let body_end = start + body.len();
            if !body.is_empty() {
                push(start, body_end, &mut words);
            }
            for (i, c) in text[body_end..end].char_indices() {
                push(body_end + i, body_end + i + c.len_utf8(), &mut words);
            }
        }
        Phonemized { words }
    }

    fn word_tokens(p: &Phonemized, w: usize) -> Vec<i64> {
        vocab::tokenize(&p.words[w].phonemes)
    }

    /// Checks the invariants and that every word's tokens appear once, in order.
    fn check(p: &Phonemized, chunks: &[Chunk], max: usize) {
        let mut seen: Vec<Vec<i64>> = vec![Vec::new(); p.words.len()];
        let mut last_word = None;
        for c in chunks {
            assert!(!c.tokens.is_empty(), "empty chunk");
            assert!(c.tokens.len() <= max, "chunk of {} tokens > {max}", c.tokens.len());
            assert_ne!(c.tokens[0], vocab::SPACE, "leading space");
            assert_ne!(*c.tokens.last().unwrap(), vocab::SPACE, "trailing space");
            assert!(!c.words.is_empty());
            let mut pos = 0;
            for (k, s) in c.words.iter().enumerate() {
                assert!(s.start < s.end && s.end <= c.tokens.len());
                assert!(s.start >= pos, "spans overlap");
                pos = s.end;
                assert!(!s.continued || k == 0, "only a chunk's first word can be continued");
                match last_word {
                    Some(l) if s.continued => assert_eq!(s.word, l),
                    Some(l) => assert!(s.word > l, "words out of order"),
                    None => assert!(!s.continued),
                }
                last_word = Some(s.word);
                seen[s.word].extend_from_slice(&c.tokens[s.start..s.end]);
            }
        }
        for (w, got) in seen.iter().enumerate() {
            let want: Vec<i64> = word_tokens(p, w).into_iter().collect();
            if got.len() != want.len() {
                // Only a split word may lose a space token at a chunk edge.
                let no_space: Vec<i64> = want.iter().copied().filter(|t| *t != vocab::SPACE).collect();
                let got_ns: Vec<i64> = got.iter().copied().filter(|t| *t != vocab::SPACE).collect();
                assert_eq!(got_ns, no_space, "word {w} tokens");
            } else {
                assert_eq!(got, &want, "word {w} tokens");
            }
        }
    }

    fn chunk_text(p: &Phonemized, c: &Chunk) -> String {
        let first = c.words.first().unwrap().word;
        let last = c.words.last().unwrap().word;
        let mut s = String::new();
        for w in &p.words[first..=last] {
            s.push_str(&w.text);
            if w.space_after {
                s.push(' ');
            }
        }
        s.trim_end().to_owned()
    }

    #[test]
    fn empty_input_gives_no_chunks() {
        assert!(chunk(&Phonemized::default(), MAX_TOKENS).is_empty());
    }

    #[test]
    fn short_text_is_one_chunk_with_spaces() {
        let p = fake("ab cd.");
        let chunks = chunk(&p, MAX_TOKENS);
        assert_eq!(chunks.len(), 1);
        let want: Vec<i64> = vocab::tokenize("ab cd.");
        assert_eq!(chunks[0].tokens, want);
        let spans: Vec<(usize, usize, usize)> = chunks[0].words.iter().map(|s| (s.word, s.start, s.end)).collect();
        assert_eq!(spans, [(0, 0, 2), (1, 3, 5), (2, 5, 6)]);
        check(&p, &chunks, MAX_TOKENS);
    }

    #[test]
    fn prefers_sentence_ends() {
        let text = "One two three. Four five six seven, eight nine. Ten eleven twelve, thirteen fourteen. Last one.";
        let p = fake(text);
        for max in [40, 50, 60] {
            let chunks = chunk(&p, max);
            check(&p, &chunks, max);
            assert!(chunks.len() > 1);
            for c in &chunks {
                let t = chunk_text(&p, c);
                assert!(t.ends_with('.'), "max {max}: chunk {t:?} does not end a sentence");
            }
        }
    }

    #[test]
    fn falls_back_to_clauses_then_words() {
        let text = "alpha beta, gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron";
        let p = fake(text);
        let chunks = chunk(&p, 20);
        check(&p, &chunks, 20);
        assert_eq!(chunk_text(&p, &chunks[0]), "alpha beta,");
        for c in &chunks {
            assert!(!c.words[0].continued);
            let last = c.words.last().unwrap();
            assert_eq!(last.end - last.start, word_tokens(&p, last.word).len(), "chunks end at word ends");
        }
    }

    #[test]
    fn closing_quotes_stay_with_their_sentence() {
        let text = "He said “stop now.” Then he left the room quietly.";
        let mut p = fake(text);
        // The fake splits trailing punctuation only; make the quote a punctuation word.
        for w in &mut p.words {
            if w.text == "“stop" {
                w.phonemes = "stop".into();
            }
        }
        let chunks = chunk(&p, 24);
        check(&p, &chunks, 24);
        assert!(chunk_text(&p, &chunks[0]).ends_with(".”"), "{:?}", chunk_text(&p, &chunks[0]));
    }

    #[test]
    fn no_punctuation_splits_at_word_boundaries() {
        let words: Vec<String> = (0..1000).map(|i| format!("w{}", "x".repeat(i % 7))).collect();
        let text = words.join(" ");
        let p = fake(&text);
        let chunks = chunk(&p, MAX_TOKENS);
        check(&p, &chunks, MAX_TOKENS);
        assert!(chunks.len() > 1);
        for c in &chunks[..chunks.len() - 1] {
            assert!(!c.words[0].continued);
            assert!(c.tokens.len() > MAX_TOKENS - 10, "chunks are filled: {}", c.tokens.len());
        }
    }

    #[test]
    fn a_huge_word_is_cut_into_chunks() {
        let huge = "a".repeat(2000);
        let p = fake(&huge);
        let chunks = chunk(&p, MAX_TOKENS);
        check(&p, &chunks, MAX_TOKENS);
        assert_eq!(chunks.iter().map(|c| c.tokens.len()).collect::<Vec<_>>(), [510, 510, 510, 470]);
        assert_eq!(chunks.iter().map(|c| c.words[0].continued).collect::<Vec<_>>(), [false, true, true, true]);
        assert!(chunks.iter().all(|c| c.words.len() == 1 && c.words[0].word == 0));

        // Between ordinary words, the tail of the huge word is followed by the next words.
        let huge = "a".repeat(2050);
        let text = format!("before it {huge} after it.");
        let p = fake(&text);
        let chunks = chunk(&p, 100);
        check(&p, &chunks, 100);
        assert_eq!(chunk_text(&p, &chunks[0]), "before it");
        let last = chunks.last().unwrap();
        assert!(last.words[0].continued);
        assert_eq!(last.words.len(), 4, "tail + after + it + .");
    }

    #[test]
    fn a_huge_word_with_inner_spaces_never_yields_edge_spaces() {
        let p = Phonemized {
            words: vec![PhonemeWord {
                text: "x".into(),
                byte_start: 0,
                byte_end: 1,
                phonemes: vec!["ab"; 300].join(" "),
                space_after: false,
                is_punct: false,
            }],
        };
        for max in [2, 3, 7, 10, 64] {
            check(&p, &chunk(&p, max), max);
        }
    }

    #[test]
    fn max_one_token() {
        let p = fake("ab cd, e.");
        let chunks = chunk(&p, 1);
        check(&p, &chunks, 1);
        assert_eq!(chunks.len(), 7);
        assert_eq!(chunk(&p, 0), chunks, "0 is treated as 1");
    }

    #[test]
    fn one_megabyte() {
        let sentences = [
            "The quick brown fox jumps over the lazy dog.",
            "Pack my box with five dozen liquor jugs, said the cook;",
            "how vexingly quick daft zebras jump!",
            "Sphinx of black quartz, judge my vow…",
            "an unpunctuated run of words that keeps going on and on without any mark at all",
        ];
        let mut text = String::with_capacity(1 << 20);
        let mut k = 0;
        while text.len() < 1 << 20 {
            text.push_str(sentences[k % sentences.len()]);
            text.push(' ');
            k += 1;
        }
        let p = fake(&text);
        let chunks = chunk(&p, MAX_TOKENS);
        check(&p, &chunks, MAX_TOKENS);
        // Every word exactly once, in order.
        let order: Vec<usize> =
            chunks.iter().flat_map(|c| c.words.iter().filter(|s| !s.continued).map(|s| s.word)).collect();
        assert_eq!(order, (0..p.words.len()).collect::<Vec<_>>());
    }

    #[test]
    fn real_english_text() {
        let para = "Local engines run on your own computer. This sentence was spoken by Kokoro, and then \
                    Whisper wrote it down again with a time for every word! Numbers like $3.50 or 1,234 \
                    are read out; “quotes” and (brackets) too… ";
        let text = para.repeat(12);
        let p = phonemize(&text, Lang::EnUs).unwrap();
        for max in [MAX_TOKENS, 200] {
            let chunks = chunk(&p, max);
            check(&p, &chunks, max);
            let sentence_ends = chunks
                .iter()
                .filter(|c| {
                    let last = &p.words[c.words.last().unwrap().word];
                    last.is_punct && last.phonemes.contains(['.', '!', '…'])
                })
                .count();
            assert_eq!(sentence_ends, chunks.len(), "max {max}: every chunk ends a sentence");
        }
    }

    #[test]
    fn a_short_first_chunk_then_full_ones() {
        let text = "Alpha beta gamma delta. ".repeat(80);
        let p = fake(&text);
        let chunks = chunk_with_first(&p, 40, 200);
        assert!(chunks[0].tokens.len() <= 40);
        assert!(chunks[1..chunks.len() - 1].iter().all(|c| c.tokens.len() > 40 && c.tokens.len() <= 200));
        check(&p, &chunks, 200);
        assert_eq!(chunk_with_first(&p, 500, 200).len(), chunk(&p, 200).len(), "first_max is capped at max");
        let long_word = fake(&"x".repeat(450));
        let parts: Vec<usize> = chunk_with_first(&long_word, 40, 200).iter().map(|c| c.tokens.len()).collect();
        assert_eq!(parts, [40, 200, 200, 10]);
    }
}
