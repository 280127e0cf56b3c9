//! The JS surface of local transcription: `transcribe(audio, options)`, the same engine and result
//! as `hyperframes transcribe --json`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use crate::engines::error::EngineError;
use crate::engines::whisper::{self, TranscribeRequest};
use crate::report::TranscribeResult;

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
        let running = crate::work::enter_current();
        let result = tokio::task::spawn_blocking(move || crate::work::run_blocking(running, run))
            .await
            .map_err(|e| EngineError::new("INTERNAL", format!("transcription stopped: {e}")))?;
        result.map(TranscribeResult::from)
    })
}
