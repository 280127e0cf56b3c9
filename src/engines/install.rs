//! The model manager: installs a catalog model's files into the models root,
//! checks them, and removes them.
//!
//! Every file arrives the same way, whether downloaded or copied: it is
//! written to `<final>.partial` while being hashed, its size and sha256 are
//! checked against the catalog (when pinned), it is flushed to disk, and only
//! then renamed into place and recorded in the hash sidecar. A failed or
//! corrupt transfer therefore never leaves a file at the final path. A
//! download interrupted by a transport error keeps its `.partial`, and the
//! next attempt (up to [`ATTEMPTS`] per file, or a later run) resumes it with
//! an HTTP `Range` request.
//!
//! Sources ([`Source`]):
//! - `Official`: each file's catalog `url`. When `HYPERFRAMES_MODEL_MIRROR` is
//!   set and non-empty it becomes `Mirror(<that value>)`.
//! - `Mirror(base)`: `<base>/<catalog path>`, e.g.
//!   `https://mirror.example/models/kokoro/kokoro-v1.0.int8.onnx`, so a copy
//!   of a models directory behind any static file server is a mirror.
//! - `From(path)`: a folder (each file looked up by its file name, in the
//!   folder or one level below it) or a single file (matched by file name,
//!   else by sha256). Files are copied, never moved.
//! - `FromUrl(url)`: a single file when the URL's last segment is the name of
//!   one of the model's files, otherwise a mirror base.
//!
//! Optional files that the source does not have are skipped. Required files
//! that cannot be obtained make [`install`] fail after it has dealt with
//! every other file (what did install stays installed).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::catalog::{self, FileState, ModelFile, ModelSpec, ModelStatus};
use super::error::{EngineError, EngineResult};

/// Environment variable naming a mirror that replaces the official URLs.
pub const ENV_MIRROR: &str = "HYPERFRAMES_MODEL_MIRROR";
/// Attempts per file on transport errors (each one resumes the last).
pub const ATTEMPTS: u32 = 3;
/// Suffix of the file a transfer writes before it is verified.
pub const PARTIAL_SUFFIX: &str = ".partial";
/// Seconds without a byte from the server (answer or body) before a download is given up
/// (default [`DEFAULT_IDLE_SECS`]); fractions are allowed.
pub const ENV_IDLE_TIMEOUT: &str = "HYPERFRAMES_DOWNLOAD_IDLE_TIMEOUT";
pub const DEFAULT_IDLE_SECS: f64 = 30.0;
/// After this long without data a "waiting for <host>" line is shown (or half the idle timeout,
/// when that is shorter).
/// Redirects one download may take (a hub sends each file on to its CDN).
const MAX_REDIRECTS: usize = 10;
const WAIT_NOTICE: Duration = Duration::from_secs(5);

const CHUNK: usize = 1 << 20;
/// Minimum progress between two `Progress::Bytes` events.
const EMIT_EVERY: u64 = 256 * 1024;

/// What an install is doing, for a progress bar, plain log lines or JSON.
/// `file` is the catalog path (`kokoro/kokoro-v1.0.int8.onnx`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Progress {
    /// A transfer begins; `resumed_from` bytes are already on disk.
    Start { file: &'static str, total: Option<u64>, resumed_from: u64 },
    /// A copy from a local `--from` source begins.
    Copying { file: &'static str, total: u64 },
    /// `done` bytes of `total` are on disk (including a resumed prefix).
    Bytes { file: &'static str, done: u64, total: Option<u64> },
    /// The transfer finished; size and digest are being checked.
    Verifying { file: &'static str },
    /// The file is verified and in place.
    Done { file: &'static str },
    /// Nothing to do for this file.
    Skipped { file: &'static str, reason: SkipReason },
    /// No data from `host` for `seconds` (the download is still waiting).
    Waiting { file: &'static str, host: String, seconds: u64 },
    /// A `.partial` left by an earlier run did not match the catalog; it was deleted and the file
    /// is downloaded again from the start.
    LeftoverDiscarded { file: &'static str, bytes: u64 },
    /// Another install into the same model folder is running; this one waits for it.
    InstallRunning { folder: String },
}

/// Why a file was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Already in place with the expected size (and digest, when pinned).
    AlreadyInstalled,
    /// An optional file that the source does not have.
    NotAtSource,
}

impl SkipReason {
    pub fn describe(self) -> &'static str {
        match self {
            SkipReason::AlreadyInstalled => "already installed",
            SkipReason::NotAtSource => "optional, not available from this source",
        }
    }
}

/// Where the files come from. See the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Official,
    /// Base URL; each file's catalog path is appended.
    Mirror(String),
    /// A file or a folder.
    From(PathBuf),
    /// One file's URL, or a mirror base.
    FromUrl(String),
}

impl Source {
    /// `Official` becomes `Mirror(mirror)` when `mirror` is non-empty (the
    /// value of [`ENV_MIRROR`]); other sources are kept.
    pub fn with_mirror(self, mirror: Option<&str>) -> Source {
        match (self, mirror.map(str::trim).filter(|m| !m.is_empty())) {
            (Source::Official, Some(m)) => Source::Mirror(m.to_string()),
            (source, _) => source,
        }
    }

    /// [`Source::with_mirror`] with the process environment.
    pub fn resolved(self) -> Source {
        let env = std::env::var(ENV_MIRROR).ok();
        self.with_mirror(env.as_deref())
    }
}

/// What [`install`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallReport {
    pub model: &'static str,
    /// The models root.
    pub dir: PathBuf,
    /// One entry per catalog file, in catalog order.
    pub files: Vec<FileReport>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileReport {
    /// Catalog path.
    pub path: &'static str,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Downloaded { bytes: u64, sha256: String, resumed_from: u64 },
    Copied { bytes: u64, sha256: String, from: PathBuf },
    Skipped { reason: SkipReason },
}

/// Installs `model` into the models root `dir` from `source`
/// (`HYPERFRAMES_MODEL_MIRROR` applies to `Official`), reporting progress to
/// `on`. Files already in place and intact are skipped.
pub async fn install(
    model: &ModelSpec,
    dir: &Path,
    source: &Source,
    on: &(dyn Fn(Progress) + Sync),
) -> EngineResult<InstallReport> {
    let source = source.clone().resolved();
    if super::offline() && !matches!(source, Source::From(_)) {
        return Err(EngineError::new(
            "OFFLINE",
            format!("{}=1 is set, so {} is not downloaded.", super::OFFLINE_ENV, model.label),
        )
        .with_hint(format!(
            "Install from local files with `hyperframes models install {} --from <folder>`, or unset {}.",
            model.name,
            super::OFFLINE_ENV
        )));
    }
    let _lock = lock_folder(model, dir, on).await?;
    Installer::new(Duration::from_millis(500))?.run(model, dir, &source, on).await
}

/// Holds the install lock of a model folder. The lock file is deleted when the lock is released,
/// so a models folder keeps no trace of it; a process that was waiting on the deleted file sees
/// that it no longer is the one at the path and takes the lock again (see [`lock_folder`]).
struct FolderLock {
    file: fs::File,
    path: PathBuf,
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        // Deleted while still held, so nobody can lock this file and think it is the current one.
        let _ = fs::remove_file(&self.path);
        let _ = self.file.unlock();
    }
}

/// `<models root>/.<folder>.lock`: beside the model's folder rather than in it, so removing the
/// model can still drop its emptied folder.
fn lock_path(model: &ModelSpec, dir: &Path) -> PathBuf {
    let folder = model.dir_in(dir);
    let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!(".{name}.lock"))
}

fn open_lock(path: &Path) -> EngineResult<fs::File> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| EngineError::io(format!("creating `{}`", dir.display()), &e))?;
    }
    fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| EngineError::io(format!("cannot open the install lock `{}`", path.display()), &e))
}

/// Whether `file` is still the file at `path` (the holder before us may have deleted it).
fn still_at(file: &fs::File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

/// Two installs into one model folder would download the same `.partial` at once; the second
/// waits for the first (saying so) and then finds its files already in place.
async fn lock_folder(model: &ModelSpec, dir: &Path, on: &(dyn Fn(Progress) + Sync)) -> EngineResult<FolderLock> {
    let path = lock_path(model, dir);
    let mut announced = false;
    loop {
        let file = open_lock(&path)?;
        let file = match file.try_lock() {
            Ok(()) => file,
            Err(fs::TryLockError::WouldBlock) => {
                if !announced {
                    on(Progress::InstallRunning { folder: model.dir_in(dir).display().to_string() });
                    announced = true;
                }
                let shown = path.clone();
                crate::blocking(move || file.lock().map(|_| file))
                    .await
                    .map_err(|e| EngineError::io(format!("cannot lock `{}`", shown.display()), &e))?
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(EngineError::io(format!("cannot lock `{}`", path.display()), &e));
            }
        };
        if still_at(&file, &path) {
            return Ok(FolderLock { file, path });
        }
    }
}

/// Removes `model`'s files (and any `.partial` and hash sidecar) from the
/// models root `dir`, keeping files that another installed catalog model
/// also uses. Returns the removed paths; removing a model that is not
/// there is not an error.
pub fn remove(model: &ModelSpec, dir: &Path) -> EngineResult<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let path = lock_path(model, dir);
    let file = open_lock(&path)?;
    if let Err(fs::TryLockError::WouldBlock) = file.try_lock() {
        return Err(EngineError::new(
            "INSTALL_RUNNING",
            format!("{} is being installed right now, so it is not removed.", model.label),
        )
        .with_hint("Wait for the install to finish, then remove the model again."));
    }
    let _lock = FolderLock { file, path };
    remove_among(model, dir, catalog::all())
}

/// Checks every file of `model` by rehashing it in full, ignoring the hash
/// sidecar cache (which is refreshed on success and dropped on mismatch).
/// `installed` follows the same rule as [`catalog::status`].
pub fn verify(model: &ModelSpec, dir: &Path) -> ModelStatus {
    let mut status = catalog::status_with(model, |file| verify_file(dir, file));
    status.derived = derived_copies(model, dir, true);
    status
}

/// The derived copies of `model` that inference loads (the Kokoro model with its durations
/// output), checked in full (`rehash`, deleting a damaged one) or by size and time.
pub fn derived_copies(model: &ModelSpec, dir: &Path, rehash: bool) -> Vec<(String, FileState)> {
    if model.capability != catalog::VOICE {
        return Vec::new();
    }
    let Some(file) = model.files.iter().find(|f| !f.optional) else { return Vec::new() };
    super::kokoro::model::check_derived(&file.path_in(dir), rehash)
        .map(|(path, state)| {
            let shown = path.strip_prefix(dir).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            (shown, state)
        })
        .into_iter()
        .collect()
}

/// `<final>.partial`.
pub fn partial_path(final_path: &Path) -> PathBuf {
    let mut name = final_path.as_os_str().to_owned();
    name.push(PARTIAL_SUFFIX);
    PathBuf::from(name)
}

// ---------------------------------------------------------------------------
// Planning: where each file comes from
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fetch {
    Url(String),
    Local(PathBuf),
    /// The source does not have this file.
    Absent,
    /// `Official`, but the catalog has no URL for this file.
    NoOfficialUrl,
}

async fn plan(model: &ModelSpec, source: &Source) -> EngineResult<Vec<Fetch>> {
    let files = model.files;
    Ok(match source {
        Source::Official => {
            files.iter().map(|f| f.url.map_or(Fetch::NoOfficialUrl, |u| Fetch::Url(u.into()))).collect()
        }
        Source::Mirror(base) => mirror_plan(model, base)?,
        Source::FromUrl(url) => {
            check_http_url(url)?;
            let last = reqwest::Url::parse(url)
                .ok()
                .and_then(|u| u.path_segments().and_then(|mut s| s.next_back().map(str::to_string)))
                .unwrap_or_default();
            match files.iter().position(|f| !last.is_empty() && f.file_name() == last) {
                Some(i) => single(files.len(), i, Fetch::Url(url.clone())),
                None => mirror_plan(model, url)?,
            }
        }
        Source::From(path) => local_plan(model, path).await?,
    })
}

fn single(len: usize, index: usize, fetch: Fetch) -> Vec<Fetch> {
    let mut out = vec![Fetch::Absent; len];
    out[index] = fetch;
    out
}

/// `<base>/<file path>` for each file: the path joined onto the base URL's path, its query (a
/// signed mirror's `?sig=…`) kept for every file, its fragment dropped.
fn mirror_plan(model: &ModelSpec, base: &str) -> EngineResult<Vec<Fetch>> {
    check_http_url(base)?;
    let base = reqwest::Url::parse(base.trim()).map_err(|_| {
        EngineError::new("DOWNLOAD_FAILED", format!("the mirror `{}` is not a valid URL", redact(base)))
    })?;
    let dir = base.path().trim_end_matches('/').to_string();
    Ok(model
        .files
        .iter()
        .map(|f| {
            let mut url = base.clone();
            url.set_path(&format!("{dir}/{}", f.path));
            url.set_fragment(None);
            Fetch::Url(url.to_string())
        })
        .collect())
}

fn check_http_url(url: &str) -> EngineResult<()> {
    let lower = url.trim().to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") {
        Ok(())
    } else {
        Err(EngineError::new("DOWNLOAD_FAILED", format!("`{}` is not an http(s) URL", redact(url)))
            .with_hint("give a URL starting with https:// (or http://), or a local path with --from"))
    }
}

async fn local_plan(model: &ModelSpec, path: &Path) -> EngineResult<Vec<Fetch>> {
    let meta = fs::metadata(path).map_err(|e| EngineError::io(format!("--from `{}`", path.display()), &e))?;
    if meta.is_dir() {
        return model.files.iter().map(|f| Ok(find_in_folder(path, f)?.map_or(Fetch::Absent, Fetch::Local))).collect();
    }
    let files = model.files;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if let Some(i) = files.iter().position(|f| f.file_name() == name) {
        return Ok(single(files.len(), i, Fetch::Local(path.to_path_buf())));
    }
    let owned = path.to_path_buf();
    let sha = tokio::task::spawn_blocking(move || catalog::sha256_file(&owned))
        .await
        .map_err(|e| EngineError::new("IO_ERROR", format!("hashing `{}` failed: {e}", path.display())))?
        .map_err(|e| EngineError::io(format!("reading `{}`", path.display()), &e))?;
    match files.iter().position(|f| f.sha256.is_some_and(|h| h.eq_ignore_ascii_case(&sha))) {
        Some(i) => Ok(single(files.len(), i, Fetch::Local(path.to_path_buf()))),
        None => Err(EngineError::new(
            "MODEL_MISSING",
            format!(
                "`{}` is not a file of model {}: its name matches none of {} \
                 and its sha256 {sha} matches no pinned digest",
                path.display(),
                model.name,
                files.iter().map(|f| f.file_name()).collect::<Vec<_>>().join(", "),
            ),
        )
        .with_hint("pass the folder holding the model's files, or a file with one of those names")),
    }
}

/// `folder/<name>`, else `folder/<sub>/<name>` for the subfolders in name
/// order, preferring a candidate whose size matches the catalog.
fn find_in_folder(folder: &Path, file: &ModelFile) -> EngineResult<Option<PathBuf>> {
    let name = file.file_name();
    let mut candidates = Vec::new();
    let direct = folder.join(name);
    if direct.is_file() {
        candidates.push(direct);
    }
    let entries = fs::read_dir(folder).map_err(|e| EngineError::io(format!("reading `{}`", folder.display()), &e))?;
    let mut subdirs: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    subdirs.sort();
    candidates.extend(subdirs.into_iter().map(|d| d.join(name)).filter(|p| p.is_file()));
    let sized = candidates.iter().find(|p| file.size.is_none_or(|s| fs::metadata(p).is_ok_and(|m| m.len() == s)));
    Ok(sized.or(candidates.first()).cloned())
}

// ---------------------------------------------------------------------------
// Installing
// ---------------------------------------------------------------------------

struct Installer {
    client: reqwest::Client,
    retry_delay: Duration,
    /// No byte for this long: the download is given up (see [`ENV_IDLE_TIMEOUT`]).
    idle: Duration,
}

/// The idle timeout from [`ENV_IDLE_TIMEOUT`], else [`DEFAULT_IDLE_SECS`].
fn idle_timeout() -> Duration {
    let secs = std::env::var(ENV_IDLE_TIMEOUT)
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(DEFAULT_IDLE_SECS);
    Duration::from_secs_f64(secs.min(86_400.0))
}

enum FileResult {
    Done(Outcome),
    NotAtSource,
    Failed(EngineError),
}

/// Why one transfer attempt failed.
enum Failure {
    /// Transport trouble or a server hiccup: try again (resuming).
    Retry(EngineError),
    /// The source does not have the file (HTTP 404/410).
    NotFound(EngineError),
    /// Anything else.
    Fatal(EngineError),
}

impl Installer {
    fn new(retry_delay: Duration) -> EngineResult<Self> {
        let client = crate::http::builder()
            .connect_timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| EngineError::new("DOWNLOAD_FAILED", format!("could not set up HTTP: {e}")))?;
        Ok(Installer { client, retry_delay, idle: idle_timeout() })
    }

    /// Awaits `step` (the server's answer, or the next piece of the body) for at most the idle
    /// timeout, saying that it waits for `host` once a few seconds have gone by without data.
    async fn within_idle<F: std::future::Future>(
        &self,
        step: F,
        file: &'static str,
        host: &str,
        on: &(dyn Fn(Progress) + Sync),
    ) -> Option<F::Output> {
        let notice = WAIT_NOTICE.min(self.idle / 2);
        tokio::pin!(step);
        if let Ok(v) = tokio::time::timeout(notice, &mut step).await {
            return Some(v);
        }
        on(Progress::Waiting { file, host: host.to_string(), seconds: notice.as_secs() });
        tokio::time::timeout(self.idle - notice, &mut step).await.ok()
    }

    async fn run(
        &self,
        model: &ModelSpec,
        dir: &Path,
        source: &Source,
        on: &(dyn Fn(Progress) + Sync),
    ) -> EngineResult<InstallReport> {
        let plans = plan(model, source).await?;
        let mut reports = Vec::with_capacity(model.files.len());
        let mut errors: Vec<EngineError> = Vec::new();
        let mut missing: Vec<&'static str> = Vec::new();

        for (file, fetch) in model.files.iter().zip(plans) {
            if matches!(catalog::file_state(dir, file, true), Ok(FileState::Verified | FileState::Present { .. })) {
                on(Progress::Skipped { file: file.path, reason: SkipReason::AlreadyInstalled });
                reports.push(FileReport {
                    path: file.path,
                    outcome: Outcome::Skipped { reason: SkipReason::AlreadyInstalled },
                });
                continue;
            }
            let result = match fetch {
                Fetch::Url(url) => match self.download(model, dir, file, &url, on).await {
                    Ok(outcome) => FileResult::Done(outcome),
                    Err(Failure::NotFound(_)) if file.optional => FileResult::NotAtSource,
                    Err(Failure::NotFound(e) | Failure::Retry(e) | Failure::Fatal(e)) => FileResult::Failed(e),
                },
                Fetch::Local(path) => match copy_in(dir, file, &path, on).await {
                    Ok(outcome) => FileResult::Done(outcome),
                    Err(e) => FileResult::Failed(e),
                },
                Fetch::Absent | Fetch::NoOfficialUrl if file.optional => FileResult::NotAtSource,
                Fetch::Absent => {
                    missing.push(file.path);
                    continue;
                }
                Fetch::NoOfficialUrl => FileResult::Failed(
                    EngineError::new(
                        "DOWNLOAD_FAILED",
                        format!("{} has no official download; it must come from a local copy or a mirror", file.path),
                    )
                    .with_hint(offline_hint(model)),
                ),
            };
            match result {
                FileResult::Done(outcome) => reports.push(FileReport { path: file.path, outcome }),
                FileResult::NotAtSource => {
                    let reason = SkipReason::NotAtSource;
                    on(Progress::Skipped { file: file.path, reason });
                    reports.push(FileReport { path: file.path, outcome: Outcome::Skipped { reason } });
                }
                FileResult::Failed(e) => errors.push(e),
            }
        }

        if let Some(first) = errors.first() {
            let mut err = first.clone();
            if errors.len() > 1 {
                err.message.push_str(&format!(" (and {} more file(s) failed)", errors.len() - 1));
            }
            err.message.push_str(&installed_meanwhile(&reports));
            return Err(err);
        }
        if !missing.is_empty() {
            let from = describe_source(source);
            let message = format!(
                "model {} is not complete: {from} does not have {}{}",
                model.name,
                missing.join(", "),
                installed_meanwhile(&reports)
            );
            return Err(EngineError::new("MODEL_MISSING", message).with_hint(format!(
                "add the missing file(s) with `{} --from <file or folder>`",
                catalog::install_command(model.name)
            )));
        }
        if !model.at_least_one_of.is_empty() {
            let have_one = reports.iter().any(|r| {
                model.at_least_one_of.contains(&r.path)
                    && !matches!(r.outcome, Outcome::Skipped { reason: SkipReason::NotAtSource })
            });
            if !have_one {
                return Err(EngineError::new(
                    "MODEL_MISSING",
                    format!(
                        "model {} needs at least one of {}, and {} has none of them",
                        model.name,
                        model.at_least_one_of.join(", "),
                        describe_source(source)
                    ),
                )
                .with_hint(format!(
                    "add one with `{} --from <file or folder>`",
                    catalog::install_command(model.name)
                )));
            }
        }
        Ok(InstallReport { model: model.name, dir: dir.to_path_buf(), files: reports })
    }

    /// Downloads one file, retrying transport errors with resume.
    async fn download(
        &self,
        model: &ModelSpec,
        dir: &Path,
        file: &'static ModelFile,
        url: &str,
        on: &(dyn Fn(Progress) + Sync),
    ) -> Result<Outcome, Failure> {
        let final_path = file.path_in(dir);
        make_parent(&final_path).map_err(Failure::Fatal)?;
        let partial = partial_path(&final_path);
        let mut leftover = fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        let mut last = None;
        for attempt in 1..=ATTEMPTS {
            let result = match self.attempt(model, &final_path, file, url, on).await {
                // The bytes of an earlier run are suspect, not the source: start over once.
                Err(Failure::Fatal(e)) if leftover > 0 && e.code == "CHECKSUM_MISMATCH" => {
                    remove_if_exists(&partial).map_err(Failure::Fatal)?;
                    on(Progress::LeftoverDiscarded { file: file.path, bytes: std::mem::take(&mut leftover) });
                    tracing::debug!(file = file.path, "leftover .partial did not verify: {}", e.message);
                    self.attempt(model, &final_path, file, url, on).await
                }
                other => other,
            };
            match result {
                Err(Failure::Retry(e)) => {
                    tracing::warn!(file = file.path, attempt, "download interrupted: {}", e.message);
                    last = Some(e);
                    if attempt < ATTEMPTS {
                        tokio::time::sleep(self.retry_delay * attempt).await;
                    }
                }
                other => return other,
            }
        }
        let mut err = last.expect("at least one attempt");
        err.message.push_str(&format!(" (gave up after {ATTEMPTS} attempts; run the install again to resume)"));
        Err(Failure::Fatal(err))
    }

    async fn attempt(
        &self,
        model: &ModelSpec,
        final_path: &Path,
        file: &'static ModelFile,
        url: &str,
        on: &(dyn Fn(Progress) + Sync),
    ) -> Result<Outcome, Failure> {
        let partial = partial_path(final_path);
        let fatal_io =
            |what: &str, e: io::Error| Failure::Fatal(EngineError::io(format!("{what} `{}`", partial.display()), &e));

        let mut have = match tokio::fs::metadata(&partial).await {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => 0,
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(fatal_io("reading", e)),
        };
        if file.size.is_some_and(|size| have > size) {
            remove_if_exists(&partial).map_err(Failure::Fatal)?;
            have = 0;
        }
        let mut hasher = Sha256::new();
        if have > 0 {
            have = hash_file_into(&partial, &mut hasher).await.map_err(|e| fatal_io("reading", e))?;
            if file.size == Some(have) {
                // A complete partial from an earlier run: only verification is left.
                on(Progress::Start { file: file.path, total: Some(have), resumed_from: have });
                return finish(final_path, file, hasher, have, on).map(|sha| Outcome::Downloaded {
                    bytes: have,
                    sha256: sha,
                    resumed_from: have,
                });
            }
        }

        let mut request = self.client.get(url);
        if have > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let host = crate::auth::scrub::url_host(url).unwrap_or_else(|| "the server".to_string());
        let response =
            match self.within_idle(crate::http::send_following(request, MAX_REDIRECTS), file.path, &host, on).await {
                Some(sent) => sent.map_err(|e| Failure::Retry(transport_error(model, file, url, &e)))?,
                None => return Err(Failure::Fatal(self.stalled(model, file, &host, "no answer", have))),
            };
        let status = response.status().as_u16();
        let content_length = response.content_length();
        let content_range = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_content_range);

        let total = match status {
            206 => {
                let Some((start, total)) = content_range else {
                    remove_if_exists(&partial).map_err(Failure::Fatal)?;
                    return Err(Failure::Retry(http_error(
                        model,
                        file,
                        url,
                        status,
                        "206 without a usable Content-Range",
                    )));
                };
                if start != have {
                    // Not the range we asked for: throw the partial away and start over.
                    remove_if_exists(&partial).map_err(Failure::Fatal)?;
                    return Err(Failure::Retry(http_error(
                        model,
                        file,
                        url,
                        status,
                        &format!("asked for bytes from {have}, got bytes from {start}"),
                    )));
                }
                total.or(content_length.map(|n| have + n))
            }
            200..=299 => {
                if have > 0 {
                    // The server ignored the Range header: start over.
                    have = 0;
                    hasher = Sha256::new();
                }
                content_length
            }
            416 if have > 0 => {
                // Nothing more to send: verify what is there.
                on(Progress::Start { file: file.path, total: Some(have), resumed_from: have });
                return finish(final_path, file, hasher, have, on).map(|sha| Outcome::Downloaded {
                    bytes: have,
                    sha256: sha,
                    resumed_from: have,
                });
            }
            404 | 410 => {
                remove_if_exists(&partial).map_err(Failure::Fatal)?;
                return Err(Failure::NotFound(http_error(model, file, url, status, "not found")));
            }
            408 | 425 | 429 | 500..=599 => {
                return Err(Failure::Retry(http_error(model, file, url, status, "server error")))
            }
            _ => return Err(Failure::Fatal(http_error(model, file, url, status, "refused"))),
        }
        .or(file.size);

        if let (Some(expected), Some(total)) = (file.size, total) {
            if expected != total {
                remove_if_exists(&partial).map_err(Failure::Fatal)?;
                return Err(Failure::Fatal(size_mismatch(
                    file,
                    expected,
                    &format!("{total} bytes (as the server reports)"),
                )));
            }
        }

        let mut out = if have > 0 {
            tokio::fs::OpenOptions::new().append(true).open(&partial).await
        } else {
            tokio::fs::File::create(&partial).await
        }
        .map_err(|e| fatal_io("writing", e))?;

        on(Progress::Start { file: file.path, total, resumed_from: have });
        let resumed_from = have;
        let mut done = have;
        let mut emitted = have;
        let mut stream = response.bytes_stream();
        loop {
            let Some(next) = self.within_idle(stream.next(), file.path, &host, on).await else {
                let _ = out.flush().await;
                return Err(Failure::Fatal(self.stalled(model, file, &host, "no data", done)));
            };
            let Some(chunk) = next else { break };
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    // Keep what arrived for the next attempt.
                    let _ = out.flush().await;
                    return Err(Failure::Retry(transport_error(model, file, url, &e)));
                }
            };
            let len = chunk.len() as u64;
            if let Some(expected) = file.size.filter(|s| done + len > *s) {
                drop(out);
                remove_if_exists(&partial).map_err(Failure::Fatal)?;
                return Err(Failure::Fatal(size_mismatch(file, expected, &format!("more than {expected} bytes"))));
            }
            out.write_all(&chunk).await.map_err(|e| fatal_io("writing", e))?;
            hasher.update(&chunk);
            done += len;
            if done - emitted >= EMIT_EVERY {
                on(Progress::Bytes { file: file.path, done, total });
                emitted = done;
            }
        }
        if done != emitted || done == 0 {
            on(Progress::Bytes { file: file.path, done, total });
        }
        out.flush().await.map_err(|e| fatal_io("writing", e))?;
        out.sync_all().await.map_err(|e| fatal_io("syncing", e))?;
        drop(out);
        if total.is_some_and(|t| done < t) {
            return Err(Failure::Retry(http_error(
                model,
                file,
                url,
                status,
                &format!("the connection closed after {done} of {} bytes", total.unwrap_or_default()),
            )));
        }
        let sha256 = finish(final_path, file, hasher, done, on)?;
        Ok(Outcome::Downloaded { bytes: done, sha256, resumed_from })
    }

    /// The error for a server that went quiet: which host, for how long, and what was kept.
    fn stalled(&self, model: &ModelSpec, file: &ModelFile, host: &str, what: &str, kept: u64) -> EngineError {
        let kept = if kept > 0 {
            format!("; the {kept} bytes received are kept and the next install resumes from them")
        } else {
            String::new()
        };
        EngineError::new(
            "DOWNLOAD_STALLED",
            format!("downloading {} stopped: {what} from {host} for {:.0}s{kept}", file.path, self.idle.as_secs_f64()),
        )
        .with_hint(format!(
            "check the connection to {host} and run `{}` again ({ENV_IDLE_TIMEOUT} sets how long to wait); {}",
            catalog::install_command(model.name),
            offline_hint(model)
        ))
    }
}

/// What a failed install did put in place, said exactly: ` (installed: a, b)` or
/// ` (nothing was installed)`; files already there before are not counted.
fn installed_meanwhile(reports: &[FileReport]) -> String {
    let done: Vec<&str> =
        reports.iter().filter(|r| !matches!(r.outcome, Outcome::Skipped { .. })).map(|r| r.path).collect();
    if done.is_empty() {
        " (nothing was installed)".to_string()
    } else {
        format!(" (installed: {})", done.join(", "))
    }
}

/// Copies a local file in, with the same verify-then-rename rule.
async fn copy_in(
    dir: &Path,
    file: &'static ModelFile,
    src: &Path,
    on: &(dyn Fn(Progress) + Sync),
) -> EngineResult<Outcome> {
    let final_path = file.path_in(dir);
    make_parent(&final_path)?;
    let partial = partial_path(&final_path);
    let src_io = |e: io::Error| EngineError::io(format!("reading `{}`", src.display()), &e);
    let dst_io = |e: io::Error| EngineError::io(format!("writing `{}`", partial.display()), &e);

    let total = tokio::fs::metadata(src).await.map_err(src_io)?.len();
    on(Progress::Copying { file: file.path, total });
    if let Some(expected) = file.size.filter(|s| *s != total) {
        return Err(size_mismatch(file, expected, &format!("{total} bytes (`{}`)", src.display())));
    }
    let mut input = tokio::fs::File::open(src).await.map_err(src_io)?;
    let mut out = tokio::fs::File::create(&partial).await.map_err(dst_io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    let mut emitted = 0u64;
    loop {
        let n = match input.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                drop(out);
                let _ = remove_if_exists(&partial);
                return Err(src_io(e));
            }
        };
        if let Err(e) = out.write_all(&buf[..n]).await {
            drop(out);
            let _ = remove_if_exists(&partial);
            return Err(dst_io(e));
        }
        hasher.update(&buf[..n]);
        done += n as u64;
        if done - emitted >= EMIT_EVERY {
            on(Progress::Bytes { file: file.path, done, total: Some(total) });
            emitted = done;
        }
    }
    if done != emitted || done == 0 {
        on(Progress::Bytes { file: file.path, done, total: Some(total) });
    }
    let synced = async {
        out.flush().await?;
        out.sync_all().await
    }
    .await;
    drop(out);
    if let Err(e) = synced {
        let _ = remove_if_exists(&partial);
        return Err(dst_io(e));
    }
    let sha256 = finish(&final_path, file, hasher, done, on).map_err(|f| match f {
        Failure::Retry(e) | Failure::NotFound(e) | Failure::Fatal(e) => e,
    })?;
    Ok(Outcome::Copied { bytes: done, sha256, from: src.to_path_buf() })
}

/// Checks the finished `.partial` (its `bytes` and running hash) against the
/// catalog, then moves it into place and records the digest. On a mismatch
/// the partial is deleted.
fn finish(
    final_path: &Path,
    file: &'static ModelFile,
    hasher: Sha256,
    bytes: u64,
    on: &(dyn Fn(Progress) + Sync),
) -> Result<String, Failure> {
    on(Progress::Verifying { file: file.path });
    let partial = partial_path(final_path);
    let actual = super::catalog::to_hex(&hasher.finalize());
    if let Some(expected) = file.size.filter(|s| *s != bytes) {
        remove_if_exists(&partial).map_err(Failure::Fatal)?;
        return Err(Failure::Fatal(size_mismatch(file, expected, &format!("{bytes} bytes"))));
    }
    if let Some(expected) = file.sha256.filter(|h| !h.eq_ignore_ascii_case(&actual)) {
        remove_if_exists(&partial).map_err(Failure::Fatal)?;
        return Err(Failure::Fatal(
            EngineError::new(
                "CHECKSUM_MISMATCH",
                format!("{}: sha256 mismatch: expected {}, got {actual}", file.path, expected.to_ascii_lowercase()),
            )
            .with_hint(
                "the source delivered different bytes than the catalog pins, so this file was not installed. \
                 Retry, or check the mirror or the --from file",
            ),
        ));
    }
    let io_err =
        |what: &str, e: io::Error| Failure::Fatal(EngineError::io(format!("{what} `{}`", final_path.display()), &e));
    let _ = fs::remove_file(catalog::sidecar_path(final_path));
    crate::fsio::move_into_place(&partial, final_path).map_err(|e| io_err("moving into place", e))?;
    if let Err(e) = catalog::record_verified(final_path, &actual) {
        tracing::debug!(path = %final_path.display(), "could not record the verified digest: {e}");
    }
    on(Progress::Done { file: file.path });
    Ok(actual)
}

// ---------------------------------------------------------------------------
// Removing and verifying
// ---------------------------------------------------------------------------

fn remove_among(model: &ModelSpec, dir: &Path, catalog: &[ModelSpec]) -> EngineResult<Vec<PathBuf>> {
    let others: Vec<&ModelSpec> = catalog
        .iter()
        .filter(|o| o.name != model.name)
        .filter(|o| o.files.iter().any(|f| model.files.iter().any(|m| m.path == f.path)))
        .filter(|o| catalog::status(dir, o, false).installed)
        .collect();
    let mut removed = Vec::new();
    for file in model.files {
        let shared_with = others.iter().find(|o| o.files.iter().any(|f| f.path == file.path));
        if let Some(other) = shared_with {
            tracing::debug!(file = file.path, model = other.name, "kept: used by another installed model");
            continue;
        }
        let final_path = file.path_in(dir);
        for path in [final_path.clone(), partial_path(&final_path)] {
            if remove_if_exists(&path)? {
                removed.push(path);
            }
        }
        remove_if_exists(&catalog::sidecar_path(&final_path))?;
        super::kokoro::model::remove_derived(&final_path);
    }
    // Drop the model's folder (and nothing else) once it is empty.
    let _ = fs::remove_dir(model.dir_in(dir));
    Ok(removed)
}

fn verify_file(dir: &Path, file: &ModelFile) -> io::Result<FileState> {
    let path = file.path_in(dir);
    let meta = match fs::metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Ok(FileState::Missing),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(e) => return Err(e),
    };
    let size = meta.len();
    if let Some(expected) = file.size.filter(|s| *s != size) {
        return Ok(FileState::Corrupt { expected: format!("{expected} bytes"), actual: format!("{size} bytes") });
    }
    let Some(expected) = file.sha256 else {
        return Ok(FileState::Present { size });
    };
    let actual = catalog::sha256_file(&path)?;
    if actual.eq_ignore_ascii_case(expected) {
        if let Err(e) = catalog::record_verified(&path, &actual) {
            tracing::debug!(path = %path.display(), "could not record the verified digest: {e}");
        }
        Ok(FileState::Verified)
    } else {
        let _ = fs::remove_file(catalog::sidecar_path(&path));
        Ok(FileState::Corrupt { expected: expected.to_ascii_lowercase(), actual })
    }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Parses `bytes START-END/TOTAL` (TOTAL may be `*`) into `(START, TOTAL)`.
fn parse_content_range(value: &str) -> Option<(u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

/// Hashes a whole file into `hasher`; returns its length.
async fn hash_file_into(path: &Path, hasher: &mut Sha256) -> io::Result<u64> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        match file.read(&mut buf).await {
            Ok(0) => return Ok(total),
            Ok(n) => {
                hasher.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

fn make_parent(path: &Path) -> EngineResult<()> {
    match path.parent() {
        Some(parent) => {
            fs::create_dir_all(parent).map_err(|e| EngineError::io(format!("creating `{}`", parent.display()), &e))
        }
        None => Ok(()),
    }
}

/// Deletes a file; `Ok(false)` when it was not there.
fn remove_if_exists(path: &Path) -> EngineResult<bool> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(EngineError::io(format!("removing `{}`", path.display()), &e)),
    }
}

/// A URL as messages show it: no userinfo, query or fragment (they may carry credentials).
fn redact(url: &str) -> String {
    crate::auth::scrub::display_url(url)
}

fn describe_source(source: &Source) -> String {
    match source {
        Source::From(p) => format!("`{}`", p.display()),
        Source::FromUrl(u) => format!("`{}`", redact(u)),
        Source::Mirror(u) => format!("the mirror `{}`", redact(u)),
        Source::Official => "the official source".to_string(),
    }
}

fn offline_hint(model: &ModelSpec) -> String {
    format!(
        "on a machine without access to the official host, copy the files over and run `{} --from <folder>`, \
         or set {ENV_MIRROR} to a mirror serving <mirror>/<path> (e.g. <mirror>/{})",
        catalog::install_command(model.name),
        model.files.first().map_or("…", |f| f.path),
    )
}

fn http_error(model: &ModelSpec, file: &ModelFile, url: &str, status: u16, what: &str) -> EngineError {
    EngineError::new(
        "DOWNLOAD_FAILED",
        format!("downloading {} from {} failed: HTTP {status} ({what})", file.path, redact(url)),
    )
    .with_hint(offline_hint(model))
}

fn transport_error(model: &ModelSpec, file: &ModelFile, url: &str, e: &reqwest::Error) -> EngineError {
    EngineError::new(
        "DOWNLOAD_FAILED",
        format!("downloading {} from {} failed: {}", file.path, redact(url), crate::http::describe(e)),
    )
    .with_hint(offline_hint(model))
}

fn size_mismatch(file: &ModelFile, expected: u64, actual: &str) -> EngineError {
    EngineError::new(
        "CHECKSUM_MISMATCH",
        format!("{}: size mismatch: expected {expected} bytes, got {actual}", file.path),
    )
    .with_hint("the source has a different file than the catalog pins, so this file was not installed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    use crate::test_support::http::{Recorded, Scripted, TestServer};

    // ---- files served by the crate's test server ----------------------------------------

    #[derive(Default)]
    struct Served {
        body: Vec<u8>,
        /// Close the connection after this many body bytes, once.
        drop_after_once: Option<usize>,
        /// Close the connection after this many body bytes, every time.
        drop_after_always: Option<usize>,
        /// Serve the body with one byte flipped.
        corrupt: bool,
        /// Answer every request with the whole body (200).
        ignore_range: bool,
        /// Answer the first request with this status.
        fail_once: Option<u16>,
        /// Send the head and this many body bytes, then nothing more (the connection stays open).
        stall_after: Option<usize>,
        dropped: AtomicBool,
        failed: AtomicBool,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Request {
        path: String,
        range: Option<String>,
    }

    type Files = Arc<Mutex<HashMap<String, Arc<Served>>>>;

    /// A file server with byte ranges, on [`TestServer`].
    struct Server {
        http: TestServer,
        base: String,
        files: Files,
    }

    impl Server {
        async fn start() -> Server {
            let files = Files::default();
            let f = files.clone();
            let http = TestServer::routed(move |req| (Duration::ZERO, reply(&f, req))).await;
            Server { base: http.url(), http, files }
        }

        fn put(&self, path: &str, served: Served) {
            self.files.lock().unwrap().insert(path.to_string(), Arc::new(served));
        }

        fn url(&self, path: &str) -> String {
            format!("{}/{path}", self.base)
        }

        fn requests_for(&self, path: &str) -> Vec<Request> {
            let want = format!("/{path}");
            self.http
                .requests()
                .iter()
                .filter(|r| r.target.ends_with(&want))
                .map(|r| Request { path: r.target.clone(), range: r.header("range").map(str::to_string) })
                .collect()
        }
    }

    fn reply(files: &Files, req: &Recorded) -> Scripted {
        let served = files.lock().unwrap().get(&req.target).cloned();
        let Some(served) = served else { return Scripted::bytes(404, "text/plain", Vec::new()) };
        if let Some(status) = served.fail_once {
            if !served.failed.swap(true, Ordering::SeqCst) {
                return Scripted::bytes(status, "text/plain", Vec::new());
            }
        }
        let mut body = served.body.clone();
        if served.corrupt {
            let mid = body.len() / 2;
            body[mid] ^= 0xff;
        }
        let len = body.len();
        let start = req
            .header("range")
            .filter(|_| !served.ignore_range)
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|n| n.parse::<usize>().ok());
        let (status, headers, body) = match start {
            Some(s) if s >= len => (416, vec![("content-range".into(), format!("bytes */{len}"))], Vec::new()),
            Some(s) => {
                (206, vec![("content-range".into(), format!("bytes {s}-{}/{len}", len - 1))], body[s..].to_vec())
            }
            None => (200, Vec::new(), body),
        };
        let declared = body.len();
        let mut cut = served.drop_after_always;
        if let Some(n) = served.drop_after_once {
            if !served.dropped.swap(true, Ordering::SeqCst) {
                cut = Some(n);
            }
        }
        let (sent, hold) = match served.stall_after {
            Some(n) => (n, true),
            None => (cut.unwrap_or(declared), false),
        };
        let body = body[..sent.min(declared)].to_vec();
        Scripted::Partial { status, headers, declared, body, hold }
    }

    // ---- fake catalog ----------------------------------------------------------------

    fn leak(s: String) -> &'static str {
        Box::leak(s.into_boxed_str())
    }

    fn content(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    fn sha(bytes: &[u8]) -> &'static str {
        leak(crate::engines::catalog::sha256_hex(bytes))
    }

    fn file(path: &'static str, url: Option<String>, body: &[u8], optional: bool) -> ModelFile {
        ModelFile { path, url: url.map(leak), size: Some(body.len() as u64), sha256: Some(sha(body)), optional }
    }

    fn spec(name: &'static str, files: Vec<ModelFile>) -> &'static ModelSpec {
        Box::leak(Box::new(ModelSpec {
            name,
            capability: "voice",
            label: "test model",
            license: "MIT",
            source: "tests",
            files: Box::leak(files.into_boxed_slice()),
            at_least_one_of: &[],
        }))
    }

    /// Collects progress events.
    #[derive(Default)]
    struct Events(Mutex<Vec<Progress>>);
    impl Events {
        fn take(&self) -> Vec<Progress> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    fn installer() -> Installer {
        Installer::new(Duration::from_millis(10)).unwrap()
    }

    async fn run(model: &ModelSpec, dir: &Path, source: Source, events: &Events) -> EngineResult<InstallReport> {
        installer().run(model, dir, &source, &|p| events.0.lock().unwrap().push(p)).await
    }

    fn partials_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.to_string_lossy().ends_with(PARTIAL_SUFFIX) {
                    out.push(p);
                }
            }
        }
        out
    }

    const BIG: usize = 700_000;

    // ---- tests -----------------------------------------------------------------------

    #[tokio::test]
    async fn full_download_then_already_installed() {
        let server = Server::start().await;
        let big = content(BIG, 1);
        let small = content(1_000, 2);
        server.put("/r/model.onnx", Served { body: big.clone(), ..Default::default() });
        server.put("/r/voices.bin", Served { body: small.clone(), ..Default::default() });
        let model = spec(
            "t-full",
            vec![
                file("t/model.onnx", Some(server.url("r/model.onnx")), &big, false),
                file("t/voices.bin", Some(server.url("r/voices.bin")), &small, false),
                // Optional and 404 at the source: skipped.
                file("t/extra.npz", Some(server.url("r/extra.npz")), b"x", true),
            ],
        );
        let tmp = tempfile::tempdir().unwrap();
        let events = Events::default();
        let report = run(model, tmp.path(), Source::Official, &events).await.unwrap();

        assert_eq!(fs::read(tmp.path().join("t/model.onnx")).unwrap(), big);
        assert_eq!(fs::read(tmp.path().join("t/voices.bin")).unwrap(), small);
        assert!(!tmp.path().join("t/extra.npz").exists());
        assert!(partials_under(tmp.path()).is_empty());
        assert!(catalog::sidecar_path(&tmp.path().join("t/model.onnx")).is_file());
        assert!(catalog::status(tmp.path(), model, true).installed);
        assert_eq!(
            report.files[0].outcome,
            Outcome::Downloaded { bytes: BIG as u64, sha256: model.files[0].sha256.unwrap().into(), resumed_from: 0 }
        );
        assert_eq!(report.files[2].outcome, Outcome::Skipped { reason: SkipReason::NotAtSource });

        let ev = events.take();
        let f = "t/model.onnx";
        assert_eq!(ev[0], Progress::Start { file: f, total: Some(BIG as u64), resumed_from: 0 });
        let bytes: Vec<u64> = ev
            .iter()
            .filter_map(|e| match e {
                Progress::Bytes { file, done, .. } if *file == f => Some(*done),
                _ => None,
            })
            .collect();
        assert!(bytes.len() >= 2 && bytes.windows(2).all(|w| w[0] < w[1]), "{bytes:?}");
        assert_eq!(*bytes.last().unwrap(), BIG as u64);
        assert!(ev.contains(&Progress::Verifying { file: f }));
        assert!(ev.contains(&Progress::Done { file: f }));
        assert_eq!(ev.last().unwrap(), &Progress::Skipped { file: "t/extra.npz", reason: SkipReason::NotAtSource });

        // Again: nothing is fetched.
        let before = server.http.requests().len();
        let report = run(model, tmp.path(), Source::Official, &events).await.unwrap();
        assert_eq!(server.http.requests().len(), before + 1, "only the optional file is asked for again");
        assert_eq!(report.files[0].outcome, Outcome::Skipped { reason: SkipReason::AlreadyInstalled });
        assert_eq!(report.files[1].outcome, Outcome::Skipped { reason: SkipReason::AlreadyInstalled });
        let ev = events.take();
        assert_eq!(ev[0], Progress::Skipped { file: f, reason: SkipReason::AlreadyInstalled });

        // Progress serialises for --json.
        let json = serde_json::to_value(&ev[0]).unwrap();
        assert_eq!(json, serde_json::json!({"event": "skipped", "file": f, "reason": "already_installed"}));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["files"][0]["outcome"], "skipped");
    }

    #[tokio::test]
    async fn disconnect_mid_file_resumes_from_partial() {
        let server = Server::start().await;
        let big = content(BIG, 3);
        server.put("/m.onnx", Served { body: big.clone(), drop_after_once: Some(300_000), ..Default::default() });
        let model = spec("t-resume", vec![file("t/m.onnx", Some(server.url("m.onnx")), &big, false)]);
        let tmp = tempfile::tempdir().unwrap();
        let events = Events::default();
        let report = run(model, tmp.path(), Source::Official, &events).await.unwrap();

        let reqs = server.requests_for("m.onnx");
        assert_eq!(reqs.len(), 2, "{reqs:?}");
        assert_eq!(reqs[0].range, None);
        assert_eq!(reqs[1].range.as_deref(), Some("bytes=300000-"));
        let path = tmp.path().join("t/m.onnx");
        assert_eq!(catalog::sha256_file(&path).unwrap(), model.files[0].sha256.unwrap());
        assert!(partials_under(tmp.path()).is_empty());
        assert_eq!(
            report.files[0].outcome,
            Outcome::Downloaded {
                bytes: BIG as u64,
                sha256: model.files[0].sha256.unwrap().into(),
                resumed_from: 300_000
            }
        );
        let starts: Vec<_> = events.take().into_iter().filter(|e| matches!(e, Progress::Start { .. })).collect();
        assert_eq!(
            starts,
            [
                Progress::Start { file: "t/m.onnx", total: Some(BIG as u64), resumed_from: 0 },
                Progress::Start { file: "t/m.onnx", total: Some(BIG as u64), resumed_from: 300_000 },
            ]
        );
    }

    #[tokio::test]
    async fn partial_from_an_earlier_run_is_resumed_or_restarted() {
        let server = Server::start().await;
        let big = content(BIG, 4);
        server.put("/a.bin", Served { body: big.clone(), ..Default::default() });
        server.put("/b.bin", Served { body: big.clone(), ignore_range: true, ..Default::default() });
        let model = spec(
            "t-partial",
            vec![
                file("t/a.bin", Some(server.url("a.bin")), &big, false),
                file("t/b.bin", Some(server.url("b.bin")), &big, false),
            ],
        );
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("t")).unwrap();
        fs::write(tmp.path().join("t/a.bin.partial"), &big[..123_456]).unwrap();
        // Garbage prefix, but the server ignores Range: the 200 restarts the file.
        fs::write(tmp.path().join("t/b.bin.partial"), vec![0u8; 5_000]).unwrap();

        let report = run(model, tmp.path(), Source::Official, &Events::default()).await.unwrap();
        assert_eq!(server.requests_for("a.bin")[0].range.as_deref(), Some("bytes=123456-"));
        assert_eq!(server.requests_for("b.bin")[0].range.as_deref(), Some("bytes=5000-"));
        assert_eq!(fs::read(tmp.path().join("t/a.bin")).unwrap(), big);
        assert_eq!(fs::read(tmp.path().join("t/b.bin")).unwrap(), big);
        assert!(matches!(report.files[0].outcome, Outcome::Downloaded { resumed_from: 123_456, .. }));
        assert!(matches!(report.files[1].outcome, Outcome::Downloaded { resumed_from: 0, .. }));
        assert!(partials_under(tmp.path()).is_empty());
    }

    #[tokio::test]
    async fn complete_partial_with_unknown_size_is_verified_after_416() {
        let server = Server::start().await;
        let body = content(10_000, 5);
        server.put("/c.bin", Served { body: body.clone(), ..Default::default() });
        let mut f = file("t/c.bin", Some(server.url("c.bin")), &body, false);
        f.size = None;
        let model = spec("t-416", vec![f]);
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("t")).unwrap();
        fs::write(tmp.path().join("t/c.bin.partial"), &body).unwrap();

        run(model, tmp.path(), Source::Official, &Events::default()).await.unwrap();
        assert_eq!(server.requests_for("c.bin")[0].range.as_deref(), Some("bytes=10000-"));
        assert_eq!(fs::read(tmp.path().join("t/c.bin")).unwrap(), body);
        assert!(partials_under(tmp.path()).is_empty());
    }

    #[tokio::test]
    async fn transient_errors_are_retried_then_given_up() {
        let server = Server::start().await;
        let body = content(50_000, 6);
        server.put("/ok.bin", Served { body: body.clone(), fail_once: Some(503), ..Default::default() });
        server.put("/flaky.bin", Served { body: body.clone(), drop_after_always: Some(0), ..Default::default() });
        let ok = spec("t-503", vec![file("t/ok.bin", Some(server.url("ok.bin")), &body, false)]);
        let flaky = spec("t-flaky", vec![file("t/flaky.bin", Some(server.url("flaky.bin")), &body, false)]);
        let tmp = tempfile::tempdir().unwrap();

        run(ok, tmp.path(), Source::Official, &Events::default()).await.unwrap();
        assert_eq!(server.requests_for("ok.bin").len(), 2);

        let err = run(flaky, tmp.path(), Source::Official, &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "DOWNLOAD_FAILED");
        assert!(err.message.contains("gave up after 3 attempts"), "{}", err.message);
        assert_eq!(server.requests_for("flaky.bin").len(), ATTEMPTS as usize);
        assert!(!tmp.path().join("t/flaky.bin").exists());
    }

    #[tokio::test]
    async fn checksum_mismatch_leaves_nothing_behind() {
        let server = Server::start().await;
        let big = content(BIG, 7);
        server.put("/bad.onnx", Served { body: big.clone(), corrupt: true, ..Default::default() });
        let model = spec("t-bad", vec![file("t/bad.onnx", Some(server.url("bad.onnx")), &big, false)]);
        let tmp = tempfile::tempdir().unwrap();
        let err = run(model, tmp.path(), Source::Official, &Events::default()).await.unwrap_err();

        assert_eq!(err.code, "CHECKSUM_MISMATCH");
        let expected = model.files[0].sha256.unwrap();
        let mut wrong = big.clone();
        wrong[BIG / 2] ^= 0xff;
        assert!(err.message.contains(expected), "{}", err.message);
        assert!(err.message.contains(sha(&wrong)), "{}", err.message);
        assert!(!tmp.path().join("t/bad.onnx").exists());
        assert!(partials_under(tmp.path()).is_empty());
        assert_eq!(server.requests_for("bad.onnx").len(), 1, "a checksum mismatch is not retried");
    }

    #[tokio::test]
    async fn missing_required_file_is_an_error() {
        let server = Server::start().await;
        let body = content(2_000, 8);
        let model = spec("t-404", vec![file("t/gone.onnx", Some(server.url("gone.onnx")), &body, false)]);
        let tmp = tempfile::tempdir().unwrap();
        let err = run(model, tmp.path(), Source::Official, &Events::default()).await.unwrap_err();

        assert_eq!(err.code, "DOWNLOAD_FAILED");
        assert!(err.message.contains("HTTP 404"), "{}", err.message);
        let hint = err.hint.unwrap();
        assert!(hint.contains("--from") && hint.contains(ENV_MIRROR), "{hint}");
        assert!(!tmp.path().join("t/gone.onnx").exists());
        assert!(partials_under(tmp.path()).is_empty());
        assert!(!catalog::status(tmp.path(), model, false).installed);
        assert_eq!(server.requests_for("gone.onnx").len(), 1, "a 404 is not retried");

        // No official URL at all for a required file.
        let no_url = spec("t-nourl", vec![file("t/x.onnx", None, &body, false)]);
        let err = run(no_url, tmp.path(), Source::Official, &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "DOWNLOAD_FAILED");
        assert!(err.message.contains("no official download"), "{}", err.message);
    }

    #[tokio::test]
    async fn mirror_and_from_url() {
        let server = Server::start().await;
        let a = content(3_000, 9);
        let b = content(4_000, 10);
        server.put("/mirror/t/a.bin", Served { body: a.clone(), ..Default::default() });
        server.put("/mirror/t/b.bin", Served { body: b.clone(), ..Default::default() });
        server.put("/loose/b.bin", Served { body: b.clone(), ..Default::default() });
        let model = spec(
            "t-mirror",
            vec![
                // The official URL is unreachable; the mirror must be used instead.
                file("t/a.bin", Some("http://127.0.0.1:9/a.bin".into()), &a, false),
                file("t/b.bin", None, &b, false),
            ],
        );
        let tmp = tempfile::tempdir().unwrap();
        run(model, tmp.path(), Source::Mirror(server.url("mirror/")), &Events::default()).await.unwrap();
        assert!(catalog::status(tmp.path(), model, true).installed);

        // FromUrl naming one file installs just that file; the rest must already be there.
        let tmp2 = tempfile::tempdir().unwrap();
        let err =
            run(model, tmp2.path(), Source::FromUrl(server.url("loose/b.bin")), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "MODEL_MISSING");
        assert!(err.message.contains("t/a.bin") && err.message.contains("(installed: t/b.bin)"), "{}", err.message);
        assert_eq!(fs::read(tmp2.path().join("t/b.bin")).unwrap(), b);
        // FromUrl that names no file is a mirror base.
        run(model, tmp2.path(), Source::FromUrl(server.url("mirror")), &Events::default()).await.unwrap();
        assert!(catalog::status(tmp2.path(), model, true).installed);

        let err = run(model, tmp2.path(), Source::Mirror("ftp://x".into()), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "DOWNLOAD_FAILED");
    }

    /// A signed mirror (`?sig=…` on the base) answers each file with a redirect to a CDN on
    /// another origin, as hubs do: every file is asked for with the query kept, and the CDN gets no
    /// `Referer` (which would carry the signature).
    #[tokio::test]
    async fn signed_mirror_keeps_its_query_and_redirects_leak_nothing() {
        let cdn = Server::start().await;
        let a = content(3_000, 11);
        let b = content(2_000, 12);
        cdn.put("/cdn/a", Served { body: a.clone(), ..Default::default() });
        cdn.put("/cdn/b", Served { body: b.clone(), ..Default::default() });
        let cdn_base = cdn.base.clone();
        let mirror = TestServer::routed(move |req| {
            let to = match req.target.as_str() {
                "/m/t/a.bin?sig=s3cr3t-0001" => "/cdn/a",
                "/m/t/sub/b.bin?sig=s3cr3t-0001" => "/cdn/b",
                _ => return (Duration::ZERO, Scripted::bytes(404, "text/plain", Vec::new())),
            };
            let reply =
                Scripted::bytes(302, "text/plain", Vec::new()).with_header("location", &format!("{cdn_base}{to}"));
            (Duration::ZERO, reply)
        })
        .await;
        let model = spec("t-signed", vec![file("t/a.bin", None, &a, false), file("t/sub/b.bin", None, &b, false)]);
        let tmp = tempfile::tempdir().unwrap();
        let base = format!("{}/m/?sig=s3cr3t-0001#frag", mirror.url());
        run(model, tmp.path(), Source::Mirror(base), &Events::default()).await.unwrap();
        assert!(catalog::status(tmp.path(), model, true).installed);
        let asked: Vec<String> = mirror.requests().iter().map(|r| r.target.clone()).collect();
        assert_eq!(asked, ["/m/t/a.bin?sig=s3cr3t-0001", "/m/t/sub/b.bin?sig=s3cr3t-0001"]);
        let at_cdn = cdn.http.requests();
        assert_eq!(at_cdn.len(), 2);
        for r in &at_cdn {
            assert_eq!(r.header("referer"), None, "{r:?}");
            assert!(!format!("{r:?}").contains("s3cr3t"), "{r:?}");
        }
    }

    #[test]
    fn mirror_plan_joins_onto_the_path() {
        let model = spec("t-join", vec![file("t/x.onnx", None, b"x", false)]);
        let urls = |base: &str| -> Vec<String> {
            mirror_plan(model, base)
                .unwrap()
                .into_iter()
                .map(|f| match f {
                    Fetch::Url(u) => u,
                    _ => unreachable!(),
                })
                .collect()
        };
        assert_eq!(urls("https://m.test/a/b?sig=abc&e=1"), ["https://m.test/a/b/t/x.onnx?sig=abc&e=1"]);
        assert_eq!(urls("https://m.test/a//"), ["https://m.test/a/t/x.onnx"]);
        assert_eq!(urls("https://m.test"), ["https://m.test/t/x.onnx"]);
    }

    #[test]
    fn mirror_env_turns_official_into_mirror() {
        assert_eq!(Source::Official.with_mirror(Some("https://m/")), Source::Mirror("https://m/".into()));
        assert_eq!(Source::Official.with_mirror(Some("  ")), Source::Official);
        assert_eq!(Source::Official.with_mirror(None), Source::Official);
        let from = Source::From("/x".into());
        assert_eq!(from.clone().with_mirror(Some("https://m/")), from);

        let _lock = crate::test_support::env_lock();
        let _env = crate::test_support::EnvGuard::set(&[(ENV_MIRROR, Some("http://127.0.0.1:1/m"))]);
        assert_eq!(Source::Official.resolved(), Source::Mirror("http://127.0.0.1:1/m".into()));
        let _env = crate::test_support::EnvGuard::set(&[(ENV_MIRROR, Some(""))]);
        assert_eq!(Source::Official.resolved(), Source::Official);
    }

    #[tokio::test]
    async fn from_folder_and_single_file() {
        let a = content(300_000, 11);
        let b = content(5_000, 12);
        let model = spec(
            "t-from",
            vec![
                file("t/a.onnx", None, &a, false),
                file("t/b.bin", None, &b, false),
                file("t/opt.npz", None, b"nope", true),
            ],
        );
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("sub")).unwrap();
        fs::write(src.path().join("a.onnx"), &a).unwrap();
        // One level down, next to a wrong-sized decoy in an earlier folder.
        fs::create_dir_all(src.path().join("aaa")).unwrap();
        fs::write(src.path().join("aaa/b.bin"), b"decoy").unwrap();
        fs::write(src.path().join("sub/b.bin"), &b).unwrap();

        let tmp = tempfile::tempdir().unwrap();
        let events = Events::default();
        let report = run(model, tmp.path(), Source::From(src.path().to_path_buf()), &events).await.unwrap();
        assert_eq!(fs::read(tmp.path().join("t/a.onnx")).unwrap(), a);
        assert_eq!(fs::read(tmp.path().join("t/b.bin")).unwrap(), b);
        assert!(src.path().join("a.onnx").is_file() && src.path().join("sub/b.bin").is_file(), "copied, not moved");
        assert_eq!(
            report.files[1].outcome,
            Outcome::Copied { bytes: 5_000, sha256: sha(&b).into(), from: src.path().join("sub/b.bin") }
        );
        assert_eq!(report.files[2].outcome, Outcome::Skipped { reason: SkipReason::NotAtSource });
        assert!(catalog::status(tmp.path(), model, true).installed);
        assert!(partials_under(tmp.path()).is_empty());
        let seen = events.take();
        assert!(seen.contains(&Progress::Done { file: "t/a.onnx" }));
        assert!(seen.contains(&Progress::Copying { file: "t/b.bin", total: 5_000 }), "copies say so: {seen:?}");

        // Single files: by name, then by digest under another name.
        let tmp = tempfile::tempdir().unwrap();
        let err =
            run(model, tmp.path(), Source::From(src.path().join("a.onnx")), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "MODEL_MISSING", "b.bin is still missing");
        assert_eq!(fs::read(tmp.path().join("t/a.onnx")).unwrap(), a);
        fs::write(src.path().join("renamed.dat"), &b).unwrap();
        run(model, tmp.path(), Source::From(src.path().join("renamed.dat")), &Events::default()).await.unwrap();
        assert_eq!(fs::read(tmp.path().join("t/b.bin")).unwrap(), b);

        // A file that is none of the model's.
        fs::write(src.path().join("other.dat"), b"something else").unwrap();
        let err =
            run(model, tmp.path(), Source::From(src.path().join("other.dat")), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "MODEL_MISSING");

        // Right name, wrong bytes: refused, nothing left behind.
        let tmp = tempfile::tempdir().unwrap();
        let wrong = src.path().join("wrong");
        fs::create_dir_all(&wrong).unwrap();
        let mut bad = a.clone();
        bad[7] ^= 1;
        fs::write(wrong.join("a.onnx"), &bad).unwrap();
        let err = run(model, tmp.path(), Source::From(wrong.join("a.onnx")), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "CHECKSUM_MISMATCH");
        assert!(!tmp.path().join("t/a.onnx").exists());
        assert!(partials_under(tmp.path()).is_empty());
        fs::write(wrong.join("a.onnx"), b"short").unwrap();
        let err = run(model, tmp.path(), Source::From(wrong.join("a.onnx")), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "CHECKSUM_MISMATCH");
        assert!(err.message.contains("size mismatch"), "{}", err.message);

        // A source path that does not exist.
        let err = run(model, tmp.path(), Source::From(src.path().join("nope")), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "IO_ERROR");
    }

    #[tokio::test]
    async fn corrupt_installed_file_is_replaced() {
        let a = content(9_000, 13);
        let model = spec("t-replace", vec![file("t/a.onnx", None, &a, false)]);
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("a.onnx"), &a).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("t")).unwrap();
        let mut bad = a.clone();
        bad[0] ^= 1;
        fs::write(tmp.path().join("t/a.onnx"), &bad).unwrap();
        let report = run(model, tmp.path(), Source::From(src.path().into()), &Events::default()).await.unwrap();
        assert!(matches!(report.files[0].outcome, Outcome::Copied { .. }));
        assert_eq!(fs::read(tmp.path().join("t/a.onnx")).unwrap(), a);
    }

    #[test]
    fn remove_keeps_files_shared_with_an_installed_model() {
        let m = content(100, 14);
        let f = content(200, 15);
        let v = content(50, 16);
        let shared = file("k/voices.bin", None, &v, false);
        let int8 = ModelSpec {
            name: "t-int8",
            capability: "voice",
            label: "",
            license: "",
            source: "",
            files: Box::leak(vec![file("k/m.onnx", None, &m, false), shared].into_boxed_slice()),
            at_least_one_of: &[],
        };
        let fp32 = ModelSpec {
            name: "t-fp32",
            files: Box::leak(vec![file("k/f.onnx", None, &f, false), shared].into_boxed_slice()),
            ..int8
        };
        let all = [int8, fp32];
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::create_dir_all(dir.join("k")).unwrap();
        fs::write(dir.join("k/m.onnx"), &m).unwrap();
        fs::write(dir.join("k/f.onnx"), &f).unwrap();
        fs::write(dir.join("k/voices.bin"), &v).unwrap();
        fs::write(dir.join("k/m.onnx.partial"), b"stale").unwrap();
        assert!(catalog::status(dir, &all[0], true).installed);

        let removed = remove_among(&all[0], dir, &all).unwrap();
        assert_eq!(removed, [dir.join("k/m.onnx"), dir.join("k/m.onnx.partial")]);
        assert!(dir.join("k/voices.bin").is_file(), "still used by t-fp32");
        assert!(!catalog::sidecar_path(&dir.join("k/m.onnx")).exists());
        assert!(catalog::status(dir, &all[1], true).installed);

        let removed = remove_among(&all[1], dir, &all).unwrap();
        assert_eq!(removed, [dir.join("k/f.onnx"), dir.join("k/voices.bin")]);
        assert!(!dir.join("k").exists(), "the emptied model folder is removed");
        assert!(remove_among(&all[1], dir, &all).unwrap().is_empty());

        // The real catalog: removing a kokoro that is not there is fine.
        let real = catalog::find("kokoro").unwrap();
        assert!(remove(real, dir).unwrap().is_empty());
    }

    #[test]
    fn verify_rehashes_despite_the_sidecar() {
        let a = content(4_096, 17);
        let model = spec("t-verify", vec![file("t/a.onnx", None, &a, false), file("t/o.bin", None, b"o", true)]);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("t/a.onnx");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &a).unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        fs::File::options().write(true).open(&path).unwrap().set_modified(t0).unwrap();
        assert!(catalog::status(tmp.path(), model, true).installed);

        // Same size and mtime, different bytes: the cached check is fooled, verify is not.
        let mut bad = a.clone();
        bad[100] ^= 1;
        fs::write(&path, &bad).unwrap();
        fs::File::options().write(true).open(&path).unwrap().set_modified(t0).unwrap();
        assert!(catalog::status(tmp.path(), model, true).installed);
        let st = verify(model, tmp.path());
        assert!(!st.installed);
        assert!(matches!(&st.files[0].1, FileState::Corrupt { actual, .. } if actual == sha(&bad)));
        assert_eq!(st.files[1].1, FileState::Missing);
        assert!(!catalog::sidecar_path(&path).exists());

        fs::write(&path, &a).unwrap();
        let st = verify(model, tmp.path());
        assert!(st.installed);
        assert_eq!(st.files[0].1, FileState::Verified);
    }

    #[tokio::test]
    async fn at_least_one_optional_pack_is_required() {
        let m = content(1_000, 18);
        let a = content(300, 19);
        let b = content(400, 20);
        let files =
            vec![file("p/m.onnx", None, &m, false), file("p/a.npz", None, &a, true), file("p/b.npz", None, &b, true)];
        let model: &'static ModelSpec =
            Box::leak(Box::new(ModelSpec { at_least_one_of: &["p/a.npz", "p/b.npz"], ..*spec("t-packs", files) }));
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("m.onnx"), &m).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let err = run(model, tmp.path(), Source::From(src.path().into()), &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "MODEL_MISSING");
        assert!(err.message.contains("at least one of p/a.npz, p/b.npz"), "{}", err.message);
        assert!(!verify(model, tmp.path()).installed);

        fs::write(src.path().join("b.npz"), &b).unwrap();
        let report = run(model, tmp.path(), Source::From(src.path().into()), &Events::default()).await.unwrap();
        assert_eq!(report.files[0].outcome, Outcome::Skipped { reason: SkipReason::AlreadyInstalled });
        assert_eq!(report.files[1].outcome, Outcome::Skipped { reason: SkipReason::NotAtSource });
        assert!(matches!(report.files[2].outcome, Outcome::Copied { .. }));
        assert!(verify(model, tmp.path()).installed);
        assert!(catalog::status(tmp.path(), model, true).installed);
        // Already there: installing from a source without packs is fine now.
        fs::remove_file(src.path().join("b.npz")).unwrap();
        run(model, tmp.path(), Source::From(src.path().into()), &Events::default()).await.unwrap();
    }

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, None)));
        assert_eq!(parse_content_range("bytes */200"), None);
        assert_eq!(parse_content_range("bytes 5-1/9"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(redact("https://h/p?token=x#f"), "https://h/p");
        assert_eq!(partial_path(Path::new("/m/k/a.onnx")), PathBuf::from("/m/k/a.onnx.partial"));
    }

    /// Installs the real Kokoro files (the registry's, as `scripts/fetch-registry-models.sh` puts
    /// them in the real-model tier's models dir) from their folder.
    #[tokio::test]
    async fn real_kokoro_from_registry_folder() {
        let Some(src) = crate::test_support::real_model("kokoro") else { return };
        let model = catalog::find("kokoro").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let t0 = std::time::Instant::now();
        let result = install(model, tmp.path(), &Source::From(src), &|p| {
            if !matches!(p, Progress::Bytes { .. }) {
                eprintln!("{}", serde_json::to_string(&p).unwrap());
            }
        })
        .await;
        eprintln!("install took {:?}: {result:?}", t0.elapsed());
        // The registry has the int8 model and the Japanese voice pack (not voices-v1.0.bin).
        let report = result.expect("kokoro installs from the registry files");
        assert!(matches!(report.files[0].outcome, Outcome::Copied { bytes: 92_361_271, .. }));
        let t1 = std::time::Instant::now();
        let st = verify(model, tmp.path());
        eprintln!("verify took {:?}: {:?}", t1.elapsed(), st.files);
        assert!(st.installed);
        assert_eq!(st.files[0], ("kokoro/kokoro-v1.0.int8.onnx", FileState::Verified));
        assert!(st.files.contains(&("kokoro/voices_ja.npz", FileState::Verified)));
    }

    #[test]
    fn install_future_is_send() {
        fn assert_send<T: Send>(_: T) {}
        let model = catalog::find("kokoro").unwrap();
        let on = |_: Progress| {};
        assert_send(install(model, Path::new("/nonexistent"), &Source::Official, &on));
    }

    // The environment must stay set while `install` runs; the awaited futures never take the lock.
    #[allow(clippy::await_holding_lock)]
    #[tokio::test]
    async fn offline_mode_refuses_network_sources_but_not_local_files() {
        let body = content(1_000, 7);
        let model =
            spec("offline-test", vec![file("o/m.onnx", Some("http://127.0.0.1:9/m.onnx".into()), &body, false)]);
        let tmp = tempfile::tempdir().unwrap();
        let src = tempfile::tempdir().unwrap();
        fs::write(src.path().join("m.onnx"), &body).unwrap();
        let result = {
            let _l = crate::test_support::env_lock();
            let _g = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_OFFLINE", Some("1")), (ENV_MIRROR, None)]);
            let refused = install(model, tmp.path(), &Source::Official, &|_| {}).await.map(|_| ());
            let mirror =
                install(model, tmp.path(), &Source::Mirror("http://127.0.0.1:9".into()), &|_| {}).await.map(|_| ());
            let local = install(model, tmp.path(), &Source::From(src.path().to_path_buf()), &|_| {}).await.map(|_| ());
            (refused, mirror, local)
        };
        let e = result.0.unwrap_err();
        assert_eq!(e.code, "OFFLINE");
        assert!(e.hint.unwrap().contains("--from"));
        assert_eq!(result.1.unwrap_err().code, "OFFLINE");
        result.2.unwrap();
        assert!(catalog::status(tmp.path(), model, true).installed);
    }

    fn quick_to_give_up() -> Installer {
        Installer { idle: Duration::from_millis(400), ..installer() }
    }

    #[tokio::test]
    async fn a_server_that_stalls_mid_body_is_given_up_naming_the_host() {
        let server = Server::start().await;
        let body = content(50_000, 21);
        server.put("/t/s.bin", Served { body: body.clone(), stall_after: Some(10_000), ..Default::default() });
        let model = spec("t-stall", vec![file("t/s.bin", Some(server.url("t/s.bin")), &body, false)]);
        let tmp = tempfile::tempdir().unwrap();
        let events = Events::default();
        let err = quick_to_give_up()
            .run(model, tmp.path(), &Source::Official, &|p| events.0.lock().unwrap().push(p))
            .await
            .unwrap_err();
        assert_eq!(err.code, "DOWNLOAD_STALLED");
        let host = server.base.trim_start_matches("http://");
        assert!(err.message.contains(host) && err.message.contains("10000 bytes received are kept"), "{}", err.message);
        assert!(err.hint.as_deref().unwrap_or_default().contains(ENV_IDLE_TIMEOUT));
        assert!(events.take().iter().any(|e| matches!(e, Progress::Waiting { host: h, .. } if h == host)));
        // One request: a stalled host is not asked again and again.
        assert_eq!(server.requests_for("t/s.bin").len(), 1);
        assert_eq!(fs::metadata(partial_path(&tmp.path().join("t/s.bin"))).unwrap().len(), 10_000);
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up() {
        // Reads the request and then says nothing for an hour.
        let server = TestServer::routed(|_| (Duration::from_secs(3600), Scripted::Close)).await;
        let addr = server.addr;
        let body = content(1000, 3);
        let model =
            spec("t-silent", vec![file("t/q.bin", Some(format!("http://u:pw-hidden@{addr}/t/q.bin")), &body, false)]);
        let tmp = tempfile::tempdir().unwrap();
        let events = Events::default();
        let err = quick_to_give_up()
            .run(model, tmp.path(), &Source::Official, &|p| events.0.lock().unwrap().push(p))
            .await
            .unwrap_err();
        assert_eq!(server.requests().len(), 1);
        assert_eq!(err.code, "DOWNLOAD_STALLED");
        assert!(err.message.contains(&format!("no answer from {addr}")), "{}", err.message);
        assert!(!format!("{err:?}").contains("pw-hidden"));
        assert!(events.take().iter().any(|e| matches!(e, Progress::Waiting { .. })));
    }

    #[tokio::test]
    async fn a_bad_leftover_partial_is_blamed_on_itself_and_replaced() {
        let server = Server::start().await;
        let body = content(40_000, 8);
        server.put("/t/l.bin", Served { body: body.clone(), ..Default::default() });
        let model = spec("t-leftover", vec![file("t/l.bin", Some(server.url("t/l.bin")), &body, false)]);
        let tmp = tempfile::tempdir().unwrap();
        fs::create_dir_all(tmp.path().join("t")).unwrap();
        // An earlier run left a partial whose bytes are not the file's.
        fs::write(tmp.path().join("t/l.bin.partial"), vec![0xAB; 12_000]).unwrap();
        let events = Events::default();
        run(model, tmp.path(), Source::Official, &events).await.unwrap();
        assert_eq!(fs::read(tmp.path().join("t/l.bin")).unwrap(), body);
        assert!(events.take().contains(&Progress::LeftoverDiscarded { file: "t/l.bin", bytes: 12_000 }));
    }

    #[tokio::test]
    async fn a_failed_install_says_exactly_what_was_installed() {
        let server = Server::start().await;
        let (a, b) = (content(3000, 1), content(3000, 2));
        server.put("/t/a.bin", Served { body: a.clone(), ..Default::default() });
        server.put("/t/b.bin", Served { body: b.clone(), corrupt: true, ..Default::default() });
        let model = spec(
            "t-exact",
            vec![
                file("t/a.bin", Some(server.url("t/a.bin")), &a, false),
                file("t/b.bin", Some(server.url("t/b.bin")), &b, false),
            ],
        );
        let tmp = tempfile::tempdir().unwrap();
        let err = run(model, tmp.path(), Source::Official, &Events::default()).await.unwrap_err();
        assert_eq!(err.code, "CHECKSUM_MISMATCH");
        assert!(err.message.ends_with("(installed: t/a.bin)"), "{}", err.message);
        assert!(!format!("{err:?}").contains("nothing was installed"), "{err:?}");
    }

    #[tokio::test]
    async fn a_second_install_into_the_same_folder_waits_for_the_first() {
        let tmp = tempfile::tempdir().unwrap();
        let model = catalog::find("kokoro").unwrap();
        let first = lock_folder(model, tmp.path(), &|_| {}).await.unwrap();
        let events = Arc::new(Events::default());
        let dir = tmp.path().to_path_buf();
        let seen = events.clone();
        let second = tokio::spawn(async move {
            lock_folder(model, &dir, &move |p| seen.0.lock().unwrap().push(p)).await.map(|_| ())
        });
        // The second one says that it waits, and waits.
        while events.0.lock().unwrap().is_empty() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(matches!(&events.take()[0], Progress::InstallRunning { folder } if folder.ends_with("kokoro")));
        assert!(!second.is_finished());
        assert_eq!(remove(model, tmp.path()).unwrap_err().code, "INSTALL_RUNNING");
        drop(first);
        second.await.unwrap().unwrap();
        assert!(!lock_path(model, tmp.path()).exists(), "no lock file is left behind");
    }
}
