//! Helpers shared by unit tests: environment changes are process-wide, so tests that make them
//! hold one lock and restore what they changed.

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
