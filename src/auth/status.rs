//! `auth status`: which credential resolves, whether HeyGen accepts it, and what works offline.

use chrono::{DateTime, SecondsFormat, Utc};
use napi::bindgen_prelude::Either3;
use napi_derive::napi;
use serde::Serialize;
use serde_json::{Map, Value};

use super::client::{HeygenClient, UserInfo};
use super::error::AuthError;
use super::resolve::{self, Credential, Kind};
use super::store::Store;
use crate::blocking;
use crate::environment::{self, Tty};
use crate::report::shape::Nullable;

pub const RECOMMENDED_ACTION: &str = "npx hyperframes auth login";

#[derive(Debug, Clone, PartialEq)]
pub struct OfflineEngine {
    pub capability: &'static str,
    pub label: &'static str,
    pub ready: bool,
    pub setup_hint: Option<String>,
}

/// The local engines signed-out users fall back to (the last, local link of the voice and music
/// chains), and whether each is ready now.
pub fn offline_engines() -> Vec<OfflineEngine> {
    use crate::providers::plan::{plan_for, Capability, Facts};
    let facts = Facts::gather(true);
    [(Capability::Voice, "voice"), (Capability::Music, "music")]
        .into_iter()
        .filter_map(|(cap, capability)| {
            let plan = plan_for(cap, &facts);
            let local = plan.candidates.into_iter().find(|c| c.local)?;
            let ready = local.reason.is_none();
            Some(OfflineEngine {
                capability,
                label: local.label,
                ready,
                setup_hint: (!ready).then_some(local.setup_hint).flatten(),
            })
        })
        .collect()
}

/// What signed-out use gets, in one line, without claiming an engine that is not ready:
/// "voice uses the local Kokoro; music: MusicGen is not installed".
pub fn offline_summary(engines: &[OfflineEngine]) -> String {
    let part = |e: &OfflineEngine| {
        if e.ready {
            format!("{} uses the local {}", e.capability, e.label)
        } else {
            format!("{}: {} is not installed", e.capability, e.label)
        }
    };
    engines.iter().map(part).collect::<Vec<_>>().join("; ")
}

#[derive(Debug, Clone)]
pub struct Configured {
    pub credential: Credential,
    pub user: Option<UserInfo>,
    pub api_error: Option<AuthError>,
}

#[derive(Debug, Clone)]
pub enum Status {
    Configured(Box<Configured>),
    NotConfigured { interactive: bool, engines: Vec<OfflineEngine> },
    Broken(AuthError),
}

pub async fn status(tty: Tty) -> Status {
    let store = Store::from_env();
    let resolved = blocking(move || resolve::try_resolve(&store, Utc::now())).await;
    let credential = match resolved {
        Err(e) => return Status::Broken(e),
        Ok(None) => {
            return Status::NotConfigured { interactive: environment::interactive(tty), engines: offline_engines() }
        }
        Ok(Some(c)) => c,
    };
    let client = HeygenClient::new(credential);
    let result = client.users_me().await;
    // The client may have refreshed: report the credential as it is now.
    let credential = client.credential().await;
    let (user, api_error) = match result {
        Ok(u) => (Some(u), None),
        Err(e) => (None, Some(e)),
    };
    Status::Configured(Box::new(Configured { credential, user, api_error }))
}

pub fn iso(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `auth status --json` and `authStatus()`: one of three shapes, as the HyperFrames JS CLI prints
/// them (its snake_case keys and its camelCase `setupHint` are kept as they are there).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum StatusReport {
    SignedIn(Box<SignedInStatus>),
    SignedOut(SignedOutStatus),
    Broken(BrokenStatus),
}

/// A credential resolves; `api_error` says whether HeyGen accepted it.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct SignedInStatus {
    #[napi(ts_type = "true")]
    pub configured: bool,
    #[napi(ts_type = "'env' | 'env_alias' | 'file_json' | 'file_legacy' | 'keyring'")]
    pub source: String,
    #[napi(js_name = "type", ts_type = "'api_key' | 'oauth'")]
    #[serde(rename = "type")]
    pub kind: String,
    /// HeyGen's `/v3/users/me` answer (null when the check failed).
    #[napi(ts_type = "Record<string, unknown> | null")]
    pub user: Nullable<Map<String, Value>>,
    /// The stored user block; always null for environment keys (their account may differ).
    #[napi(js_name = "persisted_user", ts_type = "PersistedUser | null")]
    pub persisted_user: Nullable<PersistedUser>,
    #[napi(js_name = "api_error", ts_type = "string | null")]
    pub api_error: Nullable<String>,
    /// OAuth only.
    #[napi(js_name = "expires_at", ts_type = "string | null")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Nullable<String>>,
    /// OAuth only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refreshable: Option<bool>,
    /// OAuth only.
    #[napi(ts_type = "string | null")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Nullable<String>>,
}

#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(Debug, Clone, Serialize)]
pub struct PersistedUser {
    pub email: Option<String>,
    #[napi(js_name = "first_name")]
    pub first_name: Option<String>,
    #[napi(js_name = "last_name")]
    pub last_name: Option<String>,
    pub username: Option<String>,
    #[napi(js_name = "display_name")]
    pub display_name: Option<String>,
}

/// No credential: what to do, and the local engines that will serve meanwhile.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct SignedOutStatus {
    #[napi(ts_type = "false")]
    pub configured: bool,
    pub interactive: bool,
    #[napi(js_name = "recommended_action")]
    pub recommended_action: String,
    #[napi(ts_type = "'local'")]
    pub fallback: String,
    #[napi(js_name = "offline_engines")]
    pub offline_engines: Vec<OfflineEngineReport>,
}

#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct OfflineEngineReport {
    #[napi(ts_type = "'voice' | 'music'")]
    pub capability: String,
    pub label: String,
    pub ready: bool,
    #[serde(rename = "setupHint", skip_serializing_if = "Option::is_none")]
    pub setup_hint: Option<String>,
}

/// The credentials file or an environment key is unusable.
#[napi(object, object_from_js = false, use_nullable = true)]
#[derive(Debug, Clone, Serialize)]
pub struct BrokenStatus {
    #[napi(ts_type = "false")]
    pub configured: bool,
    pub error: String,
    pub code: String,
    pub hint: Option<String>,
}

impl StatusReport {
    /// For JS: the three shapes as one union.
    pub fn into_either(self) -> Either3<SignedInStatus, SignedOutStatus, BrokenStatus> {
        match self {
            StatusReport::SignedIn(s) => Either3::A(*s),
            StatusReport::SignedOut(s) => Either3::B(s),
            StatusReport::Broken(s) => Either3::C(s),
        }
    }
}

impl Status {
    pub fn ok(&self) -> bool {
        matches!(self, Status::Configured(c) if c.api_error.is_none())
    }

    pub fn report(&self) -> StatusReport {
        match self {
            Status::Broken(e) => StatusReport::Broken(BrokenStatus {
                configured: false,
                error: e.message.clone(),
                code: e.code_str().to_string(),
                hint: e.hint.clone(),
            }),
            Status::NotConfigured { interactive, engines } => StatusReport::SignedOut(SignedOutStatus {
                configured: false,
                interactive: *interactive,
                recommended_action: RECOMMENDED_ACTION.to_string(),
                fallback: "local".to_string(),
                offline_engines: engines
                    .iter()
                    .map(|e| OfflineEngineReport {
                        capability: e.capability.to_string(),
                        label: e.label.to_string(),
                        ready: e.ready,
                        setup_hint: e.setup_hint.clone(),
                    })
                    .collect(),
            }),
            Status::Configured(c) => {
                let cred = &c.credential;
                let persisted = if cred.source.is_env() { None } else { cred.persisted_user.as_ref() };
                let oauth = cred.kind == Kind::OAuth;
                StatusReport::SignedIn(Box::new(SignedInStatus {
                    configured: true,
                    source: cred.source.as_str().to_string(),
                    kind: cred.kind.as_str().to_string(),
                    user: Nullable(c.user.as_ref().map(|u| u.raw.clone())),
                    persisted_user: Nullable(persisted.map(|u| PersistedUser {
                        email: u.email.clone(),
                        first_name: u.first_name.clone(),
                        last_name: u.last_name.clone(),
                        username: u.username.clone(),
                        display_name: u.display_name(),
                    })),
                    api_error: Nullable(c.api_error.as_ref().map(|e| e.message.clone())),
                    expires_at: oauth.then(|| Nullable(cred.expires_at.as_ref().map(iso))),
                    refreshable: oauth.then_some(cred.refreshable),
                    scope: oauth.then(|| Nullable(cred.scope.clone())),
                }))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::resolve::Source;

    #[test]
    fn the_offline_summary_claims_only_ready_engines() {
        let engine = |capability, label, ready| OfflineEngine { capability, label, ready, setup_hint: None };
        let s = offline_summary(&[engine("voice", "Kokoro", true), engine("music", "MusicGen", false)]);
        assert_eq!(s, "voice uses the local Kokoro; music: MusicGen is not installed");
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    /// The HyperFrames JS CLI's shapes, key for key.
    #[test]
    fn the_three_shapes_keep_the_js_clis_keys() {
        let engine =
            OfflineEngine { capability: "music", label: "MusicGen", ready: false, setup_hint: Some("x".into()) };
        let ready = OfflineEngine { capability: "voice", label: "Kokoro", ready: true, setup_hint: None };
        let out = Status::NotConfigured { interactive: false, engines: vec![ready, engine] };
        let v = serde_json::to_value(out.report()).unwrap();
        assert_eq!(keys(&v), ["configured", "interactive", "recommended_action", "fallback", "offline_engines"]);
        assert_eq!(keys(&v["offline_engines"][0]), ["capability", "label", "ready"]);
        assert_eq!(keys(&v["offline_engines"][1]), ["capability", "label", "ready", "setupHint"]);

        let key = Credential::api_key(Source::Env, "hg_0123456789");
        let signed_in = Status::Configured(Box::new(Configured { credential: key, user: None, api_error: None }));
        let v = serde_json::to_value(signed_in.report()).unwrap();
        assert_eq!(keys(&v), ["configured", "source", "type", "user", "persisted_user", "api_error"]);
        assert!(v["user"].is_null() && v["persisted_user"].is_null() && v["api_error"].is_null());
        assert_eq!((v["source"].as_str(), v["type"].as_str()), (Some("env"), Some("api_key")));
        assert!(!v.to_string().contains("hg_0123456789"), "never the secret");

        let mut oauth = Credential::api_key(Source::FileJson, "at");
        oauth.kind = Kind::OAuth;
        let signed_in = Status::Configured(Box::new(Configured { credential: oauth, user: None, api_error: None }));
        let v = serde_json::to_value(signed_in.report()).unwrap();
        assert_eq!(&keys(&v)[6..], ["expires_at", "refreshable", "scope"]);
        assert!(v["expires_at"].is_null() && v["scope"].is_null());

        let broken = Status::Broken(AuthError::usage("bad"));
        assert_eq!(keys(&serde_json::to_value(broken.report()).unwrap()), ["configured", "error", "code", "hint"]);
    }
}
