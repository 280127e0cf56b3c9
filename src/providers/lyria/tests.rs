use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::json;

use super::*;
use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};

const KEY: &str = "lyria-test-key-5c81e0d7a9";

fn fast() -> Policy {
    Policy { timeout: Duration::from_millis(300), ..Policy::default() }
}

fn client(server: &TestServer, sleeper: Arc<RecordingSleeper>) -> Lyria {
    Lyria::new(KEY, server.url(), fast(), sleeper)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

const MP3: &[u8] = b"ID3\x04\x00\x00\x00\x00\x00\x00fake mp3 frames";

fn audio_reply(parts: serde_json::Value) -> Scripted {
    Scripted::json(200, json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}]}))
}

#[tokio::test]
async fn request_names_the_model_sends_the_key_in_a_header_and_says_everything_in_the_prompt() {
    let server = TestServer::start().await;
    server.push(audio_reply(json!([{"inlineData": {"mimeType": "audio/mpeg", "data": b64(MP3)}}])));
    let lyria = client(&server, Arc::default());
    lyria.generate("warm lo-fi piano, 80 BPM", Some("drums, distortion"), 42.4).await.unwrap();

    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/v1beta/models/lyria-3-clip-preview:generateContent");
    assert_eq!(r.header("x-goog-api-key"), Some(KEY));
    assert!(!r.target.contains(KEY), "the key stays out of the URL");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["generationConfig"], json!({"responseModalities": ["AUDIO", "TEXT"]}));
    assert_eq!(body["contents"][0]["role"], "user");
    let parts = body["contents"][0]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1);
    let text = parts[0]["text"].as_str().unwrap();
    assert!(text.starts_with("warm lo-fi piano, 80 BPM"), "{text}");
    assert!(text.contains("Avoid: drums, distortion."), "{text}");
    assert!(text.contains("about 42 seconds"), "{text}");
    assert!(text.contains("Instrumental only"), "{text}");
}

#[tokio::test]
async fn the_model_comes_from_the_client_and_a_models_prefix_is_accepted() {
    let server = TestServer::start().await;
    server.push(audio_reply(json!([{"inlineData": {"mimeType": "audio/mpeg", "data": b64(MP3)}}])));
    let lyria = client(&server, Arc::default()).with_model("models/lyria-3-pro-preview");
    lyria.generate("epic", None, 90.0).await.unwrap();
    assert_eq!(server.requests()[0].target, "/v1beta/models/lyria-3-pro-preview:generateContent");
}

#[tokio::test]
async fn a_malformed_model_name_or_empty_prompt_is_refused_without_a_request() {
    let server = TestServer::start().await;
    let e = client(&server, Arc::default()).with_model("../x?key=1").generate("calm", None, 30.0).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::BadRequest);
    let e = client(&server, Arc::default()).generate("   ", None, 30.0).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::BadRequest);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_first_audio_part_is_decoded_and_text_parts_are_kept() {
    let server = TestServer::start().await;
    server.push(audio_reply(json!([
        {"text": "thinking about the arrangement", "thought": true},
        {"text": "[Intro] soft piano\n"},
        {"inlineData": {"mimeType": "image/png", "data": b64(b"not audio")}},
        {"inlineData": {"mimeType": "audio/mpeg", "data": b64(MP3)}},
        {"text": "[Outro] fade"},
        {"inlineData": {"mimeType": "audio/wav", "data": b64(b"RIFF second")}},
    ])));
    let clip = client(&server, Arc::default()).generate("calm", None, 30.0).await.unwrap();
    assert_eq!(clip.audio, MP3);
    assert_eq!(clip.mime, "audio/mpeg");
    assert_eq!(clip.text.as_deref(), Some("[Intro] soft piano\n[Outro] fade"));
}

#[tokio::test]
async fn snake_case_parts_unpadded_base64_and_no_text_are_accepted() {
    let server = TestServer::start().await;
    let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(b"ab");
    server.push(audio_reply(json!([{"inline_data": {"mime_type": "Audio/MPEG", "data": unpadded}}])));
    let clip = client(&server, Arc::default()).generate("calm", None, 30.0).await.unwrap();
    assert_eq!(clip.audio, b"ab");
    assert_eq!(clip.text, None);
}

#[tokio::test]
async fn invalid_base64_is_a_bad_response() {
    let server = TestServer::start().await;
    server.push(audio_reply(json!([{"inlineData": {"mimeType": "audio/mpeg", "data": "@@not base64!!"}}])));
    let e = client(&server, Arc::default()).generate("calm", None, 30.0).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::BadResponse);
    assert!(e.message.contains("base64"), "{}", e.message);
    assert!(e.falls_through());
}

#[tokio::test]
async fn an_empty_audio_part_is_a_bad_response() {
    let server = TestServer::start().await;
    server.push(audio_reply(json!([{"inlineData": {"mimeType": "audio/mpeg", "data": ""}}])));
    let e = client(&server, Arc::default()).generate("calm", None, 30.0).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::BadResponse);
}

#[tokio::test]
async fn a_response_without_audio_is_a_bad_response() {
    let server = TestServer::start().await;
    server.push(audio_reply(json!([{"text": "Here are some lyrics but no song"}])));
    server.push(Scripted::json(200, json!({"candidates": []})));
    server.push(Scripted::json(200, json!({"candidates": [{"finishReason": "STOP"}]})));
    server.push(Scripted::bytes(200, "text/html", b"<html>proxy</html>".to_vec()));
    let lyria = client(&server, Arc::default());
    for expected in ["no audio part", "no candidates", "no audio part", "not JSON"] {
        let e = lyria.generate("calm", None, 30.0).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadResponse);
        assert!(e.message.contains(expected), "{} / {expected}", e.message);
    }
}

#[tokio::test]
async fn safety_stops_are_bad_requests_that_name_the_reason() {
    let server = TestServer::start().await;
    server.push(Scripted::json(200, json!({"candidates": [{"finishReason": "SAFETY", "index": 0}]})));
    server.push(Scripted::json(
        200,
        json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT", "blockReasonMessage": "artist names"}}),
    ));
    server.push(Scripted::json(
        200,
        json!({"candidates": [{"finishReason": "RECITATION",
            "content": {"parts": [{"inlineData": {"mimeType": "audio/mpeg", "data": b64(MP3)}}]}}]}),
    ));
    let lyria = client(&server, Arc::default());
    for reason in ["SAFETY", "PROHIBITED_CONTENT", "RECITATION"] {
        let e = lyria.generate("a song like a famous band", None, 30.0).await.unwrap_err();
        assert_eq!(e.code, ProviderErrorCode::BadRequest, "{reason}");
        assert!(e.message.contains(reason), "{}", e.message);
        assert!(!e.falls_through());
        assert!(e.hint.is_some());
    }
}

#[tokio::test]
async fn rate_limits_wait_for_retry_after_then_succeed() {
    let server = TestServer::start().await;
    server.push(
        Scripted::json(429, json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}))
            .with_header("retry-after", "7"),
    );
    server.push(audio_reply(json!([{"inlineData": {"mimeType": "audio/mpeg", "data": b64(MP3)}}])));
    let sleeper = Arc::new(RecordingSleeper::default());
    let clip = client(&server, sleeper.clone()).generate("calm", None, 30.0).await.unwrap();
    assert_eq!(clip.audio, MP3);
    assert_eq!(*sleeper.sleeps.lock().unwrap(), [Duration::from_secs(7)]);
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let server = TestServer::start().await;
    for _ in 0..3 {
        server.push(Scripted::json(503, json!({"error": {"code": 503, "message": "overloaded"}})));
    }
    let sleeper = Arc::new(RecordingSleeper::default());
    let e = client(&server, sleeper.clone()).generate("calm", None, 30.0).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::ServerError, Some(503)));
    assert!(e.message.contains("overloaded"));
    assert_eq!(server.requests().len(), 3);
    assert_eq!(*sleeper.sleeps.lock().unwrap(), [Duration::from_millis(500), Duration::from_secs(1)]);
}

#[tokio::test]
async fn an_invalid_key_is_unauthorized_and_never_echoed() {
    let server = TestServer::start().await;
    server.push(Scripted::json(
        400,
        json!({"error": {"code": 400, "message": format!("API key not valid: {KEY}. Please pass a valid API key."),
            "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}}),
    ));
    let lyria = client(&server, Arc::default());
    let e = lyria.generate("calm", None, 30.0).await.unwrap_err();
    assert_eq!((e.code, e.status), (ProviderErrorCode::Unauthorized, Some(400)));
    assert!(e.hint.as_deref().unwrap().contains("GEMINI_API_KEY"));
    for text in [e.message.clone(), e.anomaly(), format!("{e:?}"), format!("{lyria:?}")] {
        assert!(!text.contains(KEY), "{text}");
    }
}

#[tokio::test]
async fn an_unknown_model_is_not_found_with_a_hint() {
    let server = TestServer::start().await;
    server.push(Scripted::json(404, json!({"error": {"code": 404, "status": "NOT_FOUND"}})));
    let e = client(&server, Arc::default()).generate("calm", None, 30.0).await.unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::NotFound);
    assert!(e.hint.unwrap().contains(MODEL_ENV));
}

#[test]
fn prompt_text_says_vocals_negative_and_length_in_words() {
    assert_eq!(
        prompt_text(" calm strings ", None, f64::NAN, true),
        "calm strings",
        "nothing is added when there is nothing to say"
    );
    let t = prompt_text("calm strings", Some("  "), 0.4, true);
    assert_eq!(t, "calm strings\nLength: about 1 second, as background music for a video.");
    let t = prompt_text("calm strings", Some("brass"), -3.0, false);
    assert!(t.contains("Instrumental only") && t.contains("Avoid: brass.") && !t.contains("Length"), "{t}");
}

#[test]
fn from_lookup_needs_a_key_and_reads_the_model_and_base_url() {
    let none = |_: &str| None::<String>;
    assert!(Lyria::from_lookup(&none).is_none());
    let blank = |n: &str| (n == "GEMINI_API_KEY").then(|| "  ".to_string());
    assert!(Lyria::from_lookup(&blank).is_none());

    let env = |n: &str| match n {
        "GEMINI_API_KEY" => Some("lyria-env-key-gemini-1234".to_string()),
        "GOOGLE_API_KEY" => Some("lyria-env-key-google-1234".to_string()),
        "GEMINI_API_URL" => Some("http://127.0.0.1:9/".to_string()),
        "HYPERFRAMES_LYRIA_MODEL" => Some("lyria-3-pro-preview".to_string()),
        _ => None,
    };
    let c = Lyria::from_lookup(&env).unwrap();
    assert_eq!(c.base.key(), "lyria-env-key-gemini-1234");
    assert_eq!(c.base.base_url(), "http://127.0.0.1:9", "trailing slashes dropped");
    assert_eq!(c.model(), "lyria-3-pro-preview");
    assert_eq!(c.base.policy.attempts, 2);

    let google = |n: &str| (n == "GOOGLE_API_KEY").then(|| "lyria-env-key-google-1234".to_string());
    let c = Lyria::from_lookup(&google).unwrap();
    assert_eq!(c.base.key(), "lyria-env-key-google-1234");
    assert_eq!(c.base.base_url(), crate::providers::gemini::DEFAULT_BASE_URL);
    assert_eq!(c.model(), DEFAULT_MODEL);
    assert!(crate::auth::scrub::scrub("x lyria-env-key-google-1234 y").contains("<redacted>"));
}
