//! A pronunciation lexicon: a JSON object `{ "word": "phonemes" }` (Kokoro / misaki symbols),
//! applied before G2P to whole words. An entry written all in lower case matches any case; one
//! with a capital matches only that exact spelling (`"US"` is not `"us"`). Inline markup wins over
//! the lexicon; a lexicon word gives exactly the tokens the same inline pronunciation would.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::markup::{self, Part, Pronunciation, Script};
use crate::engines::error::{EngineError, EngineResult};

/// Environment variable naming a lexicon file used when none is given explicitly.
pub const LEXICON_ENV: &str = "HYPERFRAMES_LEXICON";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lexicon {
    exact: HashMap<String, String>,
    any_case: HashMap<String, String>,
}

const HINT: &str = "A lexicon is a JSON object of words and their Kokoro phonemes: {\"Kokoro\": \"kˈOkəɹO\"}.";

fn bad(origin: &str, what: impl std::fmt::Display) -> EngineError {
    EngineError::new("BAD_LEXICON", format!("Lexicon {origin}: {what}.")).with_hint(HINT)
}

/// Trims the marks around a run of non-space text: `“Kokoro,”` → `Kokoro`. Returns the byte
/// range of the word inside `run`, empty when it has no letter or digit.
fn word_in(run: &str) -> (usize, usize) {
    let start = run.find(char::is_alphanumeric).unwrap_or(run.len());
    let end = run.rfind(char::is_alphanumeric).map_or(start, |k| k + run[k..].chars().next().map_or(1, char::len_utf8));
    (start, end.max(start))
}

impl Lexicon {
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.any_case.is_empty()
    }

    /// Reads a lexicon from JSON text; `origin` names it in errors (a path, `the request`).
    pub fn parse(json: &str, origin: &str) -> EngineResult<Lexicon> {
        let value: Value = serde_json::from_str(json).map_err(|e| bad(origin, format_args!("is not JSON ({e})")))?;
        Lexicon::from_value(&value, origin)
    }

    pub fn from_value(value: &Value, origin: &str) -> EngineResult<Lexicon> {
        let Value::Object(map) = value else {
            return Err(bad(origin, "must be a JSON object of \"word\": \"phonemes\""));
        };
        let mut lex = Lexicon::default();
        for (word, ph) in map {
            let Value::String(ph) = ph else {
                return Err(bad(origin, format_args!("the entry {word:?} is not a string of phonemes (got {ph})")));
            };
            if word.trim().is_empty() {
                return Err(bad(origin, "an entry has an empty word"));
            }
            if word.chars().any(char::is_whitespace) || word_in(word) != (0, word.len()) {
                return Err(bad(
                    origin,
                    format_args!("the entry {word:?} must be one word, starting and ending with a letter or digit"),
                ));
            }
            markup::check_phonemes(ph).map_err(|(k, msg)| {
                let col = ph[..k].chars().count() + 1;
                bad(origin, format_args!("the phonemes of {word:?}, character {col}: {msg}"))
            })?;
            if word.chars().any(char::is_uppercase) {
                lex.exact.insert(word.clone(), ph.clone());
            } else {
                lex.any_case.insert(word.to_lowercase(), ph.clone());
            }
        }
        Ok(lex)
    }

    pub fn load(path: &Path) -> EngineResult<Lexicon> {
        let origin = path.display().to_string();
        use crate::fsio::input;
        let text = input::read_text(path, input::limits::LEXICON).map_err(|e| match e.code {
            input::TOO_LARGE => e,
            _ => EngineError::new("BAD_LEXICON", format!("Lexicon {origin} cannot be read: {}.", e.message))
                .with_hint(HINT),
        })?;
        Lexicon::parse(&text, &origin)
    }

    /// The lexicon file given explicitly, else the one `HYPERFRAMES_LEXICON` names, else none.
    pub fn resolve(explicit: Option<&Path>) -> EngineResult<Option<Lexicon>> {
        let from_env = std::env::var_os(LEXICON_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        match explicit.map(Path::to_path_buf).or(from_env) {
            Some(p) => Lexicon::load(&p).map(Some),
            None => Ok(None),
        }
    }

    /// The phonemes for one written word, if the lexicon has it.
    pub fn lookup(&self, word: &str) -> Option<&str> {
        self.exact.get(word).or_else(|| self.any_case.get(&word.to_lowercase())).map(String::as_str)
    }

    /// The `(word, phonemes)` pairs this lexicon gives `text` (bad markup: none).
    pub fn used_by(&self, text: &str) -> Vec<(String, String)> {
        let Ok(mut script) = markup::parse(text) else { return Vec::new() };
        let inline = script.clone();
        self.apply(&mut script);
        let mut used = Vec::new();
        for (part, before) in script.parts.iter().zip(&inline.parts) {
            if let (Part::Speech(p), Part::Speech(b)) = (part, before) {
                for q in p.pronunciations.iter().filter(|q| !b.pronunciations.contains(q)) {
                    used.push((p.text[q.start..q.end].to_string(), q.phonemes.clone()));
                }
            }
        }
        used
    }

    /// Adds a pronunciation for every whole word of the script the lexicon knows, except words
    /// that already have one inline.
    pub fn apply(&self, script: &mut Script) {
        if self.is_empty() {
            return;
        }
        for part in &mut script.parts {
            let Part::Speech(p) = part else { continue };
            let mut found = Vec::new();
            let mut pos = 0;
            for run in p.text.split_whitespace() {
                let at = pos + p.text[pos..].find(run).expect("split_whitespace yields substrings in order");
                pos = at + run.len();
                let (s, e) = word_in(run);
                if s == e {
                    continue;
                }
                let (start, end) = (at + s, at + e);
                let taken = p.pronunciations.iter().any(|q| q.start < end && start < q.end);
                if let (false, Some(ph)) = (taken, self.lookup(&p.text[start..end])) {
                    found.push(Pronunciation { start, end, phonemes: ph.to_string() });
                }
            }
            if !found.is_empty() {
                p.pronunciations.extend(found);
                p.pronunciations.sort_by_key(|q| q.start);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_and_case_rules() {
        let lex = Lexicon::parse(r#"{"kokoro": "kˈOkəɹO", "US": "jˌuˈɛs"}"#, "test").unwrap();
        let mut s = markup::parse("Kokoro, KOKORO and “kokoro” — Kokoros us US [US](/ˈʌs/).").unwrap();
        lex.apply(&mut s);
        let Part::Speech(p) = &s.parts[0] else { panic!() };
        let got: Vec<(&str, &str)> =
            p.pronunciations.iter().map(|q| (&p.text[q.start..q.end], q.phonemes.as_str())).collect();
        assert_eq!(
            got,
            [
                ("Kokoro", "kˈOkəɹO"),
                ("KOKORO", "kˈOkəɹO"),
                ("kokoro", "kˈOkəɹO"),
                ("US", "jˌuˈɛs"),
                ("US", "ˈʌs"), // inline wins
            ]
        );
    }

    #[test]
    fn used_by_lists_only_what_the_lexicon_adds() {
        let lex = Lexicon::parse(r#"{"kokoro": "kˈOkəɹO", "gif": "ɡˈɪf"}"#, "test").unwrap();
        assert_eq!(lex.used_by("Kokoro and [GIF](/ʤˈɪf/)"), [("Kokoro".to_string(), "kˈOkəɹO".to_string())]);
        assert!(lex.used_by("nothing here").is_empty());
        assert!(lex.used_by("bad <markup").is_empty());
    }

    #[test]
    fn bad_lexicons_are_clear_errors() {
        for (json, what) in [
            ("{not json", "is not JSON"),
            ("[1, 2]", "must be a JSON object"),
            (r#"{"kokoro": 3}"#, "not a string"),
            (r#"{"": "kO"}"#, "empty word"),
            (r#"{" ": "kO"}"#, "empty word"),
            (r#"{"two words": "kO"}"#, "one word"),
            (r#"{"kokoro": "kOB"}"#, "character 3"),
            (r#"{"kokoro": ""}"#, "empty"),
        ] {
            let e = Lexicon::parse(json, "lex.json").unwrap_err();
            assert_eq!(e.code, "BAD_LEXICON");
            assert!(e.message.contains(what) && e.message.contains("lex.json"), "{json}: {}", e.message);
            assert!(e.hint.is_some());
        }
        let e = Lexicon::load(Path::new("/nonexistent/lex.json")).unwrap_err();
        assert_eq!(e.code, "BAD_LEXICON");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_a_device_or_a_huge_file_as_the_lexicon_is_refused_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("lex.json");
        crate::test_support::make_fifo(&fifo);
        for p in [fifo.as_path(), Path::new("/dev/zero")] {
            let e = Lexicon::load(p).unwrap_err();
            assert_eq!(e.code, "BAD_LEXICON");
            assert!(e.message.contains("not a regular file"), "{}", e.message);
        }
        let big = dir.path().join("big.json");
        std::fs::File::create(&big).unwrap().set_len(1 << 30).unwrap();
        assert_eq!(Lexicon::load(&big).unwrap_err().code, crate::fsio::input::TOO_LARGE);
    }

    #[test]
    fn resolve_prefers_the_explicit_file_then_the_environment() {
        let _lock = crate::test_support::env_lock();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
        std::fs::write(&a, r#"{"alpha": "ˈælfə"}"#).unwrap();
        std::fs::write(&b, r#"{"beta": "bˈAtə"}"#).unwrap();
        let _env = crate::test_support::EnvGuard::set(&[(LEXICON_ENV, b.to_str())]);
        assert_eq!(Lexicon::resolve(Some(&a)).unwrap().unwrap().lookup("alpha"), Some("ˈælfə"));
        assert_eq!(Lexicon::resolve(None).unwrap().unwrap().lookup("Beta"), Some("bˈAtə"));
        drop(_env);
        let _env = crate::test_support::EnvGuard::set(&[(LEXICON_ENV, None)]);
        assert_eq!(Lexicon::resolve(None).unwrap(), None);
    }
}
