//! `doctor()`: the same report as `hyperframes doctor --json`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::doctor::DoctorReport;

/// The same report as `hyperframes doctor --json`.
#[napi(ts_return_type = "Promise<DoctorReport>")]
pub fn doctor(env: &Env) -> Result<PromiseRaw<'_, DoctorReport>> {
    crate::init_logging();
    let version = super::node_version(env);
    env.spawn_future(async move { Ok(crate::blocking(move || crate::doctor::run(version.as_deref())).await.report()) })
}
