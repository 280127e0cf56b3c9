//! Which hosted providers have been failing in this run, per capability (a plan without the music
//! library says nothing about speech). After [`TRIP_AFTER`] failures in a row
//! (timeouts, unreachable, 5xx, rate limits, refused credentials or plan), a provider is skipped
//! while another one can serve, for [`cooldown`] (default 10 minutes: the rest of a CLI run; in a
//! long-lived JS process the provider gets another chance after that). The first skip adds ONE
//! anomaly saying so; later skips in the same cooldown are silent, so a 2,000-line `media build`
//! reports it once. One [`Health`] is shared by every chain in the process ([`Health::shared`]),
//! so concurrent JS calls and a build's lines learn from each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::ChainError;
use crate::providers::plan::Capability;
use crate::providers::Provider;

/// Failures in a row that make a provider be skipped.
pub const TRIP_AFTER: u32 = 2;
pub const COOLDOWN_ENV: &str = "HYPERFRAMES_PROVIDER_COOLDOWN_MS";
pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(600);

/// How long a tripped provider is skipped: [`COOLDOWN_ENV`] (milliseconds) or the default.
pub fn cooldown() -> Duration {
    std::env::var(COOLDOWN_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_COOLDOWN)
}

#[derive(Debug, Default)]
struct State {
    in_a_row: u32,
    last: String,
    last_code: &'static str,
    skip_until: Option<Instant>,
    announced: bool,
}

/// A provider being skipped: the anomaly to report (first skip only), and the error to give when
/// no other provider can serve instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub note: Option<String>,
    pub error: ChainError,
}

#[derive(Debug, Default)]
pub struct Health {
    providers: Mutex<HashMap<(Provider, Capability), State>>,
}

/// Failures that say the provider is down or will refuse again, not that this request was odd.
fn counts(e: &ChainError) -> bool {
    matches!(
        e.code,
        "PROVIDER_TIMEOUT"
            | "PROVIDER_UNREACHABLE"
            | "PROVIDER_SERVER_ERROR"
            | "PROVIDER_RATE_LIMITED"
            | "PROVIDER_UNAUTHORIZED"
            | "PROVIDER_PAYMENT_REQUIRED"
    )
}

impl Health {
    /// The process-wide record.
    pub fn shared() -> Arc<Health> {
        static SHARED: OnceLock<Arc<Health>> = OnceLock::new();
        SHARED.get_or_init(Arc::default).clone()
    }

    /// `None`: try `provider`. `Some`: skip it (see [`Skipped`]).
    pub fn skip(&self, provider: Provider, capability: Capability, now: Instant) -> Option<Skipped> {
        let mut all = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        let state = all.get_mut(&(provider, capability))?;
        match state.skip_until {
            Some(until) if now < until => {
                let why = format!("{} failures in a row (last: {})", state.in_a_row, state.last);
                let first = !std::mem::replace(&mut state.announced, true);
                let error = ChainError::new(state.last_code, format!("{provider}: skipped in this run after {why}"))
                    .with_hint(format!(
                        "It is tried again in a new run, or after {COOLDOWN_ENV} (default 10 minutes) in this process."
                    ))
                    .at(provider.as_str(), true);
                Some(Skipped {
                    note: first.then(|| format!("{provider}: skipped for the rest of this run after {why}")),
                    error,
                })
            }
            Some(_) => {
                // Cooled down: one more try decides.
                state.skip_until = None;
                state.announced = false;
                state.in_a_row = TRIP_AFTER - 1;
                None
            }
            None => None,
        }
    }

    /// Records how a call to `provider` went.
    pub fn record<T>(&self, provider: Provider, capability: Capability, outcome: &Result<T, ChainError>, now: Instant) {
        let mut all = self.providers.lock().unwrap_or_else(|e| e.into_inner());
        match outcome {
            Ok(_) => {
                all.remove(&(provider, capability));
            }
            Err(e) if counts(e) => {
                let state = all.entry((provider, capability)).or_default();
                state.in_a_row += 1;
                state.last_code = e.code;
                state.last = e
                    .message
                    .strip_prefix(provider.as_str())
                    .map_or(e.message.as_str(), |r| r.trim_start_matches(": "))
                    .to_string();
                if state.in_a_row >= TRIP_AFTER && state.skip_until.is_none() {
                    tracing::debug!(
                        provider = provider.as_str(),
                        failures = state.in_a_row,
                        "skipping this provider for a while"
                    );
                    state.skip_until = Some(now + cooldown());
                }
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Capability = Capability::Voice;

    fn down(code: &'static str) -> Result<(), ChainError> {
        Err(ChainError::new(code, format!("heygen: speech {code}")))
    }

    #[test]
    fn two_failures_in_a_row_trip_a_provider_and_the_skip_is_announced_once() {
        let h = Health::default();
        let t = Instant::now();
        assert_eq!(h.skip(Provider::Heygen, V, t), None);
        h.record(Provider::Heygen, V, &down("PROVIDER_TIMEOUT"), t);
        assert_eq!(h.skip(Provider::Heygen, V, t), None, "one failure is not a pattern");
        h.record(Provider::Heygen, V, &down("PROVIDER_SERVER_ERROR"), t);
        let skipped = h.skip(Provider::Heygen, V, t).expect("skipped");
        let note = skipped.note.expect("announced");
        assert!(note.starts_with("heygen: skipped for the rest of this run after 2 failures in a row"), "{note}");
        assert!(note.contains("speech PROVIDER_SERVER_ERROR"), "{note}");
        assert_eq!(skipped.error.code, "PROVIDER_SERVER_ERROR", "the last failure's code");
        assert!(
            skipped.error.message.starts_with("heygen: skipped in this run after 2 failures"),
            "{}",
            skipped.error.message
        );
        assert_eq!(h.skip(Provider::Heygen, V, t).unwrap().note, None, "announced once");
        assert_eq!(h.skip(Provider::Elevenlabs, V, t), None, "others are not affected");
        assert_eq!(h.skip(Provider::Heygen, Capability::Music, t), None, "nor the same provider's other services");
    }

    #[test]
    fn a_success_or_a_request_problem_does_not_count() {
        let h = Health::default();
        let t = Instant::now();
        h.record(Provider::Heygen, V, &down("PROVIDER_TIMEOUT"), t);
        h.record(Provider::Heygen, V, &Ok::<(), ChainError>(()), t);
        h.record(Provider::Heygen, V, &down("PROVIDER_TIMEOUT"), t);
        assert_eq!(h.skip(Provider::Heygen, V, t), None, "the success reset the count");
        h.record(Provider::Heygen, V, &down("PROVIDER_BAD_REQUEST"), t);
        h.record(Provider::Heygen, V, &down("NO_MATCH"), t);
        assert_eq!(h.skip(Provider::Heygen, V, t), None);
    }

    #[test]
    fn after_the_cooldown_one_more_try_decides() {
        let h = Health::default();
        let t = Instant::now();
        h.record(Provider::Heygen, V, &down("PROVIDER_TIMEOUT"), t);
        h.record(Provider::Heygen, V, &down("PROVIDER_TIMEOUT"), t);
        assert!(h.skip(Provider::Heygen, V, t).is_some());
        let later = t + DEFAULT_COOLDOWN + Duration::from_secs(1);
        assert_eq!(h.skip(Provider::Heygen, V, later), None, "cooled down: tried again");
        h.record(Provider::Heygen, V, &down("PROVIDER_TIMEOUT"), later);
        assert!(
            h.skip(Provider::Heygen, V, later).unwrap().note.is_some(),
            "one more failure trips it again, announced again"
        );
    }
}

#[cfg(test)]
mod walk_tests {
    use super::*;
    use crate::chains::{limits::Limits, walk, Providers, Routing};

    #[tokio::test]
    async fn queued_calls_learn_from_the_failures_ahead_of_them() {
        // One request at a time: eight calls wait for their turn while the first ones fail.
        let providers = Providers { limits: Limits::new(1), ..Providers::default() };
        let calls = std::sync::Mutex::new(Vec::new());
        let call = || async {
            walk(Capability::Voice, &[Provider::Heygen, Provider::Elevenlabs], &Routing::default(), &providers, |p| {
                calls.lock().unwrap().push(p);
                async move {
                    tokio::task::yield_now().await;
                    if p == Provider::Heygen {
                        Err(ChainError::new("PROVIDER_TIMEOUT", "heygen: slow").at("heygen", true))
                    } else {
                        Ok(())
                    }
                }
            })
            .await
            .map(|((), anomalies)| anomalies)
        };
        let results = futures_util::future::join_all((0..8).map(|_| call())).await;
        assert_eq!(calls.lock().unwrap().iter().filter(|p| **p == Provider::Heygen).count(), 2);
        let notes: Vec<String> = results.into_iter().flat_map(Result::unwrap).collect();
        let skips = notes.iter().filter(|n| n.contains("skipped for the rest of this run")).count();
        assert_eq!((notes.len(), skips), (3, 1), "{notes:?}");
    }
}
