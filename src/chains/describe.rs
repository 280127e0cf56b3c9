//! Image descriptions: OpenRouter, else Gemini (by key presence), else skipped. One failure
//! affects only its own image.

use std::path::PathBuf;

use super::{ChainError, ChainResult, Routing};
use crate::providers::plan::{pin, plan_for, Capability, Facts};
use crate::providers::vision::{self, Describer, ImageInput};

#[derive(Debug, Clone, Default)]
pub struct DescribeRequest {
    pub images: Vec<PathBuf>,
    pub routing: Routing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageDescription {
    pub path: PathBuf,
    pub description: Option<String>,
    pub error: Option<ChainError>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DescribeResult {
    /// No describer is configured (or local-only mode): nothing was sent anywhere.
    pub skipped: bool,
    pub reason: Option<String>,
    pub provider: Option<&'static str>,
    pub model: Option<String>,
    /// One per input image, in order (empty when skipped).
    pub images: Vec<ImageDescription>,
}

impl DescribeResult {
    fn skipped(reason: String) -> Self {
        Self { skipped: true, reason: Some(reason), provider: None, model: None, images: Vec::new() }
    }
}

pub async fn describe(req: &DescribeRequest) -> ChainResult<DescribeResult> {
    let local_only = req.routing.local_only;
    let facts = crate::blocking(move || Facts::gather(local_only)).await;
    let pinned = req.routing.pinned().map(str::to_ascii_lowercase);
    let describer = if facts.local_only {
        None
    } else {
        let get = |name: &str| std::env::var(name).ok();
        match pinned.as_deref() {
            Some("openrouter") => {
                crate::providers::openrouter::OpenRouter::from_lookup(&get).map(|c| Box::new(c) as Box<dyn Describer>)
            }
            Some("gemini") => {
                crate::providers::gemini::Gemini::from_lookup(&get).map(|c| Box::new(c) as Box<dyn Describer>)
            }
            _ => vision::describer_from_env(),
        }
    };
    describe_with(req, &facts, describer.as_deref()).await
}

pub async fn describe_with(
    req: &DescribeRequest,
    facts: &Facts,
    describer: Option<&dyn Describer>,
) -> ChainResult<DescribeResult> {
    let plan = plan_for(Capability::Descriptions, facts);
    if let Some(p) = req.routing.pinned() {
        pin(&plan, p).map_err(|m| super::pin_error(&plan, p, m, facts.local_only))?;
    }
    let Some(describer) = describer.filter(|_| plan.chosen.is_some()) else {
        let reason = if facts.local_only {
            "local-only mode: image descriptions need a hosted vision model".to_string()
        } else {
            "no vision provider is configured (set OPENROUTER_API_KEY or GEMINI_API_KEY)".to_string()
        };
        return Ok(DescribeResult::skipped(reason));
    };
    let mut results: Vec<ImageDescription> = Vec::with_capacity(req.images.len());
    let mut inputs = Vec::new();
    let mut slots = Vec::new();
    for path in &req.images {
        let read = {
            let p = path.clone();
            crate::blocking(move || std::fs::read(&p)).await
        };
        let error = match read {
            Err(e) => Some(ChainError::new("IO_ERROR", format!("cannot read {}: {e}", path.display()))),
            Ok(bytes) => match ImageInput::from_bytes(path.to_string_lossy(), bytes) {
                Some(img) => {
                    slots.push(results.len());
                    inputs.push(img);
                    None
                }
                None => Some(
                    ChainError::new(
                        "UNSUPPORTED_IMAGE",
                        format!("{} is not a PNG, JPEG, WebP or GIF image", path.display()),
                    )
                    .with_hint("Convert it to PNG or JPEG."),
                ),
            },
        };
        results.push(ImageDescription { path: path.clone(), description: None, error });
    }
    let described =
        vision::describe_all(describer, inputs, vision::DEFAULT_CONCURRENCY, vision::request_timeout_from_env()).await;
    for (slot, (_, outcome)) in slots.into_iter().zip(described) {
        match outcome {
            Ok(text) => results[slot].description = Some(text),
            Err(e) => results[slot].error = Some(ChainError::from(e)),
        }
    }
    Ok(DescribeResult {
        skipped: false,
        reason: None,
        provider: Some(describer.provider()),
        model: Some(describer.model().to_string()),
        images: results,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::providers::openrouter::OpenRouter;
    use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};

    #[test]
    fn skipped_without_keys() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _lock = crate::test_support::env_lock();
        let _env = crate::test_support::EnvGuard::set(&[
            ("OPENROUTER_API_KEY", None),
            ("GEMINI_API_KEY", None),
            ("GOOGLE_API_KEY", None),
        ]);
        let req = DescribeRequest { images: vec!["missing.png".into()], routing: Routing::default() };
        let r = rt.block_on(describe(&req)).unwrap();
        assert!(r.skipped && r.images.is_empty());
        assert!(r.reason.unwrap().contains("OPENROUTER_API_KEY"));
    }

    #[test]
    fn local_only_is_skipped_even_with_a_key() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _lock = crate::test_support::env_lock();
        let server = rt.block_on(TestServer::start());
        let url = server.url();
        let _env = crate::test_support::EnvGuard::set(&[
            ("OPENROUTER_API_KEY", Some("or_local_only_key_0001")),
            ("OPENROUTER_API_URL", Some(url.as_str())),
        ]);
        let req = DescribeRequest {
            images: vec!["x.png".into()],
            routing: Routing { local_only: true, ..Routing::default() },
        };
        let r = rt.block_on(describe(&req)).unwrap();
        assert!(r.skipped);
        assert!(server.requests().is_empty());
    }

    #[tokio::test]
    async fn each_image_gets_its_description_or_its_own_error() {
        let server = TestServer::start().await;
        server.push(Scripted::json(200, json!({"choices": [{"message": {"content": "A red square."}}]})));
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("a.png");
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&[0u8; 32]);
        std::fs::write(&png, bytes).unwrap();
        let text = dir.path().join("notes.txt");
        std::fs::write(&text, "hello").unwrap();
        let client = OpenRouter::new(
            "or_chain_test_key_0001",
            format!("{}/api", server.url()),
            crate::chains::testing::fast(),
            Arc::new(RecordingSleeper::default()),
        );
        let facts = Facts { openrouter_key: true, ..Facts::default() };
        let req = DescribeRequest {
            images: vec![png.clone(), dir.path().join("missing.png"), text],
            routing: Routing::default(),
        };
        let r = describe_with(&req, &facts, Some(&client)).await.unwrap();
        assert!(!r.skipped);
        assert_eq!(r.provider, Some("openrouter"));
        assert_eq!(r.images[0].description.as_deref(), Some("A red square."));
        assert_eq!(r.images[1].error.as_ref().unwrap().code, "IO_ERROR");
        assert_eq!(r.images[2].error.as_ref().unwrap().code, "UNSUPPORTED_IMAGE");
        assert_eq!(server.requests().len(), 1);
    }
}
