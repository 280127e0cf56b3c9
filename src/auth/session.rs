//! `auth logout`, `auth refresh` and `auth token`.

use chrono::{DateTime, Utc};

use super::client::HeygenClient;
use super::error::{AuthError, AuthResult};
use super::oauth::{self, OAuthConfig};
use super::paths;
use super::resolve::{self, Credential, Kind};
use super::store::Store;
use crate::blocking;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutOutcome {
    /// The file that was removed (None when it did not exist or was kept).
    pub removed: Option<String>,
    /// `--keep-api-key`: whether a stored API key was there to keep.
    pub kept_api_key: bool,
    /// `--keep-api-key`: whether there was an OAuth session to remove.
    pub removed_oauth: bool,
    /// Environment variables that still provide a key.
    pub env_still_set: Vec<&'static str>,
    pub warnings: Vec<String>,
}

pub async fn logout(keep_api_key: bool) -> AuthResult<LogoutOutcome> {
    let store = Store::from_env();
    let env_still_set: Vec<&'static str> = [resolve::ENV_PRIMARY, resolve::ENV_ALIAS]
        .into_iter()
        .filter(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
        .collect();
    let mut warnings = Vec::new();

    // Revoke what we can read: refresh token first, then the access token. A corrupt store is skipped.
    let s = Store::at(store.dir());
    if let Ok(loaded) = blocking(move || s.load()).await {
        if let Some(o) = loaded.creds.oauth {
            let cfg = OAuthConfig::from_env();
            let http = crate::http::client(oauth::REVOKE_TIMEOUT);
            if let Some(rt) = &o.refresh_token {
                warnings.extend(oauth::revoke(&http, &cfg, rt, "refresh_token").await);
            }
            warnings.extend(oauth::revoke(&http, &cfg, &o.access_token, "access_token").await);
        }
    }

    let s = Store::at(store.dir());
    let path = paths::display(&store.path());
    if keep_api_key {
        let ((removed_oauth, kept_api_key), _) = blocking(move || {
            s.update(|c| {
                let removed_oauth = c.oauth.take().is_some();
                if !c.has_credential() {
                    c.user = c.user.take().map(|u| super::store::UserBlock { extra: u.extra, ..Default::default() });
                }
                Ok((removed_oauth, c.api_key.is_some()))
            })
        })
        .await?;
        return Ok(LogoutOutcome { removed: None, kept_api_key, removed_oauth, env_still_set, warnings });
    }
    let removed = blocking(move || s.delete()).await?;
    Ok(LogoutOutcome {
        removed: removed.then_some(path),
        kept_api_key: false,
        removed_oauth: false,
        env_still_set,
        warnings,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshOutcome {
    pub expires_at: Option<DateTime<Utc>>,
}

fn no_refresh_token() -> AuthError {
    AuthError::refresh_failed("No OAuth refresh token to use.").with_hint("Run `hyperframes auth login` first.")
}

/// Refreshes the stored OAuth session now (ignores environment keys: they are not OAuth).
pub async fn refresh() -> AuthResult<RefreshOutcome> {
    let store = Store::from_env();
    let loaded = blocking(move || store.load()).await?;
    let cred = resolve::from_loaded(&loaded, Utc::now());
    let oauth_cred = match (cred, loaded.creds.oauth.as_ref()) {
        (Some(c), _) if c.kind == Kind::OAuth && c.refresh_token.is_some() => c,
        (_, Some(o)) if o.refresh_token.is_some() => Credential {
            source: resolve::Source::FileJson,
            kind: Kind::OAuth,
            secret: o.access_token.clone(),
            refresh_token: o.refresh_token.clone(),
            expires_at: None,
            expired: true,
            refreshable: true,
            scope: o.scope.clone(),
            persisted_user: None,
        },
        _ => return Err(no_refresh_token()),
    };
    if OAuthConfig::from_env().client_id.trim().is_empty() {
        return Err(no_refresh_token());
    }
    let client = HeygenClient::new(oauth_cred);
    client.refresh_now().await?;
    Ok(RefreshOutcome { expires_at: client.credential().await.expires_at })
}

/// The resolved credential for scripts, refreshed first when it has expired and can be refreshed.
pub async fn token() -> AuthResult<Credential> {
    let store = Store::from_env();
    let cred = blocking(move || resolve::resolve(&store, Utc::now())).await?;
    if cred.kind == Kind::OAuth && cred.refreshable {
        let client = HeygenClient::new(cred);
        client.refresh_now().await?;
        return Ok(client.credential().await);
    }
    Ok(cred)
}
