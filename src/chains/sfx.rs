//! The sound-effect chain: the HeyGen audio library → the bundled (generated) library.

use std::path::{Path, PathBuf};

use super::{decode, order, walk, write_audio, ChainError, ChainResult, Providers, Routing};
use crate::audio::decode::limits;
use crate::providers::heygen::SoundKind;
use crate::providers::plan::{plan_for, Capability, Facts};
use crate::providers::Provider;
use crate::sfx::library;

/// HeyGen sound-effect hits typically score 0.5–0.67, under the server's 0.7 default.
pub const HEYGEN_MIN_SCORE: f32 = 0.4;

#[derive(Debug, Clone)]
pub struct SfxRequest {
    pub query: String,
    /// Where the WAV goes.
    pub output: PathBuf,
    pub routing: Routing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SfxResult {
    pub path: PathBuf,
    /// `heygen` or `bundled`.
    pub provider: Provider,
    /// The effect's name in its library.
    pub name: String,
    /// Seconds.
    pub duration: f64,
    /// How the bundled library matched the query (its own search); `None` for HeyGen's.
    pub matched: Option<library::Match>,
    pub anomalies: Vec<String>,
}

/// One library entry, for listings.
#[derive(Debug, Clone, PartialEq)]
pub struct SfxListing {
    pub provider: Provider,
    pub name: String,
    pub description: String,
    pub duration: Option<f64>,
    pub score: Option<f64>,
}

pub async fn sfx(req: &SfxRequest) -> ChainResult<SfxResult> {
    let (facts, providers) = super::gather(req.routing.local_only).await;
    sfx_with(req, &facts, &providers).await
}

pub async fn sfx_with(req: &SfxRequest, facts: &Facts, providers: &Providers) -> ChainResult<SfxResult> {
    let query = req.query.trim();
    if query.is_empty() {
        return Err(ChainError::new("EMPTY_QUERY", "Say which sound effect you want (e.g. \"whoosh\")."));
    }
    let plan = plan_for(Capability::SoundEffects, facts);
    let order = order(&plan, &req.routing, facts)?;
    let ((provider, name, duration, matched), anomalies) =
        walk(Capability::SoundEffects, &order, &req.routing, providers, |p| attempt(p, query, &req.output, providers))
            .await?;
    Ok(SfxResult { path: req.output.clone(), provider, name, duration, matched, anomalies })
}

async fn attempt(
    provider: Provider,
    query: &str,
    output: &Path,
    providers: &Providers,
) -> ChainResult<(Provider, String, f64, Option<library::Match>)> {
    match provider {
        Provider::Heygen => {
            let client = providers.heygen.as_ref().ok_or_else(|| super::not_configured(provider))?;
            let hits = client.search_sounds(SoundKind::SoundEffects, query, 3, Some(HEYGEN_MIN_SCORE)).await?;
            let Some(hit) = hits.into_iter().next() else {
                return Err(ChainError::no_match(provider.as_str(), format!("heygen: no match for \"{query}\"")));
            };
            let (bytes, mime) = client.download(&hit.audio_url).await?;
            let d = decode(provider, &bytes, &mime, limits::SOUND_EFFECT)?;
            let duration = d.duration_seconds();
            let path = output.to_path_buf();
            crate::blocking(move || write_audio(&path, &d.samples, d.sample_rate, d.channels))
                .await
                .map_err(|e| ChainError::engine(provider.as_str(), e))?;
            let name = if hit.name.trim().is_empty() { hit.id } else { hit.name };
            Ok((provider, name, duration, None))
        }
        Provider::Bundled => {
            let Some(matched) = library::best_match(query) else {
                let names: Vec<&str> = library::closest_names(query).into_iter().take(8).collect();
                return Err(ChainError::new("SFX_NOT_FOUND", format!("No bundled sound effect matches \"{query}\"."))
                    .with_hint(format!("Try one of: {} (see `hyperframes sfx --list`).", names.join(", "))));
            };
            let (path, name) = (output.to_path_buf(), matched.entry.name);
            let duration = crate::blocking(move || library::render_wav(name, &path))
                .await
                .map_err(|e| ChainError::engine(provider.as_str(), e))?;
            Ok((provider, name.to_string(), duration, Some(matched)))
        }
        other => Err(super::not_configured(other)),
    }
}

/// The bundled effects matching `query` (all of them without one), best first.
pub fn list_bundled(query: Option<&str>) -> Vec<SfxListing> {
    let row = |e: &library::SfxEntry, score: Option<f64>| SfxListing {
        provider: Provider::Bundled,
        name: e.name.to_string(),
        description: e.description.to_string(),
        duration: Some(e.duration),
        score,
    };
    match query.map(str::trim).filter(|q| !q.is_empty()) {
        None => library::manifest().iter().map(|e| row(e, None)).collect(),
        Some(q) => library::search(q).into_iter().map(|(e, s)| row(e, Some(f64::from(s)))).collect(),
    }
}

/// HeyGen's sound-effect hits for `query` (up to 10), when HeyGen serves.
pub async fn list_heygen(query: &str, providers: &Providers) -> ChainResult<Vec<SfxListing>> {
    let client = providers.heygen.as_ref().ok_or_else(|| super::not_configured(Provider::Heygen))?;
    let hits = client.search_sounds(SoundKind::SoundEffects, query, 10, Some(HEYGEN_MIN_SCORE)).await?;
    Ok(hits
        .into_iter()
        .map(|s| SfxListing {
            provider: Provider::Heygen,
            name: s.name,
            description: s.description,
            duration: s.duration,
            score: s.score,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::chains::testing::{self, all_keys, tone_wav, wav_reply};
    use crate::providers::test_server::{Scripted, TestServer};

    fn req(dir: &Path, query: &str) -> SfxRequest {
        SfxRequest { query: query.into(), output: dir.join("out/fx.wav"), routing: Routing::default() }
    }

    #[tokio::test]
    async fn a_heygen_hit_is_downloaded_and_written() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(
            200,
            json!({"data": [{"id": "s1", "name": "Big Whoosh", "description": "air", "audio_url": "{base}/a/s1.wav", "duration": 0.5, "score": 0.61}]}),
        ));
        hg.push(wav_reply(tone_wav(0.5, 44_100, 1)));
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let r = sfx_with(&req(dir.path(), "whoosh"), &all_keys(), &providers).await.unwrap();
        assert_eq!((r.provider, r.name.as_str()), (Provider::Heygen, "Big Whoosh"));
        assert!((r.duration - 0.5).abs() < 0.01);
        let (samples, rate, ch) = crate::audio::wav::read_wav(&r.path).unwrap();
        assert_eq!((rate, ch), (44_100, 1));
        assert_eq!(samples.len(), 22_050);
        let search = &hg.requests()[0];
        assert!(
            search.target.contains("type=sound_effects") && search.target.contains("min_score=0.4"),
            "{}",
            search.target
        );
        assert!(search.target.contains("limit=3"));
    }

    #[tokio::test]
    async fn no_heygen_hit_falls_through_to_the_bundled_library() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(200, json!({"data": []})));
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let r = sfx_with(&req(dir.path(), "whoosh"), &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "bundled");
        assert!(r.name.starts_with("whoosh"), "{}", r.name);
        assert_eq!(r.anomalies, ["heygen: no match for \"whoosh\""]);
        assert!(r.path.is_file());
    }

    #[tokio::test]
    async fn heygen_payment_required_falls_through_and_no_fallback_stops() {
        let hg = TestServer::start().await;
        hg.push(Scripted::json(402, json!({"error": "plan_upgrade_required"})));
        let dir = tempfile::tempdir().unwrap();
        let providers = Providers { heygen: Some(testing::heygen(&hg)), ..Providers::default() };
        let r = sfx_with(&req(dir.path(), "click"), &all_keys(), &providers).await.unwrap();
        assert_eq!(r.provider, "bundled");
        assert!(r.anomalies[0].starts_with("heygen: HTTP 402"), "{:?}", r.anomalies);

        hg.push(Scripted::json(402, json!({"error": "plan_upgrade_required"})));
        let mut strict = req(dir.path(), "click");
        strict.output = dir.path().join("strict.wav");
        strict.routing.no_fallback = true;
        let e = sfx_with(&strict, &all_keys(), &providers).await.unwrap_err();
        assert_eq!(e.code, "PROVIDER_PAYMENT_REQUIRED");
        assert!(!strict.output.exists(), "no partial output");
    }

    #[tokio::test]
    async fn an_unknown_effect_lists_some_names_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let r = req(dir.path(), "zzzqqq");
        let e = sfx_with(&r, &Facts::default(), &Providers::default()).await.unwrap_err();
        assert_eq!(e.code, "SFX_NOT_FOUND");
        assert!(e.hint.as_deref().unwrap().contains("chime"), "{:?}", e.hint);
        assert!(!r.output.exists());
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no temp files left");
    }

    #[tokio::test]
    async fn the_not_found_hint_lists_the_closest_names_first_and_a_loose_match_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let e = sfx_with(&req(dir.path(), "wooosh"), &Facts::default(), &Providers::default()).await.unwrap_err();
        assert!(e.hint.as_deref().unwrap().starts_with("Try one of: whoosh"), "{:?}", e.hint);
        let r = sfx_with(&req(dir.path(), "door slam"), &Facts::default(), &Providers::default()).await.unwrap();
        let m = r.matched.unwrap();
        assert_eq!((m.entry.name, m.is_loose()), ("impact-bass-1", true));
        let r = sfx_with(&req(dir.path(), "soft click"), &Facts::default(), &Providers::default()).await.unwrap();
        assert_eq!((r.name.as_str(), r.matched.unwrap().is_loose()), ("click-soft", false));
    }

    #[test]
    fn local_only_uses_the_bundled_library_without_connecting() {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _lock = crate::test_support::env_lock();
        let dir = tempfile::tempdir().unwrap();
        let server = rt.block_on(TestServer::start());
        let url = server.url();
        let _env = crate::test_support::EnvGuard::set(&[
            ("HEYGEN_API_KEY", Some("hg_local_only_key_0001")),
            ("HEYGEN_API_URL", Some(url.as_str())),
            ("HEYGEN_CONFIG_DIR", dir.path().to_str()),
        ]);
        let mut r = req(dir.path(), "pop");
        r.routing.local_only = true;
        let out = rt.block_on(sfx(&r)).unwrap();
        assert_eq!((out.provider, out.name.as_str()), (Provider::Bundled, "pop"));
        assert!(server.requests().is_empty());
    }

    #[test]
    fn listings() {
        assert_eq!(list_bundled(None).len(), library::manifest().len());
        assert_eq!(list_bundled(Some("whoosh"))[0].name, "whoosh");
    }
}
