//! Image descriptions: OpenRouter, else Gemini (by key presence), else skipped. One failure
//! affects only its own image. When an image fails on the provider's side (unreachable, timeout,
//! 5xx, 429, 401/402…) and another describer is configured, that one describes it instead and the
//! failure is noted in the image's `anomalies`; `no_fallback` and a pinned provider keep the first
//! failure. An image we could not send (unreadable, not an image, too large) is never retried.

use std::path::PathBuf;

use super::{ChainError, ChainResult, Routing};
use crate::environment::Snapshot;
use crate::providers::gemini::Gemini;
use crate::providers::openrouter::OpenRouter;
use crate::providers::plan::{pin, plan_for, Capability, Facts};
use crate::providers::vision::{self, Describer, ImageInput};
use crate::providers::Provider;

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
    /// The provider that described the image (or failed last); None when nothing was sent.
    pub provider: Option<Provider>,
    pub model: Option<String>,
    /// Earlier providers' failures for this image, before another one served.
    pub anomalies: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DescribeResult {
    /// No describer is configured (or local-only mode): nothing was sent anywhere.
    pub skipped: bool,
    pub reason: Option<String>,
    /// The first describer in the chain.
    pub provider: Option<Provider>,
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
    let (env, facts) = crate::blocking(move || {
        let env = Snapshot::capture();
        let facts = Facts::from_snapshot(&env, local_only);
        (env, facts)
    })
    .await;
    let pinned = req.routing.pinned().map(str::to_ascii_lowercase);
    let mut describers: Vec<Box<dyn Describer>> = Vec::new();
    if !facts.local_only {
        describers = self::describers(&env);
        describers.retain(|d| pinned.as_deref().is_none_or(|p| d.provider().as_str() == p));
    }
    let describers: Vec<&dyn Describer> = describers.iter().map(AsRef::as_ref).collect();
    describe_with(req, &facts, &describers).await
}

/// The describers `env` configures, in chain order: OpenRouter when `OPENROUTER_API_KEY` is set,
/// then Gemini with `GEMINI_API_KEY` / `GOOGLE_API_KEY`. Each request's transport limit is
/// [`vision::request_timeout_from_env`]'s setting, read from `env`.
pub(crate) fn describers(env: &Snapshot) -> Vec<Box<dyn Describer>> {
    let openrouter = OpenRouter::from_snapshot(env).map(|c| Box::new(c) as Box<dyn Describer>);
    let gemini = Gemini::from_snapshot(env).map(|c| Box::new(c) as Box<dyn Describer>);
    openrouter.into_iter().chain(gemini).collect()
}

/// What an image may be: the providers' limit, checked before a byte is read.
const IMAGE: crate::fsio::input::Input = crate::fsio::input::Input::new("the image", vision::MAX_IMAGE_BYTES as u64);

/// Reads one image for sending, through [`crate::fsio::input`]: an error for a missing,
/// unreadable (a FIFO, a device), oversized, empty or unrecognised file.
async fn read_image(path: &std::path::Path) -> Result<ImageInput, ChainError> {
    let read = {
        let p = path.to_path_buf();
        crate::blocking(move || crate::fsio::input::read_bytes(&p, IMAGE)).await
    };
    let bytes = read.map_err(|e| {
        if e.code == crate::fsio::input::NOT_A_FILE && !path.exists() {
            ChainError::new("IO_ERROR", format!("cannot read {}: it does not exist", path.display()))
        } else {
            ChainError::from(e)
        }
    })?;
    if bytes.is_empty() {
        return Err(ChainError::new("UNSUPPORTED_IMAGE", format!("{} is empty", path.display())));
    }
    ImageInput::from_bytes(path.to_string_lossy(), bytes).ok_or_else(|| {
        ChainError::new("UNSUPPORTED_IMAGE", format!("{} is not a PNG, JPEG, WebP or GIF image", path.display()))
            .with_hint("Convert it to PNG or JPEG.")
    })
}

/// Describes `req.images` with `describers` in chain order (the first serves, the next ones take
/// the images it failed on, unless `no_fallback`).
pub async fn describe_with(
    req: &DescribeRequest,
    facts: &Facts,
    describers: &[&dyn Describer],
) -> ChainResult<DescribeResult> {
    let plan = plan_for(Capability::Descriptions, facts);
    if let Some(p) = req.routing.pinned() {
        pin(&plan, p).map_err(|m| super::pin_error(&plan, p, m, facts.local_only))?;
    }
    let chain = if req.routing.no_fallback { &describers[..describers.len().min(1)] } else { describers };
    let Some(first) = chain.first().filter(|_| plan.chosen.is_some()) else {
        let reason = if facts.local_only {
            "local-only mode: image descriptions need a hosted vision model".to_string()
        } else {
            "no vision provider is configured (set OPENROUTER_API_KEY or GEMINI_API_KEY)".to_string()
        };
        return Ok(DescribeResult::skipped(reason));
    };
    let mut results: Vec<ImageDescription> = Vec::with_capacity(req.images.len());
    let mut pending: Vec<(usize, ImageInput)> = Vec::new();
    for path in &req.images {
        let error = match read_image(path).await {
            Ok(img) => {
                pending.push((results.len(), img));
                None
            }
            Err(e) => Some(e),
        };
        results.push(ImageDescription {
            path: path.clone(),
            description: None,
            error,
            provider: None,
            model: None,
            anomalies: Vec::new(),
        });
    }
    for (i, describer) in chain.iter().enumerate() {
        if pending.is_empty() {
            break;
        }
        let last = i + 1 == chain.len();
        let (slots, inputs): (Vec<usize>, Vec<ImageInput>) = std::mem::take(&mut pending).into_iter().unzip();
        let outcomes = vision::describe_all(
            *describer,
            inputs.clone(),
            vision::DEFAULT_CONCURRENCY,
            vision::request_timeout_from_env(),
        )
        .await;
        for ((slot, input), (_, outcome)) in slots.into_iter().zip(inputs).zip(outcomes) {
            let image = &mut results[slot];
            match outcome {
                Ok(text) => image.description = Some(text),
                Err(e) if !last && e.falls_through() => {
                    tracing::debug!(provider = describer.provider().as_str(), error = %e, "describing with the next provider");
                    image.anomalies.push(e.anomaly());
                    pending.push((slot, input));
                    continue;
                }
                Err(e) => image.error = Some(ChainError::from(e)),
            }
            image.provider = Some(describer.provider());
            image.model = Some(describer.model().to_string());
        }
    }
    Ok(DescribeResult {
        skipped: false,
        reason: None,
        provider: Some(first.provider()),
        model: Some(first.model().to_string()),
        images: results,
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
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

    #[cfg(unix)]
    #[tokio::test]
    async fn an_image_over_the_limit_a_fifo_or_a_device_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        // A 1 GiB sparse "PNG": refused from its size, never read (reading it would take a GiB).
        let huge = dir.path().join("huge.png");
        std::fs::File::create(&huge).unwrap().set_len(1 << 30).unwrap();
        let e = read_image(&huge).await.unwrap_err();
        assert_eq!(e.code, crate::fsio::input::TOO_LARGE);
        assert!(e.message.contains("huge.png") && e.message.contains("4 MiB"), "{}", e.message);
        let fifo = dir.path().join("fifo.png");
        crate::test_support::make_fifo(&fifo);
        for p in [fifo.as_path(), std::path::Path::new("/dev/zero")] {
            assert_eq!(read_image(p).await.unwrap_err().code, crate::fsio::input::NOT_A_FILE);
        }
        let e = read_image(&dir.path().join("missing.png")).await.unwrap_err();
        assert_eq!(e.code, "IO_ERROR");
        assert!(e.message.contains("cannot read") && e.message.contains("missing.png"), "{}", e.message);
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
        let r = describe_with(&req, &facts, &[&client]).await.unwrap();
        assert!(!r.skipped);
        assert_eq!(r.provider, Some(Provider::Openrouter));
        assert_eq!(r.images[0].description.as_deref(), Some("A red square."));
        assert_eq!(r.images[1].error.as_ref().unwrap().code, "IO_ERROR");
        assert_eq!(r.images[2].error.as_ref().unwrap().code, "UNSUPPORTED_IMAGE");
        assert_eq!(server.requests().len(), 1);
    }

    fn png(dir: &std::path::Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.extend_from_slice(&[0u8; 32]);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn clients(or: &TestServer, gm: &TestServer) -> (OpenRouter, Gemini) {
        let sleeper = Arc::new(RecordingSleeper::default());
        (
            OpenRouter::new("or_chain_test_key_0002", or.url(), crate::chains::testing::fast(), sleeper.clone()),
            Gemini::new("gm_chain_test_key_0002", gm.url(), crate::chains::testing::fast(), sleeper),
        )
    }

    #[tokio::test]
    async fn provider_failures_fall_through_to_gemini_per_image() {
        let (or, gm) = (TestServer::start().await, TestServer::start().await);
        for _ in 0..3 {
            or.push(Scripted::json(503, json!({"error": {"message": "upstream busy"}})));
        }
        gm.push(Scripted::json(200, json!({"candidates": [{"content": {"parts": [{"text": "A blue circle."}]}}]})));
        let (openrouter, gemini) = clients(&or, &gm);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("empty.png"), b"").unwrap();
        let req = DescribeRequest {
            images: vec![png(dir.path(), "a.png"), dir.path().join("empty.png")],
            routing: Routing::default(),
        };
        let facts = Facts { openrouter_key: true, gemini_key: true, ..Facts::default() };
        let r = describe_with(&req, &facts, &[&openrouter, &gemini]).await.unwrap();
        assert_eq!(r.provider, Some(Provider::Openrouter));
        let a = &r.images[0];
        assert_eq!(a.description.as_deref(), Some("A blue circle."));
        assert_eq!((a.provider, a.error.as_ref()), (Some(Provider::Gemini), None));
        assert_eq!(a.anomalies.len(), 1);
        assert!(a.anomalies[0].starts_with("openrouter: HTTP 503"), "{:?}", a.anomalies);
        // An empty file is refused before anything is sent, and never retried.
        let empty = &r.images[1];
        assert_eq!(empty.error.as_ref().unwrap().code, "UNSUPPORTED_IMAGE");
        assert_eq!((empty.provider, empty.anomalies.len()), (None, 0));
        assert_eq!((or.requests().len(), gm.requests().len()), (3, 1));
    }

    #[tokio::test]
    async fn no_fallback_keeps_the_first_failure() {
        let (or, gm) = (TestServer::start().await, TestServer::start().await);
        or.push(Scripted::json(402, json!({"error": {"code": 402, "message": "Insufficient credits"}})));
        let (openrouter, gemini) = clients(&or, &gm);
        let dir = tempfile::tempdir().unwrap();
        let req = DescribeRequest {
            images: vec![png(dir.path(), "a.png")],
            routing: Routing { no_fallback: true, ..Routing::default() },
        };
        let facts = Facts { openrouter_key: true, gemini_key: true, ..Facts::default() };
        let r = describe_with(&req, &facts, &[&openrouter, &gemini]).await.unwrap();
        let a = &r.images[0];
        assert_eq!(a.error.as_ref().unwrap().code, "PROVIDER_PAYMENT_REQUIRED");
        assert_eq!(a.provider, Some(Provider::Openrouter));
        assert!(a.anomalies.is_empty());
        assert!(gm.requests().is_empty());
    }

    #[test]
    fn openrouter_wins_then_gemini_then_nothing() {
        let both = Snapshot::from_vars([
            ("OPENROUTER_API_KEY", "sk-or-v1-select-key-1111"),
            ("GOOGLE_API_KEY", "select-google-key-2222"),
        ]);
        let ds = describers(&both);
        let d = &ds[0];
        assert_eq!(
            (d.provider(), d.label(), d.model()),
            (Provider::Openrouter, "OpenRouter", "google/gemini-3.1-flash-lite")
        );
        assert_eq!(
            ds.iter().map(|d| d.provider()).collect::<Vec<_>>(),
            ["openrouter", "gemini"],
            "Gemini next in the chain"
        );
        let google = Snapshot::from_vars([("GOOGLE_API_KEY", "select-google-key-2222")]);
        let ds = describers(&google);
        let d = &ds[0];
        assert_eq!((d.provider(), d.label(), d.model()), (Provider::Gemini, "Gemini", "gemini-3.1-flash-lite-preview"));
        assert!(describers(&Snapshot::from_vars([("OPENROUTER_API_KEY", " ")])).is_empty());
    }
}
