//! The JS surface of local transcription: `transcribe(audio, options)`, the same engine and result
//! as `hyperframes transcribe --json`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::errors::engine_error;
use crate::engines::error::EngineError;
use crate::engines::whisper::{self, TranscribeRequest, Transcript};

wanted!("an options object", ValueType::Object => TranscribeOptions);

/// `transcribe`'s audio: a path, or the file's bytes.
impl super::args::Wanted for Either<String, Buffer> {
    fn want() -> String {
        "a file path or a Buffer of the file's bytes".into()
    }
    fn accepts(got: ValueType) -> bool {
        matches!(got, ValueType::String | ValueType::Object)
    }
}

#[napi(object)]
#[derive(Default, Clone)]
pub struct TranscribeOptions {
    /// The text that is spoken: its words are placed in the audio, spelled as written.
    pub script: Option<String>,
    /// `whisper-tiny.en` (default) or `whisper-base` (multilingual).
    pub model: Option<String>,
    /// Language code (e.g. `en`); detected by multilingual models when absent.
    pub lang: Option<String>,
    /// For a Buffer: its format when the bytes alone do not tell (`wav`, `mp3`, `flac`, `ogg`).
    pub format: Option<String>,
}

#[napi(object)]
pub struct TranscribedWord {
    pub id: String,
    pub text: String,
    /// Seconds.
    pub start: f64,
    pub end: f64,
    /// Mean probability of the word's tokens, 0–1.
    pub confidence: f64,
}

#[napi(object)]
pub struct TranscriptSegment {
    pub id: u32,
    pub start: f64,
    pub end: f64,
    pub text: String,
}

#[napi(object)]
pub struct UnalignedWord {
    /// Position of the word in the script (0-based).
    pub index: u32,
    pub text: String,
    pub reason: String,
}

#[napi(object)]
pub struct TranscribeResult {
    pub text: String,
    pub language: String,
    pub model: String,
    pub duration_seconds: f64,
    pub words: Vec<TranscribedWord>,
    pub segments: Vec<TranscriptSegment>,
    /// Script words that could not be placed (empty without a script).
    pub unaligned: Vec<UnalignedWord>,
}

impl From<Transcript> for TranscribeResult {
    fn from(t: Transcript) -> Self {
        TranscribeResult {
            text: t.text,
            language: t.language,
            model: t.model,
            duration_seconds: t.duration_seconds,
            words: t
                .words
                .into_iter()
                .map(|w| TranscribedWord {
                    id: w.id,
                    text: w.text,
                    start: w.start,
                    end: w.end,
                    confidence: w.confidence,
                })
                .collect(),
            segments: t
                .segments
                .into_iter()
                .map(|s| TranscriptSegment { id: s.id as u32, start: s.start, end: s.end, text: s.text })
                .collect(),
            unaligned: t
                .unaligned
                .into_iter()
                .map(|u| UnalignedWord { index: u.index as u32, text: u.text, reason: u.reason })
                .collect(),
        }
    }
}

/// Transcribes a recording (a path, or the file's bytes) with word times; with `options.script`,
/// places the script's words in it instead.
#[napi(ts_args_type = "audio: string | Buffer, options?: TranscribeOptions | undefined | null")]
pub fn transcribe(
    env: &Env,
    audio: Arg<Either<String, Buffer>>,
    options: Arg<Option<TranscribeOptions>>,
) -> Result<PromiseRaw<'_, TranscribeResult>> {
    super::errors::promise(env, async move {
        let (audio, options) = (audio.get("transcribe", "audio")?, options.get("transcribe", "options")?);
        crate::init_logging();
        let o = options.unwrap_or_default();
        let req = TranscribeRequest { model: o.model, language: o.lang, script: o.script };
        enum Input {
            Path(String),
            Bytes(Vec<u8>, Option<String>),
        }
        let input = match audio {
            Either::A(path) => Input::Path(path),
            Either::B(buf) => Input::Bytes(buf.to_vec(), o.format),
        };
        let run = move || match input {
            Input::Path(p) => whisper::transcribe_file(std::path::Path::new(&p), &req, &|_, _| {}),
            Input::Bytes(b, hint) => whisper::transcribe_bytes(&b, hint.as_deref(), &req, &|_, _| {}),
        };
        let result = tokio::task::spawn_blocking(run)
            .await
            .map_err(|e| engine_error(EngineError::new("INTERNAL", format!("transcription stopped: {e}"))))?;
        result.map(TranscribeResult::from).map_err(engine_error)
    })
}
