//! `models…` for JS: the model manager behind `hyperframes models`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use crate::engines::error::EngineError;
use crate::engines::{catalog, install, models_dir};
use crate::report::{InstallResult, ModelList};

fn find_model(name: &str) -> std::result::Result<&'static catalog::ModelSpec, crate::error::Error> {
    catalog::find(name).ok_or_else(|| EngineError::new("UNKNOWN_MODEL", format!("Unknown model '{name}'.")))
}

/// Every model and whether it is installed (same as `hyperframes models list --json`).
#[napi]
pub fn models_list() -> ModelList {
    let dir = models_dir::models_dir();
    ModelList {
        dir: dir.display().to_string(),
        models: catalog::all().iter().map(|m| catalog::ModelReport::new(m, &catalog::status(&dir, m, false))).collect(),
    }
}

#[napi(object)]
pub struct InstallOptions {
    /// A local file or folder, or a URL, instead of the official source.
    pub from: Option<String>,
}

/// Installs a model (verifying sha256; resumes partial downloads).
#[napi(ts_args_type = "name: string, options?: InstallOptions | undefined | null")]
pub fn models_install(
    env: &Env,
    name: Arg<String>,
    options: Arg<Option<InstallOptions>>,
) -> Result<PromiseRaw<'_, InstallResult>> {
    super::errors::promise(env, async move {
        crate::init_logging();
        let (name, options) = (name.get("modelsInstall", "name")?, options.get("modelsInstall", "options")?);
        let spec = find_model(&name)?;
        let source = match options.and_then(|o| o.from) {
            None => install::Source::Official,
            Some(f) if f.starts_with("http://") || f.starts_with("https://") => install::Source::FromUrl(f),
            Some(f) => install::Source::From(f.into()),
        };
        let report = install::install(spec, &models_dir::models_dir(), &source, &|_| {}).await?;
        Ok(InstallResult::from(report))
    })
}

/// Removes a model's files; returns the removed paths.
#[napi(ts_args_type = "name: string")]
pub fn models_remove(env: &Env, name: Arg<String>) -> Result<Vec<String>> {
    super::errors::throwing(env, || {
        let name = name.get("modelsRemove", "name")?;
        let spec = find_model(&name)?;
        let removed = install::remove(spec, &models_dir::models_dir())?;
        Ok(removed.iter().map(|p| p.display().to_string()).collect())
    })
}

/// Re-hashes a model's files against their published sha256 (one model of `models verify --json`).
#[napi(ts_args_type = "name: string")]
pub fn models_verify(env: &Env, name: Arg<String>) -> Result<PromiseRaw<'_, catalog::ModelReport>> {
    super::errors::promise(env, async move {
        let name = name.get("modelsVerify", "name")?;
        let spec = find_model(&name)?;
        let st = crate::blocking(move || install::verify(spec, &models_dir::models_dir())).await;
        Ok(catalog::ModelReport::new(spec, &st))
    })
}

wanted!("an options object", ValueType::Object => InstallOptions);
