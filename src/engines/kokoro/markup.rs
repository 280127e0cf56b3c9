//! Speech markup: pauses and pronunciations written into the text.
//!
//! - `<break time="500ms"/>` or `<break time="1.5s"/>` (the SSML form ElevenLabs and others
//!   accept): silence of exactly that length, anywhere in the text.
//! - `[Kokoro](/kˈOkəɹO/)` (the misaki / Kokoro convention): the written word, then the phonemes it
//!   is spoken with. Only the written word is ever shown (words, captions).
//!
//! Anything that looks like markup but is not exactly one of these is an error pointing at the
//! character, never text that gets spoken. A `<` not followed by a letter or `/` (`a < b`) and a
//! `[` with no `](/` after it are plain text.

use std::time::Duration;

use super::vocab;
use crate::engines::error::{EngineError, EngineResult};

/// The longest pause one break may ask for.
pub const MAX_BREAK: Duration = Duration::from_secs(60);

/// A word whose phonemes are given rather than guessed: `text[start..end]` of its passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pronunciation {
    pub start: usize,
    pub end: usize,
    /// Kokoro (misaki) symbols only.
    pub phonemes: String,
}

/// Text to speak, as written, with the words whose pronunciation is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Passage {
    pub text: String,
    /// Sorted by position, never overlapping.
    pub pronunciations: Vec<Pronunciation>,
}

impl Passage {
    pub fn has_words(&self) -> bool {
        self.text.chars().any(char::is_alphanumeric)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Speech(Passage),
    Pause(Duration),
}

/// A text with its markup read: passages and the pauses between them, in order. Passages without
/// anything pronounceable (only spaces or punctuation between two breaks) are kept so the caller
/// decides; consecutive pauses are merged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    pub parts: Vec<Part>,
}

impl Script {
    #[cfg(test)]
    /// The text without markup, passages joined with a space where a pause was.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Speech(s) => out.push_str(&s.text),
                Part::Pause(_) => {
                    if !out.is_empty() && !out.ends_with(char::is_whitespace) {
                        out.push(' ');
                    }
                }
            }
        }
        out
    }

    pub fn has_markup(&self) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Pause(_) => true,
            Part::Speech(s) => !s.pronunciations.is_empty(),
        })
    }

    #[cfg(test)]
    pub fn total_pause(&self) -> Duration {
        self.parts.iter().map(|p| if let Part::Pause(d) = p { *d } else { Duration::ZERO }).sum()
    }

    fn push_text(&mut self, s: &str) {
        if let Some(Part::Speech(p)) = self.parts.last_mut() {
            p.text.push_str(s);
        } else if !s.is_empty() {
            self.parts.push(Part::Speech(Passage { text: s.to_string(), pronunciations: Vec::new() }));
        }
    }

    fn push_word(&mut self, word: &str, phonemes: String) {
        if !matches!(self.parts.last(), Some(Part::Speech(_))) {
            self.parts.push(Part::Speech(Passage::default()));
        }
        let Some(Part::Speech(p)) = self.parts.last_mut() else { unreachable!("a passage was just ensured") };
        let start = p.text.len();
        p.text.push_str(word);
        p.pronunciations.push(Pronunciation { start, end: p.text.len(), phonemes });
    }

    fn push_pause(&mut self, d: Duration) {
        if let Some(Part::Pause(prev)) = self.parts.last_mut() {
            *prev += d;
        } else {
            self.parts.push(Part::Pause(d));
        }
    }
}

/// Reads the markup of `text` (see the module docs). Errors are `BAD_MARKUP`, with the line,
/// column and an excerpt with a caret under the offending character.
pub fn parse(text: &str) -> EngineResult<Script> {
    let mut script = Script::default();
    let mut i = 0;
    let mut plain_from = 0;
    let bytes = text.as_bytes();
    while i < bytes.len() {
        match bytes[i] {
            b'<' if bytes.get(i + 1).is_some_and(|b| b.is_ascii_alphabetic() || *b == b'/') => {
                script.push_text(&text[plain_from..i]);
                let (d, end) = read_break(text, i)?;
                script.push_pause(d);
                i = end;
                plain_from = i;
            }
            b'[' => {
                let Some(close) = text[i..].find("](/").map(|k| i + k) else {
                    i += 1;
                    continue;
                };
                script.push_text(&text[plain_from..i]);
                let (word, phonemes, end) = read_pronunciation(text, i, close)?;
                script.push_word(word, phonemes);
                i = end;
                plain_from = i;
            }
            b']' if text[i..].starts_with("](/") => {
                return Err(bad(
                    text,
                    i,
                    "`](/` without the `[` that opens the written word",
                    "Write [word](/phonemes/).",
                ));
            }
            _ => i += 1,
        }
    }
    script.push_text(&text[plain_from..]);
    script.parts.retain(|p| !matches!(p, Part::Speech(s) if s.text.is_empty()));
    Ok(script)
}

const BREAK_HINT: &str = "Write a pause as <break time=\"500ms\"/> or <break time=\"1.5s\"/> (at most 60 s).";

/// `<break time="…"/>` starting at `at`; returns the pause and the byte after the tag.
fn read_break(text: &str, at: usize) -> EngineResult<(Duration, usize)> {
    let rest = &text[at..];
    let name_len =
        rest[1..].find(|c: char| !c.is_ascii_alphanumeric() && c != '-' && c != ':').map_or(rest.len() - 1, |n| n);
    let name = &rest[1..1 + name_len];
    if name.is_empty() || rest.starts_with("</") {
        return Err(bad(
            text,
            at,
            "a closing tag with no tag to close (only <break …/> is known, and it closes itself)",
            BREAK_HINT,
        ));
    }
    if !name.eq_ignore_ascii_case("break") {
        return Err(bad(
            text,
            at,
            &format!("unknown tag <{name}>: only <break time=\"…\"/> is understood"),
            BREAK_HINT,
        ));
    }
    // The tag runs to the first '>'; a '<' or '[' before it means the tag was never closed.
    let body_start = at + 1 + name_len;
    let mut end = None;
    for (k, c) in text[body_start..].char_indices() {
        match c {
            '>' => {
                end = Some(body_start + k);
                break;
            }
            '<' | '[' | '\n' => {
                return Err(bad(
                    text,
                    body_start + k,
                    "the <break> tag is not closed before this (nested or unclosed tag)",
                    BREAK_HINT,
                ));
            }
            _ => {}
        }
    }
    let Some(gt) = end else {
        return Err(bad(text, at, "the <break> tag is never closed", BREAK_HINT));
    };
    if !text[..gt].ends_with('/') {
        return Err(bad(text, gt, "<break> must close itself with `/>`: it has no content", BREAK_HINT));
    }
    let attrs_end = gt - 1;
    let attrs = &text[body_start..attrs_end];
    let mut time: Option<(usize, &str)> = None;
    let mut k = 0;
    while k < attrs.len() {
        let c = attrs[k..].chars().next().expect("in bounds");
        if c.is_whitespace() {
            k += c.len_utf8();
            continue;
        }
        let name_end = attrs[k..].find(|c: char| c == '=' || c.is_whitespace()).map_or(attrs.len(), |n| k + n);
        let attr = &attrs[k..name_end];
        let after = attrs[name_end..].trim_start();
        let eq_at = attrs.len() - after.len();
        if !after.starts_with('=') {
            return Err(bad(text, body_start + k, &format!("attribute `{attr}` has no value"), BREAK_HINT));
        }
        let value_part = after[1..].trim_start();
        let v_at = attrs.len() - value_part.len();
        let Some(quote) = value_part.chars().next().filter(|q| *q == '"' || *q == '\'') else {
            return Err(bad(text, body_start + eq_at, "attribute values must be quoted", BREAK_HINT));
        };
        let Some(close) = value_part[1..].find(quote) else {
            return Err(bad(text, body_start + v_at, "this quote is never closed", BREAK_HINT));
        };
        let value = &value_part[1..1 + close];
        if attr.eq_ignore_ascii_case("time") {
            if time.is_some() {
                return Err(bad(text, body_start + k, "the break has two `time` attributes", BREAK_HINT));
            }
            time = Some((body_start + v_at + 1, value));
        } else if !attr.eq_ignore_ascii_case("strength") {
            return Err(bad(text, body_start + k, &format!("unknown attribute `{attr}` on <break>"), BREAK_HINT));
        } else {
            return Err(bad(text, body_start + k, "break strength is not supported: give an exact time", BREAK_HINT));
        }
        k = v_at + 1 + close + 1;
    }
    let Some((value_at, value)) = time else {
        return Err(bad(text, at, "the <break> has no time=\"…\"", BREAK_HINT));
    };
    Ok((parse_time(text, value_at, value)?, gt + 1))
}

fn parse_time(text: &str, at: usize, value: &str) -> EngineResult<Duration> {
    let v = value.trim();
    let lead = value.len() - value.trim_start().len();
    let num_len = v.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+')).unwrap_or(v.len());
    let (num, unit) = v.split_at(num_len);
    let unit_at = at + lead + num_len;
    if num.starts_with('-') {
        return Err(bad(text, at + lead, "a pause cannot be negative", BREAK_HINT));
    }
    let Ok(n) = num.parse::<f64>() else {
        return Err(bad(text, at + lead, &format!("`{v}` is not a length of time"), BREAK_HINT));
    };
    let seconds = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "" => return Err(bad(text, unit_at, &format!("the time `{v}` has no unit: write {v}ms or {v}s"), BREAK_HINT)),
        other => return Err(bad(text, unit_at, &format!("unknown unit `{other}`: use ms or s"), BREAK_HINT)),
    };
    if !(seconds.is_finite() && seconds <= MAX_BREAK.as_secs_f64()) {
        return Err(bad(text, at + lead, &format!("a pause of {v} is too long: at most 60 s"), BREAK_HINT));
    }
    Ok(Duration::from_secs_f64(seconds))
}

const PHONEME_HINT: &str =
    "Write a pronunciation as [word](/phonemes/) with Kokoro (misaki) symbols, e.g. [Kokoro](/kˈOkəɹO/).";

/// `[word](/phonemes/)` from `open` (the `[`) with its `](/` at `close`; returns the word, its
/// phonemes and the byte after the markup.
fn read_pronunciation(text: &str, open: usize, close: usize) -> EngineResult<(&str, String, usize)> {
    let word = &text[open + 1..close];
    if let Some(k) = word.find(['[', ']', '<', '(', ')']) {
        return Err(bad(
            text,
            open + 1 + k,
            "markup inside the written word (nested or unclosed brackets)",
            PHONEME_HINT,
        ));
    }
    if word.trim().is_empty() {
        return Err(bad(text, open, "the written word is empty", PHONEME_HINT));
    }
    if word.trim() != word {
        return Err(bad(text, open + 1, "the written word starts or ends with a space", PHONEME_HINT));
    }
    let ph_start = close + 3;
    let Some(ph_len) = text[ph_start..].find("/)") else {
        return Err(bad(text, close, "the phonemes are never closed with `/)`", PHONEME_HINT));
    };
    let phonemes = &text[ph_start..ph_start + ph_len];
    check_phonemes(phonemes).map_err(|(k, msg)| bad(text, ph_start + k, &msg, PHONEME_HINT))?;
    Ok((word, phonemes.to_string(), ph_start + ph_len + 2))
}

/// Phonemes must be Kokoro symbols: the offset of the first one that is not, and why.
pub fn check_phonemes(phonemes: &str) -> Result<(), (usize, String)> {
    if phonemes.trim().is_empty() {
        return Err((0, "the phonemes are empty".into()));
    }
    for (k, c) in phonemes.char_indices() {
        if c == '\n' || c == '/' || c == '[' || c == '<' {
            return Err((k, format!("`{c}` inside phonemes (unclosed or nested markup)")));
        }
        if !vocab::contains(c) {
            return Err((k, format!("`{c}` (U+{:04X}) is not a Kokoro phoneme symbol", c as u32)));
        }
    }
    Ok(())
}

/// `BAD_MARKUP` at byte `at` of `text`: the line, the 1-based column (in characters) and an
/// excerpt of the line with a caret under the character.
fn bad(text: &str, at: usize, what: &str, hint: &str) -> EngineError {
    let (line, col, excerpt) = locate(text, at);
    EngineError::new("BAD_MARKUP", format!("Bad speech markup at line {line}, column {col}: {what}.\n{excerpt}"))
        .with_hint(hint)
}

/// Line, column and a two-line excerpt (`  …text…` / `     ^`) for byte `at` of `text`.
pub fn locate(text: &str, at: usize) -> (usize, usize, String) {
    let at = at.min(text.len());
    let line_start = text[..at].rfind('\n').map_or(0, |k| k + 1);
    let line_end = text[at..].find('\n').map_or(text.len(), |k| at + k);
    let line = text[..at].matches('\n').count() + 1;
    let before: Vec<char> = text[line_start..at].chars().collect();
    let after: Vec<char> = text[at..line_end].chars().collect();
    let col = before.len() + 1;
    const SIDE: usize = 30;
    let shown_before: String = before[before.len().saturating_sub(SIDE)..].iter().collect();
    let shown_after: String = after[..after.len().min(SIDE)].iter().collect();
    let lead = if before.len() > SIDE { "…" } else { "" };
    let tail = if after.len() > SIDE { "…" } else { "" };
    let caret_pad = lead.chars().count() + shown_before.chars().count();
    let excerpt = format!("  {lead}{shown_before}{shown_after}{tail}\n  {}^", " ".repeat(caret_pad));
    (line, col, excerpt)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Part {
        Part::Pause(Duration::from_millis(n))
    }

    fn speech(text: &str) -> Part {
        Part::Speech(Passage { text: text.into(), pronunciations: Vec::new() })
    }

    #[test]
    fn plain_text_is_one_passage() {
        let s = parse("Hello world. a < b, [note] and x](y)").unwrap();
        assert_eq!(s.parts, [speech("Hello world. a < b, [note] and x](y)")]);
        assert!(!s.has_markup());
        assert_eq!(parse("").unwrap().parts, []);
    }

    #[test]
    fn breaks_split_passages() {
        let s = parse("Hello <break time=\"500ms\"/> world<break time='1.5s' /><BREAK  TIME = \"0.25s\"/>.").unwrap();
        assert_eq!(s.parts, [speech("Hello "), ms(500), speech(" world"), ms(1750), speech(".")]);
        assert_eq!(s.total_pause(), Duration::from_millis(2250));
        assert_eq!(s.plain_text(), "Hello  world .");
        let s = parse("<break time=\"60s\"/>Hi<break time=\"0ms\"/>").unwrap();
        assert_eq!(s.parts, [ms(60_000), speech("Hi"), ms(0)]);
    }

    #[test]
    fn inline_pronunciations_keep_the_written_word() {
        let s = parse("Say [Kokoro](/kˈOkəɹO/), please.").unwrap();
        let Part::Speech(p) = &s.parts[0] else { panic!() };
        assert_eq!(p.text, "Say Kokoro, please.");
        assert_eq!(p.pronunciations, [Pronunciation { start: 4, end: 10, phonemes: "kˈOkəɹO".into() }]);
        assert_eq!(&p.text[4..10], "Kokoro");
        let s = parse("[Pan Am](/pˈæn ˈæm/)<break time=\"1s\"/>[Kokoro](/kˈOkəɹO/)").unwrap();
        assert_eq!(s.parts.len(), 3);
        let Part::Speech(p) = &s.parts[2] else { panic!() };
        assert_eq!((p.text.as_str(), p.pronunciations[0].start), ("Kokoro", 0));
    }

    fn err(text: &str) -> EngineError {
        let e = parse(text).unwrap_err();
        assert_eq!(e.code, "BAD_MARKUP", "{e:?}");
        assert!(e.hint.is_some());
        e
    }

    fn column(e: &EngineError) -> usize {
        let m = e.message.split("column ").nth(1).unwrap();
        m[..m.find(':').unwrap()].parse().unwrap()
    }

    #[test]
    fn bad_breaks_point_at_the_character() {
        for (text, col, what) in [
            ("Wait <break time=\"-1s\"/> now", 19, "negative"),
            ("Wait <break time=\"61s\"/> now", 19, "too long"),
            ("Wait <break time=\"500\"/> now", 22, "no unit"),
            ("Wait <break time=\"5m\"/> now", 20, "unknown unit"),
            ("Wait <break time=\"abc\"/> now", 19, "not a length"),
            ("Wait <break time=\"1s\"> now", 22, "close itself"),
            ("Wait <break time=\"1s\" now", 6, "never closed"),
            ("Wait <break time=\"1s\" <break time=\"1s\"/>", 23, "nested"),
            ("Wait <pause/> now", 6, "unknown tag"),
            ("Wait </break> now", 6, "closing tag"),
            ("Wait <break/> now", 6, "no time"),
            ("Wait <break time=1s/> now", 17, "quoted"),
            ("Wait <break strength=\"weak\"/>", 13, "strength"),
        ] {
            let e = err(text);
            assert_eq!(column(&e), col, "{text}: {}", e.message);
            assert!(e.message.contains(what), "{text}: {}", e.message);
            let caret = e.message.lines().last().unwrap();
            assert_eq!(caret.find('^').unwrap() - 2, col - 1, "{}", e.message);
        }
    }

    #[test]
    fn bad_pronunciations_point_at_the_character() {
        for (text, col, what) in [
            ("Say [](/kˈO/)", 5, "empty"),
            ("Say [ ](/kˈO/)", 5, "empty"),
            ("Say [Kokoro](//)", 15, "phonemes are empty"),
            ("Say [Kokoro](/kˈOB/)", 18, "not a Kokoro phoneme"),
            ("Say [Kokoro](/kˈO", 12, "never closed"),
            ("Say [Ko[koro](/kˈO/)", 8, "nested"),
            ("Say [Ko<break time=\"1s\"/>koro](/kˈO/)", 8, "nested"),
            ("Say x](/kˈO/)", 6, "without the `[`"),
        ] {
            let e = err(text);
            assert_eq!(column(&e), col, "{text}: {}", e.message);
            assert!(e.message.contains(what), "{text}: {}", e.message);
        }
    }

    #[test]
    fn columns_count_characters_on_the_right_line() {
        let e = err("première ligne\ndéjà <break time=\"2\"/>");
        assert!(e.message.contains("line 2, column 20"), "{}", e.message);
        let long = format!("{}<break time=\"x\"/>{}", "a".repeat(100), "b".repeat(100));
        let e = err(&long);
        let lines: Vec<&str> = e.message.lines().collect();
        assert!(lines[1].starts_with("  …") && lines[1].ends_with('…'), "{}", e.message);
        let caret = lines[2].find('^').unwrap();
        assert_eq!(lines[1].chars().nth(caret), Some('x'), "{}", e.message);
    }
}
