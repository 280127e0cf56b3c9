//! Facts about where the process runs: CI, remote shells, containers, agents, terminals; and the
//! [`Snapshot`] of the variables and the HeyGen credential that `plan` and the hosted clients
//! are both built from.

use std::io::IsTerminal;

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

fn truthy(v: Option<String>) -> bool {
    v.map(|s| {
        let s = s.trim().to_ascii_lowercase();
        !(s.is_empty() || s == "0" || s == "false" || s == "no")
    })
    .unwrap_or(false)
}

/// The name of the CI system this runs under, if any.
pub fn ci_name() -> Option<&'static str> {
    const NAMED: [(&str, &str); 6] = [
        ("GITHUB_ACTIONS", "GitHub Actions"),
        ("GITLAB_CI", "GitLab CI"),
        ("CIRCLECI", "CircleCI"),
        ("BUILDKITE", "Buildkite"),
        ("TRAVIS", "Travis CI"),
        ("CONTINUOUS_INTEGRATION", "CI"),
    ];
    for (name, label) in NAMED {
        if var(name).is_some_and(|v| !v.is_empty()) {
            return Some(label);
        }
    }
    if var("JENKINS_URL").is_some() {
        return Some("Jenkins");
    }
    match var("CI").as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("true") | Some("1") => Some("CI"),
        _ => None,
    }
}

pub fn is_ci() -> bool {
    ci_name().is_some()
}

/// A coding agent driving the terminal (it can relay prompts to a person).
pub fn agent_detected() -> bool {
    ["CLAUDECODE", "CURSOR_AGENT", "CODEX_SANDBOX", "GEMINI_CLI", "HYPERFRAMES_AGENT"].iter().any(|v| truthy(var(v)))
}

/// Why a browser cannot be used for sign-in here, if it cannot.
pub fn browser_blocker(stdout_tty: bool) -> Option<String> {
    for v in ["SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY"] {
        if var(v).is_some_and(|s| !s.is_empty()) {
            return Some("this is an SSH session".into());
        }
    }
    if var("BROWSER").as_deref() == Some("none") || var("HF_NO_BROWSER").as_deref() == Some("1") {
        return Some("browser opening is disabled (BROWSER=none / HF_NO_BROWSER=1)".into());
    }
    for v in ["CODESPACES", "GITHUB_CODESPACES", "REMOTE_CONTAINERS", "GITPOD_WORKSPACE_ID", "container"] {
        if truthy(var(v)) {
            return Some(format!("this looks like a container or cloud workspace ({v} is set)"));
        }
    }
    if !stdout_tty {
        return Some("standard output is not a terminal".into());
    }
    None
}

/// Terminal facts; the JS shim passes its own view, else they are read here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tty {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
}

impl Tty {
    pub fn detect() -> Self {
        Self {
            stdin: std::io::stdin().is_terminal(),
            stdout: std::io::stdout().is_terminal(),
            stderr: std::io::stderr().is_terminal(),
        }
    }
}

/// `auth status` guidance is interactive when a person (or an agent relaying to one) reads it.
pub fn interactive(tty: Tty) -> bool {
    !is_ci() && (tty.stdout || agent_detected())
}

pub fn describe() -> String {
    let mut parts = Vec::new();
    if std::path::Path::new("/.dockerenv").exists() || truthy(var("container")) {
        parts.push("container".to_string());
    }
    if var("WSL_DISTRO_NAME").is_some() {
        parts.push("WSL".to_string());
    }
    if let Some(ci) = ci_name() {
        parts.push(format!("CI ({ci})"));
    }
    if var("SSH_CONNECTION").is_some() {
        parts.push("SSH".to_string());
    }
    if parts.is_empty() {
        "native".into()
    } else {
        parts.join(" · ")
    }
}

/// A hosted provider's API key as the environment gives it. `plan`, `doctor` and the clients all
/// read keys through [`api_key`], so a key one of them calls unusable is unusable for all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiKeyVar {
    /// None of the variables is set to anything but blanks.
    Unset,
    /// The first non-blank variable, trimmed.
    Usable { name: &'static str, key: String },
    /// The first non-blank variable holds control characters (a pasted newline, an escape):
    /// it would break the request header, so it is not used.
    Invalid { name: &'static str },
}

impl ApiKeyVar {
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Usable { key, .. } => Some(key),
            _ => None,
        }
    }

    /// Why the key cannot be used, for a plan's `reason`.
    pub fn problem(&self) -> Option<String> {
        match self {
            Self::Invalid { name } => {
                Some(format!("{name} is set but contains control characters (a newline or similar)"))
            }
            _ => None,
        }
    }

    /// What fixes it, for a plan's `setupHint`.
    pub fn fix(&self) -> Option<String> {
        match self {
            Self::Invalid { name } => {
                Some(format!("set {name} to the key alone, without newlines or control characters"))
            }
            _ => None,
        }
    }
}

/// The first of `names` that `get` gives a non-blank value for (see [`ApiKeyVar`]). An unusable
/// value is registered with the scrubber all the same: it is still somebody's secret.
pub fn api_key(get: &dyn Fn(&str) -> Option<String>, names: &[&'static str]) -> ApiKeyVar {
    for name in names {
        let Some(value) = get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) else { continue };
        crate::auth::scrub::register_secret(&value);
        if !crate::auth::oauth::is_header_safe(&value) {
            return ApiKeyVar::Invalid { name };
        }
        return ApiKeyVar::Usable { name, key: value };
    }
    ApiKeyVar::Unset
}

/// `v` trimmed, or None when it is unset or blank.
pub fn non_blank(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Why the HeyGen credential cannot be used: the message, and what fixes it when known.
pub type CredentialProblem = (String, Option<String>);

/// The environment read once: its variables, and (for [`Snapshot::capture`]) the HeyGen
/// credential they and the credentials store resolve to. The planner
/// ([`crate::providers::plan::Facts::from_snapshot`]) and the hosted clients
/// ([`crate::chains::Providers::from_snapshot`]) are built from the same snapshot, so `plan`
/// cannot call a provider available that the chains then cannot build.
#[derive(Clone)]
pub struct Snapshot {
    vars: std::collections::HashMap<String, String>,
    /// The resolved HeyGen credential (None: not signed in), or why it is unusable.
    pub heygen: Result<Option<crate::auth::resolve::Credential>, CredentialProblem>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Snapshot")
            .field("vars", &format!("{} variables (values redacted)", names.len()))
            .field("heygen", &self.heygen.as_ref().map(|c| c.as_ref().map(|c| c.kind.as_str())))
            .finish()
    }
}
impl Snapshot {
    /// The process environment now, with the HeyGen credential resolved from it and the
    /// credentials store. Blocking when the credential lives in the OS keyring.
    pub fn capture() -> Self {
        let store = crate::auth::store::Store::from_env();
        let heygen = crate::auth::resolve::try_resolve(&store, chrono::Utc::now())
            .map_err(|e| (e.message.trim_end_matches('.').to_string(), e.hint.clone()));
        Self { heygen, ..Self::variables() }
    }

    /// The process's variables only (no credential lookup, so never blocking): what a hosted
    /// client's `from_env` reads.
    pub fn variables() -> Self {
        let vars = std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::from_vars(vars)
    }

    /// A snapshot of the given variables and no HeyGen credential (tests, embedding).
    pub fn from_vars<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        Self { vars: vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect(), heygen: Ok(None) }
    }

    #[cfg(test)]
    pub fn with_heygen(mut self, heygen: Result<Option<crate::auth::resolve::Credential>, CredentialProblem>) -> Self {
        self.heygen = heygen;
        self
    }

    /// A variable as `std::env::var` would give it.
    pub fn get(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }

    /// [`api_key`] over this snapshot.
    pub fn api_key(&self, names: &[&'static str]) -> ApiKeyVar {
        api_key(&|n| self.get(n), names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_keys_are_unset_usable_or_invalid() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |n: &str| pairs.iter().find(|(k, _)| *k == n).map(|(_, v)| v.to_string())
        };
        assert_eq!(api_key(&env(&[]), &["A"]), ApiKeyVar::Unset);
        assert_eq!(api_key(&env(&[("A", "   ")]), &["A"]), ApiKeyVar::Unset);
        assert_eq!(
            api_key(&env(&[("A", " k1234567 ")]), &["A"]),
            ApiKeyVar::Usable { name: "A", key: "k1234567".into() }
        );
        let bad = api_key(&env(&[("A", "k12\u{1}34567"), ("B", "fine12345")]), &["A", "B"]);
        assert_eq!(bad, ApiKeyVar::Invalid { name: "A" }, "the first set variable decides");
        assert!(bad.problem().unwrap().contains("A is set but contains control characters"));
        assert!(bad.fix().unwrap().contains("set A"));
        assert_eq!(bad.key(), None);
        assert_eq!(api_key(&env(&[("B", "fine12345")]), &["A", "B"]).key(), Some("fine12345"));
    }
}
