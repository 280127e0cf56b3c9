//! `describe()`: the description chain, as `hyperframes describe`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::errors::chain_error;
use super::routing;
use crate::chains;

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

#[napi(object)]
pub struct ImageDescription {
    pub path: String,
    pub description: Option<String>,
    /// Set when this image failed; the others are unaffected.
    pub error: Option<String>,
    pub code: Option<String>,
    pub hint: Option<String>,
    /// The provider that described it (or failed last); null when nothing was sent.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Earlier providers' failures for this image, before another one served.
    pub anomalies: Vec<String>,
}

#[napi(object)]
pub struct DescribeResult {
    /// True when no vision provider is configured (or local-only): nothing was described.
    pub skipped: bool,
    pub reason: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// One per image, in order (empty when skipped).
    pub images: Vec<ImageDescription>,
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
        let r = chains::describe::describe(&req).await.map_err(chain_error)?;
        Ok(DescribeResult {
            skipped: r.skipped,
            reason: r.reason,
            provider: r.provider.map(|p| p.to_string()),
            model: r.model,
            images: r
                .images
                .into_iter()
                .map(|i| ImageDescription {
                    path: i.path.to_string_lossy().into_owned(),
                    description: i.description,
                    code: i.error.as_ref().map(|e| e.code.to_string()),
                    hint: i.error.as_ref().and_then(|e| e.hint.clone()),
                    error: i.error.map(|e| crate::auth::scrub::scrub(&e.message)),
                    provider: i.provider.map(|p| p.to_string()),
                    model: i.model,
                    anomalies: i.anomalies.iter().map(|a| crate::auth::scrub::scrub(a)).collect(),
                })
                .collect(),
        })
    })
}

wanted!("an options object", ValueType::Object => DescribeOptions);
