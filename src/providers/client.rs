//! What every hosted client holds ([`ClientBase`]): its base URL, its key, its retry policy, its
//! sleeper and its HTTP client, with a `Debug` that never shows the key and one `send` through
//! [`super::http::send`].

use std::sync::Arc;
use std::time::Duration;

use super::error::ProviderResult;
use super::http::{self as provider_http, Policy, Reply};
use super::Provider;
use crate::clock::{Sleeper, TokioSleeper};

#[derive(Clone)]
pub struct ClientBase {
    pub provider: Provider,
    /// Empty for a client whose credential lives elsewhere (HeyGen's, in its auth client).
    key: String,
    base_url: String,
    pub policy: Policy,
    pub sleeper: Arc<dyn Sleeper>,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for ClientBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBase")
            .field("provider", &self.provider)
            .field("key", &if self.key.is_empty() { "<none>" } else { "<redacted>" })
            .field("base_url", &self.base_url)
            .field("policy", &self.policy)
            .finish()
    }
}

impl ClientBase {
    /// A base for `key` (trimmed, and registered with the scrubber) at `base_url` (trimmed,
    /// trailing slashes dropped), whose HTTP client stops at `http_timeout` (the per-attempt limit
    /// comes from the policy).
    pub fn new(
        provider: Provider,
        key: impl Into<String>,
        base_url: &str,
        policy: Policy,
        http_timeout: Duration,
    ) -> Self {
        let key = key.into().trim().to_string();
        if !key.is_empty() {
            crate::auth::scrub::register_secret(&key);
        }
        Self {
            provider,
            key,
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            policy,
            sleeper: Arc::new(TokioSleeper),
            http: crate::http::client(http_timeout),
        }
    }

    pub fn with_sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    #[cfg(test)]
    pub fn set_base_url(&mut self, url: &str) {
        self.base_url = url.trim().trim_end_matches('/').to_string();
    }

    /// `{base_url}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends what `build` makes under `policy` (the base's own when None), with this base's
    /// sleeper; see [`provider_http::send`].
    pub async fn send(
        &self,
        what: &str,
        build: &(dyn Fn() -> reqwest::RequestBuilder + Sync),
        policy: Option<&Policy>,
    ) -> ProviderResult<Reply> {
        provider_http::send(self.provider, what, build, policy.unwrap_or(&self.policy), self.sleeper.as_ref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key_and_urls_are_normalised() {
        let base = ClientBase::new(
            Provider::Openrouter,
            " sk-base-debug-key-0001 ",
            " http://x/api/ ",
            Policy::default(),
            Duration::from_secs(5),
        );
        let shown = format!("{base:?}");
        assert!(!shown.contains("sk-base-debug-key-0001") && shown.contains("<redacted>"), "{shown}");
        assert_eq!((base.key(), base.base_url()), ("sk-base-debug-key-0001", "http://x/api"));
        assert_eq!(base.url("/v1/x"), "http://x/api/v1/x");
        let keyless = ClientBase::new(Provider::Heygen, "", "http://h", Policy::default(), Duration::from_secs(5));
        assert!(format!("{keyless:?}").contains("<none>"));
    }
}
