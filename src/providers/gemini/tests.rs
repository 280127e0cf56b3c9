use crate::providers::Provider;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};

const KEY: &str = "gemini-test-key-91ab3f62d0";

fn fast() -> Policy {
    Policy { timeout: Duration::from_millis(300), ..Policy::default() }
}

fn client(server: &TestServer) -> Gemini {
    Gemini::new(KEY, server.url(), fast(), Arc::new(RecordingSleeper::default()))
}

fn png() -> ImageInput {
    ImageInput { name: "assets/hero.png".into(), mime: "image/png".into(), bytes: b"\x89PNG\r\n\x1a\nhero".to_vec() }
}

fn text_reply(parts: Value) -> Scripted {
    Scripted::json(200, json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}))
}

#[tokio::test]
async fn the_request_carries_the_image_inline_then_the_prompt() {
    let server = TestServer::start().await;
    server.push(text_reply(json!([{"text": "A red logo on white."}])));
    let text = client(&server).describe(&png(), "Describe it.", 500).await.unwrap();
    assert_eq!(text, "A red logo on white.");

    let r = &server.requests()[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/v1beta/models/gemini-3.1-flash-lite-preview:generateContent");
    assert_eq!(r.header("x-goog-api-key"), Some(KEY));
    assert_eq!(r.header("authorization"), None);
    assert_eq!(
        r.json(),
        json!({
            "contents": [{
                "role": "user",
                "parts": [
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgpoZXJv"}},
                    {"text": "Describe it."},
                ],
            }],
            "generationConfig": {"maxOutputTokens": 500},
        })
    );
}

#[tokio::test]
async fn the_mime_type_and_model_are_passed_through() {
    let server = TestServer::start().await;
    server.push(text_reply(json!([{"text": "ok"}])));
    let img = ImageInput { name: "a.jpg".into(), mime: "image/jpeg".into(), bytes: vec![0xFF, 0xD8, 0xFF, 0xE0] };
    let c = Gemini::new(KEY, format!("{}/", server.url()), fast(), Arc::new(RecordingSleeper::default()))
        .with_model("gemini-2.5-flash");
    c.describe(&img, "p", 300).await.unwrap();
    let r = &server.requests()[0];
    assert_eq!(r.target, "/v1beta/models/gemini-2.5-flash:generateContent", "a trailing slash on the base is fine");
    let body = r.json();
    assert_eq!(body["contents"][0]["parts"][0]["inlineData"], json!({"mimeType": "image/jpeg", "data": "/9j/4A=="}));
    assert_eq!(body["generationConfig"]["maxOutputTokens"], 300);
}

#[tokio::test]
async fn text_parts_are_joined_thoughts_skipped_and_whitespace_trimmed() {
    let server = TestServer::start().await;
    server.push(text_reply(json!([
        {"text": "Let me look at the colours.", "thought": true},
        {"text": "  A dark dashboard "},
        {"text": "with green charts.\n"},
        {"inlineData": {"mimeType": "image/png", "data": "AAAA"}},
    ])));
    let text = client(&server).describe(&png(), "p", 500).await.unwrap();
    assert_eq!(text, "A dark dashboard with green charts.");
}

#[tokio::test]
async fn an_answer_without_text_is_a_bad_response() {
    let server = TestServer::start().await;
    server.push(text_reply(json!([])));
    server.push(text_reply(json!([{"text": "   "}])));
    server.push(Scripted::json(
        200,
        json!({"candidates": [{"content": {"parts": [{"text": "hmm", "thought": true}]}, "finishReason": "MAX_TOKENS"}]}),
    ));
    server.push(Scripted::json(200, json!({})));
    let c = client(&server);
    for n in 0..4 {
        let e = c.describe(&png(), "p", 500).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadResponse, "case {n}: {}", e.message);
        assert_eq!(e.hint.is_some(), n == 2, "only MAX_TOKENS gets a hint");
    }
}

#[tokio::test]
async fn filtered_images_are_bad_requests() {
    let server = TestServer::start().await;
    server.push(Scripted::json(200, json!({"candidates": [{"finishReason": "IMAGE_SAFETY"}]})));
    server.push(Scripted::json(200, json!({"promptFeedback": {"blockReason": "SAFETY"}})));
    let c = client(&server);
    for reason in ["IMAGE_SAFETY", "SAFETY"] {
        let e = c.describe(&png(), "p", 500).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadRequest);
        assert!(e.message.contains(reason));
    }
}

#[tokio::test]
async fn refused_keys_are_unauthorized_and_never_echoed() {
    let server = TestServer::start().await;
    server.push(Scripted::json(401, json!({"error": {"message": format!("bad key {KEY}")}})));
    server.push(Scripted::json(403, json!({"error": {"status": "PERMISSION_DENIED"}})));
    server.push(Scripted::json(
        400,
        json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID", "metadata": {"key": KEY}}]}}),
    ));
    let c = client(&server);
    for status in [401, 403, 400] {
        let e = c.describe(&png(), "p", 500).await.unwrap_err();
        assert_eq!((e.code, e.status), (ProviderErrorCode::Unauthorized, Some(status)));
        assert!(e.hint.as_deref().unwrap().contains("GEMINI_API_KEY"));
        for text in [e.message.clone(), e.anomaly(), format!("{e:?}"), format!("{c:?}")] {
            assert!(!text.contains(KEY), "{text}");
        }
    }
    assert_eq!(server.requests().len(), 3, "refusals are not retried");
}

#[tokio::test]
async fn other_client_errors_stay_bad_requests() {
    let server = TestServer::start().await;
    server.push(Scripted::json(400, json!({"error": {"code": 400, "message": "Unsupported MIME type: image/bmp"}})));
    let e = client(&server).describe(&png(), "p", 500).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::BadRequest);
    assert!(e.message.contains("Unsupported MIME type"));
}

#[tokio::test]
async fn a_stalled_request_times_out() {
    let server = TestServer::start().await;
    server.push(Scripted::Stall(Duration::from_secs(3)));
    let policy = Policy { attempts: 1, ..fast() };
    let c = Gemini::new(KEY, server.url(), policy, Arc::new(RecordingSleeper::default()));
    let e = c.describe(&png(), "p", 500).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::Timeout);
    assert!(e.falls_through());
}

#[tokio::test]
async fn a_dropped_connection_is_retried() {
    let server = TestServer::start().await;
    server.push(Scripted::Close);
    server.push(text_reply(json!([{"text": "fine"}])));
    let sleeper = Arc::new(RecordingSleeper::default());
    let c = Gemini::new(KEY, server.url(), fast(), sleeper.clone());
    assert_eq!(c.describe(&png(), "p", 500).await.unwrap(), "fine");
    assert_eq!(sleeper.sleeps.lock().unwrap().len(), 1);
}

#[test]
fn urls_refuse_odd_model_names() {
    assert_eq!(
        generate_url(Provider::Gemini, "https://g.example/", "models/gemini-x").unwrap(),
        "https://g.example/v1beta/models/gemini-x:generateContent"
    );
    for bad in ["", "a/b", "x?key=1", "a b", "models/"] {
        assert_eq!(
            generate_url(Provider::Gemini, "https://g", bad).unwrap_err().code,
            ProviderErrorCode::BadRequest,
            "{bad}"
        );
    }
}

#[test]
fn base64_is_decoded_in_either_alphabet_with_or_without_padding() {
    assert_eq!(decode_base64("aGk=").unwrap(), b"hi");
    assert_eq!(decode_base64("aGk").unwrap(), b"hi");
    assert_eq!(decode_base64("-_8=").unwrap(), [0xFB, 0xFF]);
    assert_eq!(decode_base64("+/8=").unwrap(), [0xFB, 0xFF]);
    assert_eq!(decode_base64("aG\nk=").unwrap(), b"hi");
    assert!(decode_base64("***").is_none());
}

#[test]
fn blocking_finish_reasons() {
    for r in
        ["SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY", "image_prohibited_content"]
    {
        assert!(is_blocking_finish(r), "{r}");
    }
    for r in ["", "STOP", "MAX_TOKENS", "OTHER", "MALFORMED_FUNCTION_CALL"] {
        assert!(!is_blocking_finish(r), "{r}");
    }
}

#[test]
fn from_lookup_prefers_gemini_key_and_reads_model_url_and_timeout() {
    assert!(Gemini::from_lookup(&|_| None).is_none());
    let env = |n: &str| match n {
        "GEMINI_API_KEY" => Some(" gemini-env-key-aaaa1111 ".to_string()),
        "GOOGLE_API_KEY" => Some("gemini-env-key-bbbb2222".to_string()),
        "GEMINI_API_URL" => Some("http://127.0.0.1:9".to_string()),
        "HYPERFRAMES_GEMINI_MODEL" => Some("gemini-2.5-flash".to_string()),
        "HYPERFRAMES_VISION_TIMEOUT_MS" => Some("1500".to_string()),
        _ => None,
    };
    let c = Gemini::from_lookup(&env).unwrap();
    assert_eq!(c.base.key(), "gemini-env-key-aaaa1111");
    assert_eq!(c.base_url(), "http://127.0.0.1:9");
    assert_eq!(c.model(), "gemini-2.5-flash");
    assert_eq!(c.base.policy.timeout, Duration::from_millis(1500));

    let google = |n: &str| (n == "GOOGLE_API_KEY").then(|| "gemini-env-key-bbbb2222".to_string());
    let c = Gemini::from_lookup(&google).unwrap();
    assert_eq!(c.base.key(), "gemini-env-key-bbbb2222");
    assert_eq!((c.base_url(), c.model()), (DEFAULT_BASE_URL, DEFAULT_MODEL));
    assert_eq!(c.base.policy.timeout, Duration::from_secs(30));
}
