//! The JS surface of the sound-effect, music and description chains: the same functions the CLI
//! uses. Errors read `CODE: message\nHint: …` (the package turns them into Errors with `code`
//! and `hint`); skipped providers are listed in each result's `anomalies`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue};
use napi_derive::napi;

use crate::chains::{self, ChainError, Routing};
use crate::napi_api::{wanted, Arg};

/// `CODE: message\nHint: …\nAnomalies: [json]`: the package turns the last part into `anomalies`
/// on the Error (what failed before the provider whose error this is).
pub(crate) fn chain_error(e: ChainError) -> Error {
    let mut reason = format!("{}: {}", e.code, e.message);
    if let Some(h) = &e.hint {
        reason.push_str("\nHint: ");
        reason.push_str(h);
    }
    if !e.anomalies.is_empty() {
        reason.push_str("\nAnomalies: ");
        reason.push_str(&serde_json::to_string(&e.anomalies).expect("strings always serialise"));
    }
    Error::new(Status::GenericFailure, crate::auth::scrub::scrub(&reason))
}

fn routing(provider: Option<String>, local_only: Option<bool>, no_fallback: Option<bool>) -> Routing {
    Routing { provider, local_only: local_only.unwrap_or(false), no_fallback: no_fallback.unwrap_or(false) }
}

#[napi(object)]
#[derive(Default)]
pub struct SfxOptions {
    /// Where the WAV goes (default `<query>.wav` in the working directory).
    pub output: Option<String>,
    /// `heygen` or `bundled` (default: the plan's choice, falling through).
    pub provider: Option<String>,
    /// Never use a hosted provider.
    pub local_only: Option<bool>,
    /// Fail on the first provider failure.
    pub no_fallback: Option<bool>,
}

#[napi(object)]
pub struct SfxResult {
    pub path: String,
    /// `heygen` or `bundled`.
    pub provider: String,
    pub name: String,
    /// Seconds.
    pub duration: f64,
    pub anomalies: Vec<String>,
}

/// A sound effect for `query`: the HeyGen library when signed in, else the bundled library.
#[napi(ts_args_type = "query: string, options?: SfxOptions | undefined | null")]
pub async fn sfx(query: Arg<String>, options: Arg<Option<SfxOptions>>) -> Result<SfxResult> {
    let query = query.get("sfx", "query")?;
    let o = options.get("sfx", "options")?.unwrap_or_default();
    let output = o.output.unwrap_or_else(|| format!("{}.wav", crate::sfx::library::slug(&query)));
    let req = chains::sfx::SfxRequest {
        query,
        output: output.into(),
        routing: routing(o.provider, o.local_only, o.no_fallback),
    };
    let r = chains::sfx::sfx(&req).await.map_err(chain_error)?;
    Ok(SfxResult {
        path: r.path.to_string_lossy().into_owned(),
        provider: r.provider.to_string(),
        name: r.name,
        duration: crate::engines::kokoro::service::round_ms(r.duration),
        anomalies: r.anomalies,
    })
}

#[napi(object)]
#[derive(Default)]
pub struct MusicOptions {
    /// Length in seconds (default 30).
    pub seconds: Option<f64>,
    /// Where the WAV goes (default `bgm.wav`).
    pub output: Option<String>,
    /// `heygen`, `lyria` or `musicgen` (default: the plan's choice, falling through).
    pub provider: Option<String>,
    pub local_only: Option<bool>,
    pub no_fallback: Option<bool>,
    /// Sampling seed for the local MusicGen engine (a whole number up to 2^53 − 1; random when unset).
    pub seed: Option<f64>,
}

#[napi(object)]
pub struct MusicResult {
    pub path: String,
    /// `heygen`, `lyria` or `musicgen`.
    pub provider: String,
    /// The library track's name, when the library served.
    pub title: Option<String>,
    pub duration: f64,
    pub sample_rate: u32,
    pub channels: u32,
    /// The sampling seed, when MusicGen served (pass it back to get the same music).
    pub seed: Option<f64>,
    pub anomalies: Vec<String>,
}

/// Background music for `prompt` (a mood to search, or a prompt to generate), fitted to a length.
#[napi(ts_args_type = "prompt: string, options?: MusicOptions | undefined | null")]
pub async fn music(prompt: Arg<String>, options: Arg<Option<MusicOptions>>) -> Result<MusicResult> {
    let prompt = prompt.get("music", "prompt")?;
    let o = options.get("music", "options")?.unwrap_or_default();
    let max = crate::engines::musicgen::sampling::MAX_SEED as f64;
    let seed = match o.seed {
        None => None,
        Some(s) if s.fract() == 0.0 && (0.0..=max).contains(&s) => Some(s as u64),
        Some(s) => {
            let e = ChainError::new("BAD_SEED", format!("seed must be a whole number from 0 to 2^53 − 1 (got {s})."));
            return Err(chain_error(e.with_hint("Pass the seed a previous result reported, or leave it out.")));
        }
    };
    let req = chains::music::MusicRequest {
        prompt,
        seconds: o.seconds.unwrap_or(chains::music::DEFAULT_SECONDS),
        output: o.output.unwrap_or_else(|| "bgm.wav".into()).into(),
        routing: routing(o.provider, o.local_only, o.no_fallback),
    };
    let generation = chains::music::Generation { seed, progress: None };
    let r = chains::music::music_generating(&req, &generation).await.map_err(chain_error)?;
    Ok(MusicResult {
        path: r.path.to_string_lossy().into_owned(),
        provider: r.provider.to_string(),
        title: r.title,
        duration: r.duration,
        sample_rate: r.sample_rate,
        channels: u32::from(r.channels),
        seed: r.seed.map(|s| s as f64),
        anomalies: r.anomalies,
    })
}

#[napi(object)]
#[derive(Default)]
pub struct DescribeOptions {
    /// `openrouter` or `gemini` (default: OpenRouter when its key is set, else Gemini).
    pub provider: Option<String>,
    /// Skip descriptions (nothing is sent anywhere).
    pub local_only: Option<bool>,
    /// Keep an image's first provider failure instead of asking the next provider.
    pub no_fallback: Option<bool>,
}

#[napi(object)]
pub struct ImageDescription {
    pub path: String,
    pub description: Option<String>,
    /// Set when this image failed; the others are unaffected.
    pub error: Option<String>,
    pub code: Option<String>,
    pub hint: Option<String>,
    /// The provider that described it (or failed last); null when nothing was sent.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Earlier providers' failures for this image, before another one served.
    pub anomalies: Vec<String>,
}

#[napi(object)]
pub struct DescribeResult {
    /// True when no vision provider is configured (or local-only): nothing was described.
    pub skipped: bool,
    pub reason: Option<String>,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// One per image, in order (empty when skipped).
    pub images: Vec<ImageDescription>,
}

/// One-sentence descriptions of images; a failure affects only its own image.
#[napi(ts_args_type = "images: Array<string>, options?: DescribeOptions | undefined | null")]
pub async fn describe(images: Arg<Vec<String>>, options: Arg<Option<DescribeOptions>>) -> Result<DescribeResult> {
    let images = images.get("describe", "images")?;
    let o = options.get("describe", "options")?.unwrap_or_default();
    let req = chains::describe::DescribeRequest {
        images: images.into_iter().map(Into::into).collect(),
        routing: routing(o.provider, o.local_only, o.no_fallback),
    };
    let r = chains::describe::describe(&req).await.map_err(chain_error)?;
    Ok(DescribeResult {
        skipped: r.skipped,
        reason: r.reason,
        provider: r.provider.map(String::from),
        model: r.model,
        images: r
            .images
            .into_iter()
            .map(|i| ImageDescription {
                path: i.path.to_string_lossy().into_owned(),
                description: i.description,
                code: i.error.as_ref().map(|e| e.code.to_string()),
                hint: i.error.as_ref().and_then(|e| e.hint.clone()),
                error: i.error.map(|e| crate::auth::scrub::scrub(&e.message)),
                provider: i.provider.map(String::from),
                model: i.model,
                anomalies: i.anomalies.iter().map(|a| crate::auth::scrub::scrub(a)).collect(),
            })
            .collect(),
    })
}

#[napi(object)]
#[derive(Default)]
pub struct BuildMediaOptions {
    /// The folder to write `voice/`, `sfx/`, `music/` and `audio_meta.json` into.
    pub out: String,
    /// Voice every line with this voice.
    pub voice: Option<String>,
    /// The voice provider (overrides the request's).
    pub provider: Option<String>,
    pub local_only: Option<bool>,
    pub no_fallback: Option<bool>,
    /// Requests at once per hosted provider.
    pub concurrency: Option<u32>,
    /// Leave the music bed out.
    pub no_music: Option<bool>,
    /// The local voice model may be downloaded on first use (default true).
    pub allow_download: Option<bool>,
    /// Voice every line again, even those unchanged since the last build into `out`.
    pub fresh: Option<bool>,
}

/// One step of a build, for `onProgress`: `kind` is `started`, `line`, `effect` or `music`.
#[napi(object)]
#[derive(Default)]
pub struct MediaProgress {
    pub kind: String,
    /// The line (`line`) or effect name (`effect`).
    pub id: Option<String>,
    pub ok: bool,
    pub provider: Option<String>,
    /// The line's seconds.
    pub seconds: Option<f64>,
    /// The line was kept from the previous build.
    pub reused: Option<bool>,
    pub error: Option<String>,
    /// For `started`: how many lines, distinct effects, and whether a bed is wanted.
    pub lines: Option<u32>,
    pub effects: Option<u32>,
    pub music: Option<bool>,
}

impl From<crate::media::Event> for MediaProgress {
    fn from(e: crate::media::Event) -> Self {
        use crate::media::Event;
        let done = |kind: &str, id: Option<String>, outcome: std::result::Result<&'static str, String>| MediaProgress {
            kind: kind.into(),
            id,
            ok: outcome.is_ok(),
            provider: outcome.as_ref().ok().map(|p| p.to_string()),
            error: outcome.err().map(|e| crate::auth::scrub::scrub(&e)),
            ..MediaProgress::default()
        };
        match e {
            Event::Started { lines, effects, music } => MediaProgress {
                kind: "started".into(),
                ok: true,
                lines: Some(lines as u32),
                effects: Some(effects as u32),
                music: Some(music),
                ..MediaProgress::default()
            },
            Event::Line { id, reused, outcome } => MediaProgress {
                seconds: outcome.as_ref().ok().map(|(_, s)| *s),
                reused: Some(reused),
                ..done("line", Some(id), outcome.map(|(p, _)| p))
            },
            Event::Effect { name, outcome } => done("effect", Some(name), outcome),
            Event::Music { outcome } => done("music", None, outcome),
        }
    }
}

type ProgressCallback = ThreadsafeFunction<MediaProgress, UnknownReturnValue, MediaProgress, Status, false>;

/// `onProgress` as the build sees it: events go to the JS callback unless its environment is
/// closing; the first error the callback throws is kept, and the build stops on it.
struct JsProgress {
    callback: Option<ProgressCallback>,
    closing: crate::napi_api::Closing,
    calls: Arc<Calls>,
}

#[derive(Default)]
struct Calls {
    /// Calls queued to JS whose callback has not returned yet.
    pending: AtomicUsize,
    thrown: Mutex<Option<Error>>,
    changed: tokio::sync::Notify,
}

impl JsProgress {
    fn report(&self, event: crate::media::Event) {
        let Some(callback) = &self.callback else { return };
        if self.closing.is_set() || self.calls.thrown.lock().unwrap_or_else(|e| e.into_inner()).is_some() {
            return;
        }
        self.calls.pending.fetch_add(1, Ordering::SeqCst);
        let calls = self.calls.clone();
        let status = callback.call_with_return_value(
            MediaProgress::from(event),
            ThreadsafeFunctionCallMode::NonBlocking,
            move |returned, _| {
                if let Err(e) = returned {
                    calls.thrown.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                }
                calls.pending.fetch_sub(1, Ordering::SeqCst);
                calls.changed.notify_waiters();
                Ok(())
            },
        );
        if status != Status::Ok {
            // Not queued (the environment is going away): nothing will answer.
            self.calls.pending.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Waits until `done` holds for the calls so far.
    async fn until(&self, done: impl Fn(&Calls) -> bool) {
        loop {
            let changed = self.calls.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if done(&self.calls) {
                return;
            }
            changed.await;
        }
    }

    /// Resolves when the callback throws (never, if it does not).
    async fn thrown(&self) {
        self.until(|c| c.thrown.lock().unwrap_or_else(|e| e.into_inner()).is_some()).await
    }

    /// The callback's first error, once every queued call has returned (at once if the
    /// environment is closing: its queue will not run).
    async fn settle(&self) -> Option<Error> {
        if !self.closing.is_set() {
            self.until(|c| c.pending.load(Ordering::SeqCst) == 0).await;
        }
        self.calls.thrown.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A video script's whole audio: see `buildMedia` in `lib/index.d.ts` for the request and result.
/// An error thrown by `onProgress` stops the build and rejects the promise with that error.
#[napi(
    ts_args_type = "request: object | string, options: BuildMediaOptions, onProgress?: (event: MediaProgress) => void",
    ts_return_type = "Promise<object>"
)]
pub fn build_media(
    env: &Env,
    request: Arg<serde_json::Value>,
    options: Arg<BuildMediaOptions>,
    on_progress: Arg<Option<ProgressCallback>>,
) -> Result<PromiseRaw<'_, serde_json::Value>> {
    let request = request.get("buildMedia", "request")?;
    let options = options.get("buildMedia", "options")?;
    let on_progress = on_progress.get("buildMedia", "options.onProgress")?;
    let progress =
        JsProgress { callback: on_progress, closing: crate::napi_api::Closing::of(env), calls: Default::default() };
    env.spawn_future(async move {
        let report = |e| progress.report(e);
        let built = tokio::select! {
            built = build_media_reporting(request, options, &report) => Some(built),
            () = progress.thrown() => None,
        };
        if let Some(thrown) = progress.settle().await {
            return Err(thrown);
        }
        built.expect("the build ran to its end when nothing was thrown")
    })
}

async fn build_media_reporting(
    request: serde_json::Value,
    options: BuildMediaOptions,
    report: crate::media::build::OnEvent<'_>,
) -> Result<serde_json::Value> {
    let media_error = |e: crate::media::MediaError| crate::napi_tts::engine_error(e.to_engine_error());
    let request = match request {
        serde_json::Value::String(path) => {
            let text = crate::blocking(move || {
                std::fs::read_to_string(&path)
                    .map_err(|e| crate::media::MediaError::io(format!("Cannot read the request {path}"), &e))
            })
            .await
            .map_err(media_error)?;
            crate::media::MediaRequest::parse(&text)
        }
        value => crate::media::MediaRequest::from_value(&value),
    }
    .map_err(media_error)?;
    if options.out.trim().is_empty() {
        return Err(media_error(
            crate::media::MediaError::new("BAD_REQUEST", "options.out is required: the folder to build into.")
                .with_hint("buildMedia(request, { out: 'audio' })"),
        ));
    }
    let opts = crate::media::BuildOptions {
        out: options.out.clone().into(),
        routing: routing(options.provider, options.local_only, options.no_fallback),
        voice: options.voice,
        concurrency: options.concurrency.map(|n| n.clamp(1, 64) as usize),
        allow_download: options.allow_download.unwrap_or(true),
        no_music: options.no_music.unwrap_or(false),
        fresh: options.fresh.unwrap_or(false),
    };
    let manifest = crate::media::build(&request, &opts, report).await.map_err(media_error)?;
    let mut value = serde_json::to_value(&manifest).map_err(|e| Error::from_reason(e.to_string()))?;
    value["manifest_path"] = serde_json::json!(opts.out.join(crate::media::manifest::FILE_NAME));
    Ok(value)
}

wanted!("an options object", ValueType::Object => SfxOptions, MusicOptions, DescribeOptions, BuildMediaOptions);
wanted!("a function", ValueType::Function => ProgressCallback);
