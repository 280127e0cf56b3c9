//! The sign-in domain's error: a stable `code`, a message saying what happened and a hint saying
//! what to do. Messages are built from already-scrubbed text; the output boundary scrubs again.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthErrorCode {
    NotConfigured,
    InvalidStore,
    Unauthenticated,
    RefreshFailed,
    ApiError,
    Network,
    OauthNotConfigured,
    DeviceAuthFailed,
    Usage,
    Aborted,
    Keyring,
    Io,
}

impl AuthErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConfigured => "NOT_CONFIGURED",
            Self::InvalidStore => "INVALID_STORE",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::RefreshFailed => "REFRESH_FAILED",
            Self::ApiError => "API_ERROR",
            Self::Network => "NETWORK_ERROR",
            Self::OauthNotConfigured => "OAUTH_NOT_CONFIGURED",
            Self::DeviceAuthFailed => "DEVICE_AUTH_FAILED",
            Self::Usage => "USAGE",
            Self::Aborted => "ABORTED",
            Self::Keyring => "KEYRING_ERROR",
            Self::Io => "IO_ERROR",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError {
    pub code: AuthErrorCode,
    pub message: String,
    pub hint: Option<String>,
}

pub const LOGIN_AGAIN_HINT: &str = "Run `hyperframes auth login` to sign in again.";

impl AuthError {
    pub fn new(code: AuthErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn not_configured() -> Self {
        Self::new(AuthErrorCode::NotConfigured, "No HeyGen credentials found.")
            .with_hint("Run `hyperframes auth login`, or set HEYGEN_API_KEY.")
    }

    pub fn invalid_store(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::InvalidStore, format!("Credential file is unreadable: {detail}")).with_hint(
            "Fix or delete the credentials file (see `hyperframes auth status`), then run `hyperframes auth login`.",
        )
    }

    pub fn unauthenticated(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::Unauthenticated, format!("HeyGen rejected the credential: {detail}"))
            .with_hint(LOGIN_AGAIN_HINT)
    }

    pub fn refresh_failed(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::RefreshFailed, detail.to_string()).with_hint(LOGIN_AGAIN_HINT)
    }

    pub fn api(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::ApiError, detail.to_string())
    }

    pub fn network(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::Network, detail.to_string())
            .with_hint("Check your network connection and HEYGEN_API_URL, then try again.")
    }

    pub fn usage(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::Usage, detail.to_string())
    }

    pub fn io(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::Io, detail.to_string())
    }

    pub fn device(detail: impl fmt::Display) -> Self {
        Self::new(AuthErrorCode::DeviceAuthFailed, format!("Device sign-in failed: {detail}"))
            .with_hint("Run `hyperframes auth login --device` to start a new code.")
    }

    pub fn code_str(&self) -> &'static str {
        self.code.as_str()
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AuthError {}

pub type AuthResult<T> = Result<T, AuthError>;

impl From<AuthError> for crate::error::Error {
    fn from(e: AuthError) -> Self {
        Self { code: e.code_str(), message: e.message, hint: e.hint, anomalies: Vec::new(), chain: None }
    }
}
