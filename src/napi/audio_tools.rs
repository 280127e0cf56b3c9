//! The JS `loudness()`, `normalizeLoudness()` and `beats()`: the same core and the same results as
//! `hyperframes loudness` and `hyperframes beats`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use std::path::{Path, PathBuf};

use napi::bindgen_prelude::*;
use napi_derive::napi;

use super::args::{wanted, Arg};
use crate::audio::loudness::{self, Target};
use crate::engines::error::EngineError;
use crate::report::{BeatsResult, LoudnessMeasures, NormalizeResult};

wanted!("an options object", ValueType::Object => NormalizeOptions, BeatsOptions);

impl super::args::Wanted for Either<String, Vec<String>> {
    fn want() -> String {
        "a path or an array of paths".into()
    }
    fn accepts(got: ValueType) -> bool {
        matches!(got, ValueType::String | ValueType::Object)
    }
}

#[napi(object)]
#[derive(Default)]
pub struct NormalizeOptions {
    /// Integrated loudness to reach: LUFS (-70 to 0) or `web`, `social` (-14), `podcast` (-16),
    /// `broadcast` (-23). Default -14.
    #[napi(ts_type = "number | 'web' | 'social' | 'podcast' | 'broadcast'")]
    pub target: Option<Either<f64, String>>,
    /// The highest true peak of the result, dBTP (default -1).
    pub true_peak: Option<f64>,
    /// The largest gain allowed, dB (default 12); more is a `GAIN_TOO_LARGE` error.
    pub max_gain: Option<f64>,
}

#[napi(object)]
#[derive(Default)]
pub struct BeatsOptions {
    /// Write the beats file here too.
    pub output: Option<String>,
}

async fn blocking<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> std::result::Result<T, EngineError> + Send + 'static,
) -> std::result::Result<T, EngineError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| EngineError::new("INTERNAL", format!("{what} stopped: {e}")))?
}

/// Measures each file (EBU R128): integrated loudness, range, short-term maximum, true and sample peak.
#[napi(ts_args_type = "files: string | Array<string>")]
pub fn loudness(env: &Env, files: Arg<Either<String, Vec<String>>>) -> Result<PromiseRaw<'_, Vec<LoudnessMeasures>>> {
    super::errors::promise(env, async move {
        let files = match files.get("loudness", "files")? {
            Either::A(one) => vec![one],
            Either::B(many) => many,
        };
        blocking("measuring", move || {
            files
                .iter()
                .map(|f| {
                    let (m, rate, channels) = loudness::measure_file(Path::new(f))?;
                    Ok(LoudnessMeasures::new(f, &m, rate, channels))
                })
                .collect()
        })
        .await
    })
}

/// Normalises `input` to a target loudness with the true-peak limiter, writing a WAV to `output`.
#[napi(ts_args_type = "input: string, output: string, options?: NormalizeOptions | undefined | null")]
pub fn normalize_loudness(
    env: &Env,
    input: Arg<String>,
    output: Arg<String>,
    options: Arg<Option<NormalizeOptions>>,
) -> Result<PromiseRaw<'_, NormalizeResult>> {
    super::errors::promise(env, async move {
        let input = input.get("normalizeLoudness", "input")?;
        let output = output.get("normalizeLoudness", "output")?;
        let o = options.get("normalizeLoudness", "options")?.unwrap_or_default();
        let defaults = Target::default();
        let lufs = match o.target {
            None => defaults.lufs,
            Some(Either::A(n)) => {
                loudness::check_target(n)?;
                n
            }
            Some(Either::B(name)) => loudness::parse_target(&name)?,
        };
        let target = Target {
            lufs,
            true_peak_dbtp: o.true_peak.unwrap_or(defaults.true_peak_dbtp),
            max_gain_db: o.max_gain.unwrap_or(defaults.max_gain_db),
        };
        blocking("normalising", move || {
            let (n, rate, channels) = loudness::normalize_file(Path::new(&input), Path::new(&output), target)?;
            Ok(NormalizeResult::new(&input, &output, target, &n, rate, channels))
        })
        .await
    })
}

/// Tempo, beats (with their strength) and downbeats of a music file; `options.output` writes the beats file.
#[napi(ts_args_type = "file: string, options?: BeatsOptions | undefined | null")]
pub fn beats(env: &Env, file: Arg<String>, options: Arg<Option<BeatsOptions>>) -> Result<PromiseRaw<'_, BeatsResult>> {
    super::errors::promise(env, async move {
        let file = file.get("beats", "file")?;
        let output = options.get("beats", "options")?.unwrap_or_default().output.map(PathBuf::from);
        blocking("beat tracking", move || {
            let analysis = crate::audio::beats::analyse_file(Path::new(&file))?;
            let result = BeatsResult::new(&file, &analysis, output.as_ref().map(|p| p.display().to_string()));
            if let Some(path) = &output {
                crate::fsio::write_bytes(path, result.file_text().as_bytes())?;
            }
            Ok(result)
        })
        .await
    })
}
