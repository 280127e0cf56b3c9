use super::*;
use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};
use crate::providers::Provider;
use serde_json::json;

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get(server: &TestServer, policy: &Policy, sleeper: &RecordingSleeper) -> ProviderResult<Reply> {
    let c = client();
    let url = format!("{}/thing", server.url());
    send(Provider::Heygen, "test call", &|| c.get(&url), policy, sleeper).await
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
    assert_eq!(reply.json(Provider::Heygen, "x").unwrap(), json!({"ok": true}));
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
    assert!(e.message.contains("asked to wait 600s"), "{}", e.message);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_says_what_was_asked_and_falls_through_at_once() {
    let server = TestServer::start().await;
    server.push(Scripted::json(429, json!({})).with_header("retry-after", "100000"));
    let sleeper = RecordingSleeper::default();
    let e = get(&server, &fast(), &sleeper).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::RateLimited);
    assert!(e.falls_through());
    assert!(e.message.contains("asked to wait 100000s"), "{}", e.message);
    assert!(e.message.contains("beyond this call's 30s budget"), "{}", e.message);
    assert!(!e.message.contains("3600"), "{}", e.message);
    assert!(sleeper.sleeps.lock().unwrap().is_empty(), "no wait");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_trickling_body_is_cut_off_by_the_budget_not_retried_past_it() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        server.push(Scripted::Trickle { every: Duration::from_millis(200), body: b"{\"slow\": true}".to_vec() });
    }
    // The per-attempt limit alone would allow minutes; the budget ends the whole call.
    let policy = Policy { timeout: Duration::from_secs(180), budget: Duration::from_millis(400), ..Policy::default() };
    let e = get(&server, &policy, &RecordingSleeper::default()).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::Timeout);
    assert!(e.falls_through());
    assert!(e.message.contains("no answer within the 0.4s budget for this call (1 attempt"), "{}", e.message);
    assert!(e.hint.as_deref().unwrap().contains(BUDGET_ENV));
    assert_eq!(server.requests().len(), 1, "no attempt after the budget ran out");
}

#[tokio::test]
async fn backoff_waits_count_against_the_budget() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        server.push(Scripted::json(503, json!({"error": "busy"})));
    }
    // 500 ms then 1 s of backoff: the second wait does not fit a 1.2 s budget.
    let policy = Policy { budget: Duration::from_millis(1_200), ..fast() };
    let sleeper = RecordingSleeper::default();
    let e = get(&server, &policy, &sleeper).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::ServerError, Some(503)));
    assert!(e.message.contains("budget") && e.message.contains("2 attempts"), "{}", e.message);
    assert_eq!(*sleeper.sleeps.lock().unwrap(), [Duration::from_millis(500)]);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn the_budget_and_the_per_attempt_limit_from_the_environment() {
    let base = Policy { timeout: Duration::from_secs(60), ..Policy::default() };
    let p = with_env_limits(&base, None, None);
    assert_eq!((p.timeout, p.budget), (Duration::from_secs(60), DEFAULT_BUDGET));
    let p = with_env_limits(&base, None, Some("250"));
    assert_eq!((p.timeout, p.budget), (Duration::from_secs(60), Duration::from_millis(250)));
    // A per-attempt limit above the default budget raises the budget with it...
    let p = with_env_limits(&base, Some("90000"), None);
    assert_eq!((p.timeout, p.budget), (Duration::from_secs(90), Duration::from_secs(90)));
    // ...unless the budget is set too; a smaller one leaves the default.
    let p = with_env_limits(&base, Some("90000"), Some("5000"));
    assert_eq!((p.timeout, p.budget), (Duration::from_secs(90), Duration::from_secs(5)));
    let p = with_env_limits(&base, Some("1000"), Some("nope"));
    assert_eq!((p.timeout, p.budget), (Duration::from_secs(1), DEFAULT_BUDGET));
}

#[tokio::test]
async fn a_slow_call_prints_waiting_lines() {
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    set_wait_reporter(Some(std::sync::Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_string()))));
    let out = with_wait_notices(
        tokio::time::sleep(Duration::from_millis(400)),
        Provider::Heygen,
        Instant::now(),
        Duration::from_millis(100),
    )
    .await;
    set_wait_reporter(None);
    assert_eq!(out, ());
    let got: Vec<String> =
        lines.lock().unwrap().iter().filter(|l| l.starts_with("waiting for HeyGen… ")).cloned().collect();
    assert!(got.len() >= 2, "{got:?}");
    assert!(got.iter().all(|l| l.ends_with('s')), "{got:?}");
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

#[tokio::test]
async fn redirects_follow_the_policy_and_one_left_unfollowed_falls_through() {
    let server = TestServer::start().await;
    let c = crate::http::client(Duration::from_secs(5));
    let url = format!("{}/thing", server.url());
    let call = |policy: Policy| {
        let (c, url) = (c.clone(), url.clone());
        async move { send(Provider::Heygen, "test call", &|| c.get(&url), &policy, &RecordingSleeper::default()).await }
    };
    server.push(Scripted::json(302, json!({})).with_header("location", "/there"));
    let e = call(fast()).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::BadResponse, Some(302)));
    assert!(e.falls_through());
    server.push(Scripted::json(302, json!({})).with_header("location", "/there"));
    server.push(Scripted::json(200, json!({"here": true})));
    let reply = call(Policy { redirects: 1, ..fast() }).await.unwrap();
    assert_eq!(reply.json(Provider::Heygen, "x").unwrap(), json!({"here": true}));
    assert_eq!(server.requests().last().unwrap().target, "/there");
}
