//! Which credential wins: `HEYGEN_API_KEY`, then `HYPERFRAMES_API_KEY`, then the credentials file
//! (fresh OAuth or expired-with-refresh-token before the API key), and where it came from.

use chrono::{DateTime, Utc};

use super::error::{AuthError, AuthResult};
use super::store::{api_key_problem, Format, Loaded, Store, UserBlock};
use super::{paths, scrub};

/// OAuth tokens count as expired this long before their stated expiry.
pub const EXPIRY_SKEW_SECS: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Env,
    EnvAlias,
    FileJson,
    FileLegacy,
    Keyring,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Env => "env",
            Self::EnvAlias => "env_alias",
            Self::FileJson => "file_json",
            Self::FileLegacy => "file_legacy",
            Self::Keyring => "keyring",
        }
    }

    pub fn is_env(self) -> bool {
        matches!(self, Self::Env | Self::EnvAlias)
    }

    /// The `Source:` row of `auth status`.
    pub fn label(self) -> String {
        let file = paths::display(&paths::credentials_path());
        match self {
            Self::Env => "env (HEYGEN_API_KEY)".into(),
            Self::EnvAlias => "env (HYPERFRAMES_API_KEY)".into(),
            Self::FileJson => format!("file ({file})"),
            Self::FileLegacy => format!("file ({file} — legacy plaintext)"),
            Self::Keyring => format!("keyring ({}; metadata in {file})", super::keyring::backend_name()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ApiKey,
    OAuth,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::OAuth => "oauth",
        }
    }
}

#[derive(Clone, PartialEq)]
pub struct Credential {
    pub source: Source,
    pub kind: Kind,
    /// The API key or access token. Never print it (except `auth token`).
    pub secret: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub expired: bool,
    pub refreshable: bool,
    pub scope: Option<String>,
    /// The stored user block; always None for env sources (it may belong to another key).
    pub persisted_user: Option<UserBlock>,
}

impl Credential {
    /// An API key from `source`: no expiry, nothing to refresh, no stored user.
    pub fn api_key(source: Source, secret: impl Into<String>) -> Self {
        Self {
            source,
            kind: Kind::ApiKey,
            secret: secret.into(),
            refresh_token: None,
            expires_at: None,
            expired: false,
            refreshable: false,
            scope: None,
            persisted_user: None,
        }
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("source", &self.source)
            .field("kind", &self.kind)
            .field("secret", &"<redacted>")
            .field("refreshable", &self.refreshable)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

pub const ENV_PRIMARY: &str = "HEYGEN_API_KEY";
pub const ENV_ALIAS: &str = "HYPERFRAMES_API_KEY";

fn env_key(name: &str, source: Source) -> AuthResult<Option<Credential>> {
    let Some(value) = std::env::var_os(name) else { return Ok(None) };
    let value = value.to_string_lossy().into_owned();
    if value.is_empty() {
        return Ok(None);
    }
    if let Some(problem) = api_key_problem(&value) {
        return Err(AuthError::new(
            super::error::AuthErrorCode::InvalidStore,
            format!("{name} is not a usable key: it {problem}."),
        )
        .with_hint(format!(
            "Set {name} to the key alone, without newlines (e.g. `export {name}=\"$(cat key.txt | tr -d '\\n')\"`)."
        )));
    }
    scrub::register_secret(&value);
    Ok(Some(Credential::api_key(source, value)))
}

/// The environment's key, if any (and whether it is malformed).
pub fn from_env() -> AuthResult<Option<Credential>> {
    if let Some(c) = env_key(ENV_PRIMARY, Source::Env)? {
        return Ok(Some(c));
    }
    env_key(ENV_ALIAS, Source::EnvAlias)
}

pub fn parse_expiry(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// Picks the credential from a loaded file.
pub fn from_loaded(loaded: &Loaded, now: DateTime<Utc>) -> Option<Credential> {
    let source = match (loaded.format, loaded.from_keyring) {
        (Format::Absent, _) => return None,
        (_, true) => Source::Keyring,
        (Format::Legacy, _) => Source::FileLegacy,
        (Format::Json, _) => Source::FileJson,
    };
    let c = &loaded.creds;
    let user = c.user.clone().filter(|u| u.has_identity());
    if let Some(o) = &c.oauth {
        let expires_at = o.expires_at.as_deref().and_then(parse_expiry);
        let expired = o.access_token.is_empty()
            || expires_at.is_some_and(|t| {
                t.checked_sub_signed(chrono::Duration::seconds(EXPIRY_SKEW_SECS)).is_none_or(|t| t < now)
            });
        if !expired || o.refresh_token.is_some() {
            return Some(Credential {
                source,
                kind: Kind::OAuth,
                secret: o.access_token.clone(),
                refresh_token: o.refresh_token.clone(),
                expires_at,
                expired,
                refreshable: expired && o.refresh_token.is_some(),
                scope: o.scope.clone(),
                persisted_user: user,
            });
        }
    }
    c.api_key.as_ref().map(|k| Credential { persisted_user: user, ..Credential::api_key(source, k.clone()) })
}

/// First match wins; `Ok(None)` when nothing is configured. Blocking when the keyring is used.
pub fn try_resolve(store: &Store, now: DateTime<Utc>) -> AuthResult<Option<Credential>> {
    if let Some(c) = from_env()? {
        return Ok(Some(c));
    }
    let loaded = store.load()?;
    Ok(from_loaded(&loaded, now))
}

pub fn resolve(store: &Store, now: DateTime<Utc>) -> AuthResult<Credential> {
    try_resolve(store, now)?.ok_or_else(AuthError::not_configured)
}

/// `HEYGEN_API_URL` without trailing slashes, default `https://api.heygen.com`.
pub fn api_base_url() -> String {
    match std::env::var("HEYGEN_API_URL") {
        Ok(v) if !v.trim().is_empty() => v.trim().trim_end_matches('/').to_string(),
        _ => "https://api.heygen.com".to_string(),
    }
}

#[cfg(test)]
mod tests;
