//! The JS surface: thin wrappers over the same core the CLI uses, one file per command like
//! `cli/`. Arguments are judged in [`args`]; errors become JS errors in [`errors`].

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

pub(crate) mod args;
mod audio_tools;
mod auth;
mod captions;
mod describe;
mod doctor;
pub(crate) mod errors;
mod media;
mod models;
mod music;
mod plan;
mod sfx;
mod transcribe;
mod tts;
mod voices;

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::chains::Routing;
use crate::environment::Tty;
use args::{wanted, Arg};

#[napi(object)]
pub struct TtyInfo {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

/// Runs the `hyperframes` CLI in this process and returns its exit code.
#[napi(catch_unwind, ts_args_type = "argv: Array<string>, tty?: TtyInfo | undefined | null")]
pub fn run_cli(env: Env, argv: Arg<Vec<String>>, tty: Arg<Option<TtyInfo>>) -> Result<i32> {
    let (argv, tty) = errors::throwing(&env, || Ok((argv.get("runCli", "argv")?, tty.get("runCli", "tty")?)))?;
    let ctx = crate::cli::CliContext {
        tty: tty.map(|t| Tty { stdin: t.stdin, stdout: t.stdout, stderr: t.stderr }),
        node_version: node_version(&env),
    };
    Ok(crate::cli::run(argv, ctx))
}

pub(crate) fn node_version(env: &Env) -> Option<String> {
    env.get_node_version().ok().map(|v| format!("v{}.{}.{}", v.major, v.minor, v.patch))
}

pub(crate) fn routing(provider: Option<String>, local_only: Option<bool>, no_fallback: Option<bool>) -> Routing {
    Routing { provider, local_only: local_only.unwrap_or(false), no_fallback: no_fallback.unwrap_or(false) }
}

/// Whether this JS environment is closing (its `process` emitted `exit`, or Node is tearing it
/// down): work still running stops calling into it, and stops (see [`crate::work`]).
#[derive(Clone, Default)]
pub(crate) struct Closing(crate::work::Scope);

/// How long a worker's teardown waits for the native work it started to reach a stopping point
/// (the step in progress: a model load, a chunk). Bounded, so a stuck step cannot hang it.
const TEARDOWN_WAIT: Duration = Duration::from_secs(30);

impl Closing {
    /// This environment's flag (a fresh, never-set one if the addon was not initialised in it).
    pub(crate) fn of(env: &Env) -> Closing {
        env.get_instance_data::<Closing>().ok().flatten().map(|c| c.clone()).unwrap_or_default()
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.is_closed()
    }

    /// The work done for this environment.
    pub(crate) fn scope(&self) -> &crate::work::Scope {
        &self.0
    }

    /// `code`: the status `process.exit` announced, when known.
    /// Arms the exit guard too (see `engines::loaded`): the process may now exit while engines
    /// work, which must not run ONNX Runtime's teardown under a working session.
    fn set(&self, code: Option<i32>) {
        self.0.close();
        crate::engines::loaded::arm(code);
    }
}

/// `process.on(event, listener)`.
type ListenerAdder<'env> = Function<'env, FnArgs<(&'env str, Function<'env, (), ()>)>, Unknown<'env>>;

/// Runs when the addon loads into a JS environment: marks the environment closing on `exit` and
/// on teardown (workers, embedders), and arms the exit guard at that moment.
#[napi(module_exports)]
pub fn on_load(_exports: Object, env: Env) -> Result<()> {
    let closing = Closing::default();
    env.set_instance_data(closing.clone(), (), |_| {})?;
    let on_teardown = closing.clone();
    // A worker torn down: its work stops, and the teardown waits for the step in progress, so
    // that nothing it started still runs in ONNX Runtime when the process later exits.
    env.add_env_cleanup_hook((), move |_| {
        on_teardown.set(None);
        on_teardown.scope().wait_idle(TEARDOWN_WAIT);
    })?;
    let process: Object = env.get_global()?.get_named_property("process")?;
    let on: ListenerAdder = process.get_named_property("on")?;
    let listener = env.create_function_from_closure("hyperframesOnExit", move |ctx| {
        closing.set(ctx.first_arg::<i32>().ok());
        Ok(())
    })?;
    on.apply(process, FnArgs::from(("exit", listener)))?;
    Ok(())
}

wanted!("an options object", ValueType::Object => TtyInfo);
