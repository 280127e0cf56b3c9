//! The music chain: the HeyGen audio library → Lyria (Gemini). The local MusicGen engine is not
//! part of this release; the plan says so, and when nothing serves the error carries its hints.
//! The track is fitted to the requested length (trimmed, or looped with an equal-power crossfade),
//! faded in and out, and peak-normalised, keeping its own rate and channels.

use std::path::PathBuf;

use super::{decode, order, walk, write_audio, ChainError, ChainResult, Providers, Routing};
use crate::audio::decode::Decoded;
use crate::audio::resample::{fit_duration, peak_normalize};
use crate::providers::heygen::SoundKind;
use crate::providers::plan::{plan_for, Capability, Facts};

pub const DEFAULT_SECONDS: f64 = 30.0;
pub const CROSSFADE_SECONDS: f64 = 0.3;
pub const FADE_IN_SECONDS: f64 = 0.08;
pub const FADE_OUT_SECONDS: f64 = 0.5;
pub const PEAK: f32 = 0.89;
/// Longest track we fit (an hour).
pub const MAX_SECONDS: f64 = 3600.0;

#[derive(Debug, Clone)]
pub struct MusicRequest {
    /// A mood to search the library for, or a prompt to generate from.
    pub prompt: String,
    /// The length wanted.
    pub seconds: f64,
    pub output: PathBuf,
    pub routing: Routing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MusicResult {
    pub path: PathBuf,
    /// `heygen` or `lyria`.
    pub provider: &'static str,
    /// The library track's name, when the library served.
    pub title: Option<String>,
    /// Seconds (the requested length).
    pub duration: f64,
    pub sample_rate: u32,
    pub channels: u16,
    pub anomalies: Vec<String>,
}

pub async fn music(req: &MusicRequest) -> ChainResult<MusicResult> {
    let (facts, providers) = super::gather(req.routing.local_only).await;
    music_with(req, &facts, &providers).await
}

pub async fn music_with(req: &MusicRequest, facts: &Facts, providers: &Providers) -> ChainResult<MusicResult> {
    let prompt = req.prompt.trim();
    if prompt.is_empty() {
        return Err(ChainError::new(
            "EMPTY_QUERY",
            "Describe the music you want (e.g. \"calm cinematic underscore\").",
        ));
    }
    if !(req.seconds.is_finite() && req.seconds > 0.0 && req.seconds <= MAX_SECONDS) {
        return Err(ChainError::new(
            "BAD_DURATION",
            format!("The length must be between 0 and {MAX_SECONDS} seconds (got {}).", req.seconds),
        ));
    }
    let plan = plan_for(Capability::Music, facts);
    let order = order(&plan, &req.routing)?;
    let ((provider, title, rate, channels), anomalies) =
        walk(&order, &req.routing, |p| attempt(p, prompt, req, providers)).await?;
    Ok(MusicResult {
        path: req.output.clone(),
        provider,
        title,
        duration: req.seconds,
        sample_rate: rate,
        channels,
        anomalies,
    })
}

type Served = (&'static str, Option<String>, u32, u16);

async fn attempt(
    provider: &'static str,
    prompt: &str,
    req: &MusicRequest,
    providers: &Providers,
) -> ChainResult<Served> {
    let (decoded, title) = match provider {
        "heygen" => {
            let client = providers.heygen.as_ref().ok_or_else(|| super::not_configured(provider))?;
            let hits = client.search_sounds(SoundKind::Music, prompt, 5, None).await?;
            let Some(hit) = hits.into_iter().next() else {
                return Err(ChainError::no_match(provider, format!("heygen: no music matches \"{prompt}\"")));
            };
            let (bytes, mime) = client.download(&hit.audio_url).await?;
            let name = if hit.name.trim().is_empty() { hit.id } else { hit.name };
            (decode(provider, &bytes, &mime)?, Some(name))
        }
        "lyria" => {
            let client = providers.lyria.as_ref().ok_or_else(|| super::not_configured(provider))?;
            let clip = client.generate(prompt, None, req.seconds).await?;
            (decode(provider, &clip.audio, &clip.mime)?, None)
        }
        other => return Err(super::not_configured(other)),
    };
    let (rate, channels) = (decoded.sample_rate, decoded.channels.max(1));
    let seconds = req.seconds;
    let path = req.output.clone();
    crate::blocking(move || {
        let samples = fit(&decoded, seconds);
        write_audio(&path, &samples, rate, channels)
    })
    .await
    .map_err(|e| ChainError::engine(provider, e))?;
    Ok((provider, title, rate, channels))
}

/// Fits every channel to `seconds` and peak-normalises the whole; interleaved out.
pub fn fit(d: &Decoded, seconds: f64) -> Vec<f32> {
    let ch = usize::from(d.channels.max(1));
    let fitted: Vec<Vec<f32>> = (0..ch)
        .map(|c| {
            let channel: Vec<f32> = d.samples.iter().skip(c).step_by(ch).copied().collect();
            fit_duration(&channel, d.sample_rate, seconds, CROSSFADE_SECONDS, FADE_IN_SECONDS, FADE_OUT_SECONDS)
        })
        .collect();
    let frames = fitted.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(frames * ch);
    for i in 0..frames {
        for channel in &fitted {
            out.push(channel[i]);
        }
    }
    peak_normalize(&mut out, PEAK);
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use serde_json::json;

    use super::*;
    use crate::chains::testing::{self, all_keys, tone_wav, wav_reply};
    use crate::providers::test_server::{Scripted, TestServer};

    fn req(dir: &std::path::Path, seconds: f64) -> MusicRequest {
        MusicRequest {
            prompt: "calm cinematic".into(),
            seconds,
            output: dir.join("bgm.wav"),
            routing: Routing::default(),
        }
    }

    #[tokio::test]
    async fn a_library_track_is_looped_to_the_length_and_normalised() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(
            200,
            json!({"data": [{"id": "m1", "name": "Calm", "audio_url": "{base}/m1.wav", "duration": 2.0, "score": 0.8}]}),
        ));
        hg.push(wav_reply(tone_wav(2.0, 22_050, 2)));
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let r = music_with(&req(dir.path(), 5.0), &all_keys(), &providers).await.unwrap();
        assert_eq!((r.provider, r.title.as_deref(), r.channels, r.sample_rate), ("heygen", Some("Calm"), 2, 22_050));
        let (samples, rate, ch) = crate::audio::wav::read_wav(&r.path).unwrap();
        assert_eq!((rate, ch), (22_050, 2));
        assert_eq!(samples.len(), 5 * 22_050 * 2, "exactly the requested length");
        let peak = crate::audio::wav::peak(&samples);
        assert!((peak - PEAK).abs() < 0.01, "{peak}");
        assert_eq!(samples[0], 0.0, "faded in");
        assert!(hg.requests()[0].target.contains("type=music") && hg.requests()[0].target.contains("limit=5"));
    }

    #[tokio::test]
    async fn heygen_failure_falls_through_to_lyria_and_long_clips_are_trimmed() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(402, json!({"error": "plan_upgrade_required"})));
        let ly = TestServer::start().await;
        let wav = base64::engine::general_purpose::STANDARD.encode(tone_wav(3.0, 48_000, 2));
        ly.push(Scripted::json(
            200,
            json!({"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "audio/wav", "data": wav}}]}}]}),
        ));
        let dir = tempfile::tempdir().unwrap();
        let providers =
            Providers { heygen: Some(testing::heygen(&hg)), lyria: Some(testing::lyria(&ly)), ..Providers::default() };
        let r = music_with(&req(dir.path(), 1.5), &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "lyria");
        assert!(r.anomalies[0].starts_with("heygen: HTTP 402"), "{:?}", r.anomalies);
        let (samples, rate, ch) = crate::audio::wav::read_wav(&r.path).unwrap();
        assert_eq!((rate, ch, samples.len()), (48_000, 2, 72_000 * 2));
    }

    #[tokio::test]
    async fn nothing_serves_without_keys_and_the_error_has_hints() {
        let dir = tempfile::tempdir().unwrap();
        let r = req(dir.path(), 10.0);
        let e = music_with(&r, &Facts::default(), &Providers::default()).await.unwrap_err();
        assert_eq!(e.code, "NO_PROVIDER");
        assert!(e.message.contains("MusicGen"), "{}", e.message);
        let hint = e.hint.unwrap();
        assert!(hint.contains("auth login") && hint.contains("GEMINI_API_KEY"), "{hint}");
        assert!(!r.output.exists());
    }

    #[tokio::test]
    async fn a_bad_length_is_refused_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let e = music_with(&req(dir.path(), 0.0), &all_keys(), &Providers::default()).await.unwrap_err();
        assert_eq!(e.code, "BAD_DURATION");
    }
}
