//! The provider chains: one entry point per capability that walks the plan
//! ([`crate::providers::plan`]). The chosen provider serves first; when it fails in a way another
//! provider could fix ([`ProviderError::falls_through`]), the next available candidate serves and
//! the failure becomes an `anomalies` entry. `no_fallback` returns the first failure instead, a
//! pinned provider serves alone, and `local_only` plans without any hosted provider (so nothing
//! touches the network).
//!
//! Every file a chain writes (audio, words, captions) goes through a temporary file and a rename
//! (`crate::fsio`): a failure never leaves a partial file behind. `describe` writes nothing.

pub mod describe;
pub mod health;
pub mod limits;
pub mod music;
pub mod sfx;
pub mod voice;

use std::fmt;
use std::future::Future;
use std::path::Path;

use crate::audio::decode::Decoded;
use crate::engines::error::EngineError;
use crate::environment::Snapshot;
use crate::providers::elevenlabs::ElevenLabs;
use crate::providers::error::{ProviderError, ProviderErrorCode};
use crate::providers::heygen::HeygenMedia;
use crate::providers::lyria::Lyria;
use crate::providers::plan::{self, Facts, Plan};
use crate::providers::Provider;

/// A chain's failure: a stable `code`, what happened, what to do, and what was skipped before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError {
    /// `PROVIDER_*` (from [`ProviderErrorCode`]), `PROVIDER_UNAVAILABLE` (a pinned provider
    /// cannot serve), `NO_PROVIDER` (nothing can serve), `SFX_NOT_FOUND`, `NO_MATCH`, or a local
    /// engine's code (`MODEL_MISSING`, `BAD_AUDIO`, `IO_ERROR`, …).
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
    /// The provider that failed, when one did.
    pub provider: Option<&'static str>,
    /// Earlier providers' failures that were skipped over before this one.
    pub anomalies: Vec<String>,
    falls_through: bool,
}

impl ChainError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), hint: None, provider: None, anomalies: Vec::new(), falls_through: false }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn at(mut self, provider: &'static str, falls_through: bool) -> Self {
        self.provider = Some(provider);
        self.falls_through = falls_through;
        self
    }

    /// A provider found nothing for the query: the next provider may.
    pub(crate) fn no_match(provider: &'static str, message: impl Into<String>) -> Self {
        Self::new("NO_MATCH", message).at(provider, true)
    }

    /// A local engine's failure while `provider` served. Bad audio from a provider falls through;
    /// our own disk or input problems do not.
    pub(crate) fn engine(provider: &'static str, e: EngineError) -> Self {
        let falls = !matches!(e.code, "IO_ERROR" | "BAD_OUTPUT" | "EMPTY_TEXT" | "BAD_SPEED" | "BAD_BLEND");
        Self {
            code: e.code,
            message: e.message,
            hint: e.hint,
            provider: None,
            anomalies: Vec::new(),
            falls_through: false,
        }
        .at(provider, falls)
    }

    /// For a result's `anomalies`: `heygen: HTTP 402 — …`.
    pub fn anomaly(&self) -> String {
        match self.provider {
            Some(p) if !self.message.starts_with(p) => format!("{p}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

/// An error of the call itself (bad input, an output that cannot be written): no provider's.
impl From<EngineError> for ChainError {
    fn from(e: EngineError) -> Self {
        Self { hint: e.hint, ..Self::new(e.code, e.message) }
    }
}

impl From<ProviderError> for ChainError {
    fn from(e: ProviderError) -> Self {
        let falls = e.falls_through();
        let message = e.anomaly();
        Self {
            code: e.code.as_str(),
            message,
            hint: e.hint,
            provider: None,
            anomalies: Vec::new(),
            falls_through: false,
        }
        .at(e.provider.as_str(), falls)
    }
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ChainError {}

pub type ChainResult<T> = Result<T, ChainError>;

/// Who serves, and how: what every chain's request carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Routing {
    /// Pin one provider by name (`None` or `auto`: walk the plan).
    pub provider: Option<String>,
    /// Plan without hosted providers; nothing touches the network.
    pub local_only: bool,
    /// Return the first failure instead of trying the next provider.
    pub no_fallback: bool,
}

impl Routing {
    /// The pinned provider's name (`auto` and blank pin nothing).
    pub fn pinned(&self) -> Option<&str> {
        self.provider.as_deref().map(str::trim).filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("auto"))
    }
}

/// The hosted clients the environment configures. Build with [`Providers::from_snapshot`] (from
/// the snapshot the plan's facts came from, as [`gather`] does); tests build them pointed at a
/// local server.
#[derive(Default)]
pub struct Providers {
    pub heygen: Option<HeygenMedia>,
    pub elevenlabs: Option<ElevenLabs>,
    pub lyria: Option<Lyria>,
    /// How many requests each provider serves at once (unlimited by default).
    pub limits: limits::Limits,
    /// Which providers keep failing (shared by the whole process when built from the environment).
    pub health: std::sync::Arc<health::Health>,
}

impl Providers {
    /// The clients `env` configures for what `facts` (made from the same `env`) says is available;
    /// none at all in local-only mode.
    pub fn from_snapshot(env: &Snapshot, facts: &Facts) -> Providers {
        if facts.local_only {
            return Providers::default();
        }
        let heygen = env.heygen.as_ref().ok().cloned().flatten().filter(|_| facts.heygen).map(HeygenMedia::new);
        Providers {
            heygen,
            elevenlabs: facts.elevenlabs_key.then(|| ElevenLabs::from_snapshot(env)).flatten(),
            lyria: facts.gemini_key.then(|| Lyria::from_snapshot(env)).flatten(),
            limits: limits::Limits::default(),
            health: health::Health::shared(),
        }
    }
}

/// The facts and clients of this environment, both from one [`Snapshot`], gathered off the async
/// runtime.
pub async fn gather(local_only: bool) -> (Facts, Providers) {
    crate::blocking(move || {
        let env = Snapshot::capture();
        let facts = Facts::from_snapshot(&env, local_only);
        let providers = Providers::from_snapshot(&env, &facts);
        (facts, providers)
    })
    .await
}

pub(crate) fn not_configured(provider: Provider) -> ChainError {
    ChainError::from(ProviderError::new(
        provider,
        ProviderErrorCode::NotConfigured,
        format!("{provider} is not configured in this process"),
    ))
}

/// The providers to try, in order: the pinned one alone, else every available candidate.
/// `facts` are the ones the plan was made from (their `local_only` covers `HYPERFRAMES_OFFLINE`).
pub(crate) fn order(plan: &Plan, routing: &Routing, facts: &Facts) -> ChainResult<Vec<Provider>> {
    if let Some(p) = routing.pinned() {
        return plan::pin(plan, p).map(|p| vec![p]).map_err(|m| pin_error(plan, p, m, facts.local_only));
    }
    let available: Vec<Provider> = plan.candidates.iter().filter(|c| c.available).map(|c| c.provider).collect();
    if available.is_empty() {
        return Err(nothing_serves(plan));
    }
    Ok(available)
}

/// `PROVIDER_UNAVAILABLE` for a pinned provider that cannot serve, with what would fix it.
pub(crate) fn pin_error(plan: &Plan, provider: &str, message: String, local_only: bool) -> ChainError {
    let hint = if local_only {
        Some("Drop --local-only (and unset HYPERFRAMES_OFFLINE) to use a hosted provider.".to_string())
    } else {
        plan.candidates
            .iter()
            .find(|c| c.provider.as_str().eq_ignore_ascii_case(provider.trim()))
            .and_then(|c| c.setup_hint.clone())
    };
    let e = ChainError::new("PROVIDER_UNAVAILABLE", message);
    e.with_hint(hint.unwrap_or_else(|| "Leave --provider unset to let the plan choose.".to_string()))
}

/// `NO_PROVIDER`, with every candidate's reason and the setup hints.
pub(crate) fn nothing_serves(plan: &Plan) -> ChainError {
    let reasons: Vec<String> = plan
        .candidates
        .iter()
        .map(|c| format!("{}: {}", c.label, c.reason.as_deref().unwrap_or("unavailable")))
        .collect();
    let mut hints: Vec<&str> = Vec::new();
    let all: Vec<&str> = plan.candidates.iter().filter_map(|c| c.setup_hint.as_deref()).collect();
    for h in &all {
        // A hint another one already says (in more words) is left out.
        let covered = all.iter().any(|o| o.len() > h.len() && o.contains(h));
        if !covered && !hints.contains(h) {
            hints.push(h);
        }
    }
    let e = ChainError::new(
        "NO_PROVIDER",
        format!("No provider can serve {} ({}).", plan.capability.as_str(), reasons.join("; ")),
    );
    if hints.is_empty() {
        e
    } else {
        e.with_hint(hints.join(", or "))
    }
}

/// Tries `order` in turn; see the module docs. On success, returns the serving provider's result
/// and the skipped failures. Each provider is tried in its turn ([`limits`]); a provider that keeps
/// failing in this run ([`health`]) is skipped while a later one can still serve (checked once
/// the turn comes, so calls queued behind the failures learn from them).
pub(crate) async fn walk<T, F, Fut>(
    capability: plan::Capability,
    order: &[Provider],
    routing: &Routing,
    providers: &Providers,
    mut attempt: F,
) -> ChainResult<(T, Vec<String>)>
where
    F: FnMut(Provider) -> Fut,
    Fut: Future<Output = ChainResult<T>>,
{
    let mut anomalies = Vec::new();
    for (i, provider) in order.iter().enumerate() {
        let last = i + 1 == order.len();
        let provider = *provider;
        let turn = providers.limits.permit(provider).await;
        if let Some(skipped) = providers.health.skip(provider, capability, std::time::Instant::now()) {
            anomalies.extend(skipped.note);
            if last || routing.no_fallback {
                let mut e = skipped.error;
                e.anomalies = anomalies;
                return Err(e);
            }
            continue;
        }
        let outcome = attempt(provider).await;
        // Recorded before the turn passes on, so the next call in line sees it.
        providers.health.record(provider, capability, &outcome, std::time::Instant::now());
        drop(turn);
        match outcome {
            Ok(v) => return Ok((v, anomalies)),
            Err(mut e) => {
                if last || routing.no_fallback || !e.falls_through {
                    anomalies.append(&mut e.anomalies);
                    e.anomalies = anomalies;
                    return Err(e);
                }
                tracing::debug!(provider = provider.as_str(), error = %e, "falling through to the next provider");
                anomalies.push(e.anomaly());
            }
        }
    }
    Err(ChainError::new("NO_PROVIDER", "no provider was tried"))
}

/// Writes interleaved samples as a 16-bit WAV (mono or stereo), atomically.
pub(crate) fn write_audio(
    path: &Path,
    samples: &[f32],
    rate: u32,
    channels: u16,
) -> crate::engines::error::EngineResult<()> {
    if channels <= 1 {
        return crate::audio::wav::write_wav(path, samples, rate, crate::audio::wav::SampleFormat::Int16);
    }
    if rate == 0 {
        return Err(EngineError::new("BAD_AUDIO", "sample rate must be positive"));
    }
    if samples.len() as u64 * 2 > u64::from(u32::MAX) - 1024 {
        return Err(EngineError::new("BAD_AUDIO", "too many samples for one WAV file"));
    }
    crate::audio::wav::write_encoded(path, |w| {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(w, spec).map_err(std::io::Error::other)?;
        for &s in samples {
            writer.write_sample(crate::audio::wav::to_i16(s)).map_err(std::io::Error::other)?;
        }
        writer.finalize().map_err(std::io::Error::other)
    })
}

/// Decodes a provider's audio; undecodable audio is the provider's fault and falls through.
pub(crate) fn decode(
    provider: Provider,
    bytes: &[u8],
    mime: &str,
    limit: crate::audio::decode::Limit,
) -> ChainResult<Decoded> {
    crate::audio::decode::decode_bytes(bytes, Some(mime), limit).map_err(|e| ChainError::engine(provider.as_str(), e))
}

impl From<ChainError> for crate::error::Error {
    fn from(e: ChainError) -> Self {
        Self {
            code: e.code,
            message: e.message,
            hint: e.hint,
            anomalies: e.anomalies,
            chain: Some(crate::error::Chain { provider: e.provider }),
        }
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod snapshot_tests {
    use super::*;
    use crate::auth::resolve::{Credential, Source};

    /// `plan` and the chains read one snapshot: a provider is available exactly when its client
    /// is built, for blank, broken and usable keys alike.
    #[test]
    fn plan_and_clients_agree_for_one_snapshot() {
        for value in ["   ", "bad\u{1}key_0123456789", " good_key_0123456789 ", ""] {
            let vars: Vec<(&str, &str)> = if value.is_empty() {
                Vec::new()
            } else {
                vec![("ELEVENLABS_API_KEY", value), ("GOOGLE_API_KEY", value), ("OPENROUTER_API_KEY", value)]
            };
            let env = Snapshot::from_vars(vars);
            let facts = Facts::from_snapshot(&env, false);
            let providers = Providers::from_snapshot(&env, &facts);
            let usable = value.contains("good");
            assert_eq!((facts.elevenlabs_key, providers.elevenlabs.is_some()), (usable, usable), "{value:?}");
            assert_eq!((facts.gemini_key, providers.lyria.is_some()), (usable, usable), "{value:?}");
            assert_eq!(facts.openrouter_key, usable, "{value:?}");
            assert_eq!(describe::describers(&env).len(), if usable { 2 } else { 0 }, "{value:?}");
            let music = plan::plan_for(plan::Capability::Music, &facts);
            let lyria = music.candidates.iter().find(|c| c.provider == Provider::Lyria).unwrap();
            assert_eq!(lyria.available, providers.lyria.is_some(), "{value:?}");
            if value.contains('\u{1}') {
                assert!(lyria.reason.as_deref().unwrap().contains("GOOGLE_API_KEY is set but contains control"));
            }
        }

        // The HeyGen credential resolved once: a client exactly when the plan counts it.
        let signed_in = Snapshot::from_vars([("X", "y")])
            .with_heygen(Ok(Some(Credential::api_key(Source::Env, "hg_snapshot_key_0001"))));
        let facts = Facts::from_snapshot(&signed_in, false);
        assert!(facts.heygen && Providers::from_snapshot(&signed_in, &facts).heygen.is_some());
        let broken = Snapshot::from_vars([("X", "y")])
            .with_heygen(Err(("HEYGEN_API_KEY is not a usable key".into(), Some("fix it".into()))));
        let facts = Facts::from_snapshot(&broken, false);
        assert!(!facts.heygen && Providers::from_snapshot(&broken, &facts).heygen.is_none());
        assert_eq!(facts.key_problems[&Provider::Heygen].0, "HEYGEN_API_KEY is not a usable key");
        // Local-only: no client at all, whatever the snapshot holds.
        let facts = Facts::from_snapshot(&signed_in, true);
        assert!(Providers::from_snapshot(&signed_in, &facts).heygen.is_none());
    }
}
