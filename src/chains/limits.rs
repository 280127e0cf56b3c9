//! How many requests each provider serves at once. A local engine (which already uses every core,
//! and holds its own working memory for each job it runs) takes one job at a time in the whole
//! process: every caller waits for its turn in the same queue ([`local_turn`]), so a `media build`,
//! concurrent JS calls and the chains share it. A batch (`media build`) also shares one [`Limits`]
//! across its lines so a hosted API sees at most `hosted` requests from us at a time; single
//! requests use the default, which does not limit hosted providers.

use std::collections::HashMap;

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::providers::Provider;

/// The hosted limit when neither the request nor `HYPERFRAMES_TTS_CONCURRENCY` says.
pub const DEFAULT_HOSTED: usize = 4;
pub const CONCURRENCY_ENV: &str = "HYPERFRAMES_TTS_CONCURRENCY";

const HOSTED: &[Provider] =
    &[Provider::Heygen, Provider::Elevenlabs, Provider::Lyria, Provider::Openrouter, Provider::Gemini];
const LOCAL: [Provider; 3] = [Provider::Kokoro, Provider::Musicgen, Provider::Bundled];
/// One turn per local engine, process-wide (same order as [`LOCAL`]).
static LOCAL_TURNS: [Semaphore; LOCAL.len()] =
    [Semaphore::const_new(1), Semaphore::const_new(1), Semaphore::const_new(1)];

/// Waits for `engine`'s turn in the process-wide queue; `None` when it is not a local engine.
pub async fn local_turn(engine: Provider) -> Option<SemaphorePermit<'static>> {
    let queue = &LOCAL_TURNS[LOCAL.iter().position(|p| *p == engine)?];
    // The semaphores are never closed, so acquiring cannot fail.
    queue.acquire().await.ok()
}

#[derive(Debug, Default)]
pub struct Limits {
    hosted: HashMap<Provider, Semaphore>,
}

impl Limits {
    /// `hosted` requests at once (at least 1) per hosted provider.
    pub fn new(hosted: usize) -> Self {
        Self { hosted: HOSTED.iter().map(|p| (*p, Semaphore::new(hosted.max(1)))).collect() }
    }

    /// Waits for a turn with `provider` (a local engine's process-wide turn, or this batch's
    /// hosted limit); `None` when it is not limited.
    pub async fn permit(&self, provider: Provider) -> Option<SemaphorePermit<'_>> {
        if let Some(turn) = local_turn(provider).await {
            return Some(turn);
        }
        // The semaphores are never closed, so acquiring cannot fail.
        self.hosted.get(&provider)?.acquire().await.ok()
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

    async fn peak_of(limits: &Limits, provider: Provider, jobs: usize) -> usize {
        peak_across(&[limits], provider, jobs).await
    }

    /// The most jobs running at once when `jobs` jobs take turns from `limits` in rotation.
    async fn peak_across(limits: &[&Limits], provider: Provider, jobs: usize) -> usize {
        let (running, peak) = (&AtomicUsize::new(0), &AtomicUsize::new(0));
        let job = |i: usize| async move {
            let _permit = limits[i % limits.len()].permit(provider).await;
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::task::yield_now().await;
            tokio::task::yield_now().await;
            running.fetch_sub(1, Ordering::SeqCst);
        };
        futures_util::future::join_all((0..jobs).map(job)).await;
        peak.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn hosted_and_local_providers_have_their_own_bounds() {
        let limits = Limits::new(3);
        assert_eq!(peak_of(&limits, Provider::Heygen, 10).await, 3);
        assert_eq!(peak_of(&limits, Provider::Kokoro, 10).await, 1);
        assert_eq!(
            peak_of(&Limits::default(), Provider::Heygen, 10).await,
            10,
            "the default does not limit hosted calls"
        );
        assert_eq!(peak_of(&Limits::default(), Provider::Musicgen, 10).await, 1, "local engines always take turns");
    }

    #[tokio::test]
    async fn a_local_engine_takes_one_job_at_a_time_across_every_limits() {
        assert_eq!(peak_across(&[&Limits::new(4), &Limits::default()], Provider::Bundled, 6).await, 1);
        assert_eq!(
            peak_across(&[&Limits::new(4), &Limits::new(4)], Provider::Heygen, 8).await,
            8,
            "hosted limits are per batch"
        );
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
