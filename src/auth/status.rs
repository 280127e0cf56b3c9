//! `auth status`: which credential resolves, whether HeyGen accepts it, and what works offline.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use super::client::{HeygenClient, UserInfo};
use super::error::AuthError;
use super::resolve::{self, Credential, Kind};
use super::store::{Store, UserBlock};
use crate::blocking;
use crate::environment::{self, Tty};

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

fn persisted_user_json(u: &UserBlock) -> Value {
    json!({
        "email": u.email,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "username": u.username,
        "display_name": u.display_name(),
    })
}

impl Status {
    pub fn ok(&self) -> bool {
        matches!(self, Status::Configured(c) if c.api_error.is_none())
    }

    pub fn to_json(&self) -> Value {
        match self {
            Status::Broken(e) => json!({
                "configured": false,
                "error": e.message,
                "code": e.code_str(),
                "hint": e.hint,
            }),
            Status::NotConfigured { interactive, engines } => json!({
                "configured": false,
                "interactive": interactive,
                "recommended_action": RECOMMENDED_ACTION,
                "fallback": "local",
                "offline_engines": engines.iter().map(|e| {
                    let mut v = json!({"capability": e.capability, "label": e.label, "ready": e.ready});
                    if let Some(h) = &e.setup_hint {
                        v["setupHint"] = json!(h);
                    }
                    v
                }).collect::<Vec<_>>(),
            }),
            Status::Configured(c) => {
                let cred = &c.credential;
                let persisted = if cred.source.is_env() { None } else { cred.persisted_user.as_ref() };
                let mut v = json!({
                    "configured": true,
                    "source": cred.source.as_str(),
                    "type": cred.kind.as_str(),
                    "user": c.user.as_ref().map(|u| Value::Object(u.raw.clone())),
                    "persisted_user": persisted.map(persisted_user_json),
                    "api_error": c.api_error.as_ref().map(|e| e.message.clone()),
                });
                if cred.kind == Kind::OAuth {
                    v["expires_at"] = json!(cred.expires_at.as_ref().map(iso));
                    v["refreshable"] = json!(cred.refreshable);
                    v["scope"] = json!(cred.scope);
                }
                v
            }
        }
    }
}
