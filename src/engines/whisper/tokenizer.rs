//! Whisper's byte-level BPE (GPT-2 style), read from the Hugging Face `tokenizer.json` that both the
//! published export and the converted model carry: ids to text for transcription, text to ids for
//! `--script` alignment.

use std::collections::HashMap;
use std::path::Path;

use regex::Regex;
use serde::Deserialize;

use crate::engines::error::{EngineError, EngineResult};

#[derive(Deserialize)]
struct TokenizerJson {
    model: BpeJson,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
}

#[derive(Deserialize)]
struct BpeJson {
    vocab: HashMap<String, u32>,
    merges: Vec<Merge>,
}

/// Merges are `"a b"` in older files and `["a", "b"]` in newer ones.
#[derive(Deserialize)]
#[serde(untagged)]
enum Merge {
    Joined(String),
    Pair(String, String),
}

#[derive(Deserialize)]
struct AddedToken {
    id: u32,
    content: String,
}

pub struct Tokenizer {
    /// Byte-level token string per id (empty for ids without one).
    pieces: Vec<Vec<u8>>,
    vocab: HashMap<String, u32>,
    ranks: HashMap<(String, String), usize>,
    added: HashMap<String, u32>,
    byte_to_char: [char; 256],
    pre_split: Regex,
}

/// GPT-2's reversible map from bytes to printable characters.
fn bytes_to_unicode() -> [char; 256] {
    let mut map = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u32 {
        let printable = (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        map[b as usize] = if printable {
            char::from_u32(b).unwrap_or('?')
        } else {
            n += 1;
            char::from_u32(255 + n).unwrap_or('?')
        };
    }
    map
}

impl Tokenizer {
    pub fn load(path: &Path) -> EngineResult<Tokenizer> {
        let bytes = crate::fsio::input::read_bytes(path, crate::fsio::input::limits::MODEL_SIDE_FILE)?;
        Self::from_json(&bytes).map_err(|e| {
            EngineError::new("MODEL_CORRUPT", format!("{} is not a usable Whisper tokenizer: {e}", path.display()))
        })
    }

    pub fn from_json(bytes: &[u8]) -> Result<Tokenizer, String> {
        let json: TokenizerJson = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let byte_to_char = bytes_to_unicode();
        let char_to_byte: HashMap<char, u8> = byte_to_char.iter().enumerate().map(|(b, &c)| (c, b as u8)).collect();
        let max_id =
            json.model.vocab.values().chain(json.added_tokens.iter().map(|t| &t.id)).copied().max().unwrap_or(0);
        let mut pieces = vec![Vec::new(); max_id as usize + 1];
        for (piece, &id) in &json.model.vocab {
            pieces[id as usize] = piece.chars().map(|c| char_to_byte.get(&c).copied().unwrap_or(b'?')).collect();
        }
        let mut added = HashMap::new();
        for t in &json.added_tokens {
            pieces[t.id as usize] = t.content.as_bytes().to_vec();
            added.insert(t.content.clone(), t.id);
        }
        let ranks = json
            .model
            .merges
            .into_iter()
            .enumerate()
            .filter_map(|(rank, m)| {
                let (a, b) = match m {
                    Merge::Joined(s) => {
                        let (a, b) = s.split_once(' ')?;
                        (a.to_string(), b.to_string())
                    }
                    Merge::Pair(a, b) => (a, b),
                };
                Some(((a, b), rank))
            })
            .collect();
        let pre_split = Regex::new(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+")
            .map_err(|e| e.to_string())?;
        Ok(Tokenizer { pieces, vocab: json.model.vocab, ranks, added, byte_to_char, pre_split })
    }

    /// The id of a special token such as `<|endoftext|>`.
    pub fn special(&self, content: &str) -> Option<u32> {
        self.added.get(content).copied()
    }

    /// The raw bytes of a token (special tokens as their text).
    pub fn bytes_of(&self, id: u32) -> &[u8] {
        self.pieces.get(id as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Text of ordinary tokens (ids below `eot`), invalid UTF-8 replaced.
    pub fn decode(&self, ids: &[u32]) -> String {
        let bytes: Vec<u8> = ids.iter().flat_map(|&id| self.bytes_of(id).iter().copied()).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Byte-level BPE encoding of `text` (no special tokens).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        for m in self.pre_split.find_iter(text) {
            let symbols: Vec<String> = m.as_str().bytes().map(|b| self.byte_to_char[b as usize].to_string()).collect();
            for piece in self.bpe(symbols) {
                match self.vocab.get(&piece) {
                    Some(&id) => out.push(id),
                    // Every single byte is in the vocabulary, so this only splits pieces further.
                    None => out.extend(piece.chars().filter_map(|c| self.vocab.get(&c.to_string()).copied())),
                }
            }
        }
        out
    }

    fn bpe(&self, mut symbols: Vec<String>) -> Vec<String> {
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| self.ranks.get(&(w[0].clone(), w[1].clone())).map(|&r| (r, i)))
                .min();
            let Some((_, i)) = best else { return symbols };
            let merged = format!("{}{}", symbols[i], symbols[i + 1]);
            symbols[i] = merged;
            symbols.remove(i + 1);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A miniature tokenizer.json: bytes of "a", "b", " ", "c", merges "a b" and "Ġ ab".
    pub fn tiny_json() -> Vec<u8> {
        let mut vocab = serde_json::Map::new();
        for (i, c) in bytes_to_unicode().iter().enumerate() {
            vocab.insert(c.to_string(), serde_json::json!(i));
        }
        vocab.insert("ab".into(), serde_json::json!(256));
        vocab.insert("Ġab".into(), serde_json::json!(257));
        serde_json::to_vec(&serde_json::json!({
            "model": {"type": "BPE", "vocab": vocab, "merges": ["a b", ["Ġ", "ab"]]},
            "added_tokens": [{"id": 258, "content": "<|endoftext|>"}]
        }))
        .unwrap()
    }

    #[test]
    fn encodes_with_merges_and_round_trips() {
        let t = Tokenizer::from_json(&tiny_json()).unwrap();
        let ids = t.encode("ab ab, c");
        // "ab" | " ab" (two merges) | "," | " c" (bytes 32 and 99)
        assert_eq!(ids, [256, 257, 44, 32, 99]);
        assert_eq!(t.decode(&ids), "ab ab, c");
        assert_eq!(t.special("<|endoftext|>"), Some(258));
        assert_eq!(t.decode(&t.encode("naïve – ok")), "naïve – ok");
    }
}
