//! Cue layout by broadcast rules: which words share a cue, where its lines break, and how long it
//! stays on screen. Times are handled in whole milliseconds (what SRT and VTT can say), so rounding
//! can never make two cues overlap.

use std::ops::Range;

use super::{cjk_seam, ends_clause, ends_sentence, shown, Cue, Word, MAX_CUE_CHARS, MAX_GAP_SECONDS};

/// The rules cues are laid out by; the defaults are common broadcast practice.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Characters per line (42).
    pub max_chars: usize,
    /// Lines per cue (2).
    pub max_lines: usize,
    /// Reading speed a cue is held for, where the next cue leaves room (17 characters a second).
    pub max_cps: f64,
    /// Seconds a cue stays at least, where the next cue leaves room (5/6 s, 20 frames at 24 fps).
    pub min_duration: f64,
    /// A pause longer than this (seconds) starts a new cue (0.8).
    pub max_gap: f64,
    /// A cue never spans more than this many seconds of speech (7).
    pub max_duration: f64,
    /// One cue per word (or phrase) as given, timed as given.
    pub preserve: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_chars: MAX_CUE_CHARS,
            max_lines: 2,
            max_cps: 17.0,
            min_duration: 5.0 / 6.0,
            max_gap: MAX_GAP_SECONDS,
            max_duration: 7.0,
            preserve: false,
        }
    }
}

impl Rules {
    /// Checks the numbers make sense (`what` names where they came from in errors).
    pub fn check(&self) -> Result<(), String> {
        if self.max_chars < 1 || self.max_lines < 1 {
            return Err("max characters per line and max lines must be at least 1".into());
        }
        for (name, v) in [
            ("max characters per second", self.max_cps),
            ("min cue duration", self.min_duration),
            ("max gap", self.max_gap),
            ("max cue duration", self.max_duration),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("{name} must be a number of at least 0 (got {v})"));
            }
        }
        if self.max_cps == 0.0 || self.max_duration == 0.0 {
            return Err("max characters per second and max cue duration must be greater than 0".into());
        }
        Ok(())
    }
}

fn ms(seconds: f64) -> i64 {
    (seconds.max(0.0) * 1000.0).round() as i64
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// The text of words `r` on one line.
fn line_text(words: &[Word], r: Range<usize>) -> String {
    let mut out = String::new();
    for w in &words[r] {
        if !out.is_empty() && !cjk_seam(&out, &w.text) {
            out.push(' ');
        }
        out.push_str(&w.text);
    }
    out
}

/// Fills lines of at most `width` characters greedily (a word longer than a line gets one alone).
fn wrap(words: &[Word], r: Range<usize>, width: usize) -> Vec<Range<usize>> {
    let mut lines = Vec::new();
    let mut start = r.start;
    for i in r.clone() {
        if i > start && chars(&line_text(words, start..i + 1)) > width {
            lines.push(start..i);
            start = i;
        }
    }
    if start < r.end {
        lines.push(start..r.end);
    }
    lines
}

/// Lines for words `r`, as few as the width allows and then as even as possible: the narrowest
/// width that still needs no more lines than the full width does.
fn balanced_lines(words: &[Word], r: Range<usize>, max_chars: usize) -> Vec<Range<usize>> {
    let fewest = wrap(words, r.clone(), max_chars);
    if fewest.len() < 2 {
        return fewest;
    }
    let longest_word = words[r.clone()].iter().map(|w| chars(&w.text)).max().unwrap_or(1);
    let (mut lo, mut hi) = (longest_word.min(max_chars), max_chars);
    while lo < hi {
        let mid = (lo + hi) / 2;
        if wrap(words, r.clone(), mid).len() <= fewest.len() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    wrap(words, r, lo)
}

fn fits(words: &[Word], r: Range<usize>, rules: &Rules) -> bool {
    wrap(words, r, rules.max_chars).len() <= rules.max_lines
}

/// Which words share a cue (ranges into `words`).
fn groups(words: &[Word], rules: &Rules) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=words.len() {
        if i == words.len() {
            out.push(start..i);
            break;
        }
        let prev = &words[i - 1];
        let line_full = chars(&line_text(words, start..i)) >= rules.max_chars;
        let close = rules.preserve
            || ends_sentence(&prev.text)
            || words[i].start - prev.end > rules.max_gap
            || words[i].end - words[start].start > rules.max_duration
            || (ends_clause(&prev.text) && line_full)
            || !fits(words, start..i + 1, rules);
        if close {
            out.push(start..i);
            start = i;
        }
    }
    out
}

/// Groups words into cues by `rules` (see the module docs of [`super`]).
pub fn cues_with(words: &[Word], rules: &Rules) -> Vec<Cue> {
    let words = shown(words);
    if words.is_empty() {
        return Vec::new();
    }
    let groups = groups(&words, rules);
    let mut timed: Vec<(i64, i64, Range<usize>)> = groups
        .into_iter()
        .map(|g| {
            let start = ms(words[g.start].start);
            let end = words[g.clone()].iter().map(|w| ms(w.end)).max().unwrap_or(start);
            (start, end.max(start), g)
        })
        .collect();
    // Starts never go backwards (words out of order are held back to the previous start).
    for i in 1..timed.len() {
        timed[i].0 = timed[i].0.max(timed[i - 1].0);
    }
    let mut out: Vec<Cue> = Vec::with_capacity(timed.len());
    for i in 0..timed.len() {
        let (start, spoken_end, g) = timed[i].clone();
        let lines = if rules.preserve { vec![g.clone()] } else { balanced_lines(&words, g.clone(), rules.max_chars) };
        let text: Vec<String> = lines.iter().map(|l| line_text(&words, l.clone())).collect();
        let mut end = spoken_end;
        if !rules.preserve {
            let reading = (text.iter().map(|t| chars(t)).sum::<usize>() as f64 / rules.max_cps * 1000.0).ceil() as i64;
            end = end.max(start + ms(rules.min_duration)).max(start + reading);
        }
        let next_start = timed.get(i + 1).map(|t| t.0);
        if let Some(next) = next_start {
            end = end.min(next);
        }
        if end <= start {
            // No room at all: the next cue starts at the same millisecond. Show this one for a
            // millisecond only if there is one, else fold its words into the next cue.
            if next_start.is_some_and(|n| n > start) || next_start.is_none() {
                end = start + 1;
            } else {
                let first = g.start;
                timed[i + 1].2 = first..timed[i + 1].2.end;
                continue;
            }
        }
        out.push(Cue { start: start as f64 / 1000.0, end: end as f64 / 1000.0, text: text.join("\n"), lines });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, start: f64, end: f64) -> Word {
        Word { id: String::new(), text: text.into(), start, end, confidence: None }
    }

    /// Words of `text` evenly spaced, `per_word` seconds each, no gaps.
    fn speech(text: &str, per_word: f64) -> Vec<Word> {
        text.split_whitespace().enumerate().map(|(i, t)| w(t, i as f64 * per_word, (i + 1) as f64 * per_word)).collect()
    }

    fn check_invariants(cues: &[Cue], rules: &Rules) {
        for c in cues {
            assert!(c.end > c.start, "zero-length cue {c:?}");
            let lines: Vec<&str> = c.text.lines().collect();
            assert!(lines.len() <= rules.max_lines, "{c:?}");
            for l in lines {
                assert!(chars(l) <= rules.max_chars || !l.contains(' '), "line too long: {l:?}");
            }
        }
        for pair in cues.windows(2) {
            assert!(pair[0].end <= pair[1].start, "overlap: {:?} / {:?}", pair[0], pair[1]);
        }
    }

    #[test]
    fn two_balanced_lines_of_at_most_42() {
        let text = "This is a fairly long sentence that will certainly need two lines to fit on screen";
        let words = speech(text, 0.3);
        let rules = Rules::default();
        let cues = cues_with(&words, &rules);
        check_invariants(&cues, &rules);
        let first: Vec<&str> = cues[0].text.lines().collect();
        assert_eq!(first.len(), 2);
        let diff = chars(first[0]).abs_diff(chars(first[1]));
        assert!(diff <= 8, "balanced: {first:?}");
        let all: Vec<String> = cues.iter().flat_map(|c| c.text.split_whitespace().map(String::from)).collect();
        assert_eq!(all, text.split_whitespace().collect::<Vec<_>>(), "every word once, in order");
    }

    #[test]
    fn configurable_line_length_and_count() {
        let words = speech("one two three four five six seven eight nine ten eleven twelve", 0.25);
        let rules = Rules { max_chars: 12, max_lines: 1, ..Rules::default() };
        let cues = cues_with(&words, &rules);
        check_invariants(&cues, &rules);
        assert!(cues.iter().all(|c| !c.text.contains('\n')));
        assert_eq!(cues[0].text, "one two");
    }

    #[test]
    fn sentence_ends_and_pauses_close_cues() {
        let words = [
            w("Write", 0.0, 0.3),
            w("HTML.", 0.3, 0.6),
            w("Render", 0.7, 1.0),
            w("video", 1.0, 1.2),
            w("for", 1.2, 1.3),
            w("agents", 2.5, 2.9),
        ];
        let cues = cues_with(&words, &Rules::default());
        let texts: Vec<&str> = cues.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["Write HTML.", "Render video for", "agents"]);
        // Held to the 5/6 s minimum but never into the next cue.
        assert_eq!((cues[0].start, cues[0].end), (0.0, 0.7));
        assert_eq!((cues[1].start, cues[1].end), (0.7, 1.642), "16 characters at 17 a second");
        assert_eq!((cues[2].start, cues[2].end), (2.5, 3.333));
    }

    #[test]
    fn fast_speech_is_held_for_reading_where_there_is_room() {
        // 30 characters said in 0.5 s, then 3 s of silence: held for 30/17 s.
        let words = speech("Extraordinary, unbelievable!!", 0.25);
        let cues = cues_with(&words, &Rules::default());
        assert_eq!(cues.len(), 1);
        assert_eq!(cues[0].end, (29.0f64 / 17.0 * 1000.0).ceil() / 1000.0);
    }

    #[test]
    fn no_zero_length_or_overlapping_cues_from_odd_timings() {
        let words = [
            w("a.", 1.0, 1.0),
            w("b.", 1.0, 1.0),
            w("c.", 1.0005, 1.0006),
            w("d.", 0.5, 0.6),
            w("", 2.0, 3.0),
            w("e.", 2.0, 2.0),
        ];
        let rules = Rules::default();
        let cues = cues_with(&words, &rules);
        check_invariants(&cues, &rules);
        let all: Vec<&str> = cues.iter().flat_map(|c| c.text.split_whitespace()).collect();
        assert_eq!(all, ["a.", "b.", "c.", "d.", "e."]);
    }

    #[test]
    fn long_speech_keeps_every_rule() {
        let text = "Local engines run on your own computer, and every word gets a time from the model itself. \
                    Numbers like three fifty are read out; quotes and brackets too. Then a very long clause \
                    without any punctuation at all keeps going until the line is more than full and must wrap";
        let words = speech(&text.repeat(5), 0.21);
        let rules = Rules::default();
        let cues = cues_with(&words, &rules);
        check_invariants(&cues, &rules);
        assert!(cues.iter().all(|c| c.end - c.start <= 7.0 + 1.0));
        assert_eq!(cues.iter().map(|c| c.text.split_whitespace().count()).sum::<usize>(), words.len());
    }

    #[test]
    fn bad_rules_are_refused() {
        assert!(Rules::default().check().is_ok());
        assert!(Rules { max_chars: 0, ..Rules::default() }.check().is_err());
        assert!(Rules { max_cps: f64::NAN, ..Rules::default() }.check().is_err());
        assert!(Rules { min_duration: -1.0, ..Rules::default() }.check().is_err());
    }
}
