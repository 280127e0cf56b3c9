//! Helpers shared by the crate's unit tests:
//!
//! - [`http`]: the one scripted HTTP(S) server on 127.0.0.1 every test that needs a server uses.
//! - [`env_lock`] + [`EnvGuard`]: environment changes are process-wide, so tests that make them
//!   hold one lock and restore what they changed.
//! - [`real_model`] / [`onnxruntime_lib`]: the real-model tier. A missing model is a visible
//!   `SKIPPED:` line on stderr, and a failure where CI installs the models.

pub mod http;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

static ENV_LOCK: Mutex<()> = Mutex::new(());

pub fn env_lock() -> MutexGuard<'static, ()> {
    ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets (Some) or removes (None) variables and restores them on drop. Hold `env_lock()` first.
pub struct EnvGuard {
    saved: Vec<(String, Option<std::ffi::OsString>)>,
}

impl EnvGuard {
    pub fn set(vars: &[(&str, Option<&str>)]) -> Self {
        let saved = vars.iter().map(|(k, _)| (k.to_string(), std::env::var_os(k))).collect();
        for (k, v) in vars {
            // SAFETY: tests that touch the environment serialise on ENV_LOCK.
            unsafe {
                match v {
                    Some(v) => std::env::set_var(k, v),
                    None => std::env::remove_var(k),
                }
            }
        }
        Self { saved }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (k, v) in self.saved.drain(..).rev() {
            unsafe {
                match v {
                    Some(v) => std::env::set_var(&k, v),
                    None => std::env::remove_var(&k),
                }
            }
        }
    }
}

/// The models root of the real-model tier (`scripts/test.sh` sets it to `.cache/test-models`).
pub const MODELS_ENV: &str = "HYPERFRAMES_TEST_MODELS_DIR";

fn models_root() -> Option<PathBuf> {
    std::env::var_os(MODELS_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// In CI with the models dir set, the models were installed on purpose: a missing one is a broken
/// setup, not a reason to skip.
fn must_run() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty()) && models_root().is_some()
}

/// Says on stderr that the running test checked nothing and why (or fails, see [`must_run`]).
pub fn skip<T>(why: &str) -> Option<T> {
    let current = std::thread::current();
    let test = current.name().unwrap_or("?");
    assert!(!must_run(), "{test}: {why}; CI set {MODELS_ENV}, so every real-model test must run");
    // Straight to the stream: libtest captures `eprintln!` of passing tests, and a skip must show.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
    None
}

/// The installed catalog model `model` (its folder under `$HYPERFRAMES_TEST_MODELS_DIR`), or a
/// visible skip.
pub fn real_model(model: &str) -> Option<PathBuf> {
    let spec = crate::engines::catalog::find(model).unwrap_or_else(|| panic!("{model} is not in the catalog"));
    match models_root() {
        Some(root) if crate::engines::catalog::status(&root, spec, false).installed => Some(spec.dir_in(&root)),
        Some(root) => skip(&format!("{model} not installed in {} ({MODELS_ENV})", root.display())),
        None => skip(&format!(
            "{model} not installed (set {MODELS_ENV} to a models dir holding {model}/, as scripts/test.sh does; \
             `npm run models:registry` installs them)"
        )),
    }
}

/// The ONNX Runtime library `npm ci` puts under this checkout's `node_modules`, or a visible skip.
pub fn onnxruntime_lib() -> Option<PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    match crate::engines::runtime::find_npm_runtime(root) {
        Some(lib) => Some(lib),
        None => skip(&format!("ONNX Runtime not installed under {}/node_modules (run `npm ci`)", root.display())),
    }
}

/// `frames` MPEG-1 layer III frames of silence (128 kb/s, 44.1 kHz): `frames` × 1152 / 44100 s.
pub fn silent_mp3(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..frames {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xff, 0xfb, 0x90, 0x00]);
        out.extend(frame);
    }
    out
}
