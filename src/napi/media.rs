//! `buildMedia()`: a video script's whole audio, as `hyperframes media build`.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode, UnknownReturnValue};
use napi_derive::napi;

use super::args::{wanted, Arg};
use super::routing;

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
    closing: super::Closing,
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
    let (request, options, on_progress) = super::errors::throwing(env, || {
        Ok((
            request.get("buildMedia", "request")?,
            options.get("buildMedia", "options")?,
            on_progress.get("buildMedia", "options.onProgress")?,
        ))
    })?;
    let progress = JsProgress { callback: on_progress, closing: super::Closing::of(env), calls: Default::default() };
    let scope = progress.closing.scope().clone();
    // What `onProgress` threw rejects the promise as itself; the build's own failure as a
    // HyperframesError.
    env.spawn_future_with_callback(
        async move {
            let report = |e| progress.report(e);
            let build = super::errors::scoped(scope, build_media_reporting(request, options, &report));
            let built = tokio::select! {
                built = build => Some(built),
                () = progress.thrown() => None,
            };
            if let Some(thrown) = progress.settle().await {
                return Err(thrown);
            }
            Ok(built.expect("the build ran to its end when nothing was thrown"))
        },
        |env, built| built.map_err(|e| super::errors::to_js(env, &e)),
    )
}

async fn build_media_reporting(
    request: serde_json::Value,
    options: BuildMediaOptions,
    report: crate::media::build::OnEvent<'_>,
) -> std::result::Result<serde_json::Value, crate::error::Error> {
    let request = match request {
        serde_json::Value::String(path) => {
            // A path, never standard input: "-" is a file of that name here.
            let path = if path == "-" { "./-".to_string() } else { path };
            let text = crate::blocking(move || crate::media::MediaRequest::read_text(&path)).await?;
            crate::media::MediaRequest::parse(&text)
        }
        value => crate::media::MediaRequest::from_value(&value),
    }?;
    if options.out.trim().is_empty() {
        return Err(crate::media::MediaError::new("BAD_REQUEST", "options.out is required: the folder to build into.")
            .with_hint("buildMedia(request, { out: 'audio' })"));
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
    let manifest = crate::media::build(&request, &opts, report).await?;
    let mut value = serde_json::to_value(&manifest).map_err(|e| Error::from_reason(e.to_string()))?;
    value["manifest_path"] = serde_json::json!(opts.out.join(crate::media::manifest::FILE_NAME));
    Ok(value)
}

wanted!("an options object", ValueType::Object => BuildMediaOptions);
wanted!("a function", ValueType::Function => ProgressCallback);
