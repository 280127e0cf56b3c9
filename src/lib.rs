#![deny(clippy::all)]

pub mod audio;
pub mod auth;
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
pub mod chains;
pub mod cli;
pub mod clock;
pub mod doctor;
pub mod engines;
pub mod environment;
pub mod error;
pub mod fsio;
pub mod http;
mod json_keys;
pub mod media;
// Not in benchmark builds: benches/ are executables, and the N-API symbols exist only inside Node.
#[cfg(not(feature = "bench"))]
mod napi;
pub mod output;
pub mod providers;
pub mod report;
pub mod sfx;
pub mod tls;

#[cfg(test)]
mod test_support;

/// Runs blocking work (file locks, the OS keyring) off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(f).await {
        Ok(v) => v,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
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
