//! Typos in JSON input (a `media build` request, a words file) are refused by name, with the
//! closest known key: `lines[0]: unknown key "txt" (did you mean "text"?)`.
//!
//! The readers walk `serde_json::Value`s rather than deriving `deny_unknown_fields`, because
//! serde stops at the first problem and cannot suggest a key; a request reports every problem at
//! once. Each reader lists its object's keys here, next to the code that reads them.

use serde_json::{Map, Value};

/// How alike a key must be (Jaro–Winkler, 0–1) to be offered as the one meant; clap's threshold.
const SIMILAR: f64 = 0.7;

/// The known key most like `key`, if any is alike enough (case is ignored).
pub(crate) fn closest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let key = key.to_lowercase();
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(&key, &k.to_lowercase()), *k))
        .filter(|(score, _)| *score >= SIMILAR)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// One message per key of `obj` that is not in `known`: the key, and the key probably meant (else
/// the keys there are).
pub(crate) fn unknown_keys(obj: &Map<String, Value>, known: &[&str]) -> Vec<String> {
    obj.keys()
        .filter(|k| !known.contains(&k.as_str()))
        .map(|k| {
            let shown: String = k.chars().take(40).flat_map(char::escape_debug).collect();
            match closest(k, known) {
                Some(meant) => format!("unknown key \"{shown}\" (did you mean \"{meant}\"?)"),
                None => format!("unknown key \"{shown}\" (the keys here are {})", known.join(", ")),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_typo_names_the_key_meant_and_a_stranger_lists_the_keys() {
        let known = ["id", "text", "voice", "speed", "lang", "sfx", "audio"];
        assert_eq!(closest("txt", &known), Some("text"));
        assert_eq!(closest("Voic", &known), Some("voice"));
        assert_eq!(closest("spede", &known), Some("speed"));
        assert_eq!(closest("zzzz", &known), None);
        let obj = json!({"id": "a", "txt": "x", "qqq": 1});
        let found = unknown_keys(obj.as_object().unwrap(), &known);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.contains(&"unknown key \"txt\" (did you mean \"text\"?)".to_string()), "{found:?}");
        assert!(found.iter().any(|m| m.starts_with("unknown key \"qqq\" (the keys here are id, text")), "{found:?}");
        assert!(unknown_keys(json!({"id": 1}).as_object().unwrap(), &known).is_empty());
        assert_eq!(closest("lnes", &["provider", "voice", "lines", "lang", "music", "lexicon"]), Some("lines"));
    }

    #[test]
    fn a_hostile_key_is_escaped_and_cut() {
        let key = format!("\u{1b}[31m{}", "k".repeat(500));
        let obj = json!({ key: 1 });
        let found = unknown_keys(obj.as_object().unwrap(), &["id"]);
        assert!(!found[0].chars().any(char::is_control) && found[0].len() < 200, "{found:?}");
    }
}
