//! The JS `captions()`: timed words (a `tts()` result's `words`, or any `{text, start, end}`) to
//! SRT, WebVTT, ASS or Remotion captions, by the same builder as `hyperframes captions`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;
use serde_json::Value;

use super::args::{wanted, Arg};
use crate::audio::captions::{self, Format, Rules, Word};
use crate::engines::error::EngineError;

wanted!("an options object", ValueType::Object => CaptionOptions);
wanted!("an array of timed words ({text, start, end})", ValueType::Object => Vec<CaptionWord>);

#[napi(object)]
pub struct CaptionWord {
    pub id: Option<String>,
    pub text: String,
    /// Seconds.
    pub start: f64,
    pub end: f64,
    /// A recogniser's confidence, 0–1 (`transcribe()`'s words have one); Remotion's `confidence`.
    pub confidence: Option<f64>,
}

#[napi(object)]
#[derive(Default)]
pub struct CaptionOptions {
    /// `srt` (default), `vtt`, `ass` or `remotion`.
    pub to: Option<String>,
    /// Characters per line (default 42).
    pub max_chars: Option<u32>,
    /// Lines per cue (default 2).
    pub max_lines: Option<u32>,
    /// Characters a second a cue is held for, where there is room (default 17).
    pub max_cps: Option<f64>,
    /// Seconds a cue stays at least, where there is room (default 5/6).
    pub min_duration: Option<f64>,
    /// One cue per word as given.
    pub preserve_cues: Option<bool>,
}

/// Options → format and rules, with the CLI's error codes.
pub(crate) fn caption_rules(o: &CaptionOptions) -> std::result::Result<(Format, Rules), EngineError> {
    let format = match o.to.as_deref() {
        None => Format::Srt,
        Some(t) => Format::parse(t).filter(|_| !t.contains('.')).ok_or_else(|| {
            EngineError::new("BAD_OUTPUT", format!("captions `to` must be {}, not '{t}'", Format::NAMES))
        })?,
    };
    let d = Rules::default();
    let rules = Rules {
        max_chars: o.max_chars.map_or(d.max_chars, |n| n as usize),
        max_lines: o.max_lines.map_or(d.max_lines, |n| n as usize),
        max_cps: o.max_cps.unwrap_or(d.max_cps),
        min_duration: o.min_duration.unwrap_or(d.min_duration),
        preserve: o.preserve_cues.unwrap_or(false),
        ..d
    };
    rules.check().map_err(|m| EngineError::new("BAD_INPUT", m))?;
    Ok((format, rules))
}

/// Captions for timed words: a string (SRT, WebVTT, ASS), or Remotion's `Caption[]` for `to: 'remotion'`.
#[napi(
    ts_args_type = "words: Array<CaptionWord>, options?: CaptionOptions | undefined | null",
    ts_return_type = "string | Array<{ text: string; startMs: number; endMs: number; timestampMs: number | null; confidence: number | null }>"
)]
pub fn captions(env: &Env, words: Arg<Vec<CaptionWord>>, options: Arg<Option<CaptionOptions>>) -> Result<Value> {
    super::errors::throwing(env, || {
        let (words, options) = (words.get("captions", "words")?, options.get("captions", "options")?);
        let (format, rules) = caption_rules(&options.unwrap_or_default())?;
        let mut checked = Vec::with_capacity(words.len());
        for w in words {
            if !(w.start.is_finite() && w.end.is_finite() && w.start >= 0.0 && w.start <= w.end) {
                let e = EngineError::new("BAD_INPUT", format!("word '{}' has an invalid time range", w.text));
                return Err(e);
            }
            checked.push(Word {
                id: w.id.unwrap_or_default(),
                text: w.text,
                start: w.start,
                end: w.end,
                confidence: w.confidence,
            });
        }
        let text = captions::build(&checked, format, &rules);
        Ok(match format {
            Format::Remotion => serde_json::from_str(&text).expect("the builder writes JSON"),
            _ => Value::String(text),
        })
    })
}
