//! Matching a script's words to the words heard: a word-level edit-distance alignment on
//! normalised spellings tells which window each script word belongs to and which ones have a
//! counterpart in the audio at all.

/// Lower-case letters and digits only ("Don't!" → "dont").
pub fn normalise(word: &str) -> String {
    word.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// Character similarity in [0, 1]: 1 − edit distance / longer length.
pub fn similarity(a: &str, b: &str) -> f64 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f64 / longest as f64
}

/// For each script word, the index of the heard word it lines up with (None: inserted). Cost:
/// 0 for a match, 1 − similarity for a substitution (so near spellings pair up), 1 per gap.
pub fn pair_words(script: &[String], heard: &[String]) -> Vec<Option<usize>> {
    let (n, m) = (script.len(), heard.len());
    let w = m + 1;
    let mut cost = vec![0f64; (n + 1) * w];
    let mut step = vec![0u8; (n + 1) * w];
    for i in 0..=n {
        for j in 0..=m {
            if i == 0 && j == 0 {
                continue;
            }
            let mut best = (f64::INFINITY, 0u8);
            if i > 0 && j > 0 {
                let sub = 1.0 - similarity(&script[i - 1], &heard[j - 1]);
                best = (cost[(i - 1) * w + j - 1] + sub * 1.5, 0);
            }
            if i > 0 && cost[(i - 1) * w + j] + 1.0 < best.0 {
                best = (cost[(i - 1) * w + j] + 1.0, 1);
            }
            if j > 0 && cost[i * w + j - 1] + 1.0 < best.0 {
                best = (cost[i * w + j - 1] + 1.0, 2);
            }
            cost[i * w + j] = best.0;
            step[i * w + j] = best.1;
        }
    }
    let mut out = vec![None; n];
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        match step[i * w + j] {
            0 if i > 0 && j > 0 => {
                out[i - 1] = Some(j - 1);
                i -= 1;
                j -= 1;
            }
            1 if i > 0 => i -= 1,
            _ if j > 0 => j -= 1,
            _ => i -= 1,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(normalise).collect()
    }

    #[test]
    fn pairs_follow_the_text_through_insertions_and_misspellings() {
        let script = words("Meet Kokoro, the tiny voice model!");
        let heard = words("meet cocoro the tiny tiny voice model");
        let pairs = pair_words(&script, &heard);
        assert_eq!(pairs, vec![Some(0), Some(1), Some(2), Some(4), Some(5), Some(6)]);
        assert!(similarity("kokoro", "cocoro") > 0.6);
        assert_eq!(normalise("Don't!"), "dont");
    }

    #[test]
    fn unmatched_script_words_are_none() {
        let pairs = pair_words(&words("one two three four"), &words("one four"));
        assert_eq!(pairs[0], Some(0));
        assert_eq!(pairs[3], Some(1));
        assert!(pairs[1].is_none() && pairs[2].is_none());
        assert_eq!(pair_words(&words("a b"), &[]), vec![None, None]);
    }
}
