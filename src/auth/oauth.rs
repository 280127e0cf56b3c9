//! OAuth client configuration, token responses, code exchange, refresh and revoke.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::{AuthError, AuthResult};
use super::scrub;

pub const DEFAULT_CLIENT_ID: &str = "q2A2QRSke2LrFTPJhoDbHtXh";
pub const DEFAULT_AUTHORIZE_URL: &str = "https://app.heygen.com/oauth/authorize";
pub const DEFAULT_TOKEN_URL: &str = "https://api2.heygen.com/v1/oauth/token";
pub const DEFAULT_REVOKE_URL: &str = "https://api2.heygen.com/v1/oauth/revoke";
pub const DEFAULT_DEVICE_URL: &str = "https://api2.heygen.com/v1/oauth/device_authorization";
pub const SCOPES: &str = "openid profile email";
/// Tokens that claim to live shorter than this are treated as living this long.
pub const MIN_EXPIRES_IN_SECS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthConfig {
    pub client_id: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    pub device_url: String,
}

fn env_or(name: &str, default: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => default.to_string(),
    }
}

impl OAuthConfig {
    pub fn from_env() -> Self {
        Self {
            client_id: env_or("HYPERFRAMES_OAUTH_CLIENT_ID", DEFAULT_CLIENT_ID),
            authorize_url: env_or("HYPERFRAMES_OAUTH_AUTHORIZE_URL", DEFAULT_AUTHORIZE_URL),
            token_url: env_or("HYPERFRAMES_OAUTH_TOKEN_URL", DEFAULT_TOKEN_URL),
            revoke_url: env_or("HYPERFRAMES_OAUTH_REVOKE_URL", DEFAULT_REVOKE_URL),
            device_url: env_or("HYPERFRAMES_OAUTH_DEVICE_URL", DEFAULT_DEVICE_URL),
        }
    }
}

/// A parsed, validated token endpoint response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
}

pub fn is_header_safe(s: &str) -> bool {
    !s.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f)
}

/// Validates a token endpoint body. Shape errors are `REFRESH_FAILED` and never echo the body.
pub fn parse_token_response(body: &[u8], now: DateTime<Utc>) -> AuthResult<TokenSet> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| AuthError::refresh_failed("token endpoint returned a body that is not JSON"))?;
    let obj =
        value.as_object().ok_or_else(|| AuthError::refresh_failed("token endpoint returned a non-object body"))?;
    let access_token = match obj.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() && is_header_safe(s) => s.clone(),
        Some(Value::String(_)) => {
            return Err(AuthError::refresh_failed("token endpoint returned an unusable access_token"))
        }
        _ => return Err(AuthError::refresh_failed("token endpoint returned no access_token")),
    };
    scrub::register_secret(&access_token);
    let refresh_token = match obj.get("refresh_token") {
        Some(Value::String(s)) if !s.is_empty() && is_header_safe(s) => {
            scrub::register_secret(s);
            Some(s.clone())
        }
        None | Some(Value::Null) => None,
        Some(_) => return Err(AuthError::refresh_failed("token endpoint returned an unusable refresh_token")),
    };
    let expires_in = match obj.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    let expires_at = expires_in.filter(|v| v.is_finite()).map(|secs| {
        let secs = (secs.ceil() as i64).max(MIN_EXPIRES_IN_SECS);
        now + chrono::Duration::seconds(secs)
    });
    let text = |key: &str| match obj.get(key) {
        Some(Value::String(s)) if !s.is_empty() && is_header_safe(s) => Some(s.clone()),
        _ => None,
    };
    Ok(TokenSet { access_token, refresh_token, expires_at, scope: text("scope"), token_type: text("token_type") })
}

/// The error for a non-2xx token endpoint answer: 400/401 mean the grant was refused.
pub fn token_endpoint_error(status: u16, body: &[u8], what: &str) -> AuthError {
    let detail = scrub::scrub_body(&String::from_utf8_lossy(body));
    let detail = if detail.trim().is_empty() { format!("HTTP {status}") } else { format!("HTTP {status}: {detail}") };
    if status == 400 || status == 401 {
        AuthError::refresh_failed(format!("{what} was rejected ({detail})"))
    } else {
        AuthError::api(format!("OAuth token endpoint error ({detail})"))
    }
}

pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(30);

async fn post_token_form(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    form: &[(&str, &str)],
    what: &str,
) -> AuthResult<TokenSet> {
    let resp = http
        .post(&cfg.token_url)
        .header("accept", "application/json")
        .form(form)
        .timeout(TOKEN_TIMEOUT)
        .send()
        .await
        .map_err(|e| AuthError::network(format!("OAuth token request failed: {}", crate::http::describe(&e))))?;
    let status = resp.status().as_u16();
    let body = crate::http::read_body_capped(resp, crate::http::DEFAULT_BODY_LIMIT)
        .await
        .map_err(|e| AuthError::network(format!("OAuth token response: {e}")))?;
    if !(200..300).contains(&status) {
        return Err(token_endpoint_error(status, &body, what));
    }
    parse_token_response(&body, Utc::now())
}

/// Exchanges an authorization code (with its PKCE verifier) for tokens.
pub async fn exchange_code(
    http: &reqwest::Client,
    cfg: &OAuthConfig,
    code: &str,
    redirect_uri: &str,
    verifier: &str,
) -> AuthResult<TokenSet> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("client_id", cfg.client_id.as_str()),
        ("code_verifier", verifier),
    ];
    post_token_form(http, cfg, &form, "authorization code").await.map_err(|mut e| {
        if e.code == super::error::AuthErrorCode::RefreshFailed {
            e.message = format!("{}; please run `hyperframes auth login` again", e.message);
        }
        e
    })
}

pub async fn refresh(http: &reqwest::Client, cfg: &OAuthConfig, refresh_token: &str) -> AuthResult<TokenSet> {
    let form =
        [("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", cfg.client_id.as_str())];
    post_token_form(http, cfg, &form, "refresh token").await
}

pub const REVOKE_TIMEOUT: Duration = Duration::from_secs(5);

/// RFC 7009 revoke, best effort: never fails, returns a warning to show when it did not work.
pub async fn revoke(http: &reqwest::Client, cfg: &OAuthConfig, token: &str, hint: &str) -> Option<String> {
    if cfg.client_id.is_empty() || token.is_empty() {
        return None;
    }
    let form = [("token", token), ("client_id", cfg.client_id.as_str()), ("token_type_hint", hint)];
    let sent = tokio::time::timeout(REVOKE_TIMEOUT, http.post(&cfg.revoke_url).form(&form).send()).await;
    match sent {
        Ok(Ok(resp)) if resp.status().is_success() => None,
        Ok(Ok(resp)) => {
            Some(format!("token revoke returned HTTP {}; local credentials cleared anyway", resp.status().as_u16()))
        }
        Ok(Err(e)) => {
            Some(format!("token revoke failed ({}); local credentials cleared anyway", crate::http::describe(&e)))
        }
        Err(_) => Some("token revoke timed out after 5s; local credentials cleared anyway".into()),
    }
}

/// Applies a token response to the stored OAuth block. A fresh login replaces the block (nothing
/// inherited); a refresh merges, keeping the previous refresh token, scope, type and unknown keys.
pub fn apply_tokens(
    block: Option<&super::store::OAuthBlock>,
    tokens: &TokenSet,
    merge: bool,
) -> super::store::OAuthBlock {
    let expires_at = tokens.expires_at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
    match (merge, block) {
        (true, Some(prev)) => super::store::OAuthBlock {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone().or_else(|| prev.refresh_token.clone()),
            expires_at,
            scope: tokens.scope.clone().or_else(|| prev.scope.clone()),
            token_type: tokens.token_type.clone().or_else(|| prev.token_type.clone()),
            extra: prev.extra.clone(),
        },
        _ => super::store::OAuthBlock {
            access_token: tokens.access_token.clone(),
            refresh_token: tokens.refresh_token.clone(),
            expires_at,
            scope: tokens.scope.clone(),
            token_type: tokens.token_type.clone(),
            extra: Default::default(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap().with_timezone(&Utc)
    }

    #[test]
    fn parses_full_response_with_string_expiry() {
        let t = parse_token_response(
            br#"{"access_token":"at_1234567","refresh_token":"rt_1234567","expires_in":"3600","scope":"openid","token_type":"Bearer","id_token":"x"}"#,
            now(),
        )
        .unwrap();
        assert_eq!(t.refresh_token.as_deref(), Some("rt_1234567"));
        assert_eq!(t.expires_at.unwrap().to_rfc3339(), "2030-01-01T01:00:00+00:00");
        assert_eq!(t.scope.as_deref(), Some("openid"));
    }

    #[test]
    fn clamps_short_or_negative_expiry() {
        let t = parse_token_response(br#"{"access_token":"at_1234567","expires_in":-5}"#, now()).unwrap();
        assert_eq!((t.expires_at.unwrap() - now()).num_seconds(), MIN_EXPIRES_IN_SECS);
    }

    #[test]
    fn rejects_bad_shapes_without_echoing_the_body() {
        for body in [
            &br#"{"token":"x"}"#[..],
            br#"[1]"#,
            br#"null"#,
            br#"{"access_token":"at\r\nsecretvalue"}"#,
            br#"{"access_token":"at_ok12345","refresh_token":"rt\nsecretvalue"}"#,
            b"not json",
        ] {
            let err = parse_token_response(body, now()).unwrap_err();
            assert_eq!(err.code, super::super::error::AuthErrorCode::RefreshFailed);
            assert!(!err.message.contains("secretvalue"));
        }
    }

    #[test]
    fn error_status_mapping() {
        assert_eq!(token_endpoint_error(400, b"{}", "x").code, super::super::error::AuthErrorCode::RefreshFailed);
        assert_eq!(token_endpoint_error(401, b"", "x").code, super::super::error::AuthErrorCode::RefreshFailed);
        assert_eq!(token_endpoint_error(503, b"", "x").code, super::super::error::AuthErrorCode::ApiError);
    }

    #[test]
    fn refresh_merges_and_login_replaces() {
        let prev = super::super::store::OAuthBlock {
            access_token: "old".into(),
            refresh_token: Some("rt_old".into()),
            scope: Some("openid".into()),
            extra: [("vendor".to_string(), serde_json::json!(1))].into_iter().collect(),
            ..Default::default()
        };
        let tokens = TokenSet {
            access_token: "new".into(),
            refresh_token: None,
            expires_at: Some(now()),
            scope: None,
            token_type: None,
        };
        let merged = apply_tokens(Some(&prev), &tokens, true);
        assert_eq!(merged.refresh_token.as_deref(), Some("rt_old"));
        assert_eq!(merged.scope.as_deref(), Some("openid"));
        assert_eq!(merged.extra.len(), 1);
        assert_eq!(merged.expires_at.as_deref(), Some("2030-01-01T00:00:00.000Z"));
        let fresh = apply_tokens(Some(&prev), &tokens, false);
        assert_eq!(fresh.refresh_token, None);
        assert!(fresh.extra.is_empty());
    }
}
