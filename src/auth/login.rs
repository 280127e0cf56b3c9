//! `auth login`: API key (verified, rolled back on rejection), browser OAuth with PKCE on a
//! loopback port, and the device flow. Progress is reported through `LoginEvent`s so the CLI and
//! the JS API can present it their own way.

use std::time::Duration;

use super::client::{HeygenClient, UserInfo};
use super::error::{AuthError, AuthErrorCode, AuthResult};
use super::oauth::{self, OAuthConfig, TokenSet};
use super::resolve::{Credential, Kind, Source};
use super::store::{SaveOutcome, Store};
use super::{device, loopback, oauth::is_header_safe, pkce, scrub};
use crate::blocking;

pub const CALLBACK_TIMEOUT: Duration = Duration::from_secs(120);
pub const MIN_API_KEY_LEN: usize = 8;
pub use super::store::MAX_API_KEY_LEN;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginEvent {
    /// The authorize URL without its query (never printed in full unless opening failed).
    OpeningBrowser {
        location: String,
    },
    BrowserFailed {
        detail: String,
        url: String,
    },
    BrowserDisabled {
        url: String,
    },
    WaitingForCallback {
        redirect_uri: String,
    },
    DeviceCode {
        verification_uri: String,
        complete: bool,
        user_code: String,
    },
    WaitingForApproval,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginOutcome {
    pub identity: Option<String>,
    /// Set when the identity check after sign-in failed (the sign-in itself is saved).
    pub identity_error: Option<String>,
    pub in_keyring: bool,
    pub warnings: Vec<String>,
}

/// Checks a key's shape; the error never contains the key.
pub fn validate_api_key(key: &str) -> AuthResult<()> {
    if key.is_empty() {
        return Err(AuthError::usage("No API key provided."));
    }
    if !is_header_safe(key) {
        return Err(AuthError::usage("API key must not contain newline or control characters."));
    }
    if key.chars().any(char::is_whitespace) {
        return Err(AuthError::usage("API key must not contain spaces. Paste only the key."));
    }
    if key.chars().count() < MIN_API_KEY_LEN {
        return Err(AuthError::usage(format!("API key looks too short (got {} chars).", key.chars().count())));
    }
    if key.len() > MAX_API_KEY_LEN {
        return Err(AuthError::usage(format!(
            "API key looks too long (more than {MAX_API_KEY_LEN} chars; HeyGen keys are much shorter). Paste only the key."
        )));
    }
    Ok(())
}

fn wants_keyring(explicit: bool) -> bool {
    explicit || super::keyring::requested_by_env()
}

fn env_shadow_warning() -> Option<String> {
    [super::resolve::ENV_PRIMARY, super::resolve::ENV_ALIAS]
        .into_iter()
        .find(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()))
        .map(|v| format!("{v} is set and takes precedence over the stored credential; unset it to use this login."))
}

fn outcome_warnings(save: &SaveOutcome) -> Vec<String> {
    save.warning.iter().cloned().chain(env_shadow_warning()).collect()
}

/// The credential for the identity probe right after sign-in. With `may_refresh`, a 401 refreshes
/// once (and persists the result) as any use of a stored session would; without it the token is
/// checked exactly as issued, for flows that verify before writing anything.
fn probe_credential(tokens: &TokenSet, may_refresh: bool) -> Credential {
    Credential {
        source: Source::FileJson,
        kind: Kind::OAuth,
        secret: tokens.access_token.clone(),
        refresh_token: if may_refresh { tokens.refresh_token.clone() } else { None },
        expires_at: tokens.expires_at,
        expired: false,
        refreshable: false,
        scope: tokens.scope.clone(),
        persisted_user: None,
    }
}

async fn store_user(store: &Store, user: Option<&UserInfo>) -> AuthResult<()> {
    let block = user.map(UserInfo::as_store_user).filter(|u| u.has_identity());
    let store = Store::at(store.dir());
    blocking(move || {
        store.update(move |c| {
            let extra = c.user.take().map(|u| u.extra).unwrap_or_default();
            let mut next = block.unwrap_or_default();
            next.extra = extra;
            c.user = (!next.is_empty()).then_some(next);
            Ok(())
        })
    })
    .await
    .map(|_| ())
}

/// Refuses early, before any network or browser work, when the store cannot be written safely.
async fn precheck_store(store: &Store) -> AuthResult<super::store::Loaded> {
    let s = Store::at(store.dir());
    blocking(move || s.load()).await
}

/// What a new API key replaced when it was written.
struct KeyWrite {
    save: SaveOutcome,
    /// The OAuth session the key displaced (verified keys only).
    dropped_oauth: Option<super::store::OAuthBlock>,
}

/// Writes `key` (re-reading the file under the lock). A verified key (`user` is Some) becomes the
/// credential in use: a stored OAuth session would win over it, so it is removed. An unverified
/// key leaves an OAuth session in place. The user block follows the identity the key proved (none
/// when unverified).
async fn write_api_key(
    store: &Store,
    key: String,
    user: Option<&UserInfo>,
    keyring: bool,
    // For an unverified key: the error when a verified credential is stored (then nothing is written).
    refuse_unverified: Option<AuthError>,
) -> AuthResult<KeyWrite> {
    let s = Store::at(store.dir());
    let verified = user.is_some();
    let block = user.map(UserInfo::as_store_user).filter(|u| u.has_identity());
    let use_keyring = wants_keyring(keyring);
    let (dropped_oauth, save) = blocking(move || {
        s.update(move |c| {
            // Decided on the file as it is under the lock: an unverified key never replaces a
            // credential that was verified (an OAuth session, or a key HeyGen named a user for).
            if let Some(refusal) = refuse_unverified.filter(|_| !verified && has_verified_credential(c)) {
                return Err(refusal);
            }
            c.api_key = Some(key);
            let extra = c.user.take().map(|u| u.extra).unwrap_or_default();
            let mut next = block.unwrap_or_default();
            next.extra = extra;
            c.user = (!next.is_empty()).then_some(next);
            if use_keyring {
                c.set_keyring_marker(true);
            }
            Ok(if verified { c.oauth.take() } else { None })
        })
    })
    .await?;
    Ok(KeyWrite { save, dropped_oauth })
}

/// A stored credential that HeyGen accepted when it was saved: an OAuth session, or an API key
/// saved with the identity HeyGen gave for it (unverified keys are saved without one).
fn has_verified_credential(c: &super::store::Credentials) -> bool {
    c.oauth.is_some() || (c.api_key.is_some() && c.user.as_ref().is_some_and(|u| u.has_identity()))
}

/// Best-effort revocation of an OAuth session that is no longer stored anywhere.
async fn revoke_dropped(oauth: &super::store::OAuthBlock) -> Vec<String> {
    let cfg = OAuthConfig::from_env();
    let http = crate::http::client(oauth::REVOKE_TIMEOUT);
    let mut warnings = Vec::new();
    if let Some(rt) = &oauth.refresh_token {
        warnings.extend(oauth::revoke(&http, &cfg, rt, "refresh_token").await);
    }
    if !oauth.access_token.is_empty() {
        warnings.extend(oauth::revoke(&http, &cfg, &oauth.access_token, "access_token").await);
    }
    warnings
}

/// Signs in with an API key. The key is checked with `GET /v3/users/me` *before* anything is
/// written, so an interrupted check (Ctrl-C, kill) or any HTTP answer other than 2xx leaves the
/// credentials file exactly as it was; so does a 2xx whose body carries an `error`. Only when
/// HeyGen cannot be reached at all is the key saved unverified (as documented: the user asked for
/// it and the check may simply be offline), and then only when no verified credential is stored.
pub async fn login_with_api_key(key: String, keyring: bool) -> AuthResult<LoginOutcome> {
    let key = key.trim().to_string();
    validate_api_key(&key)?;
    scrub::register_secret(&key);
    let store = Store::from_env();
    let had_credential = precheck_store(&store).await?.creds.has_credential();
    let unchanged =
        if had_credential { "Nothing was saved; the previous credential is unchanged." } else { "Nothing was saved." };

    let cred = Credential::api_key(Source::FileJson, key.clone());
    match HeygenClient::new(cred).users_me().await {
        Ok(user) => {
            let write = write_api_key(&store, key, Some(&user), keyring, None).await?;
            let mut warnings = outcome_warnings(&write.save);
            if let Some(dropped) = &write.dropped_oauth {
                warnings.push(
                    "The stored OAuth session was signed out so that this API key is the credential in use \
                     (run `hyperframes auth login` to switch back to OAuth)."
                        .to_string(),
                );
                warnings.extend(revoke_dropped(dropped).await);
            }
            Ok(LoginOutcome {
                identity: user.display_name(),
                identity_error: None,
                in_keyring: write.save.in_keyring,
                warnings,
            })
        }
        Err(e) if e.code == AuthErrorCode::Unauthenticated => {
            let detail = e.message.trim_start_matches("HeyGen rejected the credential: ").to_string();
            Err(AuthError::new(AuthErrorCode::Unauthenticated, format!("HeyGen rejected the API key ({detail}). {unchanged}"))
                .with_hint("Check the key at https://app.heygen.com/settings/api and run `hyperframes auth login --api-key` again."))
        }
        Err(e) if e.code == AuthErrorCode::Network => {
            let reason = e.message.trim_end_matches('.').to_string();
            let refuse = AuthError::new(
                    AuthErrorCode::Network,
                    format!(
                        "The API key could not be verified: {reason}. Nothing was saved; the verified credential already stored stays in use."
                    ),
                )
                .with_hint("Run `hyperframes auth login --api-key` again once HeyGen is reachable.");
            write_api_key(&store, key, None, keyring, Some(refuse)).await?;
            let message = format!(
                "The API key was saved but could not be verified: {} Run `hyperframes auth status` to check it once HeyGen is reachable.",
                e.message.trim_end_matches('.')
            );
            Err(AuthError::new(AuthErrorCode::Network, message).with_hint(
                "HeyGen could not be reached (network, proxy or HEYGEN_API_URL); the unverified key is kept as documented.",
            ))
        }
        Err(e) => Err(AuthError::new(
            e.code,
            format!("HeyGen did not accept the API key: {} {unchanged}", e.message.trim_end_matches('.')),
        )
        .with_hint(
            "Check the key at https://app.heygen.com/settings/api and run `hyperframes auth login --api-key` again.",
        )),
    }
}

fn require_client_id(cfg: &OAuthConfig) -> AuthResult<()> {
    if cfg.client_id.trim().is_empty() {
        return Err(AuthError::new(AuthErrorCode::OauthNotConfigured, "No OAuth client id is configured.")
            .with_hint("Set HYPERFRAMES_OAUTH_CLIENT_ID, or use `hyperframes auth login --api-key`."));
    }
    Ok(())
}

/// Persists a fresh OAuth login (replacing the previous block, keeping api_key, user and unknown
/// keys), then probes the identity with the new token.
async fn finish_oauth_login(store: &Store, tokens: TokenSet, keyring: bool) -> AuthResult<LoginOutcome> {
    let save = {
        let s = Store::at(store.dir());
        let t = tokens.clone();
        let use_keyring = wants_keyring(keyring);
        blocking(move || {
            s.update(move |c| {
                c.oauth = Some(oauth::apply_tokens(None, &t, false));
                if use_keyring {
                    c.set_keyring_marker(true);
                }
                Ok(())
            })
        })
        .await?
        .1
    };
    let client = HeygenClient::new(probe_credential(&tokens, true));
    let (identity, identity_error) = match client.users_me().await {
        Ok(user) => {
            store_user(store, Some(&user)).await?;
            (user.display_name(), None)
        }
        Err(e) => {
            store_user(store, None).await?;
            (None, Some(e.message))
        }
    };
    Ok(LoginOutcome { identity, identity_error, in_keyring: save.in_keyring, warnings: outcome_warnings(&save) })
}

pub type Opener<'a> = &'a (dyn Fn(&str) -> Result<(), String> + Sync);

pub async fn login_with_browser(
    keyring: bool,
    open: Opener<'_>,
    on_event: &(dyn Fn(LoginEvent) + Sync),
) -> AuthResult<LoginOutcome> {
    let cfg = OAuthConfig::from_env();
    require_client_id(&cfg)?;
    let store = Store::from_env();
    precheck_store(&store).await?;
    let listener = loopback::CallbackListener::bind().await?;
    let redirect_uri = listener.redirect_uri();
    let pkce = pkce::Pkce::generate();
    let state = pkce::random_state();
    let (url, location) = oauth::authorize_url(&cfg, &redirect_uri, &state, &pkce)?;
    on_event(LoginEvent::OpeningBrowser { location });
    if crate::environment::browser_blocker(true).is_some_and(|r| r.contains("disabled")) {
        on_event(LoginEvent::BrowserDisabled { url: url.clone() });
    } else if let Err(detail) = open(&url) {
        on_event(LoginEvent::BrowserFailed { detail, url: url.clone() });
    }
    on_event(LoginEvent::WaitingForCallback { redirect_uri: redirect_uri.clone() });
    let code = listener.wait_for_code(&state, CALLBACK_TIMEOUT).await?;
    let http = crate::http::client(oauth::TOKEN_TIMEOUT);
    let tokens = oauth::exchange_code(&http, &cfg, &code, &redirect_uri, &pkce.verifier).await?;
    finish_oauth_login(&store, tokens, keyring).await
}

async fn revoke_both(http: &reqwest::Client, cfg: &OAuthConfig, tokens: &TokenSet) -> Vec<String> {
    let mut warnings = Vec::new();
    warnings.extend(oauth::revoke(http, cfg, &tokens.access_token, "access_token").await);
    if let Some(rt) = &tokens.refresh_token {
        warnings.extend(oauth::revoke(http, cfg, rt, "refresh_token").await);
    }
    warnings
}

pub async fn login_with_device(keyring: bool, on_event: &(dyn Fn(LoginEvent) + Sync)) -> AuthResult<LoginOutcome> {
    let cfg = OAuthConfig::from_env();
    require_client_id(&cfg)?;
    let store = Store::from_env();
    precheck_store(&store).await?;
    let http = crate::http::client(oauth::TOKEN_TIMEOUT);
    let auth = device::request_authorization(&http, &cfg).await?;
    let (uri, complete) = match &auth.verification_uri_complete {
        Some(u) => (u.to_string(), true),
        None => (auth.verification_uri.to_string(), false),
    };
    on_event(LoginEvent::DeviceCode { verification_uri: uri, complete, user_code: auth.user_code.clone() });
    on_event(LoginEvent::WaitingForApproval);
    let tokens = device::poll_for_token(&http, &cfg, &auth, &device::TokioSleeper).await?;

    // Verify before anything is written.
    let user = match HeygenClient::new(probe_credential(&tokens, false)).users_me().await {
        Ok(u) => u,
        Err(e) => {
            revoke_both(&http, &cfg, &tokens).await;
            return Err(AuthError::new(
                e.code,
                format!("HeyGen did not accept the new sign-in ({}); no credential was saved.", e.message),
            )
            .with_hint("Run `hyperframes auth login --device` to start a new code."));
        }
    };
    let s = Store::at(store.dir());
    let t = tokens.clone();
    let use_keyring = wants_keyring(keyring);
    let block = user.as_store_user();
    let saved = blocking(move || {
        s.update(move |c| {
            c.oauth = Some(oauth::apply_tokens(None, &t, false));
            let extra = c.user.take().map(|u| u.extra).unwrap_or_default();
            let mut next = if block.has_identity() { block } else { Default::default() };
            next.extra = extra;
            c.user = (!next.is_empty()).then_some(next);
            if use_keyring {
                c.set_keyring_marker(true);
            }
            Ok(())
        })
    })
    .await;
    match saved {
        Ok((_, save)) => Ok(LoginOutcome {
            identity: user.display_name(),
            identity_error: None,
            in_keyring: save.in_keyring,
            warnings: outcome_warnings(&save),
        }),
        Err(e) => {
            revoke_both(&http, &cfg, &tokens).await;
            Err(e)
        }
    }
}
