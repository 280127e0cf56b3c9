//! Splits a phonemized text into model-sized chunks of tokens.
//!
//! Kokoro reads at most 510 tokens per call (512 with the two pads). The text's tokens are each
//! word's phonemes, with a space token between words separated by whitespace. A chunk aims at a
//! soft size ([`Limits::soft`]) and ends, in order of preference:
//! 1. after a sentence end (`.` `!` `?` `…`, with any closing quote or bracket glued to it) that
//!    leaves it at least [`Limits::min_fill`] tokens, the latest within the soft size;
//! 2. after clause punctuation (`,` `;` `:` `—`), likewise;
//! 3. else the chunk grows past the soft size to the first sentence or clause end, up to the hard
//!    size ([`Limits::hard`]): a chunk never ends inside a sentence when a clause end is in reach,
//!    since the model ends every chunk with a falling tone and a pause;
//! 4. past the hard size, at the latest sentence or clause end however short, then at any word
//!    boundary with whitespace, then at any word boundary at all;
//! 5. inside a word, only for a single word longer than a chunk.
//!
//! The first chunk may have limits of its own ([`Limits::first`]): when audio is streamed, a short
//! first chunk cut at a clause or sentence end lets it start early. The work is linear in the
//! number of tokens.

use super::g2p::Phonemized;
use super::vocab;

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

    /// The latest sentence end, else clause end, that leaves the chunk `min_fill` tokens.
    fn preferred(&self, fill: impl Fn(usize) -> usize, min_fill: usize) -> Option<usize> {
        let full_enough = |j: &usize| fill(*j) >= min_fill;
        self.sentence.filter(full_enough).or(self.clause.filter(full_enough))
    }

    /// Any boundary, best class first, however short the chunk it leaves.
    fn any(&self) -> Option<usize> {
        self.sentence.or(self.clause).or(self.spaced).or(self.glued)
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

/// How big chunks are (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The size a chunk aims at; it grows past it only to reach a sentence or clause end.
    pub soft: usize,
    /// A sentence or clause end within `soft` is used when it leaves at least this many tokens.
    pub min_fill: usize,
    /// The size no chunk exceeds (at most [`MAX_TOKENS`]).
    pub hard: usize,
}

impl Limits {
    #[cfg(test)]
    /// `soft` tokens, a third of them as the minimum fill, growing up to `hard`.
    pub fn new(soft: usize, hard: usize) -> Limits {
        let hard = hard.max(1);
        let soft = soft.clamp(1, hard);
        Limits { soft, min_fill: soft / 3, hard }
    }
}

#[cfg(test)]
/// Splits `p` into chunks of at most `max_tokens` tokens (at least 1; [`MAX_TOKENS`] for Kokoro),
/// the soft and the hard size being the same.
pub fn chunk(p: &Phonemized, max_tokens: usize) -> Vec<Chunk> {
    let l = Limits::new(max_tokens, max_tokens);
    chunk_with_first(p, l, l)
}

/// Splits `p` into chunks; the first follows `first`, the others `rest`.
pub fn chunk_with_first(p: &Phonemized, first: Limits, rest: Limits) -> Vec<Chunk> {
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
    let limits = |out: &Builder| if out.chunks.is_empty() { first } else { rest };
    while i < n {
        let l = limits(&out);
        let we = ranges[i].1;
        let class = if i + 1 < n { Some(break_after(p, i)) } else { None };
        if we - cs <= l.soft {
            if let Some(c) = class {
                cands.record(i, c);
            }
            i += 1;
            continue;
        }
        // Word i goes past the soft size: end at a good sentence or clause end before it…
        if let Some(j) = cands.preferred(|j| ranges[j].1 - cs, l.min_fill) {
            out.emit(cs, ranges[j].1);
            cs = ranges[j + 1].0;
            cands.forget_through(j);
            continue;
        }
        // …else grow to the first sentence or clause end, as long as the hard size allows.
        if we - cs <= l.hard {
            if matches!(class, Some(Break::Sentence | Break::Clause)) {
                out.emit(cs, we);
                cs = ranges[i + 1].0;
                cands.forget_through(i);
            } else if let Some(c) = class {
                cands.record(i, c);
            }
            i += 1;
            continue;
        }
        // Past the hard size: the best boundary there is.
        if let Some(j) = cands.any() {
            out.emit(cs, ranges[j].1);
            cs = ranges[j + 1].0;
            cands.forget_through(j);
            continue;
        }
        // No boundary: the chunk holds nothing but word i, which is longer than a chunk. Cut it
        // into soft-sized chunks; its tail stays open for the words that follow.
        loop {
            let max = limits(&out).soft;
            if we - cs <= max {
                break;
            }
            out.emit(cs, cs + max);
            cs += max;
            while cs < we && tokens[cs] == vocab::SPACE {
                cs += 1;
            }
        }
        if let Some(c) = class {
            cands.record(i, c);
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
        let chunks = chunk_with_first(&p, Limits::new(40, 40), Limits::new(200, 200));
        assert!(chunks[0].tokens.len() <= 40);
        assert!(chunks[1..chunks.len() - 1].iter().all(|c| c.tokens.len() > 40 && c.tokens.len() <= 200));
        check(&p, &chunks, 200);
        let long_word = fake(&"x".repeat(450));
        let parts: Vec<usize> = chunk_with_first(&long_word, Limits::new(40, 40), Limits::new(200, 200))
            .iter()
            .map(|c| c.tokens.len())
            .collect();
        assert_eq!(parts, [40, 200, 200, 10]);
    }

    /// The words of `p` up to the end of each chunk, as text.
    fn texts(p: &Phonemized, chunks: &[Chunk]) -> Vec<String> {
        chunks.iter().map(|c| chunk_text(p, c)).collect()
    }

    #[test]
    fn a_sentence_past_the_soft_size_grows_to_its_clause_end_rather_than_losing_its_last_words() {
        // 21 words of 5 letters + spaces: 125 tokens before the full stop, no clause mark. With
        // the soft size 120 it used to be cut before its last word ("…words |sixty.").
        let long: Vec<String> = (0..20).map(|_| "wordy".to_string()).collect();
        let text = format!("{} sixty. Short one here. {} done, and more.", long.join(" "), long.join(" "));
        let p = fake(&text);
        let soft = Limits::new(120, MAX_TOKENS);
        let chunks = chunk_with_first(&p, soft, soft);
        check(&p, &chunks, MAX_TOKENS);
        let t = texts(&p, &chunks);
        assert!(t[0].ends_with("sixty."), "{t:?}");
        assert!(chunks[0].tokens.len() > 120);
        for c in &t {
            assert!(c.ends_with('.') || c.ends_with(','), "{c:?} ends inside a sentence");
        }
        // Past the hard size with no mark at all, it still ends at a word boundary.
        let run: Vec<String> = (0..200).map(|_| "wordy".to_string()).collect();
        let p = fake(&run.join(" "));
        let chunks = chunk_with_first(&p, soft, soft);
        check(&p, &chunks, MAX_TOKENS);
        assert!(chunks.iter().all(|c| !c.words[0].continued));
    }

    #[test]
    fn a_streamed_first_chunk_is_short_and_ends_at_a_clause_or_sentence_end() {
        let first = Limits { soft: 30, min_fill: 8, hard: MAX_TOKENS };
        let rest = Limits::new(120, MAX_TOKENS);
        // A sentence end within 30 tokens wins over a clause end before it.
        let p = fake("Hi, the first one. Then the second sentence goes on for a while. And a third.");
        let t = texts(&p, &chunk_with_first(&p, first, rest));
        assert_eq!(t[0], "Hi, the first one.");
        // A clause end when the sentence is longer, but not one that leaves a tiny chunk.
        let p = fake("Well, the first clause is here, and the sentence goes on for a long while after it.");
        let chunks = chunk_with_first(&p, first, rest);
        check(&p, &chunks, MAX_TOKENS);
        let t = texts(&p, &chunks);
        assert_eq!(t[0], "Well, the first clause is here,");
        assert_eq!(t.len(), 2);
        // No mark within 30 tokens: the first clause end after it, never inside a clause.
        let p = fake("Nothing marks this opening stretch of words at all, and then it ends. Next.");
        let t = texts(&p, &chunk_with_first(&p, first, rest));
        assert_eq!(t[0], "Nothing marks this opening stretch of words at all,");
        // One short sentence stays whole.
        let p = fake("Just this.");
        assert_eq!(chunk_with_first(&p, first, rest).len(), 1);
    }
}
