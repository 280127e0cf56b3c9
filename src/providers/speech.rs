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
