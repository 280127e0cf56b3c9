//! The hosted providers' error: what failed, whether the next provider in the chain should serve
//! instead, and what the user can do.

use std::fmt;

use super::Provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderErrorCode {
    /// No key or credential for this provider.
    NotConfigured,
    /// The provider refused the credential (after any refresh).
    Unauthorized,
    /// The plan does not allow this (HTTP 402, e.g. `plan_upgrade_required`).
    PaymentRequired,
    /// HTTP 429 still after honouring Retry-After.
    RateLimited,
    /// 5xx still after bounded retries.
    ServerError,
    Timeout,
    /// Could not connect, or the connection broke.
    Network,
    /// The request was wrong (4xx other than the above): our input, not the provider.
    BadRequest,
    /// The response did not have the documented shape, or was truncated.
    BadResponse,
    /// A response body larger than we accept.
    TooLarge,
    NotFound,
}

impl ProviderErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConfigured => "PROVIDER_NOT_CONFIGURED",
            Self::Unauthorized => "PROVIDER_UNAUTHORIZED",
            Self::PaymentRequired => "PROVIDER_PAYMENT_REQUIRED",
            Self::RateLimited => "PROVIDER_RATE_LIMITED",
            Self::ServerError => "PROVIDER_SERVER_ERROR",
            Self::Timeout => "PROVIDER_TIMEOUT",
            Self::Network => "PROVIDER_UNREACHABLE",
            Self::BadRequest => "PROVIDER_BAD_REQUEST",
            Self::BadResponse => "PROVIDER_BAD_RESPONSE",
            Self::TooLarge => "PROVIDER_RESPONSE_TOO_LARGE",
            Self::NotFound => "PROVIDER_NOT_FOUND",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub provider: Provider,
    pub code: ProviderErrorCode,
    pub status: Option<u16>,
    /// Already scrubbed.
    pub message: String,
    pub hint: Option<String>,
}

impl ProviderError {
    pub fn new(provider: Provider, code: ProviderErrorCode, message: impl Into<String>) -> Self {
        Self { provider, code, status: None, message: message.into(), hint: None }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A provider-side failure: the next provider in the chain may serve instead. Our own bad
    /// input (BadRequest) does not fall through — another provider would refuse it too.
    pub fn falls_through(&self) -> bool {
        !matches!(self.code, ProviderErrorCode::BadRequest)
    }

    /// For a result's `anomalies`: `heygen: HTTP 402 — heygen speech failed …`. A message that
    /// already starts with `<provider>:` is not prefixed twice.
    pub fn anomaly(&self) -> String {
        match self.status {
            Some(s) => format!("{}: HTTP {s} — {}", self.provider, self.message),
            None if self.message.strip_prefix(self.provider.as_str()).is_some_and(|rest| rest.starts_with(':')) => {
                self.message.clone()
            }
            None => format!("{}: {}", self.provider, self.message),
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ProviderError {}

pub type ProviderResult<T> = Result<T, ProviderError>;

impl From<ProviderError> for crate::error::Error {
    fn from(e: ProviderError) -> Self {
        Self { code: e.code.as_str(), message: e.message, hint: e.hint, anomalies: Vec::new(), chain: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anomalies_name_the_provider_once() {
        let e = ProviderError::new(
            Provider::Heygen,
            ProviderErrorCode::BadRequest,
            "heygen: speed must be between 0.5 and 2",
        );
        assert_eq!(e.anomaly(), "heygen: speed must be between 0.5 and 2");
        let e = ProviderError::new(Provider::Heygen, ProviderErrorCode::Network, "connection refused");
        assert_eq!(e.anomaly(), "heygen: connection refused");
        // "heygenx…" is not the provider's prefix.
        let e = ProviderError::new(Provider::Heygen, ProviderErrorCode::Network, "heygenx: odd");
        assert_eq!(e.anomaly(), "heygen: heygenx: odd");
        let e = ProviderError::new(
            Provider::Heygen,
            ProviderErrorCode::PaymentRequired,
            "heygen speech failed with HTTP 402",
        )
        .with_status(402);
        assert_eq!(e.anomaly(), "heygen: HTTP 402 — heygen speech failed with HTTP 402");
    }
}
