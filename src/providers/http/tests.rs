use super::*;
use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get(server: &TestServer, policy: &Policy, sleeper: &RecordingSleeper) -> ProviderResult<Reply> {
    let c = client();
    let url = format!("{}/thing", server.url());
    send("heygen", "test call", &|| c.get(&url), policy, sleeper).await
}

fn fast() -> Policy {
    Policy { timeout: Duration::from_millis(300), ..Policy::default() }
}

#[tokio::test]
async fn server_errors_are_retried_with_doubling_backoff() {
    let server = TestServer::start().await;
    server.push(Scripted::json(503, json!({"error": "busy"})));
    server.push(Scripted::json(502, json!({})));
    server.push(Scripted::json(200, json!({"ok": true})));
    let sleeper = RecordingSleeper::default();
    let reply = get(&server, &fast(), &sleeper).await.unwrap();
    assert_eq!(reply.json("heygen", "x").unwrap(), json!({"ok": true}));
    assert_eq!(*sleeper.sleeps.lock().unwrap(), [Duration::from_millis(500), Duration::from_secs(1)]);
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn persistent_server_errors_fail_after_the_bounded_attempts() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        server.push(Scripted::json(500, json!({"error": "boom"})));
    }
    let e = get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::ServerError, Some(500)));
    assert!(e.falls_through());
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn rate_limits_honour_retry_after_up_to_a_limit() {
    let server = TestServer::start().await;
    server.push(Scripted::json(429, json!({})).with_header("retry-after", "7"));
    server.push(Scripted::json(200, json!({})));
    let sleeper = RecordingSleeper::default();
    get(&server, &fast(), &sleeper).await.unwrap();
    assert_eq!(*sleeper.sleeps.lock().unwrap(), [Duration::from_secs(7)]);

    server.push(Scripted::json(429, json!({})).with_header("retry-after", "600"));
    let e = get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::RateLimited);
    assert!(e.hint.unwrap().contains("600s"));
}

#[tokio::test]
async fn client_side_statuses_are_not_retried() {
    let server = TestServer::start().await;
    server.push(Scripted::json(402, json!({"error": {"code": "plan_upgrade_required"}})));
    let e = get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::PaymentRequired);
    assert!(e.message.contains("plan_upgrade_required"), "{}", e.message);
    assert!(e.anomaly().starts_with("heygen: HTTP 402"));
    server.push(Scripted::json(401, json!({})));
    assert_eq!(
        get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err().code,
        ProviderErrorCode::Unauthorized
    );
    server.push(Scripted::json(400, json!({"message": "text too long"})));
    let e = get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::BadRequest);
    assert!(!e.falls_through(), "our own bad input would fail anywhere");
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn slow_truncated_and_oversized_bodies() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        server.push(Scripted::Stall(Duration::from_secs(5)));
    }
    let e = get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::Timeout);

    for _ in 0..3 {
        server.push(Scripted::Truncate { declared: 1000, body: b"{\"partial\":".to_vec() });
    }
    let e = get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err();
    assert!(matches!(e.code, ProviderErrorCode::Network | ProviderErrorCode::Timeout), "{e:?}");

    server.push(Scripted::bytes(200, "application/octet-stream", vec![0u8; 4096]));
    let small = Policy { body_limit: 1024, ..fast() };
    let e = get(&server, &small, &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::TooLarge);
}

#[tokio::test]
async fn error_bodies_are_scrubbed() {
    let server = TestServer::start().await;
    server.push(Scripted::json(
        401,
        json!({"echo": "x-api-key: hg_live_secretvalue123", "access_token": "tok_abcdef123"}),
    ));
    let e = get(&server, &fast(), &RecordingSleeper::default()).await.unwrap_err();
    assert!(!e.message.contains("hg_live_secretvalue123") && !e.message.contains("tok_abcdef123"), "{}", e.message);
}

#[tokio::test]
async fn the_timeout_override_replaces_the_policy_limit() {
    let base = Policy { attempts: 2, timeout: Duration::from_secs(30), ..Policy::default() };
    for raw in [None, Some(""), Some("0"), Some("-5"), Some("1.5"), Some("soon")] {
        assert_eq!(with_timeout_override(&base, raw).timeout, base.timeout, "{raw:?}");
    }
    let policy = with_timeout_override(&base, Some(" 100 "));
    assert_eq!((policy.timeout, policy.attempts), (Duration::from_millis(100), 2));

    // A reply slower than the overridden limit times out on every attempt.
    let server = TestServer::start().await;
    for _ in 0..2 {
        server.push(Scripted::Stall(Duration::from_millis(1_500)));
    }
    let e = get(&server, &policy, &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::Timeout);
    assert!(e.message.contains("0.1s"), "{}", e.message);
    assert_eq!(server.requests().len(), 2);
}
