//! Builds a request's audio into a folder: `voice/<id>.wav` (+ `voice/<id>.words.json`) per line,
//! `sfx/<effect>.wav` per distinct effect, `music/bed.wav`, and `audio_meta.json`.
//!
//! Lines are voiced concurrently, each provider serving at most its limit at a time
//! ([`Limits`]); the manifest keeps the request's order. A line that fails is recorded and the
//! others go on; so do failed cues and a failed bed. Every file is written through a temporary
//! file and a rename, so an interrupted build leaves whole files only. Files from earlier builds
//! that this one did not rewrite are left alone; the manifest lists what this build made.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures_util::future::join_all;

use super::error::MediaError;
use super::manifest::{FailedLine, Manifest, MusicEntry, ProvidersUsed, SfxEntry, VoiceEntry, VERSION};
use super::recorded;
use super::request::{Line, MediaRequest, MusicSpec, MUSIC_VOLUME_ALONE, MUSIC_VOLUME_UNDER_VOICE};
use super::reuse::{self, Previous};
use crate::chains::limits::{self, Limits};
use crate::chains::music::{MusicRequest, DEFAULT_SECONDS};
use crate::chains::sfx::SfxRequest;
use crate::chains::voice::VoiceRequest;
use crate::chains::{self, ChainError, Providers, Routing};
use crate::engines::kokoro::service::{self, round_ms, Outputs};
use crate::providers::plan::{plan_for, Capability, Facts};

pub use super::manifest::{MUSIC_FILE, SFX_DIR, VOICE_DIR};

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub out: PathBuf,
    /// Overrides the request's voice provider; `local_only` and `no_fallback` apply to every
    /// capability.
    pub routing: Routing,
    /// Overrides the request's voice.
    pub voice: Option<String>,
    /// Requests at once per hosted provider (else the request's, else `HYPERFRAMES_TTS_CONCURRENCY`, else 4).
    pub concurrency: Option<usize>,
    /// Kokoro may download its model on first use.
    pub allow_download: bool,
    /// Leave the music bed out even when the request asks for one.
    pub no_music: bool,
    /// Voice every line again, even those whose inputs have not changed since the last build.
    pub fresh: bool,
}

/// What a build reports as it goes, for progress displays.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Started {
        lines: usize,
        effects: usize,
        music: bool,
    },
    /// `reused`: kept from the previous build, no provider was asked.
    Line {
        id: String,
        reused: bool,
        outcome: Result<(&'static str, f64), String>,
    },
    Effect {
        name: String,
        outcome: Result<&'static str, String>,
    },
    Music {
        outcome: Result<&'static str, String>,
    },
}

pub type OnEvent<'a> = &'a (dyn Fn(Event) + Send + Sync);

/// Builds `req` into `opts.out` with this environment's providers.
pub async fn build(req: &MediaRequest, opts: &BuildOptions, on_event: OnEvent<'_>) -> Result<Manifest, MediaError> {
    let (facts, mut providers) = chains::gather(opts.routing.local_only).await;
    let hosted = opts.concurrency.or(req.concurrency).unwrap_or_else(limits::hosted_from_env);
    providers.limits = Limits::new(hosted);
    build_with(req, opts, &facts, &providers, on_event).await
}

pub async fn build_with(
    req: &MediaRequest,
    opts: &BuildOptions,
    facts: &Facts,
    providers: &Providers,
    on_event: OnEvent<'_>,
) -> Result<Manifest, MediaError> {
    let out = opts.out.clone();
    prepare_folder(&out).await?;
    let music = req.music.as_ref().filter(|_| !opts.no_music);
    let effects = distinct_effects(req);
    let requests: Vec<(VoiceRequest, String)> = req
        .lines
        .iter()
        .map(|l| {
            let vr = voice_request(l, req, opts);
            let digest = match &l.audio {
                Some(audio) => recorded::input_digest(l, audio),
                None => reuse::input_digest(&vr),
            };
            (vr, digest)
        })
        .collect();
    let kept = kept_lines(req, &requests, opts).await;
    on_event(Event::Started { lines: req.lines.len(), effects: effects.len(), music: music.is_some() });

    let voices_then_music = async {
        let lines =
            join_all(req.lines.iter().zip(&requests).zip(kept).map(|((line, (vr, digest)), kept)| {
                voice_line(line, vr, digest, kept, opts, facts, providers, on_event)
            }))
            .await;
        let voiced: f64 = lines.iter().filter_map(|r| r.as_ref().ok()).map(|(v, _)| v.duration_s).sum();
        let bed = match music {
            Some(spec) => Some(music_bed(spec, voiced, opts, facts, providers, on_event).await),
            None => None,
        };
        (lines, bed)
    };
    let out_dir = out.as_path();
    let effects_rendered = join_all(effects.iter().map(|(slug, name)| async move {
        let r = effect(name, slug, out_dir, opts, facts, providers).await;
        on_event(Event::Effect { name: name.clone(), outcome: r.as_ref().map(|e| e.0).map_err(ChainError::anomaly) });
        (slug.clone(), r)
    }));
    let ((lines, bed), effects_rendered) = tokio::join!(voices_then_music, effects_rendered);

    let mut m = Manifest {
        version: VERSION,
        ok: true,
        tts_provider: None,
        voice_id: opts.voice.clone().or_else(|| req.voice.clone()),
        providers: ProvidersUsed::default(),
        voices: Vec::new(),
        failed: Vec::new(),
        bgm: None,
        sfx: Vec::new(),
        anomalies: Vec::new(),
        total_duration_s: 0.0,
    };
    record_lines(&mut m, req, lines);
    record_cues(&mut m, req, &effects, effects_rendered.into_iter().collect());
    record_bed(&mut m, bed);
    scrub(&mut m);
    let dir = out.clone();
    let manifest = m.clone();
    crate::blocking(move || manifest.write(&dir)).await?;
    Ok(m)
}

/// The voiced lines and the failed ones, in request order, with their anomalies.
fn record_lines(m: &mut Manifest, req: &MediaRequest, lines: Vec<Result<(VoiceEntry, Vec<String>), ChainError>>) {
    for (line, result) in req.lines.iter().zip(lines) {
        match result {
            Ok((entry, anomalies)) => {
                m.anomalies.extend(anomalies.into_iter().map(|a| format!("line {}: {a}", line.id)));
                push_once(&mut m.providers.voice, entry.provider);
                m.voices.push(entry);
            }
            Err(e) => {
                m.anomalies.extend(e.anomalies.iter().map(|a| format!("line {}: {a}", line.id)));
                m.anomalies.push(format!("line {}: not voiced ({})", line.id, e.anomaly()));
                m.failed.push(FailedLine { id: line.id.clone(), code: e.code, error: e.message, hint: e.hint });
            }
        }
    }
    m.ok = m.failed.is_empty();
    m.tts_provider = m.voices.first().map(|v| v.provider);
    if m.voice_id.is_none() {
        m.voice_id = m.voices.first().map(|v| v.voice.clone());
    }
    m.total_duration_s = round_ms(m.voices.iter().map(|v| v.duration_s).sum());
}

/// One entry per cue whose effect was rendered; the others become anomalies.
fn record_cues(
    m: &mut Manifest,
    req: &MediaRequest,
    effects: &[(String, String)],
    rendered: HashMap<String, Result<Rendered, ChainError>>,
) {
    for (line, cue) in req.cues() {
        match rendered.get(&crate::sfx::library::slug(&cue.name)) {
            Some(Ok((provider, source_name, duration, path, _))) => {
                push_once(&mut m.providers.sfx, provider);
                m.sfx.push(SfxEntry {
                    line: line.id.clone(),
                    name: cue.name.clone(),
                    offset_s: cue.at,
                    volume: cue.volume,
                    path: path.clone(),
                    provider,
                    source_name: source_name.clone(),
                    duration_s: round_ms(*duration),
                });
            }
            Some(Err(e)) => {
                m.anomalies.push(format!("line {}: sound effect \"{}\" left out ({})", line.id, cue.name, e.anomaly()))
            }
            None => {}
        }
    }
    for (slug, _) in effects {
        if let Some(Ok((_, _, _, _, anomalies))) = rendered.get(slug) {
            m.anomalies.extend(anomalies.iter().cloned());
        }
    }
}

fn record_bed(m: &mut Manifest, bed: Option<Result<(MusicEntry, Vec<String>), ChainError>>) {
    match bed {
        Some(Ok((entry, anomalies))) => {
            m.anomalies.extend(anomalies.into_iter().map(|a| format!("music: {a}")));
            m.providers.music = Some(entry.provider);
            m.bgm = Some(entry);
        }
        Some(Err(e)) => {
            m.anomalies.extend(e.anomalies.iter().map(|a| format!("music: {a}")));
            m.anomalies.push(format!("music: left out ({})", e.anomaly()));
        }
        None => {}
    }
}

/// Provider messages reach the manifest, the terminal and JS: no secret goes with them.
fn scrub(m: &mut Manifest) {
    use crate::auth::scrub::scrub;
    for a in &mut m.anomalies {
        *a = scrub(a);
    }
    for f in &mut m.failed {
        f.error = scrub(&f.error);
    }
}

async fn prepare_folder(out: &Path) -> Result<(), MediaError> {
    let out = out.to_path_buf();
    crate::blocking(move || {
        for sub in [VOICE_DIR, SFX_DIR, "music"] {
            std::fs::create_dir_all(out.join(sub))
                .map_err(|e| MediaError::io(format!("Cannot create {}", out.join(sub).display()), &e))?;
        }
        Ok(())
    })
    .await
}

fn push_once(list: &mut Vec<&'static str>, provider: &'static str) {
    if !list.contains(&provider) {
        list.push(provider);
    }
}

/// `dir/file` as the manifest writes it.
fn relative(dir: &str, file: &str) -> String {
    format!("{dir}/{file}")
}

/// The effects to render: one per distinct file name, in first-use order.
fn distinct_effects(req: &MediaRequest) -> Vec<(String, String)> {
    let mut seen = Vec::<(String, String)>::new();
    for (_, cue) in req.cues() {
        let slug = crate::sfx::library::slug(&cue.name);
        if !seen.iter().any(|(s, _)| *s == slug) {
            seen.push((slug, cue.name.clone()));
        }
    }
    seen
}

/// The lines the previous build already made from the same inputs (none with `fresh`).
async fn kept_lines(
    req: &MediaRequest,
    requests: &[(VoiceRequest, String)],
    opts: &BuildOptions,
) -> Vec<Option<VoiceEntry>> {
    if opts.fresh {
        return vec![None; requests.len()];
    }
    let wanted: Vec<(String, String)> =
        req.lines.iter().zip(requests).map(|(l, (_, digest))| (l.id.clone(), digest.clone())).collect();
    let dir = opts.out.clone();
    crate::blocking(move || {
        let previous = Previous::load(&dir);
        wanted.iter().map(|(id, digest)| previous.reusable(id, digest, &dir)).collect()
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn voice_line(
    line: &Line,
    vr: &VoiceRequest,
    digest: &str,
    kept: Option<VoiceEntry>,
    opts: &BuildOptions,
    facts: &Facts,
    providers: &Providers,
    on_event: OnEvent<'_>,
) -> Result<(VoiceEntry, Vec<String>), ChainError> {
    if let Some(entry) = kept {
        on_event(Event::Line { id: line.id.clone(), reused: true, outcome: Ok((entry.provider, entry.duration_s)) });
        return Ok((entry, Vec::new()));
    }
    let result = match &line.audio {
        Some(audio) => recorded::record(line, audio, digest, &opts.out).await,
        None => speak(line, vr, digest, opts, facts, providers).await,
    };
    let outcome = result.as_ref().map(|(v, _)| (v.provider, v.duration_s)).map_err(ChainError::anomaly);
    on_event(Event::Line { id: line.id.clone(), reused: false, outcome });
    result
}

/// What the voice chain is asked for a line: the line's settings, else the options', else the request's.
fn voice_request(line: &Line, req: &MediaRequest, opts: &BuildOptions) -> VoiceRequest {
    let routing =
        Routing { provider: opts.routing.provider.clone().or_else(|| req.provider.clone()), ..opts.routing.clone() };
    VoiceRequest {
        text: line.text.clone(),
        voice: line.voice.clone().or_else(|| opts.voice.clone()).or_else(|| req.voice.clone()),
        speed: line.speed.unwrap_or(req.speed),
        lang: line.lang.clone().or_else(|| req.lang.clone()),
        kokoro_model: None,
        allow_download: opts.allow_download,
        routing,
        lexicon: req.lexicon.clone(),
    }
}

async fn speak(
    line: &Line,
    vr: &VoiceRequest,
    digest: &str,
    opts: &BuildOptions,
    facts: &Facts,
    providers: &Providers,
) -> Result<(VoiceEntry, Vec<String>), ChainError> {
    let mut r = chains::voice::voice_with(vr, facts, providers).await?;
    let file = format!("{}.wav", line.id);
    let words_file = format!("{}.words.json", line.id);
    let outputs = Outputs {
        audio: Some(opts.out.join(VOICE_DIR).join(&file)),
        format: None,
        words: Some(opts.out.join(VOICE_DIR).join(&words_file)),
        captions: Vec::new(),
    };
    let timed = r.caption_words();
    let words = service::caption_words_json(&timed);
    let (samples, rate, json) = (std::mem::take(&mut r.samples), r.sample_rate, words.clone());
    crate::blocking(move || service::write_audio_outputs(&samples, rate, &timed, &json, &outputs))
        .await
        .map_err(ChainError::from)?;
    let entry = VoiceEntry {
        id: line.id.clone(),
        path: relative(VOICE_DIR, &file),
        words_path: relative(VOICE_DIR, &words_file),
        provider: r.provider,
        voice: r.voice.clone(),
        duration_s: round_ms(r.duration_seconds()),
        sample_rate: r.sample_rate,
        words,
        input_sha256: digest.to_string(),
        reused: false,
    };
    let (dir, journaled) = (opts.out.clone(), entry.clone());
    if let Err(e) = crate::blocking(move || super::manifest::journal_line(&dir, &journaled)).await {
        // The line is voiced and written; only a rerun after an interruption would voice it again.
        tracing::warn!(line = %line.id, "cannot record the finished line in the build journal: {e}");
    }
    Ok((entry, r.anomalies))
}

/// (provider, the library's name for it, seconds, manifest path, anomalies)
type Rendered = (&'static str, String, f64, String, Vec<String>);

async fn effect(
    name: &str,
    slug: &str,
    out: &Path,
    opts: &BuildOptions,
    facts: &Facts,
    providers: &Providers,
) -> Result<Rendered, ChainError> {
    let file = format!("{slug}.wav");
    let req = SfxRequest {
        query: name.to_string(),
        output: out.join(SFX_DIR).join(&file),
        routing: Routing { provider: None, ..opts.routing.clone() },
    };
    let r = chains::sfx::sfx_with(&req, facts, providers).await?;
    let anomalies = r.anomalies.iter().map(|a| format!("sound effect \"{name}\": {a}")).collect();
    Ok((r.provider.as_str(), r.name, r.duration, relative(SFX_DIR, &file), anomalies))
}

async fn music_bed(
    spec: &MusicSpec,
    voiced_seconds: f64,
    opts: &BuildOptions,
    facts: &Facts,
    providers: &Providers,
    on_event: OnEvent<'_>,
) -> Result<(MusicEntry, Vec<String>), ChainError> {
    let result = score(spec, voiced_seconds, opts, facts, providers).await;
    on_event(Event::Music { outcome: result.as_ref().map(|(m, _)| m.provider).map_err(ChainError::anomaly) });
    result
}

async fn score(
    spec: &MusicSpec,
    voiced_seconds: f64,
    opts: &BuildOptions,
    facts: &Facts,
    providers: &Providers,
) -> Result<(MusicEntry, Vec<String>), ChainError> {
    let seconds = spec.seconds.unwrap_or(if voiced_seconds > 0.0 { voiced_seconds } else { DEFAULT_SECONDS });
    let provider = match (&spec.provider, spec.generate_only) {
        (Some(p), _) => Some(p.clone()),
        (None, true) => Some(first_generator(facts)?),
        (None, false) => None,
    };
    let req = MusicRequest {
        prompt: spec.prompt.clone(),
        seconds,
        output: opts.out.join(MUSIC_FILE),
        routing: Routing { provider, ..opts.routing.clone() },
    };
    let r = chains::music::music_with(&req, facts, providers).await?;
    let volume =
        spec.volume.unwrap_or(if voiced_seconds > 0.0 { MUSIC_VOLUME_UNDER_VOICE } else { MUSIC_VOLUME_ALONE });
    let entry = MusicEntry {
        path: MUSIC_FILE.to_string(),
        provider: r.provider.as_str(),
        prompt: spec.prompt.clone(),
        title: r.title,
        duration_s: round_ms(r.duration),
        volume,
        sample_rate: r.sample_rate,
        channels: r.channels,
        license: chains::music::license_note(r.provider),
    };
    Ok((entry, r.anomalies))
}

/// `generate` mode: the first available provider that composes rather than retrieves.
fn first_generator(facts: &Facts) -> Result<String, ChainError> {
    let plan = plan_for(Capability::Music, facts);
    plan.candidates.iter().find(|c| c.available && c.provider != "heygen").map(|c| c.provider.to_string()).ok_or_else(
        || {
            let mut e = chains::nothing_serves(&plan);
            e.message = format!("No music generator is available ({})", e.message);
            e
        },
    )
}

#[cfg(test)]
mod tests;
