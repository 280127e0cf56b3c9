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
        assert_eq!(err.code, crate::auth::error::AuthErrorCode::RefreshFailed);
        assert!(!err.message.contains("secretvalue"));
    }
}

#[test]
fn error_status_mapping() {
    assert_eq!(token_endpoint_error(400, b"{}", "x").code, crate::auth::error::AuthErrorCode::RefreshFailed);
    assert_eq!(token_endpoint_error(401, b"", "x").code, crate::auth::error::AuthErrorCode::RefreshFailed);
    assert_eq!(token_endpoint_error(503, b"", "x").code, crate::auth::error::AuthErrorCode::ApiError);
}

#[test]
fn refresh_merges_and_login_replaces() {
    let prev = crate::auth::store::OAuthBlock {
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

/// Issue #22 item 3: any `expires_in` from the server is clamped before date arithmetic (it
/// panicked in chrono from about 9.2e15 on), in numbers and in digit strings alike.
#[test]
fn absurd_expiry_is_clamped_not_a_panic() {
    for body in [
        &br#"{"access_token":"at_1234567","expires_in":1e16}"#[..],
        br#"{"access_token":"at_1234567","expires_in":9.3e15}"#,
        br#"{"access_token":"at_1234567","expires_in":1.7976931348623157e308}"#,
        br#"{"access_token":"at_1234567","expires_in":"99999999999999999999999"}"#,
    ] {
        let t = parse_token_response(body, now()).unwrap();
        assert_eq!((t.expires_at.unwrap() - now()).num_seconds(), MAX_EXPIRES_IN_SECS);
    }
    let t = parse_token_response(br#"{"access_token":"at_1234567","expires_in":"NaN"}"#, now()).unwrap();
    assert_eq!(t.expires_at, None, "not a number: unknown expiry");
    let far = DateTime::<Utc>::MAX_UTC;
    assert_eq!(expiry_from(3600.0, far), None, "no overflow at the end of time either");
}

/// Issue #22 item 12: a token is short visible ASCII; a 200 KB one is refused before it is stored.
#[test]
fn oversized_or_odd_tokens_are_refused() {
    let big = format!(r#"{{"access_token":"at_{}"}}"#, "A".repeat(200_000));
    let e = parse_token_response(big.as_bytes(), now()).unwrap_err();
    assert_eq!(e.code, crate::auth::error::AuthErrorCode::RefreshFailed);
    assert!(e.message.contains("at most 8192") && e.message.len() < 200, "{}", e.message);
    for bad in [
        r#"{"access_token":"at 12345"}"#,
        "{\"access_token\":\"at_\u{9b}31m\"}",
        r#"{"access_token":"at_ok","refresh_token":"rt has space"}"#,
    ] {
        assert!(parse_token_response(bad.as_bytes(), now()).is_err(), "{bad}");
    }
    let ok = format!(r#"{{"access_token":"{}"}}"#, "a".repeat(MAX_TOKEN_LEN));
    assert!(parse_token_response(ok.as_bytes(), now()).is_ok(), "exactly the limit is fine");
}
