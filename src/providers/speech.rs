//! What the hosted voices (HeyGen, ElevenLabs) share: the [`Speech`] result of one or more
//! requests laid end to end, the sentence splitter for long text, language keys, and the audio
//! sniffing and duration measuring of what a provider sends back.

use crate::audio::captions::Word;

/// The audio of one request (one chunk of the text).
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechPart {
    pub audio: Vec<u8>,
    /// Sniffed from the bytes (e.g. `audio/mpeg`), else the server's content type.
    pub mime: String,
    /// The text this part speaks.
    pub text: String,
    /// Word times relative to the start of this part's audio.
    pub words: Vec<Word>,
    /// Seconds: the server's figure, else measured from the audio ([`audio_duration`]); None when
    /// neither is known.
    pub duration: Option<f64>,
    /// Where this part starts on the joined timeline (the running sum of the earlier parts'
    /// durations; a part without a duration counts up to its last word's end).
    pub offset: f64,
    /// What [`check_words`] (and the duration check) fixed or dropped in the server's data.
    pub anomalies: Vec<String>,
}

impl SpeechPart {
    /// A part whose words went through [`check_words`] (without the audio's length, which the
    /// caller that decodes it checks against) and whose `duration`, a server's figure or one
    /// derived from its data, is kept only when it is a plausible length for one request.
    pub fn checked(audio: Vec<u8>, mime: String, text: String, words: Vec<Word>, duration: Option<f64>) -> Self {
        let plausible = duration.filter(|d| d.is_finite() && *d > 0.0 && *d <= MAX_PART_SECONDS);
        let mut anomalies = Vec::new();
        if let (Some(d), None) = (duration, plausible) {
            let shown = if d.abs() < 1e6 { d.to_string() } else { format!("{d:e}") };
            anomalies.push(format!("the audio's duration ({shown}) is not a plausible length; ignored"));
        }
        let (words, notes) = check_words(words, None);
        anomalies.extend(notes);
        SpeechPart { audio, mime, text, words, duration: plausible, offset: 0.0, anomalies }
    }
}

/// No one request speaks longer than this (seconds): a word time or duration past it is not a
/// time in that audio. Generous: 5,000 characters at half speed take about ten minutes.
pub const MAX_PART_SECONDS: f64 = 3600.0;

/// A word running this far (seconds) past the decoded audio's end means the audio was cut short;
/// less is rounding and encoder padding.
const PAST_END_TOLERANCE: f64 = 0.25;

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The one check of a provider's word timings before they reach arithmetic, a file or a caption.
/// Text: control characters dropped, whitespace runs as one space; a word with no text left is
/// dropped. Times: a start or end that is not a finite number from 0 to [`MAX_PART_SECONDS`]
/// drops the word; an end before its start is set to the start; a word starting before the
/// previous word's start is out of order and dropped. With `audio_seconds` (the decoded audio's
/// length), times are clamped to it, and words running past it by more than rounding say that the
/// audio looks truncated. Returns the words (ids `w0…` again) and one anomaly per kind of fix,
/// saying how many and why.
pub fn check_words(words: Vec<Word>, audio_seconds: Option<f64>) -> (Vec<Word>, Vec<String>) {
    let in_range = |t: f64| t.is_finite() && (0.0..=MAX_PART_SECONDS).contains(&t);
    let (mut no_text, mut bad_time, mut reversed, mut out_of_order, mut past_end, mut controls) = (0, 0, 0, 0, 0, 0);
    let mut out: Vec<Word> = Vec::with_capacity(words.len());
    for mut w in words {
        if w.text.chars().any(|c| c.is_control() && !c.is_whitespace()) {
            controls += 1;
        }
        let visible: String = w.text.chars().filter(|c| c.is_whitespace() || !c.is_control()).collect();
        w.text = visible.split_whitespace().collect::<Vec<_>>().join(" ");
        if w.text.is_empty() {
            no_text += 1;
            continue;
        }
        if !(in_range(w.start) && in_range(w.end)) {
            bad_time += 1;
            continue;
        }
        if w.end < w.start {
            reversed += 1;
            w.end = w.start;
        }
        if let Some(end) = audio_seconds.filter(|d| d.is_finite() && *d >= 0.0) {
            if w.end > end + PAST_END_TOLERANCE {
                past_end += 1;
            }
            w.start = w.start.min(end);
            w.end = w.end.min(end);
        }
        if out.last().is_some_and(|prev| w.start < prev.start) {
            out_of_order += 1;
            continue;
        }
        out.push(w);
    }
    for (i, w) in out.iter_mut().enumerate() {
        w.id = format!("w{i}");
    }
    let mut notes = Vec::new();
    if controls > 0 {
        notes.push(format!("control characters removed from the text of {}", plural(controls, "word", "words")));
    }
    if no_text > 0 {
        notes.push(format!("{} with no text dropped", plural(no_text, "word", "words")));
    }
    if bad_time > 0 {
        notes.push(format!(
            "{} dropped: a time is not a number from 0 to {MAX_PART_SECONDS} seconds",
            plural(bad_time, "word", "words")
        ));
    }
    if reversed > 0 {
        notes.push(format!("{} ending before it starts: the end set to the start", plural(reversed, "word", "words")));
    }
    if out_of_order > 0 {
        notes.push(format!(
            "{} dropped: starting before the word before it",
            plural(out_of_order, "word out of order", "words out of order")
        ));
    }
    if past_end > 0 {
        let end = audio_seconds.unwrap_or_default();
        notes.push(format!(
            "the audio looks truncated: {} past its end at {end:.3} s (clamped to it)",
            plural(past_end, "word runs", "words run")
        ));
    }
    (out, notes)
}

/// Synthesised speech: one part per request, in order (one part unless the text was split).
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub parts: Vec<SpeechPart>,
    /// Every part's words on the joined timeline (`part.offset + t`), ids `w0…`.
    pub words: Vec<Word>,
    /// The sum of the parts' durations, when every one is known.
    pub duration: Option<f64>,
    pub voice_id: String,
}

/// An `f32` as the decimal it was written as (`0.9`, not `0.8999999761581421`), for JSON bodies.
pub fn f32_decimal(x: f32) -> f64 {
    x.to_string().parse().unwrap_or(f64::from(x))
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

impl Speech {
    /// Lays the parts end to end and builds the joined word list.
    pub fn from_parts(mut parts: Vec<SpeechPart>, voice_id: String) -> Speech {
        let mut offset = 0.0;
        let mut all_known = true;
        let mut words = Vec::new();
        for part in &mut parts {
            part.offset = round3(offset);
            for w in &part.words {
                words.push(Word {
                    id: format!("w{}", words.len()),
                    text: w.text.clone(),
                    start: round3(offset + w.start),
                    end: round3(offset + w.end),
                    confidence: None,
                });
            }
            offset += match part.duration {
                Some(d) => d,
                None => {
                    all_known = false;
                    part.words.last().map_or(0.0, |w| w.end)
                }
            };
        }
        Speech { duration: all_known.then_some(round3(offset)), parts, words, voice_id }
    }

    #[cfg(test)]
    /// The audio when the text fit in one request.
    pub fn single(&self) -> Option<&SpeechPart> {
        match self.parts.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…' | ';')
}

fn is_wide_sentence_end(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；')
}

fn is_closer(c: char) -> bool {
    matches!(c, '"' | '\'' | '”' | '’' | ')' | ']' | '}' | '»' | '」' | '』')
}

/// The byte index just past the best place to cut within `window`: the last sentence end (or
/// line break), else the last whitespace, else the whole window.
fn cut_point(window: &str) -> usize {
    let chars: Vec<(usize, char)> = window.char_indices().collect();
    let (mut sentence, mut space) = (None, None);
    for (i, &(at, c)) in chars.iter().enumerate() {
        let after = at + c.len_utf8();
        if c == '\n' {
            sentence = Some(after);
        } else if c.is_whitespace() {
            space = Some(after);
            let before = chars[..i].iter().rev().map(|&(_, c)| c).find(|&c| !is_closer(c));
            if before.is_some_and(is_sentence_end) {
                sentence = Some(after);
            }
        } else if is_wide_sentence_end(c) {
            let closers = chars[i + 1..].iter().take_while(|&&(_, c)| is_closer(c)).count();
            // A cut must not land inside the window's final run (the next char is unknown).
            if i + 1 + closers < chars.len() {
                let (at2, c2) = chars[i + closers];
                sentence = Some(at2 + c2.len_utf8());
            }
        }
    }
    sentence.or(space).filter(|&p| p > 0).unwrap_or(window.len())
}

/// Splits text into chunks of at most `max_chars` characters, preferring sentence boundaries,
/// then whitespace, then a hard cut. Chunks are trimmed; none is empty.
pub fn split_text(text: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((limit, _)) = rest.char_indices().nth(max_chars) else {
            out.push(rest.to_string());
            break;
        };
        // The char after the window shows whether the window's last char ends a sentence.
        let next_len = rest[limit..].chars().next().map_or(0, char::len_utf8);
        let cut = cut_point(&rest[..limit + next_len]).min(limit);
        let chunk = rest[..cut].trim();
        if !chunk.is_empty() {
            out.push(chunk.to_string());
        }
        rest = rest[cut..].trim_start();
    }
    out
}

/// Seconds of audio in `bytes` (any format symphonia reads), counted by decoding; None when the
/// bytes are not audio it can read, or hold more than a clip speaking `text` can last (decoding
/// stops there: see [`crate::audio::decode::limits::speech_clip`]).
pub fn audio_duration(bytes: &[u8], mime: &str, text: &str) -> Option<f64> {
    let limit = crate::audio::decode::limits::speech_clip(text);
    crate::audio::decode::probe_duration(bytes, Some(mime), limit).ok().filter(|d| *d > 0.0)
}

/// The media type of downloaded audio: sniffed from the bytes, else a server's `audio/*` type,
/// else the URL's extension.
pub fn audio_mime(bytes: &[u8], content_type: Option<&str>, url: &str) -> String {
    let sniffed = if crate::audio::decode::is_mp3(bytes) {
        Some("audio/mpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE" {
        Some("audio/wav")
    } else if bytes.starts_with(b"OggS") {
        Some("audio/ogg")
    } else if bytes.starts_with(b"fLaC") {
        Some("audio/flac")
    } else if bytes.len() >= 8 && &bytes[4..8] == b"ftyp" {
        Some("audio/mp4")
    } else {
        None
    };
    if let Some(m) = sniffed {
        return m.to_string();
    }
    if let Some(ct) = content_type.map(|c| c.split(';').next().unwrap_or("").trim().to_ascii_lowercase()) {
        if ct.starts_with("audio/") {
            return ct;
        }
    }
    let path = url.split(['?', '#']).next().unwrap_or("").to_ascii_lowercase();
    let by_ext = [(".mp3", "audio/mpeg"), (".wav", "audio/wav"), (".ogg", "audio/ogg"), (".m4a", "audio/mp4")];
    by_ext.iter().find(|(ext, _)| path.ends_with(ext)).map_or("application/octet-stream", |(_, m)| m).to_string()
}

// ---------------------------------------------------------------------------------------------
// Languages
// ---------------------------------------------------------------------------------------------

const LANGUAGE_NAMES: &[(&str, &[&str])] = &[
    ("en", &["english"]),
    ("es", &["spanish", "español", "espanol", "castilian"]),
    ("fr", &["french", "français", "francais"]),
    ("de", &["german", "deutsch"]),
    ("it", &["italian", "italiano"]),
    ("pt", &["portuguese", "português", "portugues"]),
    ("nl", &["dutch", "flemish"]),
    ("pl", &["polish"]),
    ("ru", &["russian"]),
    ("uk", &["ukrainian"]),
    ("ja", &["japanese"]),
    ("zh", &["chinese", "mandarin", "cantonese", "cmn", "yue"]),
    ("ko", &["korean"]),
    ("hi", &["hindi"]),
    ("ar", &["arabic"]),
    ("tr", &["turkish"]),
    ("sv", &["swedish"]),
    ("da", &["danish"]),
    ("no", &["norwegian", "nb", "nn", "bokmål"]),
    ("fi", &["finnish"]),
    ("el", &["greek"]),
    ("cs", &["czech"]),
    ("ro", &["romanian"]),
    ("hu", &["hungarian"]),
    ("id", &["indonesian"]),
    ("ms", &["malay"]),
    ("th", &["thai"]),
    ("vi", &["vietnamese"]),
    ("he", &["hebrew", "iw"]),
    ("fil", &["filipino", "tagalog", "tl"]),
    ("bg", &["bulgarian"]),
    ("hr", &["croatian"]),
    ("sk", &["slovak"]),
    ("ta", &["tamil"]),
    ("bn", &["bengali", "bangla"]),
];

/// A comparable key for a language tag or name: `en-US`, `English (US)` and `english` → `en`.
pub fn language_key(lang: &str) -> String {
    let lower = lang.trim().to_lowercase();
    let head = lower.split('(').next().unwrap_or("").trim();
    let first = head.split(['-', '_', ' ']).next().unwrap_or("").trim();
    for (code, names) in LANGUAGE_NAMES {
        if first == *code || names.contains(&first) || names.contains(&head) {
            return code.to_string();
        }
    }
    first.to_string()
}

pub fn is_english(lang: &str) -> bool {
    language_key(lang) == "en"
}

pub(crate) fn language_matches(voice_language: &str, wanted: &str) -> bool {
    let (a, b) = (language_key(voice_language), language_key(wanted));
    !a.is_empty() && a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::silent_mp3;

    #[test]
    fn splitting_prefers_sentences_then_spaces_then_a_hard_cut() {
        assert_eq!(split_text("  short  ", 100), ["short"]);
        assert_eq!(split_text("One two. Three four five six.", 20), ["One two.", "Three four five six."]);
        assert_eq!(split_text("He said \"stop.\" Then left.", 18), ["He said \"stop.\"", "Then left."]);
        assert_eq!(split_text("alpha beta gamma delta", 12), ["alpha beta", "gamma delta"]);
        assert_eq!(split_text("First line\nsecond line here", 20), ["First line", "second line here"]);
        // No space at all: a hard cut on a char boundary.
        let long = "é".repeat(25);
        let parts = split_text(&long, 10);
        assert_eq!(parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(), [10, 10, 5]);
        // CJK sentence ends need no space.
        assert_eq!(split_text("你好世界。今天很好。", 6), ["你好世界。", "今天很好。"]);
        // The limit is inclusive.
        assert_eq!(split_text(&"a".repeat(5_000), 5_000).len(), 1);
        assert_eq!(split_text(&"a".repeat(5_000 + 1), 5_000).len(), 2);
        // A boundary right at the window's edge is used.
        assert_eq!(split_text("Abc def. Ghi", 8), ["Abc def.", "Ghi"]);
    }

    fn word(text: &str, start: f64, end: f64) -> Word {
        Word { id: String::new(), text: text.into(), start, end, confidence: None }
    }

    #[test]
    fn word_times_from_a_server_are_range_checked_fixed_or_dropped_with_reasons() {
        let hostile = vec![
            word("one", 0.0, 0.2),
            word("huge", 1e308, 1e308),
            word("negative", -1.0, 0.3),
            word("nan", f64::NAN, 0.4),
            word("inf", 0.4, f64::INFINITY),
            word("reversed", 0.5, 0.4),
            word("es\u{1b}[2Jc\u{0}aped", 0.6, 0.7),
            word("\u{7}\u{1b}", 0.7, 0.8),
            word("early", 0.1, 0.2),
            word("two\nlines", 0.9, 1.0),
        ];
        let (words, notes) = check_words(hostile.clone(), None);
        let got: Vec<(&str, &str, f64, f64)> =
            words.iter().map(|w| (w.id.as_str(), w.text.as_str(), w.start, w.end)).collect();
        assert_eq!(
            got,
            [
                ("w0", "one", 0.0, 0.2),
                ("w1", "reversed", 0.5, 0.5),
                ("w2", "es[2Jcaped", 0.6, 0.7),
                ("w3", "two lines", 0.9, 1.0)
            ]
        );
        assert_eq!(
            notes,
            [
                "control characters removed from the text of 2 words",
                "1 word with no text dropped",
                "4 words dropped: a time is not a number from 0 to 3600 seconds",
                "1 word ending before it starts: the end set to the start",
                "1 word out of order dropped: starting before the word before it"
            ]
        );
        // Serialised, nothing is null (what serde makes of a non-finite number).
        assert!(!serde_json::to_string(&words).unwrap().contains("null"));

        // Against the decoded audio: clamped to its end, and past it by more than rounding means
        // the audio was cut short.
        let (words, notes) = check_words(
            vec![word("a", 0.0, 0.3), word("b", 0.4, 0.62), word("c", 0.7, 1.5), word("d", 2.0, 2.4)],
            Some(0.6),
        );
        let times: Vec<(f64, f64)> = words.iter().map(|w| (w.start, w.end)).collect();
        assert_eq!(times, [(0.0, 0.3), (0.4, 0.6), (0.6, 0.6), (0.6, 0.6)]);
        assert_eq!(notes, ["the audio looks truncated: 2 words run past its end at 0.600 s (clamped to it)"]);
        let (_, notes) = check_words(vec![word("a", 0.0, 0.5)], Some(0.5));
        assert!(notes.is_empty(), "{notes:?}");
    }

    #[test]
    fn a_part_keeps_only_a_plausible_duration() {
        let part = |d| SpeechPart::checked(Vec::new(), "audio/mpeg".into(), "t".into(), Vec::new(), d);
        assert_eq!(part(Some(2.5)).duration, Some(2.5));
        for d in [1e308, -1.0, 0.0, f64::NAN, MAX_PART_SECONDS + 1.0] {
            let p = part(Some(d));
            assert_eq!(p.duration, None, "{d}");
            assert_eq!(p.anomalies.len(), 1, "{d}");
        }
        assert!(part(None).anomalies.is_empty());
    }

    #[test]
    fn durations_are_measured_by_symphonia() {
        let d = audio_duration(&silent_mp3(10), "audio/mpeg", "hello").unwrap();
        assert!((d - 10.0 * 1152.0 / 44100.0).abs() < 1e-9, "{d}");
        let mut tagged = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        tagged.extend(silent_mp3(2));
        assert!((audio_duration(&tagged, "audio/mpeg", "hello").unwrap() - 2.0 * 1152.0 / 44100.0).abs() < 1e-9);
        // Real encodings of 0.5 s of a sine (src/audio/testdata): within one MP3 frame.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/audio/testdata");
        for (file, mime) in
            [("sine440.mp3", "audio/mpeg"), ("sine440.ogg", "audio/ogg"), ("sine440.flac", "audio/flac")]
        {
            let bytes = std::fs::read(dir.join(file)).unwrap();
            let d = audio_duration(&bytes, mime, "hello").unwrap();
            assert!((d - 0.5).abs() < 1152.0 / 44100.0, "{file}: {d}");
        }
        assert_eq!(audio_duration(b"RIFF\0\0\0\0WAVEfmt ", "audio/wav", "hello"), None);
        assert_eq!(audio_duration(b"not audio at all", "audio/mpeg", "hello"), None);
    }

    #[test]
    fn audio_is_sniffed_before_headers_and_extensions() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/audio/testdata");
        let real = std::fs::read(dir.join("sine440.mp3")).unwrap();
        assert_eq!(audio_mime(&real, Some("binary/octet-stream"), "x.wav"), "audio/mpeg");
        assert_eq!(audio_mime(&silent_mp3(2), None, "x"), "audio/mpeg");
        assert_eq!(audio_mime(b"RIFF\0\0\0\0WAVEfmt ", None, "x"), "audio/wav");
        assert_eq!(audio_mime(b"????", Some("audio/ogg; codecs=opus"), "x"), "audio/ogg");
        assert_eq!(audio_mime(b"????", Some("binary/octet-stream"), "/a/b.mp3"), "audio/mpeg");
        assert_eq!(audio_mime(b"????", None, "/a/b"), "application/octet-stream");
    }

    #[test]
    fn language_keys() {
        for (a, b) in
            [("en-US", "en"), ("English (UK)", "en"), ("es_MX", "es"), ("Chinese (Mandarin)", "zh"), ("cmn", "zh")]
        {
            assert_eq!(language_key(a), b, "{a}");
        }
        assert!(is_english("EN") && !is_english("fr"));
    }
}
