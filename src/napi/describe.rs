//! `describe()`: the description chain, as `hyperframes describe`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::routing;
use crate::chains;
use crate::report::DescribeResult;

#[napi(object)]
#[derive(Default)]
pub struct DescribeOptions {
    /// `openrouter` or `gemini` (default: OpenRouter when its key is set, else Gemini).
    pub provider: Option<String>,
    /// Skip descriptions (nothing is sent anywhere).
    pub local_only: Option<bool>,
    /// Keep an image's first provider failure instead of asking the next provider.
    pub no_fallback: Option<bool>,
}

/// One-sentence descriptions of images; a failure affects only its own image.
#[napi(ts_args_type = "images: Array<string>, options?: DescribeOptions | undefined | null")]
pub fn describe(
    env: &Env,
    images: Arg<Vec<String>>,
    options: Arg<Option<DescribeOptions>>,
) -> Result<PromiseRaw<'_, DescribeResult>> {
    super::errors::promise(env, async move {
        let images = images.get("describe", "images")?;
        let o = options.get("describe", "options")?.unwrap_or_default();
        let req = chains::describe::DescribeRequest {
            images: images.into_iter().map(Into::into).collect(),
            routing: routing(o.provider, o.local_only, o.no_fallback),
        };
        chains::describe::describe(&req).await.map(DescribeResult::from).map_err(Into::into)
    })
}

wanted!("an options object", ValueType::Object => DescribeOptions);
