//! What commands return: one `serde` struct per result, printed by `--json` and handed to JS as
//! the same `#[napi(object)]`, so the CLI and the JS API cannot drift and the generated
//! declarations name every field.
//!
//! The convention (README, "JSON and JS results"): keys are camelCase, in the JSON and in JS
//! alike; `--json` prints `{"ok": true, …}` followed by the result's fields ([`Success`]), failures
//! `{"ok": false, "error", "code", "hint", …}`. Shapes that mirror the HyperFrames JS CLI keep its
//! snake_case: `auth status` ([`crate::auth::status`]), `doctor`'s `_meta`, and the
//! `audio_meta.json` manifest of `media build`.
//!
//! The serde names and the napi names are kept equal by hand (napi turns `snake_case` fields into
//! camelCase itself): a field renamed for serde is renamed with `js_name` too. The reports that
//! live beside their domain are [`crate::auth::status::StatusReport`], [`crate::doctor::DoctorReport`],
//! [`crate::engines::catalog::ModelReport`] and [`crate::providers::plan::PlanReport`].

#![cfg_attr(test, allow(dead_code))] // the napi side is registered only in the addon build

use napi_derive::napi;
use serde::Serialize;

pub use audio_tools::{BeatsResult, LoudnessList, LoudnessMeasures, NormalizeResult};
pub use shape::Success;

pub mod audio_tools;
pub mod shape;

// ---- auth -------------------------------------------------------------------------------------

/// `loginWithApiKey()`.
#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginResult {
    /// The account's e-mail or name, when HeyGen said.
    pub identity: Option<String>,
    /// Set when the identity check after sign-in failed for a transient reason.
    pub identity_error: Option<String>,
    /// The secret is kept in the OS keyring.
    pub in_keyring: bool,
    pub warnings: Vec<String>,
}

impl From<crate::auth::login::LoginOutcome> for LoginResult {
    fn from(o: crate::auth::login::LoginOutcome) -> Self {
        Self { identity: o.identity, identity_error: o.identity_error, in_keyring: o.in_keyring, warnings: o.warnings }
    }
}

/// `logout()`.
#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogoutResult {
    /// The credentials file that was removed (null when there was none, or it was kept).
    pub removed: Option<String>,
    /// `keepApiKey`: whether a stored API key was there to keep.
    pub kept_api_key: bool,
    /// Environment variables that still provide a key (never touched).
    pub env_still_set: Vec<String>,
    pub warnings: Vec<String>,
}

impl From<crate::auth::session::LogoutOutcome> for LogoutResult {
    fn from(o: crate::auth::session::LogoutOutcome) -> Self {
        Self {
            removed: o.removed,
            kept_api_key: o.kept_api_key,
            env_still_set: o.env_still_set.iter().map(|v| v.to_string()).collect(),
            warnings: o.warnings,
        }
    }
}

/// `refreshAuth()` and `auth refresh --json`.
#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshResult {
    /// ISO-8601 (milliseconds, UTC); null when the server gave no lifetime.
    pub expires_at: Option<String>,
}

impl From<crate::auth::session::RefreshOutcome> for RefreshResult {
    fn from(o: crate::auth::session::RefreshOutcome) -> Self {
        Self { expires_at: o.expires_at.as_ref().map(crate::auth::status::iso) }
    }
}

/// `authToken()` and `auth token --json`: the one result that carries a secret.
#[napi(object, object_from_js = false)]
#[derive(Clone, Serialize)]
pub struct TokenResult {
    pub token: String,
    #[napi(js_name = "type", ts_type = "'api_key' | 'oauth'")]
    #[serde(rename = "type")]
    pub kind: String,
    #[napi(ts_type = "'env' | 'env_alias' | 'file_json' | 'file_legacy' | 'keyring'")]
    pub source: String,
}

impl From<crate::auth::resolve::Credential> for TokenResult {
    fn from(c: crate::auth::resolve::Credential) -> Self {
        Self { kind: c.kind.as_str().to_string(), source: c.source.as_str().to_string(), token: c.secret }
    }
}

/// `resolveCredential()`: which credential resolves, never the secret.
#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialInfo {
    #[napi(ts_type = "'env' | 'env_alias' | 'file_json' | 'file_legacy' | 'keyring'")]
    pub source: String,
    #[napi(js_name = "type", ts_type = "'api_key' | 'oauth'")]
    #[serde(rename = "type")]
    pub kind: String,
    pub expires_at: Option<String>,
    pub expired: bool,
    pub refreshable: bool,
}

impl From<&crate::auth::resolve::Credential> for CredentialInfo {
    fn from(c: &crate::auth::resolve::Credential) -> Self {
        Self {
            source: c.source.as_str().to_string(),
            kind: c.kind.as_str().to_string(),
            expires_at: c.expires_at.as_ref().map(crate::auth::status::iso),
            expired: c.expired,
            refreshable: c.refreshable,
        }
    }
}

// ---- models -----------------------------------------------------------------------------------

/// `modelsList()` and `models list --json`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct ModelList {
    /// The models folder.
    pub dir: String,
    pub models: Vec<crate::engines::catalog::ModelReport>,
}

/// `modelsInstall()` and `models install --json`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct InstallResult {
    pub model: String,
    /// The models folder.
    pub dir: String,
    /// One entry per catalog file, in catalog order.
    pub files: Vec<InstalledFile>,
}

/// What `models install` did with one file.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalledFile {
    pub path: String,
    #[napi(ts_type = "'downloaded' | 'copied' | 'skipped'")]
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Downloaded: bytes a partial download already had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_from: Option<i64>,
    /// Copied: the file it was copied from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Skipped: why.
    #[napi(ts_type = "'already_installed' | 'not_at_source'")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<crate::engines::install::InstallReport> for InstallResult {
    fn from(r: crate::engines::install::InstallReport) -> Self {
        use crate::engines::install::{Outcome, SkipReason};
        let files = r
            .files
            .into_iter()
            .map(|f| {
                let mut row = InstalledFile {
                    path: f.path.to_string(),
                    outcome: String::new(),
                    bytes: None,
                    sha256: None,
                    resumed_from: None,
                    from: None,
                    reason: None,
                };
                match f.outcome {
                    Outcome::Downloaded { bytes, sha256, resumed_from } => {
                        row.outcome = "downloaded".into();
                        row.bytes = Some(bytes as i64);
                        row.sha256 = Some(sha256);
                        row.resumed_from = Some(resumed_from as i64);
                    }
                    Outcome::Copied { bytes, sha256, from } => {
                        row.outcome = "copied".into();
                        row.bytes = Some(bytes as i64);
                        row.sha256 = Some(sha256);
                        row.from = Some(from.display().to_string());
                    }
                    Outcome::Skipped { reason } => {
                        row.outcome = "skipped".into();
                        row.reason = Some(
                            match reason {
                                SkipReason::AlreadyInstalled => "already_installed",
                                SkipReason::NotAtSource => "not_at_source",
                            }
                            .into(),
                        );
                    }
                }
                row
            })
            .collect();
        Self { model: r.model.to_string(), dir: r.dir.display().to_string(), files }
    }
}

// ---- chains -----------------------------------------------------------------------------------

/// `sfx()` and `sfx --json`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SfxResult {
    /// Where the WAV was written.
    pub output_path: String,
    /// `heygen` or `bundled`.
    pub provider: String,
    /// The effect's name in its library.
    pub name: String,
    pub duration_seconds: f64,
    /// How the bundled library matched the query; null when HeyGen's library served.
    #[napi(js_name = "match")]
    #[serde(rename = "match")]
    pub matched: Option<SfxMatch>,
    pub anomalies: Vec<String>,
}

/// How a bundled effect matched the query.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SfxMatch {
    /// 100 the exact name, 90 the name's words in another order, 50 the name inside the query (or
    /// the query inside the name), else how many of the query's words the effect has.
    pub score: u32,
    /// The query's meaningful words (stop words such as "the", "sound" left out).
    pub query_words: Vec<String>,
    /// Those of them found in the effect's name, description or tags.
    pub matched_words: Vec<String>,
    /// Some query words matched nothing: the effect may not be what was meant.
    pub loose: bool,
}

impl From<crate::sfx::library::Match> for SfxMatch {
    fn from(m: crate::sfx::library::Match) -> Self {
        let loose = m.is_loose();
        Self { score: m.score, query_words: m.query_words, matched_words: m.matched_words, loose }
    }
}

impl From<crate::chains::sfx::SfxResult> for SfxResult {
    fn from(r: crate::chains::sfx::SfxResult) -> Self {
        Self {
            output_path: r.path.to_string_lossy().into_owned(),
            provider: r.provider.to_string(),
            name: r.name,
            duration_seconds: crate::engines::kokoro::service::round_ms(r.duration),
            matched: r.matched.map(SfxMatch::from),
            anomalies: r.anomalies,
        }
    }
}

/// `sfx --list --json`: the effects that match, and what could not be searched.
#[derive(Debug, Clone, Serialize)]
pub struct SfxList {
    pub effects: Vec<SfxListed>,
    /// Libraries that could not be searched, and why.
    pub anomalies: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SfxListed {
    pub provider: String,
    pub name: String,
    pub description: String,
    /// When the library says.
    pub duration_seconds: Option<f64>,
    /// How well it matches the query (null without one).
    pub score: Option<f64>,
}

impl From<&crate::chains::sfx::SfxListing> for SfxListed {
    fn from(r: &crate::chains::sfx::SfxListing) -> Self {
        Self {
            provider: r.provider.to_string(),
            name: r.name.clone(),
            description: r.description.clone(),
            duration_seconds: r.duration,
            score: r.score,
        }
    }
}

/// `music()` and `music --json`.
#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MusicResult {
    /// Where the WAV was written.
    pub output_path: String,
    /// `heygen`, `lyria` or `musicgen`.
    pub provider: String,
    /// The library track's name, when the library served.
    pub title: Option<String>,
    pub duration_seconds: f64,
    pub sample_rate: u32,
    pub channels: u32,
    /// The sampling seed, when MusicGen served (pass it back to get the same music).
    pub seed: Option<i64>,
    /// A licence note when the music's licence restricts its use (MusicGen: non-commercial).
    pub license: Option<String>,
    pub anomalies: Vec<String>,
}

impl From<crate::chains::music::MusicResult> for MusicResult {
    fn from(r: crate::chains::music::MusicResult) -> Self {
        Self {
            output_path: r.path.to_string_lossy().into_owned(),
            provider: r.provider.to_string(),
            title: r.title,
            duration_seconds: r.duration,
            sample_rate: r.sample_rate,
            channels: u32::from(r.channels),
            // Seeds are at most 2^53 − 1 (`sampling::MAX_SEED`): exact as a JS number.
            seed: r.seed.map(|s| s as i64),
            license: crate::chains::music::license_note(r.provider).map(String::from),
            anomalies: r.anomalies,
        }
    }
}

/// `describe()` and `describe --json`.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DescribeResult {
    /// True when no vision provider is configured (or local-only): nothing was described.
    pub skipped: bool,
    /// Why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The first describer in the chain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// One per image, in order (empty when skipped).
    pub images: Vec<ImageDescription>,
}

#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageDescription {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Set when this image failed; the others are unaffected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The provider that described it (or failed last); absent when nothing was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Earlier providers' failures for this image, before another one served.
    pub anomalies: Vec<String>,
}

impl From<crate::chains::describe::DescribeResult> for DescribeResult {
    fn from(r: crate::chains::describe::DescribeResult) -> Self {
        use crate::auth::scrub::scrub;
        Self {
            skipped: r.skipped,
            reason: r.reason,
            provider: r.provider.map(|p| p.to_string()),
            model: r.model,
            images: r
                .images
                .into_iter()
                .map(|i| ImageDescription {
                    path: i.path.to_string_lossy().into_owned(),
                    description: i.description,
                    code: i.error.as_ref().map(|e| e.code.to_string()),
                    hint: i.error.as_ref().and_then(|e| e.hint.clone()),
                    error: i.error.map(|e| scrub(&e.message)),
                    provider: i.provider.map(|p| p.to_string()),
                    model: i.model,
                    anomalies: i.anomalies.iter().map(|a| scrub(a)).collect(),
                })
                .collect(),
        }
    }
}

// ---- transcribe -------------------------------------------------------------------------------

/// `transcribe()` and `transcribe --json` (which adds `wordsPath` and `captionsPath`).
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TranscribeResult {
    pub text: String,
    pub language: String,
    pub model: String,
    pub duration_seconds: f64,
    pub words: Vec<TranscribedWord>,
    pub segments: Vec<TranscriptSegment>,
    /// Script words that could not be placed (empty without a script).
    pub unaligned: Vec<UnalignedWord>,
}

#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct TranscribedWord {
    pub id: String,
    pub text: String,
    /// Seconds.
    pub start: f64,
    pub end: f64,
    /// Mean probability of the word's tokens, 0–1.
    pub confidence: f64,
}

#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct TranscriptSegment {
    pub id: u32,
    pub start: f64,
    pub end: f64,
    pub text: String,
}

#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct UnalignedWord {
    /// Position of the word in the script (0-based).
    pub index: u32,
    pub text: String,
    pub reason: String,
}

impl From<crate::engines::whisper::Transcript> for TranscribeResult {
    fn from(t: crate::engines::whisper::Transcript) -> Self {
        TranscribeResult {
            text: t.text,
            language: t.language,
            model: t.model,
            duration_seconds: t.duration_seconds,
            words: t
                .words
                .into_iter()
                .map(|w| TranscribedWord {
                    id: w.id,
                    text: w.text,
                    start: w.start,
                    end: w.end,
                    confidence: w.confidence,
                })
                .collect(),
            segments: t
                .segments
                .into_iter()
                .map(|s| TranscriptSegment { id: s.id as u32, start: s.start, end: s.end, text: s.text })
                .collect(),
            unaligned: t
                .unaligned
                .into_iter()
                .map(|u| UnalignedWord { index: u.index as u32, text: u.text, reason: u.reason })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::install::{FileReport, InstallReport, Outcome, SkipReason};

    #[test]
    fn success_puts_ok_first_then_the_results_own_camel_case_fields() {
        let r = RefreshResult { expires_at: None };
        assert_eq!(serde_json::to_string(&Success::new(&r)).unwrap(), r#"{"ok":true,"expiresAt":null}"#);
        let install = InstallResult::from(InstallReport {
            model: "kokoro",
            dir: "/m".into(),
            files: vec![
                FileReport {
                    path: "a.onnx",
                    outcome: Outcome::Downloaded { bytes: 5, sha256: "ab".into(), resumed_from: 2 },
                },
                FileReport { path: "b.bin", outcome: Outcome::Skipped { reason: SkipReason::NotAtSource } },
            ],
        });
        let v = serde_json::to_value(Success::new(&install)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"ok": true, "model": "kokoro", "dir": "/m", "files": [
                {"path": "a.onnx", "outcome": "downloaded", "bytes": 5, "sha256": "ab", "resumedFrom": 2},
                {"path": "b.bin", "outcome": "skipped", "reason": "not_at_source"},
            ]})
        );
    }

    #[test]
    fn music_from_musicgen_says_its_licence() {
        let made = |provider| crate::chains::music::MusicResult {
            path: "bgm.wav".into(),
            provider,
            title: None,
            duration: 3.0,
            sample_rate: 32_000,
            channels: 1,
            seed: Some(5),
            anomalies: vec![],
        };
        let v = serde_json::to_value(MusicResult::from(made(crate::providers::Provider::Musicgen))).unwrap();
        assert!(v["license"].as_str().unwrap().contains("CC-BY-NC-4.0"), "{v}");
        let v = serde_json::to_value(MusicResult::from(made(crate::providers::Provider::Heygen))).unwrap();
        assert_eq!(v["license"], serde_json::Value::Null);
    }

    #[test]
    fn nullable_fields_are_always_present() {
        let music = MusicResult {
            output_path: "bgm.wav".into(),
            provider: "lyria".into(),
            title: None,
            duration_seconds: 3.0,
            sample_rate: 48_000,
            channels: 2,
            seed: None,
            license: None,
            anomalies: vec![],
        };
        let v = serde_json::to_value(&music).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "outputPath",
                "provider",
                "title",
                "durationSeconds",
                "sampleRate",
                "channels",
                "seed",
                "license",
                "anomalies"
            ]
        );
        assert!(v["title"].is_null() && v["seed"].is_null() && v["license"].is_null());
    }
}
