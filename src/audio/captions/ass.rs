//! Advanced SubStation Alpha (`.ass`): a styled script whose cues follow the same layout as the
//! SRT/VTT ones, with a karaoke `\k` timing per word (centiseconds) so players and editors that
//! read ASS (Aegisub, ffmpeg's subtitles filter, mpv) highlight each word as it is spoken. Pauses
//! between words are empty `\k` runs, so every word lights up exactly at its start.

use super::{cjk_seam, Cue, Word};

const HEADER: &str = "[Script Info]
; Written by hyperframes
ScriptType: v4.00+
PlayResX: 1920
PlayResY: 1080
WrapStyle: 2
ScaledBorderAndShadow: yes

[V4+ Styles]
Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding
Style: Default,Arial,64,&H0000D7FF,&H00FFFFFF,&H00000000,&H64000000,-1,0,0,0,100,100,0,0,1,3,1,2,80,80,70,1

[Events]
Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text
";

fn cs(seconds: f64) -> i64 {
    (seconds.max(0.0) * 100.0).round() as i64
}

/// `H:MM:SS.cc`.
fn timestamp(centis: i64) -> String {
    let c = centis.max(0);
    format!("{}:{:02}:{:02}.{:02}", c / 360_000, c / 6_000 % 60, c / 100 % 60, c % 100)
}

/// Text as ASS shows it literally: braces would open override blocks and a backslash an escape.
fn literal(text: &str) -> String {
    text.replace('\\', "\u{29F5}").replace('{', "(").replace('}', ")")
}

pub fn render(words: &[Word], cues: &[Cue]) -> String {
    let mut out = String::from(HEADER);
    for cue in cues {
        let (start, end) = (cs(cue.start), cs(cue.end).max(cs(cue.start) + 1));
        let mut text = String::new();
        let mut mark = start;
        for (n, line) in cue.lines.iter().enumerate() {
            if n > 0 {
                text.push_str("\\N");
            }
            for i in line.clone() {
                let w = &words[i];
                let (ws, we) = (cs(w.start).clamp(mark, end), cs(w.end).clamp(mark, end));
                if ws > mark {
                    text.push_str(&format!("{{\\k{}}}", ws - mark));
                }
                let glued = i > line.start && cjk_seam(&words[i - 1].text, &w.text);
                if i > line.start && !glued {
                    text.push(' ');
                }
                text.push_str(&format!("{{\\k{}}}{}", we - ws, literal(&w.text)));
                mark = we;
            }
        }
        out.push_str(&format!("Dialogue: 0,{},{},Default,,0,0,0,,{text}\n", timestamp(start), timestamp(end)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{cues_with, Rules};
    use super::*;

    fn w(text: &str, start: f64, end: f64) -> Word {
        Word { id: String::new(), text: text.into(), start, end, confidence: None }
    }

    #[test]
    fn karaoke_timings_add_up_to_each_words_start() {
        let words = [w("Hello", 0.1, 0.5), w("{big}", 0.5, 0.8), w("world.", 1.0, 1.5), w("Next", 5.0, 5.4)];
        let ass = render(&words, &cues_with(&words, &Rules::default()));
        assert!(ass.starts_with("[Script Info]") && ass.contains("[V4+ Styles]") && ass.contains("[Events]"));
        let dialogue: Vec<&str> = ass.lines().filter(|l| l.starts_with("Dialogue:")).collect();
        assert_eq!(
            dialogue[0],
            "Dialogue: 0,0:00:00.10,0:00:01.50,Default,,0,0,0,,{\\k40}Hello {\\k30}(big){\\k20} {\\k50}world."
        );
        assert!(dialogue[1].starts_with("Dialogue: 0,0:00:05.00,"), "{}", dialogue[1]);
    }

    #[test]
    fn two_line_cues_break_with_backslash_n() {
        let text = "This is a fairly long sentence that will certainly need two lines";
        let words: Vec<Word> =
            text.split(' ').enumerate().map(|(i, t)| w(t, i as f64 * 0.3, i as f64 * 0.3 + 0.3)).collect();
        let ass = render(&words, &cues_with(&words, &Rules::default()));
        assert!(ass.lines().any(|l| l.starts_with("Dialogue:") && l.matches("\\N").count() == 1), "{ass}");
        assert_eq!(timestamp(360_000 + 6_000 + 123), "1:01:01.23");
    }
}
