//! Image descriptions for `capture`: the input type, the prompts, format sniffing, and the batch
//! runner shared by the two vision clients ([`super::openrouter`] and [`super::gemini`]).
//!
//! Which client serves is decided by key presence, never reachability: `OPENROUTER_API_KEY` wins,
//! then `GEMINI_API_KEY` / `GOOGLE_API_KEY` (`chains::describe::describers`, in chain order); with
//! neither, captures simply carry no descriptions. The clients import this module, never the
//! other way round.
//!
//! The batch runner keeps at most `concurrency` requests in flight (instead of fixed batches of 20
//! with a pause in between), gives each request its own time limit, and never lets one failure
//! abort the others.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt;

use super::error::{ProviderError, ProviderErrorCode, ProviderResult};

/// Images larger than this are not sent (a description is not worth a multi-megabyte upload).
pub const MAX_IMAGE_BYTES: usize = 4 * 1024 * 1024;
/// Requests in flight at once in [`describe_all`] by default.
pub const DEFAULT_CONCURRENCY: usize = 4;
/// The per-request limit when `HYPERFRAMES_VISION_TIMEOUT_MS` is unset or unusable.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(30_000);

/// One image to describe. `name` identifies it in results (usually its path under `assets/`).
#[derive(Clone, PartialEq, Eq)]
pub struct ImageInput {
    pub name: String,
    /// `image/png`, `image/jpeg`, `image/webp` or `image/gif`.
    pub mime: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for ImageInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageInput")
            .field("name", &self.name)
            .field("mime", &self.mime)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl ImageInput {
    /// An input for `bytes` named `name`, if [`mime_for`] recognises the format.
    pub fn from_bytes(name: impl Into<String>, bytes: Vec<u8>) -> Option<Self> {
        let name = name.into();
        let mime = mime_for(Path::new(&name), &bytes)?;
        Some(Self { name, mime: mime.to_string(), bytes })
    }

    pub fn is_oversized(&self) -> bool {
        self.bytes.len() > MAX_IMAGE_BYTES
    }
}

/// What to ask for one kind of image, and how long the answer may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VisionPrompt {
    pub text: &'static str,
    pub max_tokens: u32,
}

/// Downloaded page images (png, jpeg, webp, gif).
pub const IMAGE_PROMPT: VisionPrompt = VisionPrompt {
    text: "Write one short, factual sentence describing this image for a video storyboard: \
           name the main subject, the dominant colours, and say whether the background is light \
           or dark. Reply with the sentence only.",
    max_tokens: 500,
};

#[cfg(test)]
/// SVGs after rasterising (the rasterising itself happens elsewhere).
pub const SVG_PROMPT: VisionPrompt = VisionPrompt {
    text: "This is a small render of an SVG taken from a website. In one sentence, say what it is \
           (icon, logo, wordmark or shape), its colours, and any text it contains, spelled exactly \
           as shown. Reply with the sentence only.",
    max_tokens: 300,
};

/// The image format from the first bytes, when they carry a known signature.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some("image/gif")
    } else if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The image format from the file extension alone.
pub fn mime_for_extension(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "png" => Some("image/png"),
        "jpg" | "jpeg" | "jpe" => Some("image/jpeg"),
        "webp" => Some("image/webp"),
        "gif" => Some("image/gif"),
        _ => None,
    }
}

/// The MIME type to send for an image: the content's signature wins over the extension (a `.png`
/// that is really a JPEG is sent as JPEG). Content that has bytes but no known signature is not an
/// image we can send (often an HTML error page saved under an image name), so it gets `None`; with
/// no bytes at all the extension decides.
pub fn mime_for(path: &Path, head: &[u8]) -> Option<&'static str> {
    if let Some(mime) = sniff(head) {
        return Some(mime);
    }
    if head.is_empty() {
        mime_for_extension(path)
    } else {
        None
    }
}

/// `HYPERFRAMES_VISION_TIMEOUT_MS`, or 30 s when unset, zero or not a number.
pub fn request_timeout_from_env() -> Duration {
    request_timeout_from(std::env::var("HYPERFRAMES_VISION_TIMEOUT_MS").ok().as_deref())
}

pub(crate) fn request_timeout_from(raw: Option<&str>) -> Duration {
    match raw.map(str::trim).and_then(|s| s.parse::<u64>().ok()) {
        Some(ms) if ms > 0 => Duration::from_millis(ms),
        _ => DEFAULT_REQUEST_TIMEOUT,
    }
}

pub type DescribeFuture<'a> = Pin<Box<dyn Future<Output = ProviderResult<String>> + Send + 'a>>;

/// A hosted model that can describe one image.
pub trait Describer: Send + Sync {
    /// `openrouter` or `gemini`.
    fn provider(&self) -> super::Provider;
    /// For messages: "OpenRouter", "Gemini".
    fn label(&self) -> &'static str;
    fn model(&self) -> &str;
    fn describe<'a>(&'a self, img: &'a ImageInput, prompt: &'a str, max_tokens: u32) -> DescribeFuture<'a>;
}

/// [`describe_all_with`] with [`IMAGE_PROMPT`].
pub async fn describe_all(
    provider: &dyn Describer,
    images: Vec<ImageInput>,
    concurrency: usize,
    per_request: Duration,
) -> Vec<(String, Result<String, ProviderError>)> {
    describe_all_with(provider, images, IMAGE_PROMPT, concurrency, per_request).await
}

/// Describes every image, at most `concurrency` (at least 1) at a time, each under `per_request`.
/// Results come back in input order, one per image. Oversized images get a `BadRequest` result
/// without a request being made; a failure or timeout affects only its own image.
pub async fn describe_all_with(
    provider: &dyn Describer,
    images: Vec<ImageInput>,
    prompt: VisionPrompt,
    concurrency: usize,
    per_request: Duration,
) -> Vec<(String, Result<String, ProviderError>)> {
    futures_util::stream::iter(images)
        .map(|img| async move {
            let result = describe_one(provider, &img, prompt, per_request).await;
            (img.name, result)
        })
        .buffered(concurrency.max(1))
        .collect()
        .await
}

async fn describe_one(
    provider: &dyn Describer,
    img: &ImageInput,
    prompt: VisionPrompt,
    per_request: Duration,
) -> ProviderResult<String> {
    if img.is_oversized() {
        return Err(ProviderError::new(
            provider.provider(),
            ProviderErrorCode::BadRequest,
            format!(
                "{} is {:.1} MB, over the {} MB limit for descriptions; skipped",
                img.name,
                img.bytes.len() as f64 / (1024.0 * 1024.0),
                MAX_IMAGE_BYTES / (1024 * 1024)
            ),
        ));
    }
    match tokio::time::timeout(per_request, provider.describe(img, prompt.text, prompt.max_tokens)).await {
        Ok(result) => result,
        Err(_) => Err(ProviderError::new(
            provider.provider(),
            ProviderErrorCode::Timeout,
            format!(
                "{} vision timed out after {}s describing {}",
                provider.label(),
                per_request.as_secs_f64(),
                img.name
            ),
        )),
    }
}

#[cfg(test)]
mod tests;
