//! Word timings → caption cues → SRT or WebVTT. Words are grouped greedily: a cue closes after a
//! sentence end, and a new one starts when adding a word would pass 42 characters or when the
//! pause before it is longer than 0.8 s. CJK text is joined without spaces.

use serde::{Deserialize, Serialize};

pub const MAX_CUE_CHARS: usize = 42;
pub const MAX_GAP_SECONDS: f64 = 0.8;

/// A timed word as every provider returns it: `{id, text, start, end}` in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    #[serde(default)]
    pub id: String,
    pub text: String,
    pub start: f64,
    pub end: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Srt,
    Vtt,
}

impl Format {
    /// From a file name's extension or a `--to` value.
    pub fn parse(s: &str) -> Option<Format> {
        let ext = s.rsplit('.').next().unwrap_or(s).to_ascii_lowercase();
        match ext.as_str() {
            "srt" => Some(Format::Srt),
            "vtt" => Some(Format::Vtt),
            _ => None,
        }
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0xFF66..=0xFF9F)
}

fn ends_sentence(text: &str) -> bool {
    let trimmed = text.trim_end_matches(['"', '\'', '”', '’', ')', ']', '}', '»', '」', '』']);
    trimmed.ends_with(['.', '!', '?', '…', '。', '！', '？'])
}

fn join(a: &str, b: &str) -> String {
    let cjk_seam = a.chars().last().is_some_and(is_cjk) && b.chars().next().is_some_and(is_cjk);
    if a.is_empty() {
        b.to_string()
    } else if cjk_seam {
        format!("{a}{b}")
    } else {
        format!("{a} {b}")
    }
}

/// Groups words into cues. With `preserve`, every word (or phrase) is its own cue.
pub fn cues(words: &[Word], preserve: bool) -> Vec<Cue> {
    let mut out: Vec<Cue> = Vec::new();
    let mut current: Option<Cue> = None;
    for w in words.iter().filter(|w| !w.text.trim().is_empty()) {
        let text = w.text.trim();
        if preserve {
            out.push(Cue { start: w.start, end: w.end, text: text.to_string() });
            continue;
        }
        if let Some(c) = current.as_mut() {
            let joined = join(&c.text, text);
            if joined.chars().count() <= MAX_CUE_CHARS && w.start - c.end <= MAX_GAP_SECONDS {
                c.text = joined;
                c.end = c.end.max(w.end);
            } else {
                out.extend(current.take());
                current = Some(Cue { start: w.start, end: w.end, text: text.to_string() });
            }
        } else {
            current = Some(Cue { start: w.start, end: w.end, text: text.to_string() });
        }
        if ends_sentence(text) {
            out.extend(current.take());
        }
    }
    out.extend(current);
    out
}

fn timestamp(seconds: f64, sep: char) -> String {
    let ms = (seconds.max(0.0) * 1000.0).round() as u64;
    format!("{:02}:{:02}:{:02}{sep}{:03}", ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000)
}

pub fn render(cues: &[Cue], format: Format) -> String {
    let mut s = String::new();
    if format == Format::Vtt {
        s.push_str("WEBVTT\n\n");
    }
    for (i, c) in cues.iter().enumerate() {
        match format {
            Format::Srt => s.push_str(&format!(
                "{}\n{} --> {}\n{}\n\n",
                i + 1,
                timestamp(c.start, ','),
                timestamp(c.end, ','),
                c.text
            )),
            Format::Vtt => {
                s.push_str(&format!("{} --> {}\n{}\n\n", timestamp(c.start, '.'), timestamp(c.end, '.'), c.text))
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str, start: f64, end: f64) -> Word {
        Word { id: String::new(), text: text.into(), start, end }
    }

    #[test]
    fn groups_until_sentence_end_length_or_pause() {
        let words = [
            w("Write", 0.0, 0.3),
            w("HTML.", 0.3, 0.6),
            w("Render", 0.7, 1.0),
            w("video", 1.0, 1.2),
            w("for", 1.2, 1.3),
            w("agents", 2.5, 2.9),
        ];
        let c = cues(&words, false);
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["Write HTML.", "Render video for", "agents"]);
        assert_eq!((c[1].start, c[1].end), (0.7, 1.3));
    }

    #[test]
    fn never_passes_42_characters_unless_one_word_does() {
        let words: Vec<Word> = (0..30).map(|i| w("abcdefgh", i as f64 * 0.2, i as f64 * 0.2 + 0.1)).collect();
        assert!(cues(&words, false).iter().all(|c| c.text.chars().count() <= MAX_CUE_CHARS));
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
        let c = cues(&[w("Hello", 0.0, 0.5), w("world.", 0.5, 3661.25)], false);
        assert_eq!(render(&c, Format::Srt), "1\n00:00:00,000 --> 01:01:01,250\nHello world.\n\n");
        assert_eq!(render(&c, Format::Vtt), "WEBVTT\n\n00:00:00.000 --> 01:01:01.250\nHello world.\n\n");
        assert_eq!(Format::parse("out/captions.VTT"), Some(Format::Vtt));
        assert_eq!(Format::parse("srt"), Some(Format::Srt));
        assert_eq!(Format::parse("x.txt"), None);
    }

    #[test]
    fn preserve_keeps_one_cue_per_word() {
        assert_eq!(cues(&[w("a", 0.0, 0.1), w("b", 0.1, 0.2)], true).len(), 2);
    }
}
