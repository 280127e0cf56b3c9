//! An injectable clock for code that waits (polling, retries), so tests never wait for real time.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

/// Time source and timer.
pub trait Sleeper: Send + Sync {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    fn now(&self) -> Instant;
}

/// The real clock: `tokio::time`, so a paused test runtime stays consistent.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}
