//! Kokoro-82M's input vocabulary: one Unicode scalar value is one token id.
//!
//! `vocab.json` holds the 114-entry `{symbol: id}` table of the Kokoro v1.0 model (ids 1..=177,
//! sparse). Id 0 is the pad, which the model expects at both ends of every sequence:
//! `[PAD, ids…, PAD]`. Symbols outside the table carry no meaning for the model and are dropped.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The pad id, placed before and after a chunk's tokens.
pub const PAD: i64 = 0;

/// The id of the word separator `' '`.
pub const SPACE: i64 = 16;

/// The punctuation symbols the model knows. They shape prosody (pauses, intonation), so the G2P
/// keeps them as tokens of their own.
pub const PUNCTUATION: &str = ";:,.!?—…\"()“”";

#[cfg(test)]
/// Number of entries in the table.
pub const LEN: usize = 114;

const VOCAB_JSON: &str = include_str!("vocab.json");

fn table() -> &'static HashMap<char, i64> {
    static TABLE: OnceLock<HashMap<char, i64>> = OnceLock::new();
    TABLE.get_or_init(|| {
        // The file is part of the source tree and covered by tests, so a malformed table is a
        // build defect rather than a runtime condition.
        let map: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(VOCAB_JSON).expect("vocab.json is a JSON object");
        map.iter()
            .map(|(symbol, id)| {
                let mut chars = symbol.chars();
                let c = chars.next().expect("vocab.json keys are single symbols");
                assert!(chars.next().is_none(), "vocab.json key {symbol:?} is more than one symbol");
                (c, id.as_i64().expect("vocab.json ids are integers"))
            })
            .collect()
    })
}

#[cfg(test)]
/// The token id of `c`, if the model knows it.
pub fn id(c: char) -> Option<i64> {
    table().get(&c).copied()
}

/// Whether the model knows `c`.
pub fn contains(c: char) -> bool {
    table().contains_key(&c)
}

/// Whether `c` is one of the model's punctuation symbols (see [`PUNCTUATION`]).
pub fn is_punctuation(c: char) -> bool {
    PUNCTUATION.contains(c)
}

/// Token ids for a phoneme string, without pads. Symbols the model does not know are dropped.
pub fn tokenize(phonemes: &str) -> Vec<i64> {
    let table = table();
    phonemes.chars().filter_map(|c| table.get(&c).copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_114_entries_with_ids_1_to_177() {
        let t = table();
        assert_eq!(t.len(), LEN);
        let mut ids: Vec<i64> = t.values().copied().collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), LEN, "ids are unique");
        assert_eq!(ids.first(), Some(&1));
        assert_eq!(ids.last(), Some(&177));
        assert!(!ids.contains(&PAD));
    }

    #[test]
    fn known_ids() {
        assert_eq!(id(';'), Some(1));
        assert_eq!(id('.'), Some(4));
        assert_eq!(id(' '), Some(SPACE));
        assert_eq!(id('ˈ'), Some(156));
        assert_eq!(id('ˌ'), Some(157));
        assert_eq!(id('ː'), Some(158));
        // misaki's diphthong capitals are single symbols.
        for c in ['A', 'I', 'O', 'W', 'Y', 'Q'] {
            assert!(contains(c), "{c}");
        }
        assert_eq!(id('B'), None);
    }

    #[test]
    fn every_punctuation_symbol_is_in_the_table() {
        for c in PUNCTUATION.chars() {
            assert!(contains(c), "{c:?}");
            assert!(is_punctuation(c));
        }
        assert!(!is_punctuation('a'));
        assert!(!is_punctuation(' '));
    }

    #[test]
    fn tokenize_drops_unknown_symbols() {
        assert_eq!(tokenize(""), Vec::<i64>::new());
        let plain = tokenize("həlˈO wˈɜɹld.");
        assert_eq!(plain.len(), "həlˈO wˈɜɹld.".chars().count());
        // '❓', '5', 'B' and a zero-width joiner are not in the table.
        assert_eq!(tokenize("❓h5ə\u{200d}lBˈO wˈɜɹld."), plain);
        assert_eq!(tokenize("h")[0], id('h').unwrap());
    }
}
