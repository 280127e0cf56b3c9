//! `sfx()`: the sound-effect chain, as `hyperframes sfx`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::errors::chain_error;
use super::routing;
use crate::chains;

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

#[napi(object)]
pub struct SfxResult {
    pub path: String,
    /// `heygen` or `bundled`.
    pub provider: String,
    pub name: String,
    /// Seconds.
    pub duration: f64,
    pub anomalies: Vec<String>,
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
        let r = chains::sfx::sfx(&req).await.map_err(chain_error)?;
        Ok(SfxResult {
            path: r.path.to_string_lossy().into_owned(),
            provider: r.provider.to_string(),
            name: r.name,
            duration: crate::engines::kokoro::service::round_ms(r.duration),
            anomalies: r.anomalies,
        })
    })
}

wanted!("an options object", ValueType::Object => SfxOptions);
