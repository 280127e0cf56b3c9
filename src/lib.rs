//! hyperframes: voice, captions, music and sound effects for videos made from code, as a Node
//! addon (napi-rs) with a CLI and a JS API over one core.
//!
//! Imports flow one way: the two front ends call the domains, the domains never call the front
//! ends, and no two modules import each other.
//!
//! Front ends (parsing and printing only):
//! - `cli`: `hyperframes …`, one file per command; errors print through `cli::fail`.
//! - `napi`: the JS API, one file per command like `cli/`; `napi::args` judges arguments and
//!   `napi::errors` turns `error::Error` into the JS `HyperframesError`.
//! - `report`: what commands return, one serde struct per result shared by `--json` and JS.
//! - `output`: everything printed, scrubbed of secrets.
//!
//! Domains:
//! - `auth`: sign-in (API key, browser OAuth with PKCE, device flow), the shared credentials
//!   file (`store`), resolution order (`resolve`), secret scrubbing (`scrub`), the OS keyring.
//! - `providers`: one module per hosted service over one client base (`client`), the
//!   `providers::Provider` ids, shared speech helpers (`speech`), the retry and time-budget
//!   policy (`http`) and the plan of which provider serves each capability (`plan`).
//! - `chains`: one entry point per capability (voice, music, sfx, describe) that walks the plan
//!   and falls through to the next provider; `chains::voice` is the one way anything speaks.
//! - `engines`: the local models through ONNX Runtime (`runtime`; `resident` hands what they free
//!   back to the system): `kokoro` (speech with exact word timings), `whisper` (transcription and
//!   alignment to a script, words timed by calibrated `heads`), `musicgen`; the model `catalog`
//!   and its installer.
//! - `audio`: decoding, WAV, resampling, and captions (SRT, WebVTT, ASS, Remotion).
//! - `media`: `media build`, a script's whole audio with its manifest.
//! - `sfx`: the bundled sound-effect library.
//! - `doctor`: the environment check.
//!
//! Shared ground: `error` (the one error every domain converts into), `environment` (the one
//! snapshot of variables that the planner and the clients are built from), `fsio` (every output
//! file, written beside its target, unnamed where Linux allows, and renamed over it), `json_keys` (typos in JSON input), `http`
//! (bounded bodies), `tls` (trusted roots), `clock` (injected time).

#![deny(clippy::all)]
// Modules are crate-private so that unused code warns; benchmark builds leave out the JS surface,
// which is what calls much of it.
#![cfg_attr(feature = "bench", allow(dead_code, unused_imports))]

pub(crate) mod audio;
pub(crate) mod auth;
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
pub(crate) mod chains;
pub(crate) mod cli;
pub(crate) mod clock;
pub(crate) mod doctor;
pub(crate) mod engines;
pub(crate) mod environment;
pub(crate) mod error;
pub(crate) mod fsio;
pub(crate) mod http;
mod json_keys;
pub(crate) mod media;
// Not in benchmark builds: benches/ are executables, and the N-API symbols exist only inside Node.
#[cfg(not(feature = "bench"))]
mod napi;
pub(crate) mod output;
pub(crate) mod providers;
pub(crate) mod report;
pub(crate) mod sfx;
pub(crate) mod tls;
pub(crate) mod work;

#[cfg(test)]
mod test_support;

/// Runs blocking work (file locks, the OS keyring) off the async runtime.
/// Counted as work of the current [`work::Scope`], if any, until `f` returns.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let running = work::enter_current();
    match tokio::task::spawn_blocking(move || work::run_blocking(running, f)).await {
        Ok(v) => v,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled before it started: the runtime is shutting down (its JS environment is
        // gone), and this task with it; there is no value to give and nobody to give it to.
        Err(_) => std::future::pending().await,
    }
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Logs go to stderr, scrubbed, filtered by `HYPERFRAMES_LOG` (e.g. `debug`); off by default.
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Ok(filter) = std::env::var("HYPERFRAMES_LOG") else { return };
        if filter.trim().is_empty() {
            return;
        }
        let filter = tracing_subscriber::EnvFilter::try_new(format!("hyperframes={filter}"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("hyperframes=info"));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(auth::scrub::stderr_writer())
            .with_ansi(false)
            .try_init();
    });
}
