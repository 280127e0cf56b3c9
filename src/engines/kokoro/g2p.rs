//! Text to Kokoro phonemes, one entry per word, each tied to its byte range in the original text.
//!
//! English (`en-us`, `en-gb`) goes through `loqui-g2p`, a pure-Rust port of misaki, the G2P Kokoro
//! was trained with. It reads numbers, currency and abbreviations, picks heteronyms from context and
//! honours misaki's inline markup (`[Kokoro](/kˈOkəɹO/)`). The other languages go through the
//! `espeak-ng` command-line program, run as a child process (never linked: it is GPL-3.0).
//!
//! Whatever the engine, the result is normalised the same way:
//! - every phoneme string holds only symbols of the Kokoro vocabulary;
//! - punctuation the model knows is a word of its own with `is_punct` set (it shapes prosody);
//! - pieces glued together in the text (`$` + `3.50`) form one word whose phonemes are concatenated;
//! - a silent word (nothing pronounceable, like `日本` to the English G2P) is folded into the spoken
//!   word next to it, so every word that is not punctuation has at least one token.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Arc, OnceLock};

use loqui_g2p::{Dialect, G2p, OovFallback};
use unicode_normalization::UnicodeNormalization;

use super::markup::{Passage, Pronunciation};
use super::vocab;
use crate::engines::error::{EngineError, EngineResult};

/// The languages Kokoro v1.0 has voices for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    EnUs,
    EnGb,
    Es,
    FrFr,
    Hi,
    It,
    PtBr,
    Ja,
    Zh,
}

impl Lang {
    pub const ALL: [Lang; 9] =
        [Lang::EnUs, Lang::EnGb, Lang::Es, Lang::FrFr, Lang::Hi, Lang::It, Lang::PtBr, Lang::Ja, Lang::Zh];

    /// The code this language is selected with, e.g. `en-us`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::EnUs => "en-us",
            Lang::EnGb => "en-gb",
            Lang::Es => "es",
            Lang::FrFr => "fr-fr",
            Lang::Hi => "hi",
            Lang::It => "it",
            Lang::PtBr => "pt-br",
            Lang::Ja => "ja",
            Lang::Zh => "zh",
        }
    }

    /// Parses a language code, ignoring case and accepting `_` for `-` (`EN_US`).
    pub fn parse(code: &str) -> EngineResult<Lang> {
        let wanted = code.trim().to_ascii_lowercase().replace('_', "-");
        Lang::ALL.into_iter().find(|l| l.code() == wanted).ok_or_else(|| {
            let valid: Vec<&str> = Lang::ALL.iter().map(|l| l.code()).collect();
            EngineError::new("BAD_LANG", format!("unknown language {code:?}; valid codes: {}", valid.join(", ")))
                .with_hint(format!("use one of: {}", valid.join(", ")))
        })
    }

    /// The language a Kokoro voice id implies by its first letter (`af_heart` → en-us,
    /// `bf_emma` → en-gb, `jf_alpha` → ja, `zf_xiaobei` → zh, …).
    pub fn for_voice(voice: &str) -> Option<Lang> {
        Some(match voice.chars().next()? {
            'a' => Lang::EnUs,
            'b' => Lang::EnGb,
            'e' => Lang::Es,
            'f' => Lang::FrFr,
            'h' => Lang::Hi,
            'i' => Lang::It,
            'p' => Lang::PtBr,
            'j' => Lang::Ja,
            'z' => Lang::Zh,
            _ => return None,
        })
    }

    /// English is phonemized in-process; every other language needs `espeak-ng`.
    pub fn is_english(self) -> bool {
        matches!(self, Lang::EnUs | Lang::EnGb)
    }

    /// espeak-ng voices to try, best first. espeak-ng 1.51's `cmn` voice reads the pinyin its
    /// dictionary produces as English letters ("ni three hao three"); `cmn-latn-pinyin` reads it
    /// as Mandarin, so it goes first and `cmn` is the fallback for builds without it.
    fn espeak_voices(self) -> &'static [&'static str] {
        match self {
            Lang::EnUs => &["en-us"],
            Lang::EnGb => &["en-gb"],
            Lang::Es => &["es"],
            Lang::FrFr => &["fr-fr"],
            Lang::Hi => &["hi"],
            Lang::It => &["it"],
            Lang::PtBr => &["pt-br"],
            Lang::Ja => &["ja"],
            Lang::Zh => &["cmn-latn-pinyin", "cmn"],
        }
    }

    fn index(self) -> usize {
        Lang::ALL.iter().position(|l| *l == self).unwrap_or(0)
    }
}

impl FromStr for Lang {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::parse(s)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One word (or punctuation mark) of the input and its phonemes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PhonemeWord {
    /// The word as it appears in the input: always `&input[byte_start..byte_end]`.
    pub text: String,
    pub byte_start: usize,
    pub byte_end: usize,
    /// Kokoro symbols only. Never empty. May hold spaces when one written word is several spoken
    /// ones (`$3.50` → `θɹˈi dˈɑləɹz ænd fˈɪfti sˈɛnts`).
    pub phonemes: String,
    /// Whitespace separates this word from the next one, so a space token goes between them.
    pub space_after: bool,
    /// Punctuation only (`,` `.` `“` …); its phonemes are the punctuation symbols themselves.
    pub is_punct: bool,
}

/// A text as a sequence of words in reading order.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Phonemized {
    pub words: Vec<PhonemeWord>,
}

impl Phonemized {
    /// The whole phoneme string as Kokoro's own pipeline would build it: each word's phonemes, with
    /// a space after the words that have `space_after`, except the last.
    pub fn phonemes(&self) -> String {
        let mut out = String::new();
        for (i, w) in self.words.iter().enumerate() {
            out.push_str(&w.phonemes);
            if w.space_after && i + 1 < self.words.len() {
                out.push(' ');
            }
        }
        out
    }
}

/// Converts `text` to Kokoro phonemes word by word.
///
/// Errors: `EMPTY_TEXT` when there is nothing to pronounce, `G2P_UNAVAILABLE` when a non-English
/// language is asked for and `espeak-ng` cannot be found or run.
pub fn phonemize(text: &str, lang: Lang) -> EngineResult<Phonemized> {
    if text.trim().is_empty() {
        return Err(EngineError::new("EMPTY_TEXT", "the text is empty").with_hint("pass at least one word to speak"));
    }
    let words = if lang.is_english() {
        finalize(text, english_pieces(text, english_g2p(lang)?.as_ref()), true, false)
    } else {
        finalize(text, espeak_pieces(text, lang)?, false, matches!(lang, Lang::Ja | Lang::Zh))
    };
    if words.iter().all(|w| w.is_punct) {
        return Err(EngineError::new("EMPTY_TEXT", "the text has no word that can be pronounced")
            .with_hint(format!("check that the text is written in the selected language ({lang})")));
    }
    Ok(Phonemized { words })
}

/// Like [`phonemize`], for a passage of speech markup: the words given a pronunciation (inline or
/// from the lexicon) are spoken with it. The G2P still reads the whole passage, so its neighbours
/// keep their context; each given word then replaces whatever the G2P made of the same text.
pub fn phonemize_passage(passage: &Passage, lang: Lang) -> EngineResult<Phonemized> {
    let text = passage.text.as_str();
    let mut p = match phonemize(text, lang) {
        Err(e) if e.code == "EMPTY_TEXT" && !passage.pronunciations.is_empty() => Phonemized::default(),
        other => other?,
    };
    for pron in &passage.pronunciations {
        apply_pronunciation(&mut p, text, pron);
    }
    Ok(p)
}

/// Replaces the words overlapping `pron`'s text by one word with its phonemes. A word the G2P ran
/// into the given one (`[Kokoro](/…/)'s` read as one token) is replaced whole, so the written
/// text is never lost.
fn apply_pronunciation(p: &mut Phonemized, text: &str, pron: &Pronunciation) {
    let overlaps = |w: &PhonemeWord| w.byte_start < pron.end && pron.start < w.byte_end;
    let first = p.words.iter().position(overlaps);
    let (at, start, end, space_after) = match first {
        Some(i) => {
            let last = i + p.words[i..].iter().take_while(|w| overlaps(w)).count() - 1;
            let (s, e) = (p.words[i].byte_start.min(pron.start), p.words[last].byte_end.max(pron.end));
            let space = p.words[last].space_after;
            p.words.drain(i..=last);
            (i, s, e, space)
        }
        None => {
            let i = p.words.iter().position(|w| w.byte_start >= pron.end).unwrap_or(p.words.len());
            if let Some(prev) = i.checked_sub(1).map(|k| &mut p.words[k]) {
                prev.space_after = text[prev.byte_end..pron.start].chars().any(char::is_whitespace);
            }
            let next_start = p.words.get(i).map_or(text.len(), |w| w.byte_start);
            (i, pron.start, pron.end, text[pron.end..next_start].chars().any(char::is_whitespace))
        }
    };
    let word = PhonemeWord {
        text: text[start..end].to_owned(),
        byte_start: start,
        byte_end: end,
        phonemes: pron.phonemes.clone(),
        space_after,
        is_punct: false,
    };
    p.words.insert(at, word);
}

// ---------------------------------------------------------------------------------------------
// Shared normalisation

/// A span of the input and the phonemes an engine produced for it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece {
    start: usize,
    end: usize,
    phonemes: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Has phonemes other than punctuation.
    Word,
    /// Phonemes are punctuation symbols only.
    Punct,
    /// No phonemes, but letters or digits in the text.
    SilentWord,
    /// No phonemes, no letters or digits: a symbol the model cannot voice (`-`, `*`, `¿`).
    SilentPunct,
}

struct Item {
    start: usize,
    end: usize,
    phonemes: String,
    kind: Kind,
}

/// Keeps only Kokoro symbols. A symbol the vocabulary lacks is decomposed (NFD) and its known parts
/// kept, so `ä` becomes `a` + U+0308 → `a`, while `ç`, which is in the vocabulary, stays whole.
/// Whitespace runs become one space; the ends are trimmed.
fn clean_phonemes(raw: &str, keep_punct: bool) -> String {
    let keep = |c: char| vocab::contains(c) && c != ' ' && (keep_punct || !vocab::is_punctuation(c));
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    let push = |c: char, out: &mut String, pending_space: &mut bool| {
        if *pending_space && !out.is_empty() {
            out.push(' ');
        }
        *pending_space = false;
        out.push(c);
    };
    for c in raw.chars() {
        if c.is_whitespace() {
            pending_space = true;
        } else if keep(c) {
            push(c, &mut out, &mut pending_space);
        } else if !c.is_ascii() {
            for d in std::iter::once(c).nfd() {
                if keep(d) {
                    push(d, &mut out, &mut pending_space);
                }
            }
        }
    }
    out
}

fn classify(text: &str, phonemes: &str) -> Kind {
    if phonemes.is_empty() {
        if text.chars().any(char::is_alphanumeric) {
            Kind::SilentWord
        } else {
            Kind::SilentPunct
        }
    } else if phonemes.chars().all(|c| c == ' ' || vocab::is_punctuation(c)) {
        Kind::Punct
    } else {
        Kind::Word
    }
}

/// `glue`: pieces touching in the text (no gap) form one word, unless one of them is voiced
/// punctuation. So `$` + `3.50` → `$3.50`, `#` + `1` → `#1`, but `world` + `.` stay apart. This is
/// for misaki's tokens; the espeak path splits words itself. `cjk`: see step 3.
fn finalize(text: &str, pieces: Vec<Piece>, glue: bool, cjk: bool) -> Vec<PhonemeWord> {
    // 1. Glue (see above).
    let mut glued: Vec<Item> = Vec::with_capacity(pieces.len());
    for p in pieces {
        let phonemes = clean_phonemes(&p.phonemes, true);
        let kind = classify(&text[p.start..p.end], &phonemes);
        if let Some(last) = glued.last_mut() {
            if glue && last.end == p.start && kind != Kind::Punct && last.kind != Kind::Punct {
                last.end = p.end;
                last.phonemes.push_str(&phonemes);
                last.kind = match (last.kind, kind) {
                    (Kind::Word, _) | (_, Kind::Word) => Kind::Word,
                    (Kind::SilentWord, _) | (_, Kind::SilentWord) => Kind::SilentWord,
                    _ => Kind::SilentPunct,
                };
                continue;
            }
        }
        glued.push(Item { start: p.start, end: p.end, phonemes, kind });
    }

    // 2. Silent pieces: symbols are dropped; silent words join the spoken word before them, or
    //    else the one after them, so their text still gets a time. Between punctuation they go.
    let mut kept: Vec<Item> = Vec::with_capacity(glued.len());
    let mut carry: Option<usize> = None;
    for mut item in glued {
        match item.kind {
            Kind::SilentPunct => {}
            Kind::SilentWord => match kept.last_mut() {
                Some(last) if last.kind == Kind::Word && carry.is_none() => last.end = item.end,
                _ => {
                    carry.get_or_insert(item.start);
                }
            },
            Kind::Punct => {
                carry = None;
                kept.push(item);
            }
            Kind::Word => {
                if let Some(start) = carry.take() {
                    item.start = start;
                }
                kept.push(item);
            }
        }
    }

    // 3. Spacing: a space token goes after a word when whitespace lies between it and the next.
    //    Chinese and Japanese are written without spaces, but espeak-ng separates their words and
    //    Kokoro's English input has a space after punctuation, so there every boundary is spaced
    //    except before closing and after opening punctuation.
    let opening = |it: &Item| it.kind == Kind::Punct && matches!(it.phonemes.as_str(), "(" | "“");
    let mut words = Vec::with_capacity(kept.len());
    for (i, item) in kept.iter().enumerate() {
        let gap_end = kept.get(i + 1).map_or(text.len(), |n| n.start);
        let mut space_after = text[item.end..gap_end].chars().any(char::is_whitespace);
        if let Some(next) = kept.get(i + 1).filter(|_| cjk) {
            space_after = !opening(item) && (next.kind != Kind::Punct || opening(next));
        }
        words.push(PhonemeWord {
            text: text[item.start..item.end].to_owned(),
            byte_start: item.start,
            byte_end: item.end,
            phonemes: item.phonemes.clone(),
            space_after,
            is_punct: item.kind == Kind::Punct,
        });
    }
    words
}

// ---------------------------------------------------------------------------------------------
// English: loqui-g2p

/// How far ahead of the previous token the next token's text is looked for first. Only inline
/// markup (`[word](/phonemes/)`) and symbols misaki skips put unread text between two tokens.
const SEARCH_WINDOW: usize = 1024;

/// The loaded English G2Ps (American, British). They hold about 94 MB (lexicons, tagger, neural
/// fallback), so a one-shot caller that has phonemized everything can [`release`] them before the
/// model's own memory is needed.
static ENGLISH: std::sync::Mutex<[Option<Arc<G2p>>; 2]> = std::sync::Mutex::new([None, None]);

fn english_g2p(lang: Lang) -> EngineResult<Arc<G2p>> {
    let (slot, dialect) = match lang {
        Lang::EnGb => (1, Dialect::British),
        _ => (0, Dialect::American),
    };
    let mut loaded = ENGLISH.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(g) = &loaded[slot] {
        return Ok(g.clone());
    }
    let g2p = G2p::new(dialect, OovFallback::Neural)
        .map_err(|e| EngineError::new("G2P_UNAVAILABLE", format!("the English phonemizer failed to load: {e}")))?;
    let g2p = Arc::new(g2p);
    loaded[slot] = Some(g2p.clone());
    Ok(g2p)
}

/// Frees the English G2Ps (they load again, in about 0.4 s, when next needed) and hands the freed
/// heap back to the system. For a process that speaks once: phonemize, release, then run the model,
/// so the two never hold their memory at the same time.
pub fn release() {
    let dropped = std::mem::take(&mut *ENGLISH.lock().unwrap_or_else(|e| e.into_inner()));
    drop(dropped);
    // The G2P's maps are many small allocations in the middle of the heap: glibc keeps those pages
    // unless asked, and the model's large buffers (mapped separately) could never reuse them.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The largest char boundary of `s` at or before `i`.
pub(super) fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Trailing symbols misaki leaves inside a word token (`wait…`) although they mark a pause.
const SPLIT_TRAILING: [char; 2] = ['…', '—'];

/// misaki's tokenizer takes time quadratic in the length of a run without spaces (2,000 `#` take
/// seconds), so a run longer than this is phonemized in slices, which the glue step rejoins.
const MAX_RUN: usize = 128;

/// Byte ranges of `norm` to phonemize separately: ordinary text in one range (sentence context
/// matters), each slice of an overlong run on its own.
fn english_segments(norm: &str) -> Vec<(usize, usize)> {
    let mut segments = Vec::new();
    let mut seg_start = 0;
    let mut run_start: Option<usize> = None;
    for (i, c) in norm.char_indices().chain(std::iter::once((norm.len(), ' '))) {
        if c != ' ' {
            run_start.get_or_insert(i);
            continue;
        }
        let Some(rs) = run_start.take() else { continue };
        if i - rs <= MAX_RUN {
            continue;
        }
        if seg_start < rs {
            segments.push((seg_start, rs));
        }
        let mut a = rs;
        while a < i {
            let mut b = floor_boundary(norm, (a + MAX_RUN).min(i));
            if b < i {
                // Cut after a symbol (`-`, `/`, `.`) rather than inside a word, when there is one.
                if let Some((k, c)) = norm[a..b].char_indices().rev().find(|(_, c)| !c.is_alphanumeric()) {
                    if k > 0 {
                        b = a + k + c.len_utf8();
                    }
                }
            }
            if b == a {
                b = a + norm[a..].chars().next().map_or(1, char::len_utf8);
            }
            segments.push((a, b));
            a = b;
        }
        seg_start = i;
    }
    if seg_start < norm.len() {
        segments.push((seg_start, norm.len()));
    }
    segments
}

fn english_pieces(text: &str, g2p: &G2p) -> Vec<Piece> {
    // misaki splits words at ' ' only: a line break, a tab or a no-break space would join two words
    // into one token ("one\nLine" → `wˈʌnlˈIn`). Such whitespace becomes as many ' ' as it has
    // bytes, so offsets stay the same.
    let mut norm = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_whitespace() {
            norm.extend(std::iter::repeat_n(' ', c.len_utf8()));
        } else {
            norm.push(c);
        }
    }
    let mut pieces: Vec<Piece> = Vec::new();
    let mut cursor = 0;
    // Phonemes of tokens whose text could not be found (never seen in practice): they go to the
    // next token that is found, or to the last one.
    let mut orphan = String::new();
    let tokens = english_segments(&norm).into_iter().flat_map(|(a, b)| g2p.tokens(&norm[a..b]));
    for tk in tokens {
        let needle = tk.text.trim();
        if needle.is_empty() {
            continue;
        }
        let limit = floor_boundary(text, cursor + needle.len() + SEARCH_WINDOW);
        let found = norm[cursor..limit].find(needle).or_else(|| norm[limit..].find(needle).map(|o| o + limit - cursor));
        let Some(offset) = found else {
            if !tk.phonemes.is_empty() {
                orphan.push(' ');
                orphan.push_str(&tk.phonemes);
            }
            continue;
        };
        let start = cursor + offset;
        let mut end = start + needle.len();
        cursor = end;
        let mut phonemes = std::mem::take(&mut orphan);
        if tk.phonemes.is_empty() && needle.chars().all(vocab::is_punctuation) {
            // misaki sometimes leaves a final `…` silent; the model knows it.
            phonemes.push_str(needle);
        } else {
            phonemes.push_str(&tk.phonemes);
        }

        // `wait…` → `wait` + `…`, so the pause is voiced and the chunker sees the boundary.
        let mut tail = Vec::new();
        while let Some(c) = text[start..end].chars().next_back().filter(|c| SPLIT_TRAILING.contains(c)) {
            if end - c.len_utf8() == start || phonemes.ends_with(c) {
                break;
            }
            end -= c.len_utf8();
            tail.push(Piece { start: end, end: end + c.len_utf8(), phonemes: c.to_string() });
        }
        pieces.push(Piece { start, end, phonemes });
        pieces.extend(tail.into_iter().rev());
    }
    if !orphan.is_empty() {
        match pieces.last_mut() {
            Some(last) => last.phonemes.push_str(&orphan),
            None => {
                let start = text.len() - text.trim_start().len();
                pieces.push(Piece { start, end: text.trim_end().len(), phonemes: orphan });
            }
        }
    }
    pieces
}

// ---------------------------------------------------------------------------------------------
// Other languages: the espeak-ng program

/// Environment variable naming the espeak-ng executable, overriding the PATH search.
pub const ESPEAK_ENV: &str = "HYPERFRAMES_ESPEAK_NG";

/// A clause sent to espeak-ng on one line stays under this many bytes; espeak-ng splits longer
/// clauses (about 700 characters) over several output lines, which would break the alignment.
const MAX_CLAUSE_BYTES: usize = 300;

/// Finds the espeak-ng program: `$HYPERFRAMES_ESPEAK_NG`, else `espeak-ng` on `PATH`.
pub fn find_espeak() -> EngineResult<PathBuf> {
    locate_espeak(std::env::var_os(ESPEAK_ENV), std::env::var_os("PATH"))
}

fn locate_espeak(explicit: Option<OsString>, path: Option<OsString>) -> EngineResult<PathBuf> {
    let hint = format!(
        "install espeak-ng (Debian/Ubuntu: `apt-get install espeak-ng`, macOS: `brew install espeak-ng`) \
         or set {ESPEAK_ENV} to its path"
    );
    if let Some(explicit) = explicit.filter(|p| !p.is_empty()) {
        let p = PathBuf::from(explicit);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(EngineError::new(
                "G2P_UNAVAILABLE",
                format!("{ESPEAK_ENV} points to {}, which is not a file", p.display()),
            )
            .with_hint(hint))
        };
    }
    let name = format!("espeak-ng{}", std::env::consts::EXE_SUFFIX);
    path.iter().flat_map(std::env::split_paths).map(|dir| dir.join(&name)).find(|p| p.is_file()).ok_or_else(|| {
        EngineError::new(
            "G2P_UNAVAILABLE",
            "espeak-ng is needed for languages other than English but was not found on PATH",
        )
        .with_hint(hint)
    })
}

/// Runs espeak-ng on `input` (UTF-8, read from stdin) and returns its IPA output. espeak-ng writes
/// one line per clause; a line break in the input ends a clause.
fn run_espeak(exe: &Path, voice: &str, input: &str) -> EngineResult<String> {
    let unavailable = |what: String| {
        EngineError::new("G2P_UNAVAILABLE", what).with_hint("check the espeak-ng installation (`espeak-ng --version`)")
    };
    let mut child = Command::new(exe)
        .args(["-q", "-b", "1", "--ipa", "-v", voice])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| unavailable(format!("could not start {}: {e}", exe.display())))?;
    let mut stdin = child.stdin.take().ok_or_else(|| unavailable("espeak-ng has no stdin".into()))?;
    let mut data = input.as_bytes().to_vec();
    data.push(b'\n');
    // Written from another thread: with a large input, espeak-ng fills its stdout pipe before it
    // has read all of stdin.
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let output = child.wait_with_output().map_err(|e| unavailable(format!("espeak-ng failed: {e}")))?;
    let written = writer.join();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(unavailable(format!("espeak-ng (voice {voice}) failed: {}", stderr.trim())));
    }
    if !matches!(written, Ok(Ok(()))) {
        return Err(unavailable("could not write the text to espeak-ng".into()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The first espeak-ng voice for `lang` that this installation has, remembered per language.
fn espeak_voice(exe: &Path, lang: Lang) -> EngineResult<&'static str> {
    static CHOSEN: [OnceLock<&'static str>; 9] = [const { OnceLock::new() }; 9];
    let cell = &CHOSEN[lang.index()];
    if let Some(v) = cell.get() {
        return Ok(v);
    }
    let mut last_err = None;
    for &voice in lang.espeak_voices() {
        match run_espeak(exe, voice, "1") {
            Ok(_) => return Ok(cell.get_or_init(|| voice)),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err
        .unwrap_or_else(|| EngineError::new("G2P_UNAVAILABLE", format!("espeak-ng has no voice for {lang}")))
        .with_hint(format!(
            "this espeak-ng has no voice for {lang}; install the full voice data (Debian: `apt-get install espeak-ng-data`)"
        )))
}

/// The Kokoro symbol for a punctuation character; `Some("")` for punctuation the model cannot
/// voice, `None` for anything else.
fn punct_symbol(c: char) -> Option<&'static str> {
    Some(match c {
        ';' | '；' => ";",
        ':' | '：' => ":",
        ',' | '，' | '、' | '､' => ",",
        '.' | '。' | '｡' | '।' | '॥' => ".",
        '!' | '！' => "!",
        '?' | '？' => "?",
        '—' | '–' | '―' => "—",
        '…' | '‥' => "…",
        '"' | '＂' => "\"",
        '(' | '（' => "(",
        ')' | '）' => ")",
        '“' | '«' | '„' | '「' | '『' | '《' | '〈' => "“",
        '”' | '»' | '」' | '』' | '》' | '〉' => "”",
        '\'' | '‘' | '’' | '‚' | '‹' | '›' | '¡' | '¿' | '[' | ']' | '{' | '}' | '*' | '_' | '`' | '-' | '・'
        | '〜' => "",
        _ => return None,
    })
}

/// Punctuation split off wherever it occurs in a word: scripts written without spaces put it
/// between words, and a dash or an ellipsis joins two words in any script.
fn splits_anywhere(c: char) -> bool {
    punct_symbol(c).is_some()
        && !c.is_ascii()
        && !matches!(c, '‘' | '’' | '‚' | '‹' | '›' | '¡' | '¿' | '«' | '»' | '„')
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// A word or punctuation mark for the espeak path. `punct` is the Kokoro symbol ("" = silent).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RawTok {
    start: usize,
    end: usize,
    punct: Option<&'static str>,
}

fn split_for_espeak(text: &str, lang: Lang) -> Vec<RawTok> {
    let mut toks = Vec::new();
    let push_word = |toks: &mut Vec<RawTok>, start: usize, end: usize| {
        if start >= end {
            return;
        }
        if lang != Lang::Zh {
            toks.push(RawTok { start, end, punct: None });
            return;
        }
        // Chinese: each character is a syllable and a caption unit; other runs stay whole.
        let mut run_start = start;
        for (i, c) in text[start..end].char_indices() {
            let i = start + i;
            if is_han(c) {
                if run_start < i {
                    toks.push(RawTok { start: run_start, end: i, punct: None });
                }
                toks.push(RawTok { start: i, end: i + c.len_utf8(), punct: None });
                run_start = i + c.len_utf8();
            }
        }
        if run_start < end {
            toks.push(RawTok { start: run_start, end, punct: None });
        }
    };
    let segment = |toks: &mut Vec<RawTok>, start: usize, end: usize| {
        // Edge punctuation comes off; inside a word (`l'homme`, `3,50`) it stays.
        let s = &text[start..end];
        let mut lead = 0;
        for (i, c) in s.char_indices() {
            let minus_number = c == '-' && s[i + 1..].starts_with(|d: char| d.is_ascii_digit());
            match punct_symbol(c) {
                Some(sym) if !minus_number => {
                    toks.push(RawTok { start: start + i, end: start + i + c.len_utf8(), punct: Some(sym) });
                    lead = i + c.len_utf8();
                }
                _ => break,
            }
        }
        let mut trail = Vec::new();
        let mut word_end = end;
        for (i, c) in s[lead..].char_indices().rev() {
            let Some(sym) = punct_symbol(c) else { break };
            let at = start + lead + i;
            trail.push(RawTok { start: at, end: at + c.len_utf8(), punct: Some(sym) });
            word_end = at;
        }
        push_word(toks, start + lead, word_end);
        toks.extend(trail.into_iter().rev());
    };
    let mut run_start: Option<usize> = None;
    let mut seg_start = 0;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        if c.is_whitespace() {
            if run_start.take().is_some() {
                segment(&mut toks, seg_start, i);
            }
        } else {
            if run_start.is_none() {
                run_start = Some(i);
                seg_start = i;
            }
            if splits_anywhere(c) {
                segment(&mut toks, seg_start, i);
                toks.push(RawTok { start: i, end: i + c.len_utf8(), punct: punct_symbol(c) });
                seg_start = i + c.len_utf8();
            }
        }
    }
    toks
}

/// espeak-ng marks a switch to another language's rules with `(en)` … `(cmn)`; drop the marks.
fn strip_language_switches(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(open) = rest.find('(') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(')') {
            Some(close)
                if close > 0
                    && after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '\u{200d}') =>
            {
                rest = &after[close + 1..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// espeak-ng's Mandarin output uses ASCII mnemonics for some sounds (`ts.` for ʈʂ, `h` for
/// aspiration) and prints tones as digits or `ɜ` (its spelling of the digit 3). This maps the sounds
/// to the symbols Kokoro's Mandarin voices know and drops the tones, which `--ipa` output cannot
/// tell apart (55 and 51 both print as `5`).
fn fix_mandarin(ipa: &str) -> String {
    let s = ipa
        .replace("ts.", "ꭧ")
        .replace("tɕ", "ʨ")
        .replace("ts", "ʦ")
        .replace("s.", "ʂ")
        .replace("z.", "ʐ")
        .replace("i.", "ɨ")
        .replace("i\u{32a}", "ɨ")
        .replace('h', "ʰ");
    s.chars().filter(|c| !c.is_ascii_digit() && *c != 'ɜ').collect()
}

fn espeak_line_words(line: &str, lang: Lang) -> Vec<String> {
    let line = strip_language_switches(line);
    let line = if lang == Lang::Zh { fix_mandarin(&line) } else { line };
    line.split_whitespace().map(|w| clean_phonemes(w, false)).collect()
}

/// Runs espeak-ng once with one line per group and returns each line's words, or `None` when the
/// output does not have one line per group.
fn espeak_lines(exe: &Path, voice: &str, lang: Lang, groups: &[String]) -> EngineResult<Option<Vec<Vec<String>>>> {
    let out = run_espeak(exe, voice, &groups.join("\n"))?;
    let lines: Vec<&str> = out.lines().collect();
    if lines.len() != groups.len() {
        return Ok(None);
    }
    Ok(Some(lines.iter().map(|l| espeak_line_words(l, lang)).collect()))
}

/// The words of one group, from its own espeak-ng run.
fn espeak_alone(exe: &Path, voice: &str, lang: Lang, group: &str) -> EngineResult<Vec<String>> {
    let out = run_espeak(exe, voice, group)?;
    Ok(out.lines().flat_map(|l| espeak_line_words(l, lang)).collect())
}

fn espeak_pieces(text: &str, lang: Lang) -> EngineResult<Vec<Piece>> {
    if lang == Lang::Ja && text.chars().any(is_han) {
        // espeak-ng's Japanese has no kanji dictionary: it reads every kanji as "Chinese letter".
        return Err(EngineError::new(
            "G2P_UNAVAILABLE",
            "Japanese text with kanji cannot be phonemized: espeak-ng reads kana only",
        )
        .with_hint("write the text in hiragana or katakana"));
    }
    let exe = find_espeak()?;
    let voice = espeak_voice(&exe, lang)?;
    let toks = split_for_espeak(text, lang);
    let slice = |i: usize| &text[toks[i].start..toks[i].end];

    // Clauses: runs of words between punctuation, capped in length.
    let mut clauses: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut bytes = 0;
    for (i, t) in toks.iter().enumerate() {
        if t.punct.is_some() || (bytes + slice(i).len() > MAX_CLAUSE_BYTES && !current.is_empty()) {
            if !current.is_empty() {
                clauses.push(std::mem::take(&mut current));
            }
            bytes = 0;
        }
        if t.punct.is_none() {
            bytes += slice(i).len() + 1;
            current.push(i);
        }
    }
    if !current.is_empty() {
        clauses.push(current);
    }

    let mut phonemes: Vec<Option<String>> = vec![None; toks.len()];
    if clauses.is_empty() {
        return Ok(toks
            .iter()
            .map(|t| Piece { start: t.start, end: t.end, phonemes: t.punct.unwrap_or("").to_owned() })
            .collect());
    }

    // Pass 1: whole clauses, so words are read in context. A clause whose output has as many
    // words as the input is mapped word for word. espeak-ng joins some words ("in the" → `ɪnðə`)
    // and splits others (numbers), so the rest go to pass 2.
    let lines: Vec<String> =
        clauses.iter().map(|c| c.iter().map(|&i| slice(i)).collect::<Vec<_>>().join(" ")).collect();
    let results = match espeak_lines(&exe, voice, lang, &lines)? {
        Some(r) => r,
        None => lines.iter().map(|l| espeak_alone(&exe, voice, lang, l)).collect::<EngineResult<_>>()?,
    };
    let mut retry: Vec<usize> = Vec::new();
    for (clause, words) in clauses.iter().zip(results) {
        if words.len() == clause.len() {
            for (&i, w) in clause.iter().zip(words) {
                phonemes[i] = Some(w);
            }
        } else {
            retry.extend(clause);
        }
    }

    // Pass 2: the remaining words one per line, which keeps every word's phonemes apart.
    if !retry.is_empty() {
        let lines: Vec<String> = retry.iter().map(|&i| slice(i).to_owned()).collect();
        let results = match espeak_lines(&exe, voice, lang, &lines)? {
            Some(r) => r,
            None => lines.iter().map(|l| espeak_alone(&exe, voice, lang, l)).collect::<EngineResult<_>>()?,
        };
        for (&i, words) in retry.iter().zip(results) {
            phonemes[i] = Some(words.join(" "));
        }
    }

    Ok(toks
        .iter()
        .zip(phonemes)
        .map(|(t, p)| Piece {
            start: t.start,
            end: t.end,
            phonemes: match t.punct {
                Some(sym) => sym.to_owned(),
                None => p.unwrap_or_default(),
            },
        })
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn given_pronunciations_replace_the_g2p_words() {
        use crate::engines::kokoro::markup::{parse, Part};
        let passage = |text: &str| match parse(text).unwrap().parts.remove(0) {
            Part::Speech(p) => p,
            Part::Pause(_) => panic!("no pause here"),
        };
        let p = phonemize_passage(&passage("Say [Kokoro](/kˈOkəɹO/), please."), Lang::EnUs).unwrap();
        let words: Vec<(&str, &str)> = p.words.iter().map(|w| (w.text.as_str(), w.phonemes.as_str())).collect();
        assert_eq!(words[1], ("Kokoro", "kˈOkəɹO"));
        assert_eq!(words[2].0, ",");
        assert!(p.words[0].space_after && !p.words[1].space_after);
        // A word the G2P runs into the given one is replaced whole; its text is kept.
        let p = phonemize_passage(&passage("[Kokoro](/kˈOkəɹO/)'s voice"), Lang::EnUs).unwrap();
        assert_eq!((p.words[0].text.as_str(), p.words[0].phonemes.as_str()), ("Kokoro's", "kˈOkəɹO"));
        // Nothing but a given word.
        let p = phonemize_passage(&passage("[☺](/smˈIl/)"), Lang::EnUs).unwrap();
        assert_eq!((p.words.len(), p.words[0].text.as_str()), (1, "☺"));
    }

    use super::*;

    fn check_offsets(text: &str, p: &Phonemized) {
        let mut last_end = 0;
        for w in &p.words {
            assert_eq!(&text[w.byte_start..w.byte_end], w.text, "{w:?}");
            assert!(w.byte_start >= last_end, "words overlap or go backwards: {w:?}");
            assert!(w.byte_start < w.byte_end);
            assert!(!w.phonemes.is_empty(), "{w:?}");
            assert!(w.phonemes.chars().all(vocab::contains), "non-vocab symbol in {w:?}");
            assert_eq!(w.phonemes.trim(), w.phonemes);
            last_end = w.byte_end;
        }
    }

    fn shown(p: &Phonemized) -> Vec<(&str, &str)> {
        p.words.iter().map(|w| (w.text.as_str(), w.phonemes.as_str())).collect()
    }

    fn espeak_or_skip() -> bool {
        match find_espeak() {
            Ok(_) => true,
            Err(e) => {
                eprintln!("skipping: {} ({})", e.message, e.hint.unwrap_or_default());
                false
            }
        }
    }

    #[test]
    fn lang_codes_parse_case_insensitively() {
        for l in Lang::ALL {
            assert_eq!(Lang::parse(l.code()).unwrap(), l);
            assert_eq!(l.code().to_uppercase().parse::<Lang>().unwrap(), l);
            assert_eq!(l.to_string(), l.code());
        }
        assert_eq!(Lang::parse(" EN_gb ").unwrap(), Lang::EnGb);
        assert_eq!(Lang::parse("Pt-BR").unwrap(), Lang::PtBr);
        let e = Lang::parse("de").unwrap_err();
        assert_eq!(e.code, "BAD_LANG");
        for l in Lang::ALL {
            assert!(e.message.contains(l.code()), "{}", e.message);
        }
        assert_eq!(Lang::parse("").unwrap_err().code, "BAD_LANG");
        assert_eq!(Lang::for_voice("af_heart"), Some(Lang::EnUs));
        assert_eq!(Lang::for_voice("jm_kumo"), Some(Lang::Ja));
        assert_eq!(Lang::for_voice("xx"), None);
    }

    #[test]
    fn hello_world() {
        let text = "Hello world.";
        let p = phonemize(text, Lang::EnUs).unwrap();
        check_offsets(text, &p);
        assert_eq!(shown(&p), [("Hello", "həlˈO"), ("world", "wˈɜɹld"), (".", ".")]);
        assert_eq!(p.words.iter().map(|w| w.is_punct).collect::<Vec<_>>(), [false, false, true]);
        assert_eq!(p.words.iter().map(|w| w.space_after).collect::<Vec<_>>(), [true, false, false]);
        assert_eq!(p.phonemes(), "həlˈO wˈɜɹld.");
        assert_eq!((p.words[1].byte_start, p.words[1].byte_end), (6, 11));
    }

    #[test]
    fn british_dialect_differs() {
        let text = "Hello world.";
        let p = phonemize(text, Lang::EnGb).unwrap();
        check_offsets(text, &p);
        assert_eq!(p.words.len(), 3);
        assert_ne!(p.phonemes(), "həlˈO wˈɜɹld.");
    }

    #[test]
    fn currency_and_numbers_stay_one_word() {
        let text = "It costs $3.50, not 1,234 or #1.";
        let p = phonemize(text, Lang::EnUs).unwrap();
        check_offsets(text, &p);
        let texts: Vec<&str> = p.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["It", "costs", "$3.50", ",", "not", "1,234", "or", "#1", "."]);
        assert_eq!(p.words[2].phonemes, "θɹˈi dˈɑləɹz ænd fˈɪfti sˈɛnts");
        assert!(p.words[5].phonemes.starts_with("wˈʌn θˈWzᵊnd"), "{}", p.words[5].phonemes);
        assert_eq!(p.words[7].phonemes, "wˈʌn");
    }

    #[test]
    fn curly_apostrophes_and_quotes() {
        let text = "I don’t know — “maybe” (really)…";
        let p = phonemize(text, Lang::EnUs).unwrap();
        check_offsets(text, &p);
        let dont = p.words.iter().find(|w| w.text == "don’t").expect("don’t is one word");
        assert_eq!(dont.phonemes, "dˈOnt");
        let punct: Vec<&str> = p.words.iter().filter(|w| w.is_punct).map(|w| w.phonemes.as_str()).collect();
        assert_eq!(punct, ["—", "“", "”", "(", ")", "…"]);
        assert_eq!(p.words.iter().filter(|w| w.is_punct).map(|w| w.text.as_str()).collect::<String>(), "—“”()…");
    }

    #[test]
    fn heteronyms_follow_context() {
        let text = "I read the book yesterday; I will read it again.";
        let p = phonemize(text, Lang::EnUs).unwrap();
        check_offsets(text, &p);
        let reads: Vec<&str> = p.words.iter().filter(|w| w.text == "read").map(|w| w.phonemes.as_str()).collect();
        assert_eq!(reads, ["ɹˈɛd", "ɹˈid"]);
    }

    #[test]
    fn messy_whitespace_and_unknown_script() {
        let text = "  First line.\n\tSecond\u{a0} line\nzorbulate 日本\r\nend!  ";
        let p = phonemize(text, Lang::EnUs).unwrap();
        check_offsets(text, &p);
        let texts: Vec<&str> = p.words.iter().map(|w| w.text.as_str()).collect();
        // 日本 has no English reading; it rides along with the word before it.
        assert_eq!(texts, ["First", "line", ".", "Second", "line", "zorbulate 日本", "end", "!"]);
        assert!(p.words[2].space_after && p.words[4].space_after, "a newline separates words");
        assert_eq!(p.words[4].phonemes, "lˈIn", "not run together with the next line");
        assert_eq!(p.words[5].phonemes, "zˈɔɹbjəlˌAt");
    }

    #[test]
    fn long_runs_without_spaces() {
        let long = vec!["hello"; 40].join("-");
        let text = format!("start {} middle {} end {long} done.", "😀".repeat(400), "#".repeat(2000));
        let p = phonemize(&text, Lang::EnUs).unwrap();
        check_offsets(&text, &p);
        let texts: Vec<&str> = p.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["start", "middle", "end", long.as_str(), "done", "."]);
        assert_eq!(p.words[3].phonemes.matches("həl").count(), 40, "the slices are rejoined into one word");

        let segments = english_segments("ab cd");
        assert_eq!(segments, [(0, 5)]);
        let norm = format!("ab {} cd", "é".repeat(100));
        let segments = english_segments(&norm);
        assert_eq!(segments.first(), Some(&(0, 3)));
        assert_eq!(segments.last(), Some(&(203, norm.len())));
        assert!(segments.windows(2).all(|w| w[0].1 == w[1].0), "contiguous");
        assert!(segments[1..segments.len() - 1].iter().all(|(a, b)| b - a <= MAX_RUN));
    }

    #[test]
    fn inline_markup_is_honoured() {
        let text = "[Kokoro](/kˈOkəɹO/) speaks.";
        let p = phonemize(text, Lang::EnUs).unwrap();
        check_offsets(text, &p);
        assert_eq!(shown(&p), [("Kokoro", "kˈOkəɹO"), ("speaks", "spˈiks"), (".", ".")]);
        assert!(p.words[0].space_after);
    }

    #[test]
    fn empty_or_silent_text_is_an_error() {
        for text in ["", "   ", "\n\t "] {
            let e = phonemize(text, Lang::EnUs).unwrap_err();
            assert_eq!(e.code, "EMPTY_TEXT");
            // Checked before espeak-ng is looked for.
            assert_eq!(phonemize(text, Lang::Es).unwrap_err().code, "EMPTY_TEXT");
        }
        assert_eq!(phonemize("... !?", Lang::EnUs).unwrap_err().code, "EMPTY_TEXT");
    }

    #[test]
    fn clean_phonemes_keeps_vocab_symbols() {
        assert_eq!(clean_phonemes("kˌätäkˈänä", false), "kˌatakˈana");
        assert_eq!(clean_phonemes("fɾˈɐ̃su", false), "fɾˈɐ̃su");
        assert_eq!(clean_phonemes("  ʒə-  nə- . ", false), "ʒə nə");
        assert_eq!(clean_phonemes("a , b", true), "a , b");
        assert_eq!(clean_phonemes("ç", false), "ç");
    }

    #[test]
    fn language_switch_marks_are_dropped() {
        assert_eq!(strip_language_switches("(en)nɪ5(cmn) s.ˈi.5"), "nɪ5 s.ˈi.5");
        assert_eq!(strip_language_switches("(\u{200d}e\u{200d}n)x"), "x");
        assert_eq!(strip_language_switches("a(b c)d"), "ab c)d");
        assert_eq!(fix_mandarin("ts.hˈi.5 tɕhˈy5 ʐˈəɜn"), "ꭧʰˈɨ ʨʰˈy ʐˈən");
    }

    #[test]
    fn espeak_tokenizer_splits_punctuation() {
        let text = "¿Cómo estás? «Bien», 3,50 l'homme -5 ¡ya!";
        let toks = split_for_espeak(text, Lang::Es);
        let shown: Vec<(&str, Option<&str>)> = toks.iter().map(|t| (&text[t.start..t.end], t.punct)).collect();
        assert_eq!(
            shown,
            [
                ("¿", Some("")),
                ("Cómo", None),
                ("estás", None),
                ("?", Some("?")),
                ("«", Some("“")),
                ("Bien", None),
                ("»", Some("”")),
                (",", Some(",")),
                ("3,50", None),
                ("l'homme", None),
                ("-5", None),
                ("¡", Some("")),
                ("ya", None),
                ("!", Some("!")),
            ]
        );
        let text = "你好，世界。ok";
        let shown: Vec<&str> = split_for_espeak(text, Lang::Zh).iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(shown, ["你", "好", "，", "世", "界", "。", "ok"]);
        let text = "こんにちは。元気？";
        let shown: Vec<&str> = split_for_espeak(text, Lang::Ja).iter().map(|t| &text[t.start..t.end]).collect();
        assert_eq!(shown, ["こんにちは", "。", "元気", "？"]);
    }

    #[test]
    fn espeak_missing_is_reported() {
        let e = locate_espeak(None, Some(OsString::from("/nonexistent/dir"))).unwrap_err();
        assert_eq!(e.code, "G2P_UNAVAILABLE");
        let hint = e.hint.unwrap();
        assert!(hint.contains("apt-get install espeak-ng") && hint.contains("brew install espeak-ng"), "{hint}");
        assert_eq!(locate_espeak(None, None).unwrap_err().code, "G2P_UNAVAILABLE");
        let e = locate_espeak(Some(OsString::from("/nonexistent/espeak-ng")), None).unwrap_err();
        assert_eq!(e.code, "G2P_UNAVAILABLE");
    }

    #[test]
    fn espeak_spanish() {
        if !espeak_or_skip() {
            return;
        }
        let text = "¡Hola, mundo! El perro de la casa tiene 3,50 euros.";
        let p = phonemize(text, Lang::Es).unwrap();
        check_offsets(text, &p);
        let texts: Vec<&str> = p.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(
            texts,
            ["Hola", ",", "mundo", "!", "El", "perro", "de", "la", "casa", "tiene", "3,50", "euros", "."]
        );
        assert_eq!(p.words[0].phonemes, "ˈola");
        assert_eq!(p.words[5].phonemes, "pˈero");
        // A number read as several words stays one input word.
        assert!(p.words[10].phonemes.contains(' '), "{}", p.words[10].phonemes);
        assert!(p.words[12].is_punct);
    }

    #[test]
    fn espeak_keeps_word_boundaries_when_it_merges_words() {
        if !espeak_or_skip() {
            return;
        }
        // espeak-ng reads "in the" and "of the" as one word each in a clause; the per-word pass
        // must still give every input word its own phonemes.
        let text = "Je ne sais pas, ce qu'il a dit.";
        let p = phonemize(text, Lang::FrFr).unwrap();
        check_offsets(text, &p);
        assert_eq!(p.words.iter().filter(|w| !w.is_punct).count(), 8);
        let text = "Ciao, come stai? L'uomo è qui.";
        let p = phonemize(text, Lang::It).unwrap();
        check_offsets(text, &p);
        assert_eq!(p.words.iter().filter(|w| !w.is_punct).count(), 6);
    }

    #[test]
    fn espeak_other_scripts() {
        if !espeak_or_skip() {
            return;
        }
        for (text, lang, min_words) in [
            ("नमस्ते दुनिया। आप कैसे हैं?", Lang::Hi, 5),
            ("Eu não sei o que ele disse.", Lang::PtBr, 6),
            ("こんにちは。げんきですか？", Lang::Ja, 2),
            ("你好，世界。", Lang::Zh, 4),
        ] {
            let p = phonemize(text, lang).unwrap();
            check_offsets(text, &p);
            assert!(p.words.iter().filter(|w| !w.is_punct).count() >= min_words, "{lang}: {p:?}");
        }
        let p = phonemize("你好，世界。", Lang::Zh).unwrap();
        assert_eq!(p.words[0].text, "你");
        assert!(p.words[0].space_after, "Chinese syllables are spaced like espeak-ng's output");
        assert!(!p.words[1].space_after && p.words[2].space_after, "no space before a comma, one after it");
        let e = phonemize("元気です。", Lang::Ja).unwrap_err();
        assert_eq!(e.code, "G2P_UNAVAILABLE");
        let said: Vec<&str> = p.words.iter().filter(|w| !w.is_punct).map(|w| w.phonemes.as_str()).collect();
        assert!(
            said.iter().all(|ph| !ph.contains('.')),
            "espeak-ng's retroflex dots must not become full stops: {said:?}"
        );
    }

    #[test]
    fn espeak_long_clause_without_punctuation() {
        if !espeak_or_skip() {
            return;
        }
        let text = vec!["palabra"; 400].join(" ");
        let p = phonemize(&text, Lang::Es).unwrap();
        check_offsets(&text, &p);
        assert_eq!(p.words.len(), 400);
        assert!(p.words.iter().all(|w| w.phonemes == p.words[0].phonemes));
    }
}
