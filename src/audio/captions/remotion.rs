//! Remotion's `Caption[]` (`@remotion/captions`): one entry per word, its text with the leading
//! space Remotion's page builder (`createTikTokStyleCaptions`) reads as a word boundary, times in
//! whole milliseconds. `timestampMs` is the middle of the word; `confidence` is the recogniser's
//! (Whisper's mean token probability, 0–1) and null for words timed from known text (TTS).

use serde::Serialize;

use super::{cjk_seam, Word};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Caption {
    pub text: String,
    pub start_ms: u64,
    pub end_ms: u64,
    pub timestamp_ms: Option<u64>,
    pub confidence: Option<f64>,
}

fn ms(seconds: f64) -> u64 {
    (seconds.max(0.0) * 1000.0).round() as u64
}

pub fn captions(words: &[Word]) -> Vec<Caption> {
    let mut out: Vec<Caption> = Vec::with_capacity(words.len());
    let mut prev: Option<&str> = None;
    for w in words {
        let glued = prev.is_some_and(|p| cjk_seam(p, &w.text));
        let (start, end) = (ms(w.start), ms(w.end).max(ms(w.start)));
        out.push(Caption {
            text: if glued { w.text.clone() } else { format!(" {}", w.text) },
            start_ms: start,
            end_ms: end,
            timestamp_ms: Some((start + end) / 2),
            confidence: w.confidence.filter(|c| c.is_finite()),
        });
        prev = Some(&w.text);
    }
    out
}

pub fn render(words: &[Word]) -> String {
    serde_json::to_string_pretty(&captions(words)).expect("captions always serialise") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_with_a_leading_space_and_whole_milliseconds() {
        let words = [
            Word { id: "w0".into(), text: "Hello,".into(), start: 0.1, end: 0.4004, confidence: None },
            Word { id: "w1".into(), text: "world.".into(), start: 0.5, end: 0.9, confidence: None },
            Word { id: "w2".into(), text: "日本".into(), start: 1.0, end: 1.2, confidence: None },
            Word { id: "w3".into(), text: "語".into(), start: 1.2, end: 1.3, confidence: None },
        ];
        let v: serde_json::Value = serde_json::from_str(&render(&words)).unwrap();
        assert_eq!(
            v[0],
            serde_json::json!({"text": " Hello,", "startMs": 100, "endMs": 400, "timestampMs": 250, "confidence": null})
        );
        assert_eq!(v[1]["text"], " world.");
        assert_eq!(
            (v[2]["text"].as_str(), v[3]["text"].as_str()),
            (Some(" 日本"), Some("語")),
            "CJK joins without a space"
        );
    }

    #[test]
    fn a_recognised_word_carries_its_confidence_and_a_spoken_one_null() {
        let heard = Word { id: "w0".into(), text: "Hi".into(), start: 0.0, end: 0.2, confidence: Some(0.875) };
        let spoken = Word { confidence: None, ..heard.clone() };
        let broken = Word { confidence: Some(f64::NAN), ..heard.clone() };
        let v: serde_json::Value = serde_json::from_str(&render(&[heard, spoken, broken])).unwrap();
        assert_eq!(v[0]["confidence"], serde_json::json!(0.875));
        assert!(v[1]["confidence"].is_null() && v[1].as_object().unwrap().contains_key("confidence"));
        assert!(v[2]["confidence"].is_null(), "a confidence that is not a number is not written");
    }
}
