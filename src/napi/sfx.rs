//! `sfx()`: the sound-effect chain, as `hyperframes sfx`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::routing;
use crate::chains;
use crate::report::SfxResult;

#[napi(object)]
#[derive(Default)]
pub struct SfxOptions {
    /// Where the WAV goes (default `<query>.wav` in the working directory).
    pub output: Option<String>,
    /// `heygen` or `bundled` (default: the plan's choice, falling through).
    pub provider: Option<String>,
    /// Never use a hosted provider.
    pub local_only: Option<bool>,
    /// Fail on the first provider failure.
    pub no_fallback: Option<bool>,
}

/// A sound effect for `query`: the HeyGen library when signed in, else the bundled library.
#[napi(ts_args_type = "query: string, options?: SfxOptions | undefined | null")]
pub fn sfx(env: &Env, query: Arg<String>, options: Arg<Option<SfxOptions>>) -> Result<PromiseRaw<'_, SfxResult>> {
    super::errors::promise(env, async move {
        let query = query.get("sfx", "query")?;
        let o = options.get("sfx", "options")?.unwrap_or_default();
        let output = o.output.unwrap_or_else(|| format!("{}.wav", crate::sfx::library::slug(&query)));
        let req = chains::sfx::SfxRequest {
            query,
            output: output.into(),
            routing: routing(o.provider, o.local_only, o.no_fallback),
        };
        chains::sfx::sfx(&req).await.map(SfxResult::from).map_err(Into::into)
    })
}

wanted!("an options object", ValueType::Object => SfxOptions);
