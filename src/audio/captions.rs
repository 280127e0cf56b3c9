//! Word timings → captions: SRT and WebVTT cues by broadcast rules, styled ASS with karaoke
//! timings, and Remotion's `Caption[]`. [`build`] is the one entry point the CLI (`tts`,
//! `captions`) and the JS API share.
//!
//! Cues ([`cues_with`], rules in [`Rules`]): at most `max_lines` lines of at most `max_chars`
//! characters, broken where the lines come out most even; a cue closes after a sentence end, at a
//! pause longer than `max_gap`, before it would run longer than `max_duration`, and after a clause
//! mark once its first line is full. Cues then get room to be read: each is held until it has been
//! on screen `min_duration` and long enough for `max_cps` characters a second, but never past the
//! next cue's start, so no cue overlaps the next or has no length. CJK text is joined without spaces.

mod ass;
mod layout;
mod remotion;

use serde::{Deserialize, Serialize};

pub use layout::{cues_with, Rules};

pub const MAX_CUE_CHARS: usize = 42;
pub const MAX_GAP_SECONDS: f64 = 0.8;

/// A timed word as every provider returns it: `{id, text, start, end}` in seconds, with the
/// recogniser's `confidence` (0–1) when it was heard rather than known (Whisper); spoken text
/// (TTS) has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    #[serde(default)]
    pub id: String,
    pub text: String,
    pub start: f64,
    pub end: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    /// The lines, joined by `\n`.
    pub text: String,
    /// The cue's lines as ranges of indices into the words it was built from.
    pub lines: Vec<std::ops::Range<usize>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Srt,
    Vtt,
    /// Advanced SubStation Alpha, styled, with a karaoke `\k` timing per word.
    Ass,
    /// Remotion's `Caption[]` as JSON.
    Remotion,
}

impl Format {
    /// From a file name's extension or a `--to` value (`remotion`, or a `.json` file).
    pub fn parse(s: &str) -> Option<Format> {
        let ext = s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase();
        match ext.as_str() {
            "srt" => Some(Format::Srt),
            "vtt" => Some(Format::Vtt),
            "ass" | "ssa" => Some(Format::Ass),
            "remotion" | "json" => Some(Format::Remotion),
            _ => None,
        }
    }

    /// The file extension captions of this format are written with.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Ass => "ass",
            Format::Remotion => "json",
        }
    }

    pub const NAMES: &'static str = "srt, vtt, ass or remotion";
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F)
}

fn ends_sentence(text: &str) -> bool {
    let trimmed = text.trim_end_matches(['"', '\'', '”', '’', ')', ']', '}', '»', '」', '』']);
    trimmed.ends_with(['.', '!', '?', '…', '。', '！', '？'])
}

fn ends_clause(text: &str) -> bool {
    text.ends_with([',', ';', ':', '—', '、', '，'])
}

/// Whether `b` is written straight after `a`, with no space (two CJK characters meet).
fn cjk_seam(a: &str, b: &str) -> bool {
    a.chars().last().is_some_and(is_cjk) && b.chars().next().is_some_and(is_cjk)
}

/// A word's text as a caption shows it: every run of whitespace (line breaks included, so no
/// cue of any format gets a blank line or a stray line) one space, trimmed, and control
/// characters (NUL, ESC, DEL, C1) dropped.
fn shown_text(text: &str) -> String {
    let visible: String = text.chars().filter(|c| c.is_whitespace() || !c.is_control()).collect();
    visible.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Words as captions show them ([`shown_text`]); words with no text left are not shown at all.
fn shown(words: &[Word]) -> Vec<Word> {
    words.iter().map(|w| Word { text: shown_text(&w.text), ..w.clone() }).filter(|w| !w.text.is_empty()).collect()
}

/// Cue text as WebVTT reads it literally: `&`, `<` and `>` as character references (so no
/// `<b>`, `&nbsp;` or `-->` is read as markup or a timing line).
fn vtt_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
/// Groups words into cues by the default [`Rules`]. With `preserve`, every word (or phrase) is its
/// own cue.
pub fn cues(words: &[Word], preserve: bool) -> Vec<Cue> {
    cues_with(words, &Rules { preserve, ..Rules::default() })
}

fn timestamp(seconds: f64, sep: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}{sep}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

/// SRT or WebVTT text for `cues` (ASS and Remotion need the words: see [`build`]).
pub fn render(cues: &[Cue], format: Format) -> String {
    let mut s = String::new();
    if format == Format::Vtt {
        s.push_str("WEBVTT\n\n");
    }
    for (i, c) in cues.iter().enumerate() {
        match format {
            Format::Vtt => s.push_str(&format!(
                "{} --> {}\n{}\n\n",
                timestamp(c.start, '.'),
                timestamp(c.end, '.'),
                vtt_text(&c.text)
            )),
            _ => s.push_str(&format!(
                "{}\n{} --> {}\n{}\n\n",
                i + 1,
                timestamp(c.start, ','),
                timestamp(c.end, ','),
                c.text
            )),
        }
    }
    s
}

/// Captions for `words` in `format`, by `rules`: what `--to`, `tts --captions` and the JS
/// `captions()` write.
pub fn build(words: &[Word], format: Format, rules: &Rules) -> String {
    match format {
        Format::Srt | Format::Vtt => render(&cues_with(words, rules), format),
        Format::Ass => ass::render(&shown(words), &cues_with(words, rules)),
        Format::Remotion => remotion::render(&shown(words)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, start: f64, end: f64) -> Word {
        Word { id: String::new(), text: text.into(), start, end, confidence: None }
    }

    #[test]
    fn never_passes_42_characters_unless_one_word_does() {
        let words: Vec<Word> = (0..30).map(|i| w("abcdefgh", i as f64 * 0.2, i as f64 * 0.2 + 0.1)).collect();
        assert!(cues(&words, false).iter().all(|c| c.text.lines().all(|l| l.chars().count() <= MAX_CUE_CHARS)));
        let long = "x".repeat(60);
        assert_eq!(cues(&[w(&long, 0.0, 1.0)], false)[0].text, long);
    }

    #[test]
    fn closing_quotes_after_sentence_end_close_the_cue_and_cjk_joins_without_spaces() {
        let c = cues(&[w("He", 0.0, 0.1), w("said “stop.”", 0.1, 0.5), w("Then", 0.6, 0.8)], false);
        assert_eq!(c.len(), 2);
        let c = cues(&[w("日本", 0.0, 0.3), w("語", 0.3, 0.5)], false);
        assert_eq!(c[0].text, "日本語");
    }

    #[test]
    fn srt_and_vtt_rendering() {
        let c = cues(&[w("Hello", 3660.0, 3660.5), w("world.", 3660.5, 3661.25)], false);
        assert_eq!(render(&c, Format::Srt), "1\n01:01:00,000 --> 01:01:01,250\nHello world.\n\n");
        assert_eq!(render(&c, Format::Vtt), "WEBVTT\n\n01:01:00.000 --> 01:01:01.250\nHello world.\n\n");
        assert_eq!(Format::parse("out/captions.VTT"), Some(Format::Vtt));
        assert_eq!(Format::parse("srt"), Some(Format::Srt));
        assert_eq!(Format::parse("x.txt"), None);
        assert_eq!(Format::parse("remotion"), Some(Format::Remotion));
        assert_eq!(Format::parse("out/caps.ASS"), Some(Format::Ass));
    }

    #[test]
    fn vtt_text_is_escaped_and_no_format_gets_a_blank_line_or_a_control_character() {
        let words = [w("<b>Tom", 0.0, 0.4), w("&", 0.4, 0.5), w("Jerry</b>", 0.5, 0.9), w("-->", 0.9, 1.0)];
        let vtt = render(&cues(&words, false), Format::Vtt);
        assert_eq!(vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:01.295\n&lt;b&gt;Tom &amp; Jerry&lt;/b&gt; --&gt;\n\n");
        assert_eq!(vtt.matches("-->").count(), 1, "one timing line: {vtt}");

        let hostile = [w("a\n\nb", 0.0, 0.3), w("\u{1b}[31mred\u{0}", 0.3, 0.6), w("\u{7}\u{9b}", 0.6, 0.7)];
        for format in [Format::Srt, Format::Vtt, Format::Ass, Format::Remotion] {
            let out = build(&hostile, format, &Rules::default());
            assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{format:?}: {out:?}");
            assert!(out.contains("a b") && out.contains("[31mred"), "{format:?}: {out:?}");
        }
        let srt = build(&hostile, Format::Srt, &Rules::default());
        assert_eq!(srt, "1\n00:00:00.000 --> 00:00:00.833\na b [31mred\n\n".replace('.', ","));
    }

    #[test]
    fn preserve_keeps_one_cue_per_word() {
        assert_eq!(cues(&[w("a", 0.0, 0.1), w("b", 0.1, 0.2)], true).len(), 2);
    }
}
