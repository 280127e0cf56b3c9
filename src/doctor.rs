//! `doctor`: what is installed and what each capability will use. Every check reports; only
//! `--strict` turns a failed required check into a non-zero exit.

use std::path::{Path, PathBuf};

use chrono::Utc;
use napi_derive::napi;
use serde::Serialize;

use crate::auth::paths;
use crate::auth::resolve;
use crate::auth::store::Store;
use crate::engines::{catalog, models_dir, runtime};

pub const MIN_FREE_DISK_MB: u64 = 1024;
pub const MIN_AVAILABLE_MEMORY_MB: u64 = 2048;

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub required: bool,
    pub detail: String,
    pub hint: Option<String>,
}

impl Check {
    fn pass(name: &str, detail: impl Into<String>) -> Self {
        Self { name: name.into(), ok: true, required: true, detail: detail.into(), hint: None }
    }
    fn fail(name: &str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { name: name.into(), ok: false, required: true, detail: detail.into(), hint: Some(hint.into()) }
    }
    fn optional(mut self) -> Self {
        self.required = false;
        self
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok || !c.required)
    }

    /// What `doctor --json` prints and `doctor()` returns, home folder shown as `$HOME`.
    pub fn report(&self) -> DoctorReport {
        DoctorReport {
            ok: self.ok(),
            platform: platform().to_string(),
            arch: arch().to_string(),
            checks: self
                .checks
                .iter()
                .map(|c| DoctorCheck {
                    name: c.name.clone(),
                    ok: c.ok,
                    required: c.required,
                    detail: redact(&c.detail),
                    hint: c.hint.as_deref().map(redact),
                })
                .collect(),
            meta: DoctorMeta { version: crate::VERSION.to_string() },
        }
    }
}

/// `doctor --json` and `doctor()`: the HyperFrames JS CLI's shape (its `_meta` kept), plus
/// `required` on each check.
#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// Every required check passed.
    pub ok: bool,
    /// `process.platform`'s name.
    pub platform: String,
    /// `process.arch`'s name.
    pub arch: String,
    pub checks: Vec<DoctorCheck>,
    #[napi(js_name = "_meta")]
    #[serde(rename = "_meta")]
    pub meta: DoctorMeta,
}

#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct DoctorCheck {
    pub name: String,
    pub ok: bool,
    /// A failed required check makes `ok` false (and `--strict` exit 1).
    pub required: bool,
    pub detail: String,
    /// What to do, when the check failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[napi(object, object_from_js = false)]
#[derive(Debug, Clone, Serialize)]
pub struct DoctorMeta {
    /// This package's version.
    pub version: String,
}

fn redact(s: &str) -> String {
    paths::redact_home(s, "$HOME")
}

/// Node's names, so the JSON matches `process.platform` / `process.arch`.
pub fn platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    }
}

pub fn arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The nearest existing ancestor of `p` (the folder that would hold it once created).
fn existing_ancestor(p: &Path) -> Option<PathBuf> {
    p.ancestors().find(|a| a.exists()).map(Path::to_path_buf)
}

fn writable(dir: &Path) -> Result<String, String> {
    let base = existing_ancestor(dir).ok_or_else(|| format!("no existing parent of {}", dir.display()))?;
    if !base.is_dir() {
        return Err(format!("{} is not a directory", base.display()));
    }
    let probe = base.join(format!(".hyperframes-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("{} is not writable ({e})", base.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(if base == dir { dir.display().to_string() } else { format!("{} (will be created)", dir.display()) })
}

#[cfg(unix)]
pub fn free_disk_mb(p: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let base = existing_ancestor(p)?;
    let c = std::ffi::CString::new(base.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    (rc == 0).then(|| (st.f_bavail as u64).saturating_mul(st.f_frsize as u64) / (1024 * 1024))
}

#[cfg(not(unix))]
pub fn free_disk_mb(_p: &Path) -> Option<u64> {
    None
}

fn available_memory_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok().map(|kb| kb / 1024)
}

fn runtime_check() -> Check {
    const NAME: &str = "ONNX Runtime";
    match runtime::ensure_loaded() {
        // Which copy was loaded and why it was chosen: the platform package's, ORT_DYLIB_PATH's, …
        Ok(rt) => {
            Check::pass(NAME, format!("{} · {} · {}", rt.version, rt.location.source, rt.location.path.display()))
        }
        Err(e) => Check::fail(NAME, e.message.clone(), e.hint.clone()),
    }
}

fn model_checks() -> Vec<Check> {
    let dir = models_dir::models_dir();
    ["kokoro", "whisper-tiny.en", "musicgen-small"]
        .into_iter()
        .filter_map(catalog::find)
        .map(|m| {
            let name = format!("{} ({})", m.label, m.capability);
            let st = catalog::status(&dir, m, true);
            let corrupt: Vec<String> = st
                .files
                .iter()
                .filter(|(_, s)| matches!(s, catalog::FileState::Corrupt { .. }))
                .map(|(f, _)| f.to_string())
                .collect();
            let damaged_copy = crate::engines::install::derived_copies(m, &dir, false)
                .into_iter()
                .find(|(_, s)| matches!(s, catalog::FileState::Corrupt { .. }));
            if let Some((copy, _)) = damaged_copy.filter(|_| corrupt.is_empty()) {
                Check::fail(
                    &name,
                    format!("the derived copy {copy} changed since it was made"),
                    format!("`hyperframes models verify {}` deletes it; tts derives it again", m.name),
                )
                .optional()
            } else if !corrupt.is_empty() {
                Check::fail(&name, format!("sha256 mismatch: {}", corrupt.join(", ")), catalog::install_command(m.name))
                    .optional()
            } else if st.installed {
                let verified = st
                    .files
                    .iter()
                    .all(|(_, s)| matches!(s, catalog::FileState::Verified | catalog::FileState::Missing));
                let how =
                    if verified { "installed, sha256 verified" } else { "installed (no published sha256 to verify)" };
                Check::pass(&name, format!("{how} in {}", dir.display())).optional()
            } else {
                Check::fail(&name, "not installed", catalog::install_command(m.name)).optional()
            }
        })
        .collect()
}

#[cfg(unix)]
fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// What is wrong with where the credentials are kept, for a user whose effective uid is `euid`:
/// a file or folder owned by someone else (who can read or swap the secrets whatever the mode
/// says), or a mode open to the group or others. The message and the fix to give.
#[cfg(unix)]
fn storage_problem(store: &Store, euid: u32) -> Option<(String, String)> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let (file, dir) = (store.path(), store.dir().to_path_buf());
    let file_meta = std::fs::metadata(&file).ok();
    let dir_meta = std::fs::metadata(&dir).ok();
    let foreign: Vec<String> = [("file", &file, &file_meta), ("folder", &dir, &dir_meta)]
        .into_iter()
        .filter_map(|(what, path, meta)| {
            let uid = meta.as_ref()?.uid();
            (uid != euid).then(|| format!("the {what} {} is owned by uid {uid}", paths::display(path)))
        })
        .collect();
    if !foreign.is_empty() {
        return Some((
            format!("owned by another user ({}; you are uid {euid})", foreign.join(", ")),
            format!(
                "Another account can read or replace these secrets: delete {} and run `hyperframes auth login` again.",
                paths::display(&dir)
            ),
        ));
    }
    let mode = |m: &Option<std::fs::Metadata>| m.as_ref().map(|m| m.permissions().mode() & 0o777);
    let (file_mode, dir_mode) = (mode(&file_meta), mode(&dir_meta));
    if file_mode.is_some_and(|m| m & 0o077 != 0) || dir_mode.is_some_and(|m| m & 0o077 != 0) {
        return Some((
            format!("permissions too open (file {:o}, dir {:o})", file_mode.unwrap_or(0), dir_mode.unwrap_or(0)),
            format!("chmod 600 {} && chmod 700 {}", file.display(), dir.display()),
        ));
    }
    None
}

fn credential_check() -> Check {
    const NAME: &str = "Credentials";
    let store = Store::from_env();
    let resolved = resolve::from_env().and_then(|env| match env {
        Some(c) => Ok(Some(c)),
        None => store.load().map(|l| resolve::from_loaded(&l, Utc::now())),
    });
    match resolved {
        Err(e) => Check::fail(NAME, e.message, e.hint.unwrap_or_default()),
        Ok(None) => Check::pass(
            NAME,
            format!("not signed in: {}", crate::auth::status::offline_summary(&crate::auth::status::offline_engines())),
        ),
        Ok(Some(c)) => {
            let detail = match c.source {
                resolve::Source::Env => format!("HEYGEN_API_KEY · {}", c.kind.as_str()),
                resolve::Source::EnvAlias => format!("HYPERFRAMES_API_KEY · {}", c.kind.as_str()),
                other => format!("{} ({}) · {}", other.as_str(), store.path().display(), c.kind.as_str()),
            };
            #[cfg(unix)]
            if !c.source.is_env() {
                if let Some((problem, hint)) = storage_problem(&store, effective_uid()) {
                    return Check::fail(NAME, format!("{detail} · {problem}"), hint);
                }
            }
            Check::pass(NAME, detail)
        }
    }
}

/// One row per capability: what will serve it. Informational (only voice must have a provider).
fn plan_checks() -> Vec<Check> {
    use crate::providers::plan::{plan_all, Capability, Facts};
    plan_all(&Facts::gather(false))
        .into_iter()
        .map(|p| {
            let name = format!("Uses: {}", p.capability.as_str());
            let label = |id: crate::providers::Provider| {
                p.candidates.iter().find(|c| c.provider == id).map(|c| c.label).unwrap_or(id.as_str())
            };
            match p.chosen {
                Some(id) => match crate::chains::music::license_note(id) {
                    Some(note) => Check::pass(&name, format!("{} ({note})", label(id))).optional(),
                    None => Check::pass(&name, label(id)).optional(),
                },
                None => {
                    let hints: Vec<String> = p.candidates.iter().filter_map(|c| c.setup_hint.clone()).collect();
                    let check = Check::fail(&name, "no provider available", hints.join("; or "));
                    if p.capability == Capability::Voice {
                        check
                    } else {
                        check.optional()
                    }
                }
            }
        })
        .collect()
}

fn dir_check(name: &str, dir: &Path, hint: &str) -> Check {
    match writable(dir) {
        Ok(d) => Check::pass(name, d),
        Err(e) => Check::fail(name, e, hint),
    }
}

/// Details carry full paths: JSON shows the home folder as `$HOME`, people see `~`.
pub fn run(node_version: Option<&str>) -> Report {
    let mut checks = vec![Check::pass("Version", format!("hyperframes {}", crate::VERSION))];
    checks.push(match node_version {
        Some(v) => Check::pass("Node.js", format!("{v} ({} {})", platform(), arch())),
        None => Check::pass("Node.js", format!("not running under Node ({} {})", platform(), arch())),
    });
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let threads = runtime::thread_setting();
    let cpu = format!("{cores} cores · engines use {} threads", threads.count);
    checks.push(match threads.note {
        Some(note) => Check::fail(
            "CPU",
            format!("{cpu} ({note})"),
            format!("set {} to a whole number from 1 to {cores}, or unset it", runtime::ENV_THREADS),
        )
        .optional(),
        None => Check::pass("CPU", cpu),
    });
    checks.push(match available_memory_mb() {
        Some(mb) if mb < MIN_AVAILABLE_MEMORY_MB => Check::fail(
            "Memory",
            format!("{mb} MB available"),
            "Local engines need about 2 GB free; close other programs.",
        )
        .optional(),
        Some(mb) => Check::pass("Memory", format!("{mb} MB available")),
        None => Check::pass("Memory", "unknown on this platform"),
    });
    checks.push(Check::pass("Environment", crate::environment::describe()));
    checks.push(runtime_check());
    checks.extend(model_checks());
    checks.push(credential_check());
    checks.extend(plan_checks());
    checks.push(dir_check("Config dir", &paths::config_dir(), "Set HEYGEN_CONFIG_DIR to a writable folder."));
    let mdir = models_dir::models_dir();
    checks.push(dir_check("Models dir", &mdir, "Set HYPERFRAMES_MODELS_DIR to a writable folder."));
    checks.push(match free_disk_mb(&mdir) {
        Some(mb) if mb < MIN_FREE_DISK_MB => Check::fail(
            "Disk",
            format!("{mb} MB free where models go"),
            "Free some space or set HYPERFRAMES_MODELS_DIR to a larger disk.",
        ),
        Some(mb) => Check::pass("Disk", format!("{mb} MB free where models go")),
        None => Check::pass("Disk", "unable to check"),
    });
    Report { checks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_keeps_the_js_clis_keys_and_omits_absent_hints() {
        let report =
            Report { checks: vec![Check::pass("Version", "v"), Check::fail("Disk", "full", "free some").optional()] };
        let v = serde_json::to_value(report.report()).unwrap();
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["_meta", "arch", "checks", "ok", "platform"]);
        assert_eq!(v["ok"], true, "an optional check does not fail the report");
        assert!(v["checks"][0].get("hint").is_none());
        assert_eq!(v["checks"][1]["hint"], "free some");
        assert_eq!(v["_meta"]["version"], crate::VERSION);
    }

    /// A credentials file or folder owned by another user is flagged (whatever its mode), and
    /// the mode checks still hold for the user's own files.
    #[cfg(unix)]
    #[test]
    fn credentials_owned_by_another_user_or_too_open_are_flagged() {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::at(tmp.path().join(".heygen"));
        std::fs::create_dir_all(store.dir()).unwrap();
        std::fs::set_permissions(store.dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(store.path(), "{}").unwrap();
        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let me = std::fs::metadata(store.path()).unwrap().uid();
        assert_eq!(storage_problem(&store, me), None, "own files, 0600 in 0700");

        // Judged for another user: both are then someone else's.
        let (problem, hint) = storage_problem(&store, me + 1).unwrap();
        assert!(problem.contains("owned by another user") && problem.contains(&format!("uid {me}")), "{problem}");
        assert!(problem.contains("the file") && problem.contains("the folder"), "{problem}");
        assert!(hint.contains("delete"), "{hint}");

        if effective_uid() == 0 {
            // Root can make a file really belong to someone else.
            let c = std::ffi::CString::new(store.path().to_str().unwrap()).unwrap();
            assert_eq!(unsafe { libc::chown(c.as_ptr(), 65534, 65534) }, 0);
            let (problem, _) = storage_problem(&store, 0).unwrap();
            assert!(problem.contains("uid 65534") && !problem.contains("the folder"), "{problem}");
            assert_eq!(unsafe { libc::chown(c.as_ptr(), 0, 0) }, 0);
        }

        std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
        let (problem, hint) = storage_problem(&store, me).unwrap();
        assert!(problem.contains("permissions too open (file 644, dir 700)"), "{problem}");
        assert!(hint.starts_with("chmod 600 "), "{hint}");
    }
}
