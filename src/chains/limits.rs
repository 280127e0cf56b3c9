//! How many requests each provider serves at once. A batch (`media build`) shares one [`Limits`]
//! across its lines so a hosted API sees at most `hosted` requests from us at a time, and a local
//! engine (which already uses every core) runs one job at a time. Single requests use the
//! unlimited default.

use std::collections::HashMap;

use tokio::sync::{Semaphore, SemaphorePermit};

/// The hosted limit when neither the request nor `HYPERFRAMES_TTS_CONCURRENCY` says.
pub const DEFAULT_HOSTED: usize = 4;
pub const CONCURRENCY_ENV: &str = "HYPERFRAMES_TTS_CONCURRENCY";

const HOSTED: &[&str] = &["heygen", "elevenlabs", "lyria", "openrouter", "gemini"];
const LOCAL: &[&str] = &["kokoro", "musicgen", "bundled"];

#[derive(Debug, Default)]
pub struct Limits {
    per_provider: HashMap<&'static str, Semaphore>,
}

impl Limits {
    /// `hosted` requests at once per hosted provider, `local` jobs at once per local engine
    /// (both at least 1).
    pub fn new(hosted: usize, local: usize) -> Self {
        let mut per_provider = HashMap::new();
        for p in HOSTED {
            per_provider.insert(*p, Semaphore::new(hosted.max(1)));
        }
        for p in LOCAL {
            per_provider.insert(*p, Semaphore::new(local.max(1)));
        }
        Self { per_provider }
    }

    /// Waits for a turn with `provider`; `None` when it is not limited.
    pub async fn permit(&self, provider: &str) -> Option<SemaphorePermit<'_>> {
        let semaphore = self.per_provider.get(provider)?;
        // The semaphores are never closed, so acquiring cannot fail.
        semaphore.acquire().await.ok()
    }
}

/// The hosted limit from `HYPERFRAMES_TTS_CONCURRENCY` (a positive integer), else the default.
pub fn hosted_from_env() -> usize {
    std::env::var(CONCURRENCY_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(DEFAULT_HOSTED)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    async fn peak_of(limits: &Limits, provider: &str, jobs: usize) -> usize {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let job = || async {
            let _permit = limits.permit(provider).await;
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            running.fetch_sub(1, Ordering::SeqCst);
        };
        futures_util::future::join_all((0..jobs).map(|_| job())).await;
        peak.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn hosted_and_local_providers_have_their_own_bounds() {
        let limits = Limits::new(3, 1);
        assert_eq!(peak_of(&limits, "heygen", 10).await, 3);
        assert_eq!(peak_of(&limits, "kokoro", 10).await, 1);
        assert_eq!(peak_of(&limits, "someone-else", 10).await, 10, "unknown providers are not limited");
        assert_eq!(peak_of(&Limits::default(), "heygen", 10).await, 10, "the default limits nothing");
    }

    #[test]
    fn the_hosted_limit_reads_the_environment() {
        let _lock = crate::test_support::env_lock();
        for (value, want) in [(Some("2"), 2), (Some(" 8 "), 8), (Some("0"), 4), (Some("many"), 4), (None, 4)] {
            let _env = crate::test_support::EnvGuard::set(&[(CONCURRENCY_ENV, value)]);
            assert_eq!(hosted_from_env(), want, "{value:?}");
        }
    }
}
