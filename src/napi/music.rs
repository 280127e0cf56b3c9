//! `music()`: the music chain, as `hyperframes music`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::routing;
use crate::chains::{self, ChainError};
use crate::report::MusicResult;

#[napi(object)]
#[derive(Default)]
pub struct MusicOptions {
    /// Length in seconds (default 30).
    pub seconds: Option<f64>,
    /// Where the WAV goes (default `bgm.wav`).
    pub output: Option<String>,
    /// `heygen`, `lyria` or `musicgen` (default: the plan's choice, falling through).
    pub provider: Option<String>,
    pub local_only: Option<bool>,
    pub no_fallback: Option<bool>,
    /// Sampling seed for the local MusicGen engine (a whole number up to 2^53 − 1; random when unset).
    pub seed: Option<f64>,
}

/// Background music for `prompt` (a mood to search, or a prompt to generate), fitted to a length.
#[napi(ts_args_type = "prompt: string, options?: MusicOptions | undefined | null")]
pub fn music(
    env: &Env,
    prompt: Arg<String>,
    options: Arg<Option<MusicOptions>>,
) -> Result<PromiseRaw<'_, MusicResult>> {
    super::errors::promise(env, async move {
        let prompt = prompt.get("music", "prompt")?;
        let o = options.get("music", "options")?.unwrap_or_default();
        let max = crate::engines::musicgen::sampling::MAX_SEED as f64;
        let seed = match o.seed {
            None => None,
            Some(s) if s.fract() == 0.0 && (0.0..=max).contains(&s) => Some(s as u64),
            Some(s) => {
                let e =
                    ChainError::new("BAD_SEED", format!("seed must be a whole number from 0 to 2^53 − 1 (got {s})."));
                return Err(e.with_hint("Pass the seed a previous result reported, or leave it out.").into());
            }
        };
        let req = chains::music::MusicRequest {
            prompt,
            seconds: o.seconds.unwrap_or(chains::music::DEFAULT_SECONDS),
            output: o.output.unwrap_or_else(|| "bgm.wav".into()).into(),
            routing: routing(o.provider, o.local_only, o.no_fallback),
        };
        let generation = chains::music::Generation { seed, progress: None };
        chains::music::music_generating(&req, &generation).await.map(MusicResult::from).map_err(Into::into)
    })
}

wanted!("an options object", ValueType::Object => MusicOptions);
