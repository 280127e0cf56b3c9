//! The T5 tokenizer of MusicGen's text encoder, read from `tokenizer.json`: a SentencePiece
//! Unigram model, segmented with Viterbi (the most probable split under the pieces' log
//! probabilities), with the Metaspace pre-tokenizer (`▁` before each word) and `</s>` appended.
//!
//! Normalisation is NFKC plus whitespace collapsing. The export's `Precompiled` normaliser is
//! SentencePiece's NFKC-based character map; the two agree on ordinary prompt text.

use std::collections::HashMap;

use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::engines::error::{EngineError, EngineResult};

/// SentencePiece's penalty for an unknown character, below the worst piece.
const UNK_PENALTY: f64 = 10.0;

#[derive(Debug, Clone)]
pub struct Tokenizer {
    pieces: HashMap<String, (i64, f64)>,
    unk_id: i64,
    unk_score: f64,
    eos_id: Option<i64>,
    replacement: char,
    /// Longest piece, in characters.
    max_chars: usize,
}

impl Tokenizer {
    /// Parses `tokenizer.json` text. `what` names the file in errors.
    pub fn from_json(text: &str, what: &str) -> EngineResult<Self> {
        let bad = |detail: &str| EngineError::new("BAD_MODEL", format!("{what} is not a Unigram tokenizer: {detail}"));
        let json: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let model = json.get("model").ok_or_else(|| bad("no `model`"))?;
        if model.get("type").and_then(Value::as_str) != Some("Unigram") {
            return Err(bad("`model.type` is not Unigram"));
        }
        let vocab = model.get("vocab").and_then(Value::as_array).ok_or_else(|| bad("no `model.vocab` list"))?;
        let mut pieces = HashMap::with_capacity(vocab.len());
        let mut min_score = f64::INFINITY;
        let mut max_chars = 1;
        for (id, entry) in vocab.iter().enumerate() {
            let (Some(piece), Some(score)) =
                (entry.get(0).and_then(Value::as_str), entry.get(1).and_then(Value::as_f64))
            else {
                return Err(bad(&format!("vocab entry {id} is not [piece, score]")));
            };
            min_score = min_score.min(score);
            max_chars = max_chars.max(piece.chars().count());
            pieces.entry(piece.to_string()).or_insert((id as i64, score));
        }
        if pieces.is_empty() {
            return Err(bad("empty vocabulary"));
        }
        let unk_id = model.get("unk_id").and_then(Value::as_i64).unwrap_or(2);
        if !(0..vocab.len() as i64).contains(&unk_id) {
            return Err(bad(&format!("unk_id {unk_id} is outside the vocabulary")));
        }
        let replacement = find_metaspace(json.get("pre_tokenizer"))
            .and_then(|m| m.get("replacement").and_then(Value::as_str).and_then(|s| s.chars().next()))
            .unwrap_or('▁');
        let eos_id = eos_token(&json).and_then(|t| pieces.get(&t).map(|(id, _)| *id));
        Ok(Self { pieces, unk_id, unk_score: min_score - UNK_PENALTY, eos_id, replacement, max_chars })
    }

    /// Token ids for `text`, with `</s>` appended.
    pub fn encode(&self, text: &str) -> Vec<i64> {
        let normalized: String = text.nfkc().collect();
        let mut ids = Vec::new();
        for word in normalized.split_whitespace() {
            let mut piece = String::with_capacity(word.len() + 3);
            piece.push(self.replacement);
            piece.push_str(word);
            self.viterbi(&piece, &mut ids);
        }
        ids.extend(self.eos_id);
        ids
    }

    /// Appends the best segmentation of one pre-token.
    fn viterbi(&self, word: &str, out: &mut Vec<i64>) {
        let bounds: Vec<usize> = word.char_indices().map(|(i, _)| i).chain([word.len()]).collect();
        let n = bounds.len() - 1;
        // best[i] = (score, start index, token id) of the best path ending at char i.
        let mut best: Vec<Option<(f64, usize, i64)>> = vec![None; n + 1];
        best[0] = Some((0.0, 0, -1));
        for start in 0..n {
            let Some((base, _, _)) = best[start] else { continue };
            let mut single_char_known = false;
            for end in start + 1..=n.min(start + self.max_chars) {
                if let Some(&(id, score)) = self.pieces.get(&word[bounds[start]..bounds[end]]) {
                    single_char_known |= end == start + 1;
                    let cand = base + score;
                    if best[end].is_none_or(|(s, _, _)| cand > s) {
                        best[end] = Some((cand, start, id));
                    }
                }
            }
            if !single_char_known {
                let cand = base + self.unk_score;
                if best[start + 1].is_none_or(|(s, _, _)| cand > s) {
                    best[start + 1] = Some((cand, start, self.unk_id));
                }
            }
        }
        let mut rev = Vec::new();
        let mut at = n;
        while at > 0 {
            let (_, start, id) = best[at].expect("every position is reachable through unk");
            // Runs of unknown characters become one unk token.
            if !(id == self.unk_id && rev.last() == Some(&self.unk_id)) {
                rev.push(id);
            }
            at = start;
        }
        out.extend(rev.into_iter().rev());
    }
}

fn find_metaspace(pre: Option<&Value>) -> Option<&Value> {
    let pre = pre?;
    match pre.get("type").and_then(Value::as_str) {
        Some("Metaspace") => Some(pre),
        Some("Sequence") => pre.get("pretokenizers")?.as_array()?.iter().find_map(|p| find_metaspace(Some(p))),
        _ => None,
    }
}

/// The special token the post-processor appends to a single sequence (`</s>` for T5).
fn eos_token(json: &Value) -> Option<String> {
    let single = json.get("post_processor").and_then(|p| p.get("single")).and_then(Value::as_array);
    let from_template = single.and_then(|items| {
        items.iter().rev().find_map(|item| item.get("SpecialToken")?.get("id")?.as_str().map(str::to_string))
    });
    from_template.or_else(|| Some("</s>".to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::testing::musicgen_graphs::tokenizer_json;

    fn tok() -> Tokenizer {
        Tokenizer::from_json(&tokenizer_json(), "tokenizer.json").unwrap()
    }

    #[test]
    fn musicgen_tokenizer_picks_the_most_probable_split() {
        let t = tok();
        // ▁ca + lm (-4) beats ▁calm (-20): Viterbi, not greedy longest match.
        assert_eq!(t.encode("calm"), vec![5, 6, 1]);
        // ▁piano (-4) beats ▁pi + ano (-6).
        assert_eq!(t.encode("piano"), vec![7, 1]);
        assert_eq!(t.encode("lofi beats"), vec![10, 11, 12, 13, 1]);
    }

    #[test]
    fn musicgen_tokenizer_normalises_whitespace_and_width() {
        let t = tok();
        assert_eq!(t.encode("  calm \n\t piano "), t.encode("calm piano"));
        // NFKC folds full-width letters.
        assert_eq!(t.encode("ｃａｌｍ"), t.encode("calm"));
        assert_eq!(t.encode(""), vec![1], "only </s>");
    }

    #[test]
    fn musicgen_tokenizer_fuses_unknown_runs() {
        let t = tok();
        // ▁ then unknown "xyz" (one unk), then "s".
        assert_eq!(t.encode("xyzs"), vec![3, 2, 13, 1]);
        assert_eq!(t.encode("日本"), vec![3, 2, 1]);
    }

    #[test]
    fn musicgen_tokenizer_rejects_other_models() {
        let bpe = r#"{"model": {"type": "BPE", "vocab": {}}}"#;
        let e = Tokenizer::from_json(bpe, "tokenizer.json").unwrap_err();
        assert_eq!(e.code, "BAD_MODEL");
        assert!(e.message.contains("Unigram"), "{}", e.message);
        assert_eq!(Tokenizer::from_json("{", "t").unwrap_err().code, "BAD_MODEL");
        let bad_entry = r#"{"model": {"type": "Unigram", "vocab": [["a"]]}}"#;
        assert!(Tokenizer::from_json(bad_entry, "t").unwrap_err().message.contains("entry 0"));
    }
}
