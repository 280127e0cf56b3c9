//! The music chain: the HeyGen audio library → Lyria (Gemini) → the local MusicGen engine (when its
//! model is installed; it needs no key). When nothing serves, the error carries every setup hint.
//! The track is fitted to the requested length (trimmed, or looped with an equal-power crossfade),
//! faded in and out, and peak-normalised, keeping its own rate and channels. MusicGen generates one
//! seed of the request's length (at most 28 s) at 32 kHz mono, which is then fitted the same way.

use std::path::PathBuf;
use std::sync::Arc;

use super::{decode, order, walk, write_audio, ChainError, ChainResult, Providers, Routing};
use crate::audio::decode::{limits, Decoded};
use crate::audio::resample::{fit_duration, peak_normalize};
use crate::engines::musicgen::{sampling, service as musicgen};
use crate::providers::heygen::SoundKind;
use crate::providers::plan::{plan_for, Capability, Facts};
use crate::providers::Provider;

pub const DEFAULT_SECONDS: f64 = 30.0;

/// Said wherever music is made or planned with the local MusicGen engine (its output, `plan`,
/// `doctor`, the media manifest): its weights are licensed for non-commercial use only, which a
/// user making a commercial video must know before publishing.
pub const MUSICGEN_LICENSE_NOTE: &str =
    "MusicGen's weights are CC-BY-NC-4.0: music made with them is for non-commercial use only";

/// The licence note for music `provider` made, if it carries one.
pub fn license_note(provider: Provider) -> Option<&'static str> {
    (provider == Provider::Musicgen).then_some(MUSICGEN_LICENSE_NOTE)
}
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

/// Called after each MusicGen decoder step with `(step, steps)`.
pub type StepProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// How the local engine generates, when it is the one that serves.
#[derive(Clone, Default)]
pub struct Generation {
    /// Sampling seed (random when unset); the same seed and prompt give the same music.
    pub seed: Option<u64>,
    pub progress: Option<StepProgress>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MusicResult {
    pub path: PathBuf,
    /// `heygen`, `lyria` or `musicgen`.
    pub provider: Provider,
    /// The library track's name, when the library served.
    pub title: Option<String>,
    /// Seconds (the requested length).
    pub duration: f64,
    pub sample_rate: u32,
    pub channels: u16,
    /// The sampling seed, when MusicGen served.
    pub seed: Option<u64>,
    pub anomalies: Vec<String>,
}

/// Music for `req`, with a seed and progress for the local engine.
pub async fn music_generating(req: &MusicRequest, generation: &Generation) -> ChainResult<MusicResult> {
    let (facts, providers) = super::gather(req.routing.local_only).await;
    music_with_generation(req, &facts, &providers, generation).await
}

pub async fn music_with(req: &MusicRequest, facts: &Facts, providers: &Providers) -> ChainResult<MusicResult> {
    music_with_generation(req, facts, providers, &Generation::default()).await
}

pub async fn music_with_generation(
    req: &MusicRequest,
    facts: &Facts,
    providers: &Providers,
    generation: &Generation,
) -> ChainResult<MusicResult> {
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
    let order = order(&plan, &req.routing, facts)?;
    let (served, anomalies) =
        walk(Capability::Music, &order, &req.routing, providers, |p| attempt(p, prompt, req, providers, generation))
            .await?;
    Ok(MusicResult {
        path: req.output.clone(),
        provider: served.provider,
        title: served.title,
        duration: req.seconds,
        sample_rate: served.rate,
        channels: served.channels,
        seed: served.seed,
        anomalies,
    })
}

struct Served {
    provider: Provider,
    title: Option<String>,
    rate: u32,
    channels: u16,
    seed: Option<u64>,
}

async fn attempt(
    provider: Provider,
    prompt: &str,
    req: &MusicRequest,
    providers: &Providers,
    generation: &Generation,
) -> ChainResult<Served> {
    let (decoded, title) = match provider {
        Provider::Heygen => {
            let client = providers.heygen.as_ref().ok_or_else(|| super::not_configured(provider))?;
            let hits = client.search_sounds(SoundKind::Music, prompt, 5, None).await?;
            let Some(hit) = hits.into_iter().next() else {
                return Err(ChainError::no_match(provider.as_str(), format!("heygen: no music matches \"{prompt}\"")));
            };
            let (bytes, mime) = client.download(&hit.audio_url).await?;
            let name = if hit.name.trim().is_empty() { hit.id } else { hit.name };
            (decode(provider, &bytes, &mime, limits::MUSIC)?, Some(name))
        }
        Provider::Lyria => {
            let client = providers.lyria.as_ref().ok_or_else(|| super::not_configured(provider))?;
            let clip = client.generate(prompt, None, req.seconds).await?;
            (decode(provider, &clip.audio, &clip.mime, limits::MUSIC)?, None)
        }
        Provider::Musicgen => return generate(prompt, req, generation).await,
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
    .map_err(|e| ChainError::engine(provider.as_str(), e))?;
    Ok(Served { provider, title, rate, channels, seed: None })
}

/// The local engine: one seed (the request's length, at most 28 s), fitted to the request.
async fn generate(prompt: &str, req: &MusicRequest, generation: &Generation) -> ChainResult<Served> {
    let provider = Provider::Musicgen;
    let seed = generation.seed.unwrap_or_else(sampling::random_seed);
    let (prompt, seconds, path) = (prompt.to_string(), req.seconds, req.output.clone());
    let progress = generation.progress.clone();
    let rate = crate::blocking(move || {
        let report = |step: usize, steps: usize| {
            if let Some(p) = &progress {
                p(step, steps);
            }
        };
        let generated = musicgen::generate(&prompt, seconds, seed, &report)?;
        let rate = generated.sample_rate;
        let decoded = Decoded { samples: generated.samples, sample_rate: rate, channels: 1 };
        write_audio(&path, &fit(&decoded, seconds), rate, 1)?;
        Ok(rate)
    })
    .await
    .map_err(|e| ChainError::engine(provider.as_str(), e))?;
    Ok(Served { provider, title: None, rate, channels: 1, seed: Some(seed) })
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

    #[test]
    fn musicgen_music_carries_the_catalogs_licence_and_others_none() {
        let license = crate::engines::catalog::find("musicgen-small").unwrap().license;
        let code = license.split_whitespace().next().unwrap();
        assert_eq!(code, "CC-BY-NC-4.0");
        let note = license_note(Provider::Musicgen).unwrap();
        assert!(note.contains(code) && note.contains("non-commercial"), "{note}");
        for other in [Provider::Heygen, Provider::Lyria] {
            assert_eq!(license_note(other), None);
        }
    }
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
        assert_eq!(
            (r.provider, r.title.as_deref(), r.channels, r.sample_rate),
            (Provider::Heygen, Some("Calm"), 2, 22_050)
        );
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

    /// A models folder holding the tiny test-built MusicGen, as `models install` would lay it out.
    fn tiny_models_dir() -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let spec = musicgen::spec().unwrap();
        crate::engines::testing::musicgen_graphs::write_model_dir(
            &spec.dir_in(root.path()),
            crate::engines::testing::musicgen_graphs::TINY,
        );
        assert!(crate::engines::catalog::status(root.path(), spec, false).installed);
        root
    }

    #[test]
    fn musicgen_serves_after_a_hosted_failure_and_fits_its_seed() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let hg = rt.block_on(TestServer::start());
        hg.push(Scripted::json(402, json!({"error": "plan_upgrade_required"})));
        // (The HeyGen client takes the environment lock itself while it is built.)
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let _lock = crate::test_support::env_lock();
        let models = tiny_models_dir();
        let _env = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_MODELS_DIR", models.path().to_str())]);
        let facts = Facts { heygen: true, onnx_runtime: true, musicgen_installed: true, ..Facts::default() };
        let dir = tempfile::tempdir().unwrap();
        let steps = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = steps.clone();
        let generation =
            Generation { seed: Some(3), progress: Some(Arc::new(move |i, n| seen.lock().unwrap().push((i, n)))) };
        let r = rt.block_on(music_with_generation(&req(dir.path(), 5.0), &facts, &providers, &generation)).unwrap();
        assert_eq!((r.provider, r.sample_rate, r.channels, r.seed), (Provider::Musicgen, 32_000, 1, Some(3)));
        assert!(r.anomalies[0].starts_with("heygen: HTTP 402"), "{:?}", r.anomalies);
        // A 5 s request generates a 5 s seed: ceil(5 × 50) + 3 decoder steps.
        let steps = steps.lock().unwrap().clone();
        assert_eq!((steps.len(), steps.last().copied()), (253, Some((253, 253))));

        let (samples, rate, ch) = crate::audio::wav::read_wav(&r.path).unwrap();
        assert_eq!((rate, ch, samples.len()), (32_000, 1, 5 * 32_000));
        assert_eq!(samples[0], 0.0, "faded in");
        let peak = crate::audio::wav::peak(&samples);
        assert!((peak - PEAK).abs() < 0.01, "{peak}");
        // Exactly the engine's own 5 s seed for seed 3, fitted like any other track.
        let engine = musicgen::shared(&musicgen::installed_dir().unwrap()).unwrap();
        let seed_audio = engine
            .generate("calm cinematic", &crate::engines::musicgen::engine::GenerateOptions::new(5.0, 3), &|_, _| {})
            .unwrap();
        let expected = fit(&Decoded { samples: seed_audio.samples, sample_rate: 32_000, channels: 1 }, 5.0);
        let max_diff = samples.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(max_diff < 1.0 / 16_000.0, "the WAV is the fitted seed (16-bit), off by {max_diff}");
    }

    #[test]
    fn musicgen_serves_local_only_and_nothing_connects() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _lock = crate::test_support::env_lock();
        let models = tiny_models_dir();
        let config = tempfile::tempdir().unwrap();
        let server = rt.block_on(TestServer::start());
        let url = server.url();
        let _env = crate::test_support::EnvGuard::set(&[
            ("HYPERFRAMES_MODELS_DIR", models.path().to_str()),
            ("HEYGEN_API_KEY", Some("hg_local_only_key_0001")),
            ("HEYGEN_API_URL", Some(url.as_str())),
            ("GEMINI_API_KEY", Some("gm_local_only_key_0001")),
            ("HEYGEN_CONFIG_DIR", config.path().to_str()),
        ]);
        let dir = tempfile::tempdir().unwrap();
        let mut request = req(dir.path(), 2.0);
        request.routing.local_only = true;
        let generation = Generation { seed: Some(11), progress: None };
        match rt.block_on(music_generating(&request, &generation)) {
            Ok(r) => {
                assert_eq!((r.provider, r.seed), (Provider::Musicgen, Some(11)));
                let (samples, rate, _) = crate::audio::wav::read_wav(&r.path).unwrap();
                assert_eq!((rate, samples.len()), (32_000, 64_000));
            }
            // Only when this machine has no ONNX Runtime to find.
            Err(e) => {
                assert!(crate::engines::runtime::locate().is_err(), "{e:?}");
                assert_eq!(e.code, "NO_PROVIDER");
            }
        }
        // Pinned, it serves too; a pinned hosted provider is refused.
        request.routing.provider = Some("heygen".into());
        let e = rt.block_on(music_generating(&request, &generation)).unwrap_err();
        assert_eq!(e.code, "PROVIDER_UNAVAILABLE");
        assert!(server.requests().is_empty(), "local-only mode connected to {:?}", server.requests());
    }

    #[tokio::test]
    async fn musicgen_pinned_without_its_model_says_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = req(dir.path(), 10.0);
        r.routing.provider = Some("musicgen".into());
        let facts = Facts { onnx_runtime: true, ..Facts::default() };
        let e = music_with(&r, &facts, &Providers::default()).await.unwrap_err();
        assert_eq!(e.code, "PROVIDER_UNAVAILABLE");
        assert!(e.message.contains("not installed"), "{}", e.message);
        let hint = e.hint.unwrap();
        assert!(hint.contains("hyperframes models install musicgen-small") && hint.contains("CC-BY-NC-4.0"), "{hint}");
        // Unpinned with nothing else: every hint, the model's included.
        r.routing.provider = None;
        let e = music_with(&r, &facts, &Providers::default()).await.unwrap_err();
        assert_eq!(e.code, "NO_PROVIDER");
        assert!(e.hint.unwrap().contains("models install musicgen-small"));
        assert!(!r.output.exists());
    }

    #[tokio::test]
    async fn a_bad_length_is_refused_before_any_request() {
        let dir = tempfile::tempdir().unwrap();
        let e = music_with(&req(dir.path(), 0.0), &all_keys(), &Providers::default()).await.unwrap_err();
        assert_eq!(e.code, "BAD_DURATION");
    }
}
