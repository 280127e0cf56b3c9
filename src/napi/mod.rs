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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
/// down): work still running stops calling into it.
#[derive(Clone, Default)]
pub(crate) struct Closing(Arc<AtomicBool>);

impl Closing {
    /// This environment's flag (a fresh, never-set one if the addon was not initialised in it).
    pub(crate) fn of(env: &Env) -> Closing {
        env.get_instance_data::<Closing>().ok().flatten().map(|c| c.clone()).unwrap_or_default()
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `code`: the status `process.exit` announced, when known.
    fn set(&self, code: Option<i32>) {
        self.0.store(true, Ordering::SeqCst);
        exit_guard::arm(code);
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
    env.add_env_cleanup_hook((), move |_| on_teardown.set(None))?;
    let process: Object = env.get_global()?.get_named_property("process")?;
    let on: ListenerAdder = process.get_named_property("on")?;
    let listener = env.create_function_from_closure("hyperframesOnExit", move |ctx| {
        closing.set(ctx.first_arg::<i32>().ok());
        Ok(())
    })?;
    on.apply(process, FnArgs::from(("exit", listener)))?;
    Ok(())
}

/// `process.exit()` (or the end of `main`) while a local engine is loading or running would run
/// ONNX Runtime's static destructors under the working session, which crashes (signal 11) or
/// prints errors. The guard is an exit handler registered as the exit begins — so it runs before
/// every destructor registered earlier, ONNX Runtime's included — that ends the process at once,
/// with the same status, if an engine is still in use; otherwise exit carries on as usual.
mod exit_guard {
    use std::ffi::{c_int, c_void};
    use std::sync::atomic::{AtomicI32, Ordering};

    /// The status `process.exit` announced, for platforms whose exit handlers are not told it.
    static ANNOUNCED: AtomicI32 = AtomicI32::new(0);

    pub(super) fn arm(code: Option<i32>) {
        if let Some(code) = code {
            ANNOUNCED.store(code, Ordering::SeqCst);
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        {
            extern "C" {
                /// glibc: like `atexit`, but the handler receives the exit status.
                fn on_exit(handler: extern "C" fn(c_int, *mut c_void), arg: *mut c_void) -> c_int;
            }
            extern "C" fn handler(status: c_int, _: *mut c_void) {
                end_now_if_busy(status);
            }
            // SAFETY: registers a plain function with no captured state.
            unsafe { on_exit(handler, std::ptr::null_mut()) };
        }
        #[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
        {
            extern "C" fn handler() {
                end_now_if_busy(ANNOUNCED.load(Ordering::SeqCst));
            }
            // SAFETY: registers a plain function with no captured state.
            unsafe { libc::atexit(handler) };
        }
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    fn end_now_if_busy(status: c_int) {
        if crate::engines::loaded::any_in_use() {
            #[cfg(unix)]
            // SAFETY: flushing C stdio and ending the process are valid at any point of exit.
            unsafe {
                libc::fflush(std::ptr::null_mut());
                libc::_exit(status)
            }
        }
    }
}

wanted!("an options object", ValueType::Object => TtyInfo);
