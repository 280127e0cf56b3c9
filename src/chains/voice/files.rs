//! Speaking into files: the audio is written chunk by chunk as it is made, so a long text never
//! sits in memory as a whole WAV (nor as its samples, unless the caller keeps them). The new file
//! takes its path only once everything is written; an error, a crash or Ctrl-C before that leaves
//! an earlier file there as it was.

use std::sync::{Arc, Mutex};

use super::{voice_delivered, Delivery, VoiceChunk, VoiceRequest, VoiceResult};
use crate::audio::wav::WavOut;
use crate::chains::{ChainError, ChainResult, Providers};
use crate::engines::error::EngineResult;
use crate::engines::kokoro::service::{self, Outputs};
use crate::providers::plan::Facts;

/// Speaks `req.text` as [`voice_delivered`] does and writes what `outputs` asks for: the audio as
/// it comes, then the words and captions (see [`service::finish_outputs`]). With `keep_samples`
/// false the result's `samples` is empty (`sample_count` says how many were written).
pub async fn voice_to_files(
    req: &VoiceRequest,
    facts: &Facts,
    providers: &Providers,
    delivery: &Delivery,
    outputs: Outputs,
    keep_samples: bool,
) -> ChainResult<VoiceResult> {
    service::check_outputs(&outputs)?;
    let format = outputs.format.unwrap_or_default();
    let audio: Arc<Mutex<Option<WavOut>>> = Arc::default();
    let mut delivery = delivery.clone();
    if let Some(path) = outputs.audio.clone() {
        let (theirs, file) = (delivery.on_chunk.take(), audio.clone());
        delivery.on_chunk = Some(Arc::new(move |c: &VoiceChunk| {
            let mut file = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let out = match file.as_mut() {
                Some(out) => out,
                None => file.insert(WavOut::create(&path, c.sample_rate, format)?),
            };
            out.push(&c.samples, c.sample_rate)?;
            theirs.as_ref().map_or(Ok(()), |f| f(c))
        }));
        delivery.stream_only |= !keep_samples;
    }
    let result = voice_delivered(req, facts, providers, &delivery).await?;
    let started = audio.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    crate::blocking(move || -> EngineResult<VoiceResult> {
        let audio = match (started, &outputs.audio) {
            (Some(out), _) => Some(out),
            // Nothing was delivered (no chunk at all): the file still gets its header.
            (None, Some(path)) => Some(WavOut::create(path, result.sample_rate, format)?),
            (None, None) => None,
        };
        let words = service::words_json(&result.words);
        service::finish_outputs(audio, &result.caption_words(), &words, &outputs)?;
        Ok(result)
    })
    .await
    .map_err(ChainError::from)
}
