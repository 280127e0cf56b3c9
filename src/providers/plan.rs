//! Which provider serves each capability, and why the others were skipped. Pure: the facts come
//! in (`Facts`), the decision comes out, so every key combination is testable.

use serde::Serialize;

use super::Provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Capability {
    Voice,
    Music,
    SoundEffects,
    Descriptions,
}

impl Capability {
    pub const ALL: [Capability; 4] = [Self::Voice, Self::Music, Self::SoundEffects, Self::Descriptions];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voice => "voice",
            Self::Music => "music",
            Self::SoundEffects => "sfx",
            Self::Descriptions => "descriptions",
        }
    }
}

/// What is true of this machine and environment right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    /// A HeyGen credential resolves.
    pub heygen: bool,
    pub elevenlabs_key: bool,
    /// `GEMINI_API_KEY` or `GOOGLE_API_KEY`.
    pub gemini_key: bool,
    pub openrouter_key: bool,
    pub kokoro_installed: bool,
    /// The MusicGen model's files are in the models folder.
    pub musicgen_installed: bool,
    /// The ONNX Runtime library was found.
    pub onnx_runtime: bool,
    /// `--local-only` / `HYPERFRAMES_OFFLINE=1`: no hosted provider is considered.
    pub local_only: bool,
    /// Hosted providers whose credential is present but unusable (a key with control characters,
    /// a broken credentials file): provider → (reason, what fixes it). Such a provider is
    /// unavailable with that reason instead of "no key".
    pub key_problems: std::collections::BTreeMap<Provider, (String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub provider: Provider,
    pub label: &'static str,
    pub local: bool,
    pub available: bool,
    /// Why it cannot serve, when it cannot.
    pub reason: Option<String>,
    /// What would make it available.
    pub setup_hint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub capability: Capability,
    /// The first available candidate; None when nothing can serve (descriptions are then skipped).
    pub chosen: Option<Provider>,
    pub candidates: Vec<Candidate>,
}

fn hosted(provider: Provider, label: &'static str, has_key: bool, missing: &str, hint: &str, f: &Facts) -> Candidate {
    let problem = f.key_problems.get(&provider).filter(|_| !has_key);
    let reason = if f.local_only {
        Some("local-only mode: no network".to_string())
    } else if let Some((why, _)) = problem {
        Some(why.clone())
    } else if !has_key {
        Some(missing.to_string())
    } else {
        None
    };
    let setup_hint = match problem {
        Some((_, fix)) => Some(fix.clone()),
        None => (!has_key).then(|| hint.to_string()),
    };
    Candidate { provider, label, local: false, available: reason.is_none(), setup_hint, reason }
}

const HEYGEN_MISSING: &str = "not signed in to HeyGen";
const HEYGEN_HINT: &str = "npx hyperframes auth login";

fn candidates(cap: Capability, f: &Facts) -> Vec<Candidate> {
    let heygen = |label| hosted(Provider::Heygen, label, f.heygen, HEYGEN_MISSING, HEYGEN_HINT, f);
    let gemini = |provider, label| {
        hosted(provider, label, f.gemini_key, "no GEMINI_API_KEY or GOOGLE_API_KEY", "set GEMINI_API_KEY", f)
    };
    match cap {
        Capability::Voice => {
            let kokoro_reason = if !f.onnx_runtime {
                Some("ONNX Runtime not found".to_string())
            } else if !f.kokoro_installed {
                Some("the Kokoro model is not installed (it downloads on first use)".to_string())
            } else {
                None
            };
            vec![
                heygen("HeyGen Starfish"),
                hosted(
                    Provider::Elevenlabs,
                    "ElevenLabs",
                    f.elevenlabs_key,
                    "no ELEVENLABS_API_KEY",
                    "set ELEVENLABS_API_KEY",
                    f,
                ),
                Candidate {
                    provider: Provider::Kokoro,
                    label: "Kokoro",
                    local: true,
                    // The model installs itself on first use unless offline; only a missing runtime,
                    // or offline with no model, stops it.
                    available: f.onnx_runtime && (f.kokoro_installed || !f.local_only),
                    setup_hint: kokoro_reason.as_ref().map(|_| {
                        if f.onnx_runtime {
                            "hyperframes models install kokoro".to_string()
                        } else {
                            crate::engines::runtime::INSTALL_HINT.to_string()
                        }
                    }),
                    reason: kokoro_reason,
                },
            ]
        }
        Capability::Music => {
            // Never downloaded on the fly (large, non-commercial licence): installed, or not available.
            let musicgen_reason = if !f.onnx_runtime {
                Some("ONNX Runtime not found".to_string())
            } else if !f.musicgen_installed {
                Some("the MusicGen model is not installed".to_string())
            } else {
                None
            };
            vec![
                heygen("HeyGen library"),
                gemini(Provider::Lyria, "Lyria (Gemini)"),
                Candidate {
                    provider: Provider::Musicgen,
                    label: "MusicGen",
                    local: true,
                    available: musicgen_reason.is_none(),
                    setup_hint: musicgen_reason.as_ref().map(|_| {
                        if f.onnx_runtime {
                            "hyperframes models install musicgen-small (weights CC-BY-NC-4.0, non-commercial)"
                                .to_string()
                        } else {
                            crate::engines::runtime::INSTALL_HINT.to_string()
                        }
                    }),
                    reason: musicgen_reason,
                },
            ]
        }
        Capability::SoundEffects => vec![
            heygen("HeyGen library"),
            Candidate {
                provider: Provider::Bundled,
                label: "Bundled library",
                local: true,
                available: true,
                reason: None,
                setup_hint: None,
            },
        ],
        Capability::Descriptions => vec![
            hosted(
                Provider::Openrouter,
                "OpenRouter",
                f.openrouter_key,
                "no OPENROUTER_API_KEY",
                "set OPENROUTER_API_KEY",
                f,
            ),
            gemini(Provider::Gemini, "Gemini"),
        ],
    }
}

/// The variables each hosted provider's key is read from, first match wins.
pub const ELEVENLABS_KEYS: &[&str] = &["ELEVENLABS_API_KEY"];
pub const GEMINI_KEYS: &[&str] = &["GEMINI_API_KEY", "GOOGLE_API_KEY"];
pub const OPENROUTER_KEYS: &[&str] = &["OPENROUTER_API_KEY"];

impl Facts {
    /// Reads the environment, the credential store and the models dir. Cheap: no network, and ONNX
    /// Runtime is only located, not loaded. Blocking when the credential lives in the OS keyring.
    pub fn gather(local_only: bool) -> Facts {
        Self::from_snapshot(&crate::environment::Snapshot::capture(), local_only)
    }

    /// The facts `env` gives (keys and the HeyGen credential), with the models dir and ONNX
    /// Runtime looked up. The chains' clients are built from the same snapshot
    /// ([`crate::chains::Providers::from_snapshot`]).
    pub fn from_snapshot(env: &crate::environment::Snapshot, local_only: bool) -> Facts {
        let mut key_problems = std::collections::BTreeMap::new();
        let heygen = match &env.heygen {
            Ok(found) => found.is_some(),
            Err((why, fix)) => {
                let fix = fix.clone().unwrap_or_else(|| HEYGEN_HINT.to_string());
                key_problems.insert(Provider::Heygen, (why.clone(), fix));
                false
            }
        };
        let elevenlabs = env.api_key(ELEVENLABS_KEYS);
        let gemini = env.api_key(GEMINI_KEYS);
        let openrouter = env.api_key(OPENROUTER_KEYS);
        for (providers, key) in [
            (&[Provider::Elevenlabs][..], &elevenlabs),
            (&[Provider::Lyria, Provider::Gemini][..], &gemini),
            (&[Provider::Openrouter][..], &openrouter),
        ] {
            if let (Some(why), Some(fix)) = (key.problem(), key.fix()) {
                for p in providers {
                    key_problems.insert(*p, (why.clone(), fix.clone()));
                }
            }
        }
        // As `crate::engines::offline` reads it, from the snapshot.
        let offline = env.get(crate::engines::OFFLINE_ENV).is_some_and(|v| matches!(v.trim(), "1" | "true" | "yes"));
        Facts {
            heygen,
            elevenlabs_key: elevenlabs.key().is_some(),
            gemini_key: gemini.key().is_some(),
            openrouter_key: openrouter.key().is_some(),
            key_problems,
            kokoro_installed: crate::engines::catalog::engine_ready(crate::engines::catalog::VOICE),
            musicgen_installed: crate::engines::catalog::engine_ready(crate::engines::catalog::MUSIC),
            onnx_runtime: crate::engines::runtime::locate().is_ok(),
            local_only: local_only || offline,
        }
    }
}

pub fn plan_for(cap: Capability, f: &Facts) -> Plan {
    let candidates = candidates(cap, f);
    let chosen = candidates.iter().find(|c| c.available).map(|c| c.provider);
    Plan { capability: cap, chosen, candidates }
}

pub fn plan_all(f: &Facts) -> Vec<Plan> {
    Capability::ALL.iter().map(|c| plan_for(*c, f)).collect()
}

/// Pins a provider: an error saying why it cannot serve, when it cannot.
pub fn pin(plan: &Plan, provider: &str) -> Result<Provider, String> {
    match plan.candidates.iter().find(|c| c.provider.as_str().eq_ignore_ascii_case(provider.trim())) {
        Some(c) if c.available => Ok(c.provider),
        Some(c) => Err(format!(
            "{} cannot serve {}: {}{}",
            c.label,
            plan.capability.as_str(),
            c.reason.as_deref().unwrap_or("unavailable"),
            c.setup_hint.as_ref().map(|h| format!(" (to fix: {h})")).unwrap_or_default()
        )),
        None => Err(format!(
            "'{provider}' does not provide {}; choose one of: {}",
            plan.capability.as_str(),
            plan.candidates.iter().map(|c| c.provider.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// `plan --json` and `plan()`: one entry per capability, in chain order.
#[napi_derive::napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub plans: Vec<CapabilityPlan>,
}

#[napi_derive::napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapabilityPlan {
    #[napi(ts_type = "'voice' | 'music' | 'sfx' | 'descriptions'")]
    pub capability: String,
    /// The provider that will serve; null when nothing can (descriptions are then skipped).
    #[napi(ts_type = "string | null")]
    pub chosen: crate::report::shape::Nullable<String>,
    pub candidates: Vec<CandidateReport>,
}

#[napi_derive::napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateReport {
    pub provider: String,
    pub label: String,
    pub local: bool,
    pub available: bool,
    /// Why it cannot serve, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What would make it available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_hint: Option<String>,
}

impl PlanReport {
    pub fn new(plans: &[Plan]) -> Self {
        PlanReport { plans: plans.iter().map(Plan::report).collect() }
    }
}

impl Plan {
    pub fn report(&self) -> CapabilityPlan {
        CapabilityPlan {
            capability: self.capability.as_str().to_string(),
            chosen: crate::report::shape::Nullable(self.chosen.map(|p| p.to_string())),
            candidates: self
                .candidates
                .iter()
                .map(|c| CandidateReport {
                    provider: c.provider.to_string(),
                    label: c.label.to_string(),
                    local: c.local,
                    available: c.available,
                    reason: c.reason.clone(),
                    setup_hint: c.setup_hint.clone(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(cap: Capability, f: &Facts) -> Option<&'static str> {
        plan_for(cap, f).chosen.map(Provider::as_str)
    }

    #[test]
    fn every_key_combination_picks_the_first_available_link() {
        for bits in 0u8..64 {
            let f = Facts {
                heygen: bits & 1 != 0,
                elevenlabs_key: bits & 2 != 0,
                gemini_key: bits & 4 != 0,
                openrouter_key: bits & 8 != 0,
                kokoro_installed: bits & 16 != 0,
                musicgen_installed: bits & 32 != 0,
                onnx_runtime: true,
                local_only: false,
                ..Facts::default()
            };
            let voice = if f.heygen {
                "heygen"
            } else if f.elevenlabs_key {
                "elevenlabs"
            } else {
                "kokoro"
            };
            assert_eq!(chosen(Capability::Voice, &f), Some(voice), "{f:?}");
            let music = if f.heygen {
                Some("heygen")
            } else if f.gemini_key {
                Some("lyria")
            } else if f.musicgen_installed {
                Some("musicgen")
            } else {
                None
            };
            assert_eq!(chosen(Capability::Music, &f), music, "{f:?}");
            assert_eq!(chosen(Capability::SoundEffects, &f), Some(if f.heygen { "heygen" } else { "bundled" }));
            let desc = if f.openrouter_key {
                Some("openrouter")
            } else if f.gemini_key {
                Some("gemini")
            } else {
                None
            };
            assert_eq!(chosen(Capability::Descriptions, &f), desc, "{f:?}");
        }
    }

    #[test]
    fn an_unusable_key_is_unavailable_with_its_reason_everywhere() {
        let _lock = crate::test_support::env_lock();
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join(".heygen");
        let _env = crate::test_support::EnvGuard::set(&[
            ("HEYGEN_CONFIG_DIR", Some(config.to_str().unwrap())),
            ("HEYGEN_API_KEY", Some("hg_bad\u{1}key_0123456789")),
            ("HYPERFRAMES_API_KEY", None),
            ("ELEVENLABS_API_KEY", Some("el_bad\u{7}key_0123456789")),
            ("GEMINI_API_KEY", None),
            ("GOOGLE_API_KEY", None),
            ("OPENROUTER_API_KEY", None),
        ]);
        let f = Facts::gather(false);
        assert!(!f.heygen && !f.elevenlabs_key);
        let voice = plan_for(Capability::Voice, &f);
        let el = voice.candidates.iter().find(|c| c.provider == "elevenlabs").unwrap();
        assert!(!el.available);
        assert!(el.reason.as_deref().unwrap().contains("ELEVENLABS_API_KEY is set but contains control characters"));
        assert!(el.setup_hint.as_deref().unwrap().contains("without newlines"));
        let hg = voice.candidates.iter().find(|c| c.provider == "heygen").unwrap();
        let why = hg.reason.as_deref().unwrap();
        assert!(why.contains("HEYGEN_API_KEY is not a usable key") && !why.contains("Credential file"), "{why}");
        assert!(!why.contains("hg_bad"));
        // The client reads the key the same way: no client, so a pinned run reports the plan's reason.
        assert!(crate::providers::elevenlabs::ElevenLabs::from_env().is_none());
        let pinned = pin(&voice, "elevenlabs").unwrap_err();
        assert!(pinned.contains("control characters"), "{pinned}");
    }

    #[test]
    fn local_only_never_picks_a_hosted_provider() {
        let f = Facts {
            heygen: true,
            elevenlabs_key: true,
            gemini_key: true,
            openrouter_key: true,
            kokoro_installed: true,
            musicgen_installed: true,
            onnx_runtime: true,
            local_only: true,
            ..Facts::default()
        };
        for p in plan_all(&f) {
            for c in &p.candidates {
                assert!(c.local || !c.available, "{c:?}");
            }
        }
        assert_eq!(chosen(Capability::Voice, &f), Some("kokoro"));
        assert_eq!(chosen(Capability::SoundEffects, &f), Some("bundled"));
        assert_eq!(chosen(Capability::Descriptions, &f), None);
        assert_eq!(chosen(Capability::Music, &f), Some("musicgen"));
        let offline_without_model = Facts { kokoro_installed: false, musicgen_installed: false, ..f };
        assert_eq!(chosen(Capability::Voice, &offline_without_model), None, "offline cannot download the model");
        assert_eq!(chosen(Capability::Music, &offline_without_model), None);
    }

    #[test]
    fn kokoro_needs_the_runtime_and_says_why() {
        let f = Facts { kokoro_installed: true, ..Facts::default() };
        let p = plan_for(Capability::Voice, &f);
        assert_eq!(p.chosen, None);
        let k = p.candidates.iter().find(|c| c.provider == "kokoro").unwrap();
        assert_eq!(k.reason.as_deref(), Some("ONNX Runtime not found"));
        assert!(k.setup_hint.as_deref().unwrap().contains("onnxruntime-node"));
    }

    #[test]
    fn musicgen_is_available_only_when_installed_and_says_why_not() {
        let installed = Facts { musicgen_installed: true, onnx_runtime: true, ..Facts::default() };
        assert_eq!(chosen(Capability::Music, &installed), Some("musicgen"));
        let p = plan_for(Capability::Music, &Facts { onnx_runtime: true, ..Facts::default() });
        let m = p.candidates.iter().find(|c| c.provider == "musicgen").unwrap();
        assert!(!m.available && m.local);
        assert_eq!(m.reason.as_deref(), Some("the MusicGen model is not installed"));
        let hint = m.setup_hint.as_deref().unwrap();
        assert!(hint.contains("hyperframes models install musicgen-small") && hint.contains("CC-BY-NC-4.0"), "{hint}");
        assert_eq!(
            pin(&p, "musicgen").unwrap_err(),
            format!("MusicGen cannot serve music: the MusicGen model is not installed (to fix: {hint})")
        );
        let no_runtime = plan_for(Capability::Music, &Facts { musicgen_installed: true, ..Facts::default() });
        let m = no_runtime.candidates.iter().find(|c| c.provider == "musicgen").unwrap();
        assert_eq!(m.reason.as_deref(), Some("ONNX Runtime not found"));
        assert!(m.setup_hint.as_deref().unwrap().contains("onnxruntime-node"));
    }

    #[test]
    fn pinning_explains_refusals() {
        let f = Facts { onnx_runtime: true, ..Facts::default() };
        let voice = plan_for(Capability::Voice, &f);
        assert_eq!(pin(&voice, "kokoro"), Ok(Provider::Kokoro));
        let e = pin(&voice, "heygen").unwrap_err();
        assert!(e.contains("not signed in") && e.contains("auth login"), "{e}");
        assert!(pin(&voice, "lyria").unwrap_err().contains("choose one of: heygen, elevenlabs, kokoro"));
    }

    #[test]
    fn json_shape() {
        let v = serde_json::to_value(plan_for(Capability::Music, &Facts::default()).report()).unwrap();
        assert_eq!(v["capability"], "music");
        assert!(v["chosen"].is_null());
        assert_eq!(v["candidates"][0]["setupHint"], "npx hyperframes auth login");
        assert_eq!(v["candidates"][2]["local"], true);
    }
}
