use super::*;
use crate::auth::store::parse;
use crate::test_support::{env_lock, EnvGuard};

fn loaded(json: &str) -> Loaded {
    let (format, creds) = parse(json).unwrap();
    Loaded { format, creds, from_keyring: false }
}

fn now() -> DateTime<Utc> {
    parse_expiry("2030-06-01T12:00:00Z").unwrap()
}

#[test]
fn fresh_oauth_beats_api_key() {
    let c = from_loaded(
        &loaded(r#"{"api_key":"hg_abcdefgh","oauth":{"access_token":"at_1234567","expires_at":"2030-06-02T00:00:00.000Z"}}"#),
        now(),
    )
    .unwrap();
    assert_eq!(c.kind, Kind::OAuth);
    assert!(!c.refreshable && !c.expired);
    assert_eq!(c.source, Source::FileJson);
}

#[test]
fn missing_or_unparseable_expiry_counts_as_fresh_and_not_refreshable() {
    for exp in ["", r#","expires_at":"soon""#] {
        let json = format!(r#"{{"oauth":{{"access_token":"at_1234567","refresh_token":"rt_1234567"{exp}}}}}"#);
        let c = from_loaded(&loaded(&json), now()).unwrap();
        assert_eq!(c.kind, Kind::OAuth);
        assert!(!c.refreshable);
    }
}

#[test]
fn expired_with_refresh_token_is_refreshable_and_still_beats_api_key() {
    let c = from_loaded(
        &loaded(r#"{"api_key":"hg_abcdefgh","oauth":{"access_token":"at_1234567","refresh_token":"rt_1234567","expires_at":"2030-06-01T11:00:00Z"}}"#),
        now(),
    )
    .unwrap();
    assert_eq!(c.kind, Kind::OAuth);
    assert!(c.refreshable && c.expired);
}

#[test]
fn sixty_second_skew_applies() {
    let c = from_loaded(
        &loaded(
            r#"{"api_key":"hg_abcdefgh","oauth":{"access_token":"at_1234567","expires_at":"2030-06-01T12:00:30Z"}}"#,
        ),
        now(),
    )
    .unwrap();
    assert_eq!(c.kind, Kind::ApiKey, "expires within the skew and no refresh token: falls to api_key");
}

#[test]
fn expired_without_refresh_token_falls_to_api_key_or_nothing() {
    let json = r#"{"api_key":"hg_abcdefgh","oauth":{"access_token":"at_1234567","expires_at":"2020-01-01T00:00:00Z"}}"#;
    assert_eq!(from_loaded(&loaded(json), now()).unwrap().kind, Kind::ApiKey);
    let json = r#"{"oauth":{"access_token":"at_1234567","expires_at":"2020-01-01T00:00:00Z"}}"#;
    assert!(from_loaded(&loaded(json), now()).is_none());
    assert!(from_loaded(&loaded(r#"{"user":{"email":"a@b.c"}}"#), now()).is_none());
}

#[test]
fn legacy_source_is_reported() {
    let c = from_loaded(&loaded("hg_plainlegacy"), now()).unwrap();
    assert_eq!(c.source, Source::FileLegacy);
    assert_eq!(c.source.as_str(), "file_legacy");
}

#[test]
fn env_order_and_control_characters() {
    let _l = env_lock();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::at(dir.path());
    std::fs::write(store.path(), r#"{"api_key":"hg_filekey1"}"#).unwrap();
    let _g = EnvGuard::set(&[("HEYGEN_API_KEY", Some("hg_primary1")), ("HYPERFRAMES_API_KEY", Some("hg_alias12"))]);
    let c = resolve(&store, now()).unwrap();
    assert_eq!((c.source, c.secret.as_str()), (Source::Env, "hg_primary1"));
    let _g2 = EnvGuard::set(&[("HEYGEN_API_KEY", Some(""))]);
    let c = resolve(&store, now()).unwrap();
    assert_eq!((c.source, c.secret.as_str()), (Source::EnvAlias, "hg_alias12"));
    let _g3 = EnvGuard::set(&[("HYPERFRAMES_API_KEY", None)]);
    assert_eq!(resolve(&store, now()).unwrap().source, Source::FileJson);
    let _g4 = EnvGuard::set(&[("HEYGEN_API_KEY", Some("hg_bad\r\nkey"))]);
    let err = resolve(&store, now()).unwrap_err();
    assert_eq!(err.code, crate::auth::error::AuthErrorCode::InvalidStore);
    assert!(err.message.contains("HEYGEN_API_KEY"));
    assert!(!err.message.contains("hg_bad"));
}

#[test]
fn nothing_configured_and_broken_file() {
    let _l = env_lock();
    let _g = EnvGuard::set(&[("HEYGEN_API_KEY", None), ("HYPERFRAMES_API_KEY", None)]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::at(dir.path());
    assert!(try_resolve(&store, now()).unwrap().is_none());
    assert_eq!(resolve(&store, now()).unwrap_err().code, crate::auth::error::AuthErrorCode::NotConfigured);
    std::fs::write(store.path(), "{broken").unwrap();
    assert!(try_resolve(&store, now()).is_err());
}

#[test]
fn base_url_strips_trailing_slashes() {
    let _l = env_lock();
    let _g = EnvGuard::set(&[("HEYGEN_API_URL", Some("http://127.0.0.1:9/api//"))]);
    assert_eq!(api_base_url(), "http://127.0.0.1:9/api");
    let _g2 = EnvGuard::set(&[("HEYGEN_API_URL", None)]);
    assert_eq!(api_base_url(), "https://api.heygen.com");
}
