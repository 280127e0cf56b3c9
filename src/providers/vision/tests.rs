use crate::providers::Provider;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use super::*;
use crate::providers::gemini::Gemini;
use crate::providers::http::Policy;
use crate::providers::openrouter::OpenRouter;
use crate::providers::test_server::{Recorded, RecordingSleeper, Scripted, TestServer};

const GEMINI_KEY: &str = "vision-gemini-key-3e9f0c";
const OPENROUTER_KEY: &str = "sk-or-v1-vision-key-8b1d44";
const PNG_SIG: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A contract server for `generateContent` that takes its orders from the image itself: the bytes
/// after the PNG signature read `name|delay_ms|status`. It waits `delay_ms`, then answers `status`
/// (a description of `name` on 200); the test server counts how many requests it held at once.
async fn vision_server() -> TestServer {
    TestServer::routed(|r: &Recorded| {
        let request: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let data = request.pointer("/contents/0/parts/0/inlineData/data").and_then(Value::as_str);
        let order = data
            .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
            .map(|b| String::from_utf8_lossy(&b[PNG_SIG.len().min(b.len())..]).to_string())
            .unwrap_or_default();
        let mut fields = order.split('|');
        let name = fields.next().unwrap_or("").to_string();
        let delay: u64 = fields.next().and_then(|d| d.parse().ok()).unwrap_or(0);
        let status: u16 = fields.next().and_then(|d| d.parse().ok()).unwrap_or(200);
        let reply = if status == 200 {
            json!({"candidates": [{"content": {"parts": [{"text": format!("a picture of {name}")}]},
                "finishReason": "STOP"}]})
        } else {
            json!({"error": {"code": status, "message": format!("failed for {name}, key {GEMINI_KEY}")}})
        };
        (Duration::from_millis(delay), Scripted::json(status, reply))
    })
    .await
}

fn ordered(name: &str, delay_ms: u64, status: u16) -> ImageInput {
    let mut bytes = PNG_SIG.to_vec();
    bytes.extend_from_slice(format!("{name}|{delay_ms}|{status}").as_bytes());
    ImageInput { name: name.into(), mime: "image/png".into(), bytes }
}

fn gemini(server: &TestServer) -> Gemini {
    // One attempt, so a scripted failure is final; a generous transport limit, so only the
    // per-request limit of `describe_all` can cut a request short.
    let policy = Policy { attempts: 1, timeout: Duration::from_secs(5), ..Policy::default() };
    Gemini::new(GEMINI_KEY, server.url(), policy, Arc::new(RecordingSleeper::default()))
}

#[tokio::test]
async fn results_keep_input_order_whatever_order_requests_finish_in() {
    let server = vision_server().await;
    let images = vec![
        ordered("slow.png", 250, 200),
        ordered("broken.png", 0, 500),
        ordered("fast.png", 0, 200),
        ordered("denied.png", 50, 403),
        ordered("last.png", 10, 200),
    ];
    let results = describe_all(&gemini(&server), images, 4, Duration::from_secs(5)).await;
    let names: Vec<&str> = results.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["slow.png", "broken.png", "fast.png", "denied.png", "last.png"]);
    assert_eq!(results[0].1.as_deref().unwrap(), "a picture of slow.png");
    assert_eq!(results[1].1.as_ref().unwrap_err().code, ProviderErrorCode::ServerError);
    assert_eq!(results[2].1.as_deref().unwrap(), "a picture of fast.png");
    assert_eq!(results[3].1.as_ref().unwrap_err().code, ProviderErrorCode::Unauthorized);
    assert_eq!(results[4].1.as_deref().unwrap(), "a picture of last.png");
    for (_, r) in &results {
        if let Err(e) = r {
            assert!(!e.message.contains(GEMINI_KEY) && !e.anomaly().contains(GEMINI_KEY), "{}", e.message);
        }
    }
    assert_eq!(server.in_flight(), 0);
}

#[tokio::test]
async fn no_more_than_the_concurrency_limit_is_in_flight() {
    let server = vision_server().await;
    let images: Vec<_> = (0..9).map(|i| ordered(&format!("{i}.png"), 150, 200)).collect();
    let results = describe_all(&gemini(&server), images, 3, Duration::from_secs(5)).await;
    assert!(results.iter().all(|(_, r)| r.is_ok()));
    assert_eq!(server.requests().len(), 9);
    // An upper bound only: how many overlap below it depends on scheduling, not on our code.
    let max = server.peak_in_flight();
    assert!((1..=3).contains(&max), "max in flight {max}");
}

#[tokio::test]
async fn a_concurrency_of_zero_or_one_runs_requests_one_at_a_time() {
    let server = vision_server().await;
    for concurrency in [0, 1] {
        let images: Vec<_> = (0..3).map(|i| ordered(&format!("{i}.png"), 60, 200)).collect();
        let results = describe_all(&gemini(&server), images, concurrency, Duration::from_secs(5)).await;
        assert!(results.iter().all(|(_, r)| r.is_ok()));
    }
    assert_eq!(server.peak_in_flight(), 1);
}

#[tokio::test]
async fn oversized_images_are_skipped_without_a_request() {
    let server = vision_server().await;
    let mut big = ordered("huge.png", 0, 200);
    big.bytes.resize(MAX_IMAGE_BYTES + 1, 0);
    let at_limit =
        ImageInput { name: "at-limit.png".into(), mime: "image/png".into(), bytes: vec![0; MAX_IMAGE_BYTES] };
    assert!(!at_limit.is_oversized() && big.is_oversized());

    let images = vec![ordered("a.png", 0, 200), big, ordered("b.png", 0, 200)];
    let results = describe_all(&gemini(&server), images, 4, Duration::from_secs(5)).await;
    assert_eq!(server.requests().len(), 2, "the oversized image was never sent");
    assert_eq!(results[0].1.as_deref().unwrap(), "a picture of a.png");
    let e = results[1].1.as_ref().unwrap_err();
    assert_eq!(
        (results[1].0.as_str(), e.code, e.provider),
        ("huge.png", ProviderErrorCode::BadRequest, Provider::Gemini)
    );
    assert!(e.message.contains("huge.png") && e.message.contains("4 MB"), "{}", e.message);
    assert_eq!(results[2].1.as_deref().unwrap(), "a picture of b.png");
}

#[tokio::test]
async fn each_request_has_its_own_time_limit_and_a_timeout_spares_the_others() {
    let server = vision_server().await;
    let images = vec![ordered("ok-1.png", 0, 200), ordered("stuck.png", 3_000, 200), ordered("ok-2.png", 20, 200)];
    // The stuck request's timeout (not its 3 s answer) ends it: that is the Timeout below.
    let results = describe_all(&gemini(&server), images, 2, Duration::from_millis(300)).await;
    assert_eq!(results[0].1.as_deref().unwrap(), "a picture of ok-1.png");
    let e = results[1].1.as_ref().unwrap_err();
    assert_eq!(e.code, ProviderErrorCode::Timeout);
    assert!(e.message.contains("Gemini vision timed out") && e.message.contains("stuck.png"), "{}", e.message);
    assert_eq!(results[2].1.as_deref().unwrap(), "a picture of ok-2.png");
}

#[tokio::test]
async fn the_image_prompt_is_used_unless_another_is_given() {
    let server = vision_server().await;
    describe_all(&gemini(&server), vec![ordered("a.png", 0, 200)], 4, Duration::from_secs(5)).await;
    describe_all_with(&gemini(&server), vec![ordered("b.png", 0, 200)], SVG_PROMPT, 4, Duration::from_secs(5)).await;
    let seen: Vec<Value> = server.requests().iter().map(Recorded::json).collect();
    let prompt_of =
        |v: &Value| (v["contents"][0]["parts"][1]["text"].clone(), v["generationConfig"]["maxOutputTokens"].clone());
    let mut got: Vec<_> = seen.iter().map(prompt_of).collect();
    got.sort_by_key(|(_, t)| t.as_u64());
    assert_eq!(got, [(json!(SVG_PROMPT.text), json!(300)), (json!(IMAGE_PROMPT.text), json!(500))]);
}

/// A describer with no network: answers after a delay, fails names starting with `bad`, and
/// counts overlapping calls.
struct Fake {
    in_flight: AtomicUsize,
    max: AtomicUsize,
}

impl Describer for Fake {
    fn provider(&self) -> Provider {
        Provider::Openrouter
    }
    fn label(&self) -> &'static str {
        "OpenRouter"
    }
    fn model(&self) -> &str {
        "fake"
    }
    fn describe<'a>(&'a self, img: &'a ImageInput, _prompt: &'a str, _max: u32) -> DescribeFuture<'a> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max.fetch_max(now, Ordering::SeqCst);
            let delay = 5 * (img.bytes.len() as u64 % 7);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if img.name.starts_with("bad") {
                Err(ProviderError::new(
                    Provider::Openrouter,
                    ProviderErrorCode::ServerError,
                    format!("{} failed", img.name),
                ))
            } else {
                Ok(format!("about {}", img.name))
            }
        })
    }
}

#[tokio::test]
async fn many_images_with_mixed_outcomes_keep_order_under_the_bound() {
    let fake = Fake { in_flight: AtomicUsize::new(0), max: AtomicUsize::new(0) };
    let images: Vec<_> = (0..40)
        .map(|i| {
            let name = if i % 5 == 0 { format!("bad-{i}") } else { format!("img-{i}") };
            ImageInput { name, mime: "image/png".into(), bytes: vec![0; i] }
        })
        .collect();
    let results = describe_all(&fake, images, DEFAULT_CONCURRENCY, Duration::from_secs(5)).await;
    assert_eq!(results.len(), 40);
    for (i, (name, r)) in results.iter().enumerate() {
        if i % 5 == 0 {
            assert_eq!(name, &format!("bad-{i}"));
            assert_eq!(r.as_ref().unwrap_err().code, ProviderErrorCode::ServerError);
        } else {
            assert_eq!(r.as_deref().unwrap(), format!("about img-{i}"));
        }
    }
    assert!(fake.max.load(Ordering::SeqCst) <= DEFAULT_CONCURRENCY);
}

#[tokio::test]
async fn openrouter_serves_batches_too_and_keys_stay_out_of_errors() {
    let server = crate::providers::test_server::TestServer::start().await;
    use crate::providers::test_server::Scripted;
    server
        .push(Scripted::json(401, json!({"error": {"message": format!("invalid key {OPENROUTER_KEY}"), "code": 401}})));
    let policy = Policy { timeout: Duration::from_millis(300), ..Policy::default() };
    let c = OpenRouter::new(OPENROUTER_KEY, server.url(), policy, Arc::new(RecordingSleeper::default()));
    let results = describe_all(&c, vec![ordered("a.png", 0, 200)], 4, Duration::from_secs(5)).await;
    let e = results[0].1.as_ref().unwrap_err();
    assert_eq!((e.provider, e.code), (Provider::Openrouter, ProviderErrorCode::Unauthorized));
    for text in [e.message.clone(), e.anomaly(), format!("{e:?}"), format!("{c:?}")] {
        assert!(!text.contains(OPENROUTER_KEY), "{text}");
    }
}

#[test]
fn formats_are_sniffed_from_content_before_the_extension() {
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
    assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xDB]), Some("image/jpeg"));
    assert_eq!(sniff(b"GIF87a.."), Some("image/gif"));
    assert_eq!(sniff(b"GIF89a.."), Some("image/gif"));
    assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8L"), Some("image/webp"));
    assert_eq!(sniff(b"RIFF\x10\0\0\0WAVEfmt "), None);
    assert_eq!(sniff(b"RIFF"), None);
    assert_eq!(sniff(b""), None);

    assert_eq!(mime_for(Path::new("a/logo.png"), &[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
    assert_eq!(mime_for(Path::new("a/photo.JPG"), b""), Some("image/jpeg"));
    assert_eq!(mime_for(Path::new("a/photo.jpeg"), b""), Some("image/jpeg"));
    assert_eq!(mime_for(Path::new("a/x.WebP"), b""), Some("image/webp"));
    assert_eq!(mime_for(Path::new("a/x.gif"), b""), Some("image/gif"));
    assert_eq!(mime_for(Path::new("a/x.svg"), b""), None);
    assert_eq!(mime_for(Path::new("a/noext"), b""), None);
    assert_eq!(mime_for(Path::new("a/x.png"), b"<!DOCTYPE html><html>"), None, "an error page is not an image");
}

#[test]
fn inputs_from_bytes_get_their_format_or_nothing() {
    let img = ImageInput::from_bytes("assets/a.bin", b"GIF89a..".to_vec()).unwrap();
    assert_eq!((img.name.as_str(), img.mime.as_str()), ("assets/a.bin", "image/gif"));
    assert!(ImageInput::from_bytes("a.png", b"nope nope nope".to_vec()).is_none());
    assert_eq!(format!("{img:?}"), r#"ImageInput { name: "assets/a.bin", mime: "image/gif", bytes: 8 }"#);
}

#[test]
fn the_request_timeout_setting() {
    assert_eq!(request_timeout_from(None), Duration::from_secs(30));
    assert_eq!(request_timeout_from(Some(" 1200 ")), Duration::from_millis(1200));
    assert_eq!(request_timeout_from(Some("0")), Duration::from_secs(30));
    assert_eq!(request_timeout_from(Some("-5")), Duration::from_secs(30));
    assert_eq!(request_timeout_from(Some("soon")), Duration::from_secs(30));
}
