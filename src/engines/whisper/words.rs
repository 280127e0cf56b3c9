//! Tokens → words with times: split where a token starts with a space or is punctuation, attach
//! punctuation to its word, clamp over-long words, and leave no zero-length or overlapping word.

use super::tokenizer::Tokenizer;

#[derive(Debug, Clone, PartialEq)]
pub struct TimedWord {
    /// As decoded, with its leading space (trimmed when reported).
    pub text: String,
    pub start: f64,
    pub end: f64,
    pub probability: f64,
    /// The least likely of its tokens.
    pub least: f64,
    /// Number of tokens.
    pub tokens: usize,
}

/// Shortest word kept, in seconds (one encoder frame).
pub const MIN_WORD_SECONDS: f64 = 0.02;
const PREPENDED: &[&str] = &["\"", "'", "“", "¿", "(", "[", "{", "-"];
const APPENDED: &[&str] = &["\"", "'", ".", "。", ",", "，", "!", "！", "?", "？", ":", "：", "”", ")", "]", "}", "、"];
const SENTENCE_END: &[&str] = &[".", "。", "!", "！", "?", "？"];

/// Groups text tokens into words; returns each word's text and token count.
pub fn split_words(tok: &Tokenizer, tokens: &[u32]) -> Vec<(String, usize)> {
    // First into pieces that decode to whole characters.
    let mut pieces: Vec<(String, usize)> = Vec::new();
    let mut bytes = Vec::new();
    let mut count = 0;
    for &t in tokens {
        bytes.extend_from_slice(tok.bytes_of(t));
        count += 1;
        if let Ok(s) = std::str::from_utf8(&bytes) {
            pieces.push((s.to_string(), count));
            bytes.clear();
            count = 0;
        }
    }
    if count > 0 {
        pieces.push((String::from_utf8_lossy(&bytes).into_owned(), count));
    }
    let mut words: Vec<(String, usize)> = Vec::new();
    for (piece, n) in pieces {
        let punctuation = !piece.trim().is_empty() && piece.trim().chars().all(|c| c.is_ascii_punctuation());
        match words.last_mut() {
            Some(last) if !piece.starts_with(' ') && !punctuation => {
                last.0.push_str(&piece);
                last.1 += n;
            }
            _ => words.push((piece, n)),
        }
    }
    words
}

/// Words with times from token boundary times (`times[k]` = start of token k, `times[n]` = end).
pub fn time_words(words: &[(String, usize)], times: &[f64], token_probs: &[f64], offset: f64) -> Vec<TimedWord> {
    let mut out = Vec::with_capacity(words.len());
    let mut k = 0;
    for (text, n) in words {
        let (a, b) = (k, (k + n).min(times.len() - 1));
        let probs = &token_probs[a.min(token_probs.len())..(k + n).min(token_probs.len())];
        let probability = if probs.is_empty() { 0.0 } else { probs.iter().sum::<f64>() / probs.len() as f64 };
        out.push(TimedWord {
            text: text.clone(),
            start: offset + times[a],
            end: offset + times[b],
            probability,
            least: probs.iter().copied().fold(if probs.is_empty() { 0.0 } else { 1.0 }, f64::min),
            tokens: *n,
        });
        k += n;
    }
    out
}

/// Moves leading punctuation (opening quotes, brackets) onto the next word and trailing
/// punctuation onto the previous one; the receiving word keeps its times.
pub fn merge_punctuation(words: &mut Vec<TimedWord>) {
    for i in (0..words.len().saturating_sub(1)).rev() {
        if words[i].text.starts_with(' ') && PREPENDED.contains(&words[i].text.trim()) {
            let moved = std::mem::take(&mut words[i].text);
            let n = std::mem::take(&mut words[i].tokens);
            words[i + 1].text = format!("{moved}{}", words[i + 1].text);
            words[i + 1].tokens += n;
        }
    }
    let mut prev: Option<usize> = None;
    for j in 0..words.len() {
        if words[j].text.is_empty() {
            continue;
        }
        match prev {
            Some(i) if !words[i].text.ends_with(' ') && APPENDED.contains(&words[j].text.as_str()) => {
                let moved = std::mem::take(&mut words[j].text);
                words[i].text.push_str(&moved);
                words[i].tokens += words[j].tokens;
            }
            _ => prev = Some(j),
        }
    }
    words.retain(|w| !w.text.trim().is_empty());
}

/// Over-long words are clamped to twice the median word duration (at most 1.4 s): a long word
/// after a pause loses its start (the pause is before it), otherwise its end. Then every word gets
/// at least [`MIN_WORD_SECONDS`] without overlapping the next one.
pub fn clean_up(words: &mut [TimedWord]) {
    let mut durations: Vec<f64> = words.iter().map(|w| w.end - w.start).filter(|d| *d > 0.0).collect();
    if !durations.is_empty() {
        durations.sort_by(f64::total_cmp);
        let median = durations[durations.len() / 2].min(0.7);
        let max = (median * 2.0).max(MIN_WORD_SECONDS * 4.0);
        for i in 0..words.len() {
            if words[i].end - words[i].start <= max {
                continue;
            }
            let after_pause = i == 0 || words[i].start - words[i - 1].end > 0.05;
            let after_sentence = i > 0 && SENTENCE_END.iter().any(|p| words[i - 1].text.trim_end().ends_with(p));
            if after_pause || after_sentence {
                words[i].start = words[i].end - max;
            } else {
                words[i].end = words[i].start + max;
            }
        }
    }
    for i in 0..words.len() {
        if i > 0 && words[i].start < words[i - 1].end {
            words[i].start = words[i - 1].end;
        }
        if words[i].end < words[i].start + MIN_WORD_SECONDS {
            words[i].end = words[i].start + MIN_WORD_SECONDS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, start: f64, end: f64) -> TimedWord {
        TimedWord { text: text.into(), start, end, probability: 0.9, least: 0.9, tokens: 1 }
    }

    #[test]
    fn punctuation_joins_its_word() {
        let mut words =
            vec![w(" \"", 0.0, 0.1), w("Hello", 0.1, 0.5), w(",", 0.5, 0.6), w(" world", 0.6, 1.0), w(".", 1.0, 1.1)];
        merge_punctuation(&mut words);
        let texts: Vec<_> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, [" \"Hello,", " world."]);
        assert_eq!((words[0].start, words[0].end), (0.1, 0.5));
        assert_eq!(words[0].tokens, 3);
    }

    #[test]
    fn long_words_are_clamped_and_none_is_empty_or_overlapping() {
        let mut words = vec![
            w(" a", 0.0, 0.3),
            w(" b", 0.3, 0.6),
            w(" c", 0.6, 0.9),
            w(" long", 2.0, 9.0),
            w(" d", 9.0, 9.0),
            w(" e", 8.9, 9.3),
        ];
        clean_up(&mut words);
        assert!((words[3].start - 8.4).abs() < 1e-9, "after a pause the start moves: {:?}", words[3]);
        for (i, x) in words.iter().enumerate() {
            assert!(x.end - x.start >= MIN_WORD_SECONDS - 1e-12, "{x:?}");
            if i > 0 {
                assert!(x.start >= words[i - 1].end - 1e-12, "{words:?}");
            }
        }
    }

    #[test]
    fn words_get_their_token_times() {
        let words = vec![(" Hi".to_string(), 1), (" there".to_string(), 2)];
        let timed = time_words(&words, &[0.1, 0.4, 0.5, 0.9], &[0.9, 0.5, 0.7], 30.0);
        assert_eq!((timed[0].start, timed[0].end), (30.1, 30.4));
        assert_eq!((timed[1].start, timed[1].end), (30.4, 30.9));
        assert!((timed[1].probability - 0.6).abs() < 1e-12);
        assert!((timed[1].least - 0.5).abs() < 1e-12);
    }
}
