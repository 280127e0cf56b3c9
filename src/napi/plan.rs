//! `plan()`: the same plan as `hyperframes plan --json`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};

#[napi(object)]
pub struct PlanOptions {
    /// Plan as if offline: hosted providers are never used.
    pub local_only: Option<bool>,
}

/// Which provider each capability will use and why the others are skipped (same as `hyperframes plan --json`).
#[napi(ts_args_type = "options?: PlanOptions | undefined | null")]
pub fn plan(
    env: &Env,
    options: Arg<Option<PlanOptions>>,
) -> Result<PromiseRaw<'_, crate::providers::plan::PlanReport>> {
    super::errors::promise(env, async move {
        let options = options.get("plan", "options")?;
        let local_only = options.and_then(|o| o.local_only).unwrap_or(false);
        let plans = crate::blocking(move || {
            crate::providers::plan::plan_all(&crate::providers::plan::Facts::gather(local_only))
        })
        .await;
        Ok(crate::providers::plan::PlanReport::new(&plans))
    })
}

wanted!("an options object", ValueType::Object => PlanOptions);
