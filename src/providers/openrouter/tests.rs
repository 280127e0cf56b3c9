use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};

const KEY: &str = "sk-or-v1-openrouter-test-4d2c7b19e8";

fn fast() -> Policy {
    Policy { timeout: Duration::from_millis(300), ..Policy::default() }
}

fn client(server: &TestServer) -> OpenRouter {
    OpenRouter::new(KEY, server.url(), fast(), Arc::new(RecordingSleeper::default()))
}

fn webp() -> ImageInput {
    ImageInput { name: "assets/card.webp".into(), mime: "image/webp".into(), bytes: b"RIFF\0\0\0\0WEBPVP8 ".to_vec() }
}

fn reply(content: Value) -> Scripted {
    Scripted::json(
        200,
        json!({"id": "gen-1", "choices": [{"index": 0, "finish_reason": "stop",
            "message": {"role": "assistant", "content": content}}]}),
    )
}

#[tokio::test]
async fn the_request_is_a_chat_completion_with_the_prompt_then_a_data_url() {
    let server = TestServer::start().await;
    server.push(reply(json!("A product card on a dark background.")));
    let text = client(&server).describe(&webp(), "Describe it.", 500).await.unwrap();
    assert_eq!(text, "A product card on a dark background.");

    let r = &server.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/v1/chat/completions");
    assert_eq!(r.header("authorization"), Some(format!("Bearer {KEY}").as_str()));
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-title"), Some("HyperFrames"));
    assert_eq!(r.header("http-referer"), None);
    assert_eq!(
        r.json(),
        json!({
            "model": "google/gemini-3.1-flash-lite",
            "messages": [{
                "role": "user",
                "content": [
                    {"type": "text", "text": "Describe it."},
                    {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklGRgAAAABXRUJQVlA4IA=="}},
                ],
            }],
            "max_tokens": 500,
        })
    );
}

#[tokio::test]
async fn model_and_attribution_headers_are_configurable() {
    let server = TestServer::start().await;
    server.push(reply(json!("ok")));
    let c = OpenRouter::new(KEY, format!("{}/", server.url()), fast(), Arc::new(RecordingSleeper::default()))
        .with_model("openai/gpt-4o-mini")
        .with_attribution(Some("https://example.test/app".into()), None);
    let img = ImageInput { name: "x.gif".into(), mime: "image/gif".into(), bytes: b"GIF89a".to_vec() };
    c.describe(&img, "p", 300).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.target, "/v1/chat/completions");
    assert_eq!(r.header("http-referer"), Some("https://example.test/app"));
    assert_eq!(r.header("x-title"), None);
    let body = r.json();
    assert_eq!(body["model"], "openai/gpt-4o-mini");
    assert_eq!(body["max_tokens"], 300);
    assert_eq!(body["messages"][0]["content"][1]["image_url"]["url"], "data:image/gif;base64,R0lGODlh");
}

#[tokio::test]
async fn content_may_be_a_string_or_an_array_of_text_parts() {
    let server = TestServer::start().await;
    server.push(reply(json!("  Trimmed sentence.\n")));
    server.push(reply(json!([
        {"type": "text", "text": "A blue "},
        {"type": "reasoning", "text": "ignored"},
        {"type": "text", "text": "wordmark."},
    ])));
    server.push(reply(json!([{"text": "Untyped part."}])));
    let c = client(&server);
    for expected in ["Trimmed sentence.", "A blue wordmark.", "Untyped part."] {
        assert_eq!(c.describe(&webp(), "p", 500).await.unwrap(), expected);
    }
}

#[tokio::test]
async fn empty_content_is_a_bad_response() {
    let server = TestServer::start().await;
    server.push(reply(json!("")));
    server.push(reply(Value::Null));
    server.push(reply(json!([])));
    server.push(Scripted::json(200, json!({"choices": []})));
    server.push(Scripted::json(
        200,
        json!({"choices": [{"finish_reason": "length", "message": {"role": "assistant", "content": ""}}]}),
    ));
    let c = client(&server);
    for n in 0..5 {
        let e = c.describe(&webp(), "p", 500).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadResponse, "case {n}: {}", e.message);
        assert_eq!(e.hint.is_some(), n == 4, "only a length stop gets a hint");
    }
}

#[tokio::test]
async fn filtered_or_refused_answers_are_bad_requests() {
    let server = TestServer::start().await;
    server.push(Scripted::json(
        200,
        json!({"choices": [{"finish_reason": "content_filter", "message": {"content": null}}]}),
    ));
    server.push(Scripted::json(
        200,
        json!({"choices": [{"finish_reason": "stop", "message": {"content": null, "refusal": "I can't help with that."}}]}),
    ));
    let c = client(&server);
    for expected in ["content filter", "can't help"] {
        let e = c.describe(&webp(), "p", 500).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadRequest);
        assert!(e.message.contains(expected), "{}", e.message);
    }
}

#[tokio::test]
async fn an_error_object_in_a_200_reply_counts_as_its_status() {
    let server = TestServer::start().await;
    server.push(Scripted::json(200, json!({"error": {"code": 502, "message": "Upstream provider returned an error"}})));
    server.push(Scripted::json(
        200,
        json!({"choices": [{"error": {"code": "429", "message": "slow down"}, "finish_reason": "error"}]}),
    ));
    server.push(Scripted::json(200, json!({"error": {"message": "mystery"}})));
    let c = client(&server);
    let e = c.describe(&webp(), "p", 500).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::ServerError, Some(502)));
    assert!(e.message.contains("Upstream provider returned an error"));
    let e = c.describe(&webp(), "p", 500).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::RateLimited, Some(429)));
    let e = c.describe(&webp(), "p", 500).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::BadResponse, None));
}

#[tokio::test]
async fn a_refused_key_is_unauthorized_and_never_echoed() {
    let server = TestServer::start().await;
    server.push(Scripted::json(
        401,
        json!({"error": {"message": format!("No auth credentials found for {KEY}"), "code": 401}}),
    ));
    server.push(Scripted::json(200, json!({"error": {"message": format!("User not found: {KEY}"), "code": 401}})));
    let c = client(&server);
    for _ in 0..2 {
        let e = c.describe(&webp(), "p", 500).await.unwrap_err();
        assert_eq!((e.code, e.status), (ProviderErrorCode::Unauthorized, Some(401)));
        assert!(e.hint.as_deref().unwrap().contains("OPENROUTER_API_KEY"));
        for text in [e.message.clone(), e.anomaly(), format!("{e:?}"), format!("{c:?}")] {
            assert!(!text.contains(KEY), "{text}");
            assert!(!text.contains("4d2c7b19e8"), "{text}");
        }
    }
    assert_eq!(server.requests().len(), 2, "a 401 is not retried");
}

#[tokio::test]
async fn out_of_credits_and_unknown_models_get_hints() {
    let server = TestServer::start().await;
    server.push(Scripted::json(402, json!({"error": {"message": "Insufficient credits", "code": 402}})));
    server.push(Scripted::json(404, json!({"error": {"message": "No endpoints found", "code": 404}})));
    let c = client(&server);
    let e = c.describe(&webp(), "p", 500).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::PaymentRequired);
    assert!(e.hint.is_some());
    let e = c.describe(&webp(), "p", 500).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::NotFound);
    assert!(e.hint.unwrap().contains(MODEL_ENV));
}

#[tokio::test]
async fn a_stalled_request_times_out() {
    let server = TestServer::start().await;
    server.push(Scripted::Stall(Duration::from_secs(3)));
    let c = OpenRouter::new(KEY, server.url(), Policy { attempts: 1, ..fast() }, Arc::new(RecordingSleeper::default()));
    let e = c.describe(&webp(), "p", 500).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::Timeout);
}

#[tokio::test]
async fn a_truncated_reply_is_retried_then_reported() {
    let server = TestServer::start().await;
    for _ in 0..2 {
        server.push(Scripted::Truncate { declared: 500, body: b"{\"choices\":[".to_vec() });
    }
    let c = OpenRouter::new(KEY, server.url(), Policy { attempts: 2, ..fast() }, Arc::new(RecordingSleeper::default()));
    let e = c.describe(&webp(), "p", 500).await.unwrap_err();
    assert!(matches!(e.code, ProviderErrorCode::Network | ProviderErrorCode::Timeout), "{:?}", e.code);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn from_lookup_reads_key_url_model_and_timeout() {
    assert!(OpenRouter::from_lookup(&|_| None).is_none());
    assert!(OpenRouter::from_lookup(&|n| (n == "OPENROUTER_API_KEY").then(String::new)).is_none());
    let env = |n: &str| match n {
        "OPENROUTER_API_KEY" => Some("sk-or-v1-env-key-77aa".to_string()),
        "OPENROUTER_API_URL" => Some("http://127.0.0.1:9/api".to_string()),
        "HYPERFRAMES_OPENROUTER_MODEL" => Some("anthropic/claude-haiku".to_string()),
        "HYPERFRAMES_VISION_TIMEOUT_MS" => Some("nonsense".to_string()),
        _ => None,
    };
    let c = OpenRouter::from_lookup(&env).unwrap();
    assert_eq!(c.base.key(), "sk-or-v1-env-key-77aa");
    assert_eq!(c.base_url(), "http://127.0.0.1:9/api");
    assert_eq!(c.model(), "anthropic/claude-haiku");
    assert_eq!(c.base.policy.timeout, Duration::from_secs(30));
    let c = OpenRouter::from_lookup(&|n| (n == "OPENROUTER_API_KEY").then(|| "sk-or-v1-env-key-88bb".into())).unwrap();
    assert_eq!((c.base_url(), c.model()), (DEFAULT_BASE_URL, DEFAULT_MODEL));
}
