//! Finding and loading the ONNX Runtime shared library.
//!
//! `ort` is built with `load-dynamic`, so nothing is linked at build time: the
//! library is opened at run time from an absolute path that [`locate`] picks.
//! The search order is:
//!
//! 1. `ORT_DYLIB_PATH`, when set and non-empty. It must exist; a bad value is
//!    an error rather than a silent fall-through to another copy.
//! 2. The folder holding this addon: each platform package
//!    (`hyperframes-<platform>-<arch>[-<abi>]`) ships the library next to the
//!    `.node` file. The addon's own path comes from the loader (`dladdr`, or
//!    `GetModuleHandleExW` on Windows), never from the executable's folder.
//! 3. The npm package `onnxruntime-node`, found the way Node resolves
//!    packages: `<dir>/node_modules/onnxruntime-node` for the directory holding
//!    this addon and each of its parents, then the same walk from an optional
//!    extra start directory. The library sits in
//!    `bin/napi-v6/<platform>/<arch>/` inside the package.
//! 4. System library directories (`LD_LIBRARY_PATH`, `/usr/local/lib`,
//!    `/usr/lib/<multiarch>`, … on Linux; `DYLD_*` paths, Homebrew and
//!    `/usr/local/lib` on macOS; the executable's folder and `PATH` on Windows).
//!
//! [`locate`] only looks at the file system. [`ensure_loaded`] opens the
//! library once per process and creates the shared `ort` environment.

use std::ffi::OsString;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use serde::Serialize;

/// Environment variable naming the ONNX Runtime library to load.
pub const ENV_DYLIB_PATH: &str = "ORT_DYLIB_PATH";
/// Environment variable overriding the number of inference threads.
pub const ENV_THREADS: &str = "HYPERFRAMES_THREADS";
/// npm package that ships the ONNX Runtime shared library.
pub const NPM_PACKAGE: &str = "onnxruntime-node";
/// Oldest ONNX Runtime minor version (1.x) that `ort`'s `api-30` feature accepts.
pub const MIN_MINOR_VERSION: u32 = ort::MINOR_VERSION;

/// Error codes carried by [`RuntimeError::code`].
pub mod codes {
    /// No library at `ORT_DYLIB_PATH`, or none found anywhere.
    pub const NOT_FOUND: &str = "ORT_NOT_FOUND";
    /// A library was found but could not be opened or initialised.
    pub const LOAD_FAILED: &str = "ORT_LOAD_FAILED";
    /// The library is older than the API version this build needs.
    pub const VERSION: &str = "ORT_VERSION";
}

/// The npm package holding this build's addon (and, except on macOS x64, the
/// library); `npm install` names it in the hints.
macro_rules! platform_package {
    () => {
        concat!("hyperframes-", platform_suffix!(), "@", env!("CARGO_PKG_VERSION"))
    };
}
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
macro_rules! platform_suffix {
    () => {
        "linux-x64-gnu"
    };
}
#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
macro_rules! platform_suffix {
    () => {
        "linux-arm64-gnu"
    };
}
#[cfg(all(target_os = "macos", target_arch = "aarch64"))]
macro_rules! platform_suffix {
    () => {
        "darwin-arm64"
    };
}
#[cfg(all(target_os = "macos", target_arch = "x86_64"))]
macro_rules! platform_suffix {
    () => {
        "darwin-x64"
    };
}
#[cfg(all(windows, target_arch = "x86_64"))]
macro_rules! platform_suffix {
    () => {
        "win32-x64-msvc"
    };
}
#[cfg(not(any(
    all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")),
    all(target_os = "macos", any(target_arch = "x86_64", target_arch = "aarch64")),
    all(windows, target_arch = "x86_64")
)))]
macro_rules! platform_suffix {
    () => {
        "unsupported-platform"
    };
}

#[cfg(test)]
/// The platform package, as `npm install` takes it (`hyperframes-linux-x64-gnu@0.1.0`).
pub const PLATFORM_PACKAGE: &str = platform_package!();

// No official ONNX Runtime ≥ 1.30 exists for macOS on Intel, so that package ships none.
#[cfg(all(target_os = "macos", target_arch = "x86_64"))]
pub const INSTALL_HINT: &str = "no official ONNX Runtime 1.30+ exists for macOS on Intel: install one \
     (`brew install onnxruntime`) or point ORT_DYLIB_PATH at libonnxruntime ≥ 1.30";
/// How to get an ONNX Runtime library on this platform (errors, `plan` and `doctor` hints).
#[cfg(not(all(target_os = "macos", target_arch = "x86_64")))]
pub const INSTALL_HINT: &str = concat!(
    "reinstall the platform package, which ships ONNX Runtime next to the addon (`npm install ",
    platform_package!(),
    "`), or point ORT_DYLIB_PATH at libonnxruntime ≥ 1.30 (the onnxruntime-node 1.30+ npm package has one)"
);

/// Where a located library came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuntimeSource {
    /// `ORT_DYLIB_PATH`.
    EnvOverride,
    /// Next to the addon, as the platform package ships it.
    Bundled,
    /// The `onnxruntime-node` npm package.
    NpmPackage,
    /// A system library directory.
    System,
}

impl RuntimeSource {
    /// Short human label, e.g. for `doctor` output.
    pub fn label(self) -> &'static str {
        match self {
            RuntimeSource::EnvOverride => "ORT_DYLIB_PATH",
            RuntimeSource::Bundled => "bundled next to the addon",
            RuntimeSource::NpmPackage => "npm onnxruntime-node",
            RuntimeSource::System => "system library",
        }
    }
}

impl std::fmt::Display for RuntimeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// An ONNX Runtime library on disk (absolute path).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuntimeLocation {
    pub path: PathBuf,
    pub source: RuntimeSource,
}

/// Why ONNX Runtime is unavailable. `code` is one of [`codes`]; `hint` tells
/// the user what to do about it. `Display` prints only the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct RuntimeError {
    pub code: &'static str,
    pub message: String,
    pub hint: String,
}

impl RuntimeError {
    fn new(code: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        RuntimeError { code, message: message.into(), hint: hint.into() }
    }
}

/// The process-wide loaded runtime.
pub struct LoadedRuntime {
    pub location: RuntimeLocation,
    /// Version string reported by the library, e.g. `"1.30.0"`
    /// (`"unknown"` if it could not be read).
    pub version: String,
    environment: ort::environment::Environment,
}

impl LoadedRuntime {
    /// The single `ort` environment of this process; pass it to
    /// `ort::session::Session::builder`.
    pub fn environment(&self) -> &ort::environment::Environment {
        &self.environment
    }
}

impl std::fmt::Debug for LoadedRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedRuntime")
            .field("location", &self.location)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

// ---------------------------------------------------------------------------
// Locating
// ---------------------------------------------------------------------------

static EXTRA_START_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Finds the ONNX Runtime library without opening it (cheap; used by
/// `auth status`). See the module docs for the search order.
pub fn locate() -> Result<RuntimeLocation, RuntimeError> {
    let extra = EXTRA_START_DIR.lock().unwrap_or_else(PoisonError::into_inner).clone();
    locate_from(extra.as_deref())
}

/// [`locate`] with an explicit extra start directory for the `node_modules`
/// walk instead of the one set by [`set_extra_start_dir`].
pub fn locate_from(extra_start: Option<&Path>) -> Result<RuntimeLocation, RuntimeError> {
    let search = Search::from_process(extra_start);
    let found = search.run();
    match &found {
        Ok(loc) => {
            tracing::debug!(path = %loc.path.display(), source = %loc.source, "located ONNX Runtime")
        }
        Err(err) => tracing::debug!(code = err.code, "ONNX Runtime not found: {}", err.message),
    }
    found
}

/// The inputs of one search, separated from the process so tests can build it.
#[derive(Debug, Default)]
struct Search {
    env_override: Option<OsString>,
    /// The folder holding the addon, where the platform package puts the library.
    addon_dir: Option<PathBuf>,
    start_dirs: Vec<PathBuf>,
    system_dirs: Vec<PathBuf>,
}

impl Search {
    fn from_process(extra_start: Option<&Path>) -> Self {
        let addon_dir = addon_dir();
        let mut start_dirs = Vec::new();
        if let Some(dir) = &addon_dir {
            start_dirs.push(dir.clone());
        }
        if let Some(extra) = extra_start {
            let extra = absolute(extra);
            let extra = extra.canonicalize().unwrap_or(extra);
            if !start_dirs.contains(&extra) {
                start_dirs.push(extra);
            }
        }
        Search {
            env_override: std::env::var_os(ENV_DYLIB_PATH).filter(|v| !v.is_empty()),
            addon_dir,
            start_dirs,
            system_dirs: system_dirs(),
        }
    }

    fn run(&self) -> Result<RuntimeLocation, RuntimeError> {
        if let Some(raw) = &self.env_override {
            return locate_override(Path::new(raw));
        }
        if let Some(path) = self.addon_dir.as_deref().and_then(find_lib_in) {
            return Ok(RuntimeLocation { path, source: RuntimeSource::Bundled });
        }
        for start in &self.start_dirs {
            if let Some(path) = find_npm_runtime(start) {
                return Ok(RuntimeLocation { path, source: RuntimeSource::NpmPackage });
            }
        }
        for dir in &self.system_dirs {
            if let Some(path) = find_lib_in(dir) {
                return Ok(RuntimeLocation { path: absolute(&path), source: RuntimeSource::System });
            }
        }
        let lib = lib_file_names().first().copied().unwrap_or("onnxruntime library");
        let next_to_addon = match &self.addon_dir {
            Some(dir) => format!("no {lib} next to the addon in {}", dir.display()),
            None => "the addon's folder is unknown".to_string(),
        };
        let starts = if self.start_dirs.is_empty() {
            "no start directory".to_string()
        } else {
            self.start_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        };
        Err(RuntimeError::new(
            codes::NOT_FOUND,
            format!(
                "ONNX Runtime not found: {next_to_addon}, no {NPM_PACKAGE} package in node_modules above {starts}, \
                 and no {lib} in {} system library director{}",
                self.system_dirs.len(),
                if self.system_dirs.len() == 1 { "y" } else { "ies" },
            ),
            INSTALL_HINT,
        ))
    }
}

fn locate_override(raw: &Path) -> Result<RuntimeLocation, RuntimeError> {
    let path = absolute(raw);
    if path.is_file() {
        return Ok(RuntimeLocation { path, source: RuntimeSource::EnvOverride });
    }
    if path.exists() && !path.is_dir() {
        return Err(RuntimeError::new(
            codes::NOT_FOUND,
            format!("{ENV_DYLIB_PATH} is set to `{}`, which is not a regular file", path.display()),
            format!("set {ENV_DYLIB_PATH} to the ONNX Runtime library file, or unset it; otherwise {INSTALL_HINT}"),
        ));
    }
    if path.is_dir() {
        if let Some(found) = find_lib_in(&path) {
            return Ok(RuntimeLocation { path: found, source: RuntimeSource::EnvOverride });
        }
        return Err(RuntimeError::new(
            codes::NOT_FOUND,
            format!(
                "{ENV_DYLIB_PATH} points at the directory `{}`, which holds no ONNX Runtime library",
                path.display()
            ),
            format!("set {ENV_DYLIB_PATH} to the library file itself, or unset it; otherwise {INSTALL_HINT}"),
        ));
    }
    Err(RuntimeError::new(
        codes::NOT_FOUND,
        format!("{ENV_DYLIB_PATH} is set to `{}`, which does not exist", path.display()),
        format!("fix or unset {ENV_DYLIB_PATH}; otherwise {INSTALL_HINT}"),
    ))
}

/// Walks up from `start` like Node's module resolution and returns the
/// library inside the first `node_modules/onnxruntime-node` that has one.
pub fn find_npm_runtime(start: &Path) -> Option<PathBuf> {
    let (platform, arch) = npm_platform_arch()?;
    let start = absolute(start);
    for dir in start.ancestors() {
        // Node never looks in `node_modules/node_modules`.
        if dir.file_name().is_some_and(|n| n == "node_modules") {
            continue;
        }
        let lib_dir = dir.join("node_modules").join(NPM_PACKAGE).join("bin").join("napi-v6").join(platform).join(arch);
        if let Some(found) = find_lib_in(&lib_dir) {
            return Some(found);
        }
    }
    None
}

/// `process.platform` / `process.arch` names used by onnxruntime-node.
fn npm_platform_arch() -> Option<(&'static str, &'static str)> {
    let platform = match std::env::consts::OS {
        "linux" => "linux",
        "macos" => "darwin",
        "windows" => "win32",
        _ => return None,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        _ => return None,
    };
    Some((platform, arch))
}

/// Library file names to try, most specific first.
fn lib_file_names() -> &'static [&'static str] {
    if cfg!(windows) {
        &["onnxruntime.dll"]
    } else if cfg!(target_os = "macos") {
        &["libonnxruntime.1.dylib", "libonnxruntime.dylib"]
    } else {
        &["libonnxruntime.so.1", "libonnxruntime.so"]
    }
}

/// For a fully versioned file name (`libonnxruntime.so.1.31.1`,
/// `libonnxruntime.1.30.0.dylib`) returns its version numbers.
fn versioned_lib_name(name: &str) -> Option<Vec<u32>> {
    let version = if cfg!(windows) {
        None
    } else if cfg!(target_os = "macos") {
        name.strip_prefix("libonnxruntime.").and_then(|rest| rest.strip_suffix(".dylib"))
    } else {
        name.strip_prefix("libonnxruntime.so.")
    }?;
    let parts: Option<Vec<u32>> = version.split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty())
}

/// Looks for an ONNX Runtime library directly inside `dir`.
fn find_lib_in(dir: &Path) -> Option<PathBuf> {
    for name in lib_file_names() {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    // Unversioned names missing: take the newest fully versioned file, as
    // found in Python wheels (`libonnxruntime.so.1.31.1`).
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            let version = versioned_lib_name(name.to_str()?)?;
            let path = entry.path();
            path.is_file().then_some((version, path))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Directory holding the loaded addon (the `.node` file under Node, the test
/// binary under `cargo test`), with symlinks resolved as Node does. `None`
/// when the loader cannot say: the executable's folder (node.exe's) is not a
/// stand-in, it never holds the platform package.
fn addon_dir() -> Option<PathBuf> {
    let file = own_library_path()?;
    // Windows' canonical form (`\\?\C:\…`) would only make messages harder to read.
    let file = if cfg!(windows) { absolute(&file) } else { file.canonicalize().unwrap_or(file) };
    file.parent().map(Path::to_path_buf)
}

#[cfg(unix)]
fn own_library_path() -> Option<PathBuf> {
    use std::ffi::{CStr, OsStr};
    use std::os::unix::ffi::OsStrExt;

    let anchor = own_library_path as fn() -> Option<PathBuf>;
    // SAFETY: `dladdr` only inspects the loader's tables; `info` is plain data
    // and is read only when the call succeeds.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    let found = unsafe { libc::dladdr(anchor as *const libc::c_void, &mut info) };
    if found == 0 || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: non-null, NUL-terminated string owned by the dynamic loader.
    let bytes = unsafe { CStr::from_ptr(info.dli_fname) }.to_bytes();
    if bytes.is_empty() {
        return None;
    }
    Some(PathBuf::from(OsStr::from_bytes(bytes)))
}

/// The `.node` file holding this code, asked of the loader: under Node the
/// executable is node.exe, whose folder never holds the platform package.
#[cfg(windows)]
fn own_library_path() -> Option<PathBuf> {
    use std::ffi::{c_void, OsString};
    use std::os::windows::ffi::OsStringExt;

    const FROM_ADDRESS: u32 = 0x4; // GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS
    const UNCHANGED_REFCOUNT: u32 = 0x2; // GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT
    const MAX_WIDE_PATH: usize = 32 * 1024;
    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleExW(flags: u32, module_name: *const u16, module: *mut *mut c_void) -> i32;
        fn GetModuleFileNameW(module: *mut c_void, filename: *mut u16, size: u32) -> u32;
    }

    let anchor = own_library_path as fn() -> Option<PathBuf>;
    let mut module: *mut c_void = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the name argument is an address inside this
    // module; UNCHANGED_REFCOUNT means there is no handle to release.
    let found = unsafe { GetModuleHandleExW(FROM_ADDRESS | UNCHANGED_REFCOUNT, anchor as *const u16, &mut module) };
    if found == 0 || module.is_null() {
        return None;
    }
    let mut buf = vec![0u16; 512];
    loop {
        // SAFETY: `buf` is writable for `buf.len()` UTF-16 units.
        let len = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) } as usize;
        if len == 0 {
            return None;
        }
        if len < buf.len() {
            buf.truncate(len);
            return Some(PathBuf::from(OsString::from_wide(&buf)));
        }
        // Truncated: try a larger buffer, up to the longest Windows path.
        if buf.len() >= MAX_WIDE_PATH {
            return None;
        }
        buf.resize(buf.len() * 2, 0);
    }
}

#[cfg(not(any(unix, windows)))]
fn own_library_path() -> Option<PathBuf> {
    None
}

fn push_env_paths(out: &mut Vec<PathBuf>, var: &str) {
    if let Some(value) = std::env::var_os(var) {
        out.extend(std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()));
    }
}

/// System library directories, in search order, without duplicates.
fn system_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if cfg!(windows) {
        if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
            dirs.push(exe_dir);
        }
        // System32 can hold an old inbox onnxruntime.dll (Windows ML); skip
        // the Windows directory so that copy is never picked up by accident.
        let windir = std::env::var_os("SystemRoot").map(PathBuf::from);
        let mut path_dirs = Vec::new();
        push_env_paths(&mut path_dirs, "PATH");
        dirs.extend(path_dirs.into_iter().filter(|p| match &windir {
            Some(w) => !p.starts_with(w),
            None => true,
        }));
    } else if cfg!(target_os = "macos") {
        push_env_paths(&mut dirs, "DYLD_LIBRARY_PATH");
        push_env_paths(&mut dirs, "DYLD_FALLBACK_LIBRARY_PATH");
        for d in ["/opt/homebrew/lib", "/usr/local/lib", "/usr/lib"] {
            dirs.push(PathBuf::from(d));
        }
    } else {
        push_env_paths(&mut dirs, "LD_LIBRARY_PATH");
        let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
        dirs.push(PathBuf::from("/usr/local/lib"));
        dirs.push(PathBuf::from("/usr/local/lib64"));
        dirs.push(Path::new("/usr/lib").join(&multiarch));
        dirs.push(PathBuf::from("/usr/lib64"));
        dirs.push(PathBuf::from("/usr/lib"));
        dirs.push(Path::new("/lib").join(&multiarch));
        dirs.push(PathBuf::from("/lib64"));
        dirs.push(PathBuf::from("/lib"));
    }
    let mut unique: Vec<PathBuf> = Vec::with_capacity(dirs.len());
    for d in dirs {
        if !unique.contains(&d) {
            unique.push(d);
        }
    }
    unique
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

static LOADED: OnceLock<LoadedRuntime> = OnceLock::new();
static LOAD_LOCK: Mutex<()> = Mutex::new(());

#[cfg(test)]
/// The runtime if [`ensure_loaded`] already succeeded in this process.
pub fn loaded() -> Option<&'static LoadedRuntime> {
    LOADED.get()
}

/// Locates and opens ONNX Runtime once per process, creating the shared `ort`
/// environment (named `hyperframes`). A failure is not cached, so a later call
/// can succeed after the user fixes the installation.
///
/// All `ort` use in this crate must go through here: `ort` allows a single
/// environment per process, and its implicit loader panics when the library
/// is missing.
pub fn ensure_loaded() -> Result<&'static LoadedRuntime, RuntimeError> {
    if let Some(rt) = LOADED.get() {
        return Ok(rt);
    }
    let _guard = LOAD_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rt) = LOADED.get() {
        return Ok(rt);
    }
    let location = locate()?;
    // Counted as an engine use: the process must not exit under a half-opened library.
    let runtime = super::loaded::as_use(|| load_at(location))?;
    // Loading registered ONNX Runtime's static destructors: the exit guard goes after them.
    super::loaded::rearm();
    tracing::info!(
        path = %runtime.location.path.display(),
        version = %runtime.version,
        "loaded ONNX Runtime"
    );
    Ok(LOADED.get_or_init(|| runtime))
}

/// Environment variable the bundled ONNX Runtime reads before starting its telemetry layer.
const ENV_DISABLE_TELEMETRY: &str = "ORT_DISABLE_TELEMETRY";

fn load_at(location: RuntimeLocation) -> Result<LoadedRuntime, RuntimeError> {
    let path = location.path.clone();
    check_library_file(&path)?;
    disable_telemetry_files();
    let attempt = catch_unwind(AssertUnwindSafe(|| {
        let builder = ort::init_from(&path).map_err(|e| map_load_error(&e, &path))?;
        let environment = builder.with_name("hyperframes").with_telemetry(false).with_logger(Arc::new(ort_log)).build();
        environment.map_err(|e| {
            RuntimeError::new(
                codes::LOAD_FAILED,
                format!("ONNX Runtime at `{}` loaded, but creating its environment failed: {e}", path.display()),
                INSTALL_HINT,
            )
        })
    }));
    let environment: ort::environment::Environment = match attempt {
        Ok(result) => result?,
        Err(panic) => {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown panic");
            return Err(RuntimeError::new(
                codes::LOAD_FAILED,
                format!("loading ONNX Runtime from `{}` failed: {what}", path.display()),
                INSTALL_HINT,
            ));
        }
    };
    environment.set_log_level(ort_log_level());
    let version = loaded_version(&path)
        .or_else(|| npm_package_version(&location))
        .or_else(version_from_build_info)
        .unwrap_or_else(|| "unknown".to_string());
    Ok(LoadedRuntime { location, version, environment })
}

/// Checks that `path` is a whole shared library before it is opened: the loader maps a file cut
/// short beyond its end, and the first touch of such a page is SIGBUS, with no message. Only the
/// headers are read (a few KB of a 45 MB file), so neither `fsio::input` (which reads whole
/// files) nor an object-file crate (which wants the whole file) is used.
fn check_library_file(path: &Path) -> Result<(), RuntimeError> {
    use std::io::{Read, Seek, SeekFrom};
    let bad = |why: String| {
        RuntimeError::new(
            codes::LOAD_FAILED,
            format!("`{}` is not a usable ONNX Runtime library: {why}", path.display()),
            format!("the file is damaged or is something else; {INSTALL_HINT}"),
        )
    };
    let io = |e: std::io::Error| bad(format!("cannot read it ({e})"));
    let mut file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(bad("not a regular file".into()));
    }
    let size = meta.len();
    let mut head = [0u8; 64];
    let got = file.read(&mut head).map_err(io)?;
    if got < 4 {
        return Err(bad(format!("{size} bytes, too small for a shared library")));
    }
    let elf = match ElfHeader::parse(&head[..got]) {
        Some(Ok(elf)) => elf,
        Some(Err(why)) => return Err(bad(why)),
        None if is_mach_o_or_pe(&head[..got]) => return Ok(()),
        None => return Err(bad("no ELF, Mach-O or PE header (not a shared library)".into())),
    };
    let table_end = |off: u64, size_each: u64, count: u64| off.checked_add(size_each.checked_mul(count)?);
    let cut = |what: &str, end: u64| bad(format!("cut short: {what} ends at byte {end}, the file at byte {size}"));
    let ph_end = table_end(elf.phoff, elf.phentsize, elf.phnum).unwrap_or(u64::MAX);
    if ph_end > size {
        return Err(cut("the program header table", ph_end));
    }
    if elf.shoff != 0 {
        let sh_end = table_end(elf.shoff, elf.shentsize, elf.shnum).unwrap_or(u64::MAX);
        if sh_end > size {
            return Err(cut("the section header table", sh_end));
        }
    }
    let mut table = vec![0u8; (elf.phentsize * elf.phnum) as usize];
    file.seek(SeekFrom::Start(elf.phoff)).and_then(|_| file.read_exact(&mut table)).map_err(io)?;
    for entry in table.chunks_exact(elf.phentsize as usize) {
        if let Some((offset, filesz)) = elf.loadable_segment(entry) {
            let end = offset.saturating_add(filesz);
            if end > size {
                return Err(cut("a loadable segment", end));
            }
        }
    }
    Ok(())
}

fn is_mach_o_or_pe(head: &[u8]) -> bool {
    const MACH_O: [[u8; 4]; 5] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
        [0xca, 0xfe, 0xba, 0xbe],
    ];
    MACH_O.iter().any(|m| head.starts_with(m)) || head.starts_with(b"MZ")
}

/// The parts of an ELF header that say where the tables are.
struct ElfHeader {
    wide: bool,
    little: bool,
    phoff: u64,
    phentsize: u64,
    phnum: u64,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
}

impl ElfHeader {
    /// `None`: not ELF; `Some(Err)`: an ELF header that makes no sense.
    fn parse(head: &[u8]) -> Option<Result<ElfHeader, String>> {
        if !head.starts_with(b"\x7fELF") {
            return None;
        }
        let (wide, little) = match (head.get(4), head.get(5)) {
            (Some(1), Some(d @ (1 | 2))) => (false, *d == 1),
            (Some(2), Some(d @ (1 | 2))) => (true, *d == 1),
            _ => return Some(Err("an ELF header of unknown class or byte order".into())),
        };
        if head.len() < if wide { 64 } else { 52 } {
            return Some(Err("cut short inside its ELF header".into()));
        }
        let num = |at: usize, len: usize| read_uint(&head[at..at + len], little);
        let h = if wide {
            ElfHeader {
                wide,
                little,
                phoff: num(32, 8),
                shoff: num(40, 8),
                phentsize: num(54, 2),
                phnum: num(56, 2),
                shentsize: num(58, 2),
                shnum: num(60, 2),
            }
        } else {
            ElfHeader {
                wide,
                little,
                phoff: num(28, 4),
                shoff: num(32, 4),
                phentsize: num(42, 2),
                phnum: num(44, 2),
                shentsize: num(46, 2),
                shnum: num(48, 2),
            }
        };
        let least = if wide { 56 } else { 32 };
        if h.phnum == 0 || h.phentsize < least {
            return Some(Err("an ELF file without program headers (not a shared library)".into()));
        }
        Some(Ok(h))
    }

    /// A `PT_LOAD` entry's file offset and size in the file.
    fn loadable_segment(&self, entry: &[u8]) -> Option<(u64, u64)> {
        const PT_LOAD: u64 = 1;
        let num = |at: usize, len: usize| read_uint(&entry[at..at + len], self.little);
        if num(0, 4) != PT_LOAD {
            return None;
        }
        Some(if self.wide { (num(8, 8), num(32, 8)) } else { (num(4, 4), num(16, 4)) })
    }
}

fn read_uint(bytes: &[u8], little: bool) -> u64 {
    let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
    if little {
        bytes.iter().rev().fold(0, fold)
    } else {
        bytes.iter().fold(0, fold)
    }
}

/// The onnxruntime-node build starts a telemetry layer (Microsoft's 1DS SDK) that leaves
/// `mat-debug-<pid>.log` and a `.ses` file in $TMPDIR on every run, whatever the environment's
/// telemetry option (`with_telemetry(false)` only stops the events); `ORT_DISABLE_TELEMETRY=1`,
/// read when the library starts it, keeps it from starting. A value the user set is left alone.
fn disable_telemetry_files() {
    if std::env::var_os(ENV_DISABLE_TELEMETRY).is_none() {
        // Set once, under LOAD_LOCK, just before the library that reads it is opened. Changing the
        // environment of a running process races with C code reading it on another thread; this is
        // the one place we do it, and Node's own threads do not read this name.
        std::env::set_var(ENV_DISABLE_TELEMETRY, "1");
    }
}

/// ONNX Runtime's own messages go to `tracing` (target `hyperframes::ort`), shown only when
/// `HYPERFRAMES_LOG` asks: its default logger prints coloured lines to stderr, including errors
/// about runs cut short by the process exiting.
fn ort_log(level: ort::logging::LogLevel, category: &str, _id: &str, location: &str, message: &str) {
    use ort::logging::LogLevel as L;
    match level {
        L::Verbose => tracing::trace!(target: "hyperframes::ort", category, location, "{message}"),
        L::Info => tracing::debug!(target: "hyperframes::ort", category, location, "{message}"),
        L::Warning => tracing::warn!(target: "hyperframes::ort", category, location, "{message}"),
        L::Error | L::Fatal => tracing::error!(target: "hyperframes::ort", category, location, "{message}"),
    }
}

/// The least severe ONNX Runtime message worth formatting: what the `tracing` filter could show
/// (its verbose level formats every kernel call).
fn ort_log_level() -> ort::logging::LogLevel {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::TRACE => ort::logging::LogLevel::Verbose,
        LevelFilter::DEBUG => ort::logging::LogLevel::Info,
        _ => ort::logging::LogLevel::Warning,
    }
}

fn map_load_error(err: &ort::LoadDynamicError, path: &Path) -> RuntimeError {
    use ort::LoadDynamicError as E;
    match err {
        E::BadVersion { version_str, .. } => RuntimeError::new(
            codes::VERSION,
            format!(
                "ONNX Runtime at `{}` is version {version_str}, but hyperframes needs 1.{MIN_MINOR_VERSION} or newer",
                path.display()
            ),
            INSTALL_HINT,
        ),
        E::InvalidVersionString => RuntimeError::new(
            codes::VERSION,
            format!("ONNX Runtime at `{}` reported an unreadable version string", path.display()),
            INSTALL_HINT,
        ),
        E::MissingApi { .. } => RuntimeError::new(
            codes::LOAD_FAILED,
            format!("`{}` is not an ONNX Runtime library (it does not export OrtGetApiBase)", path.display()),
            INSTALL_HINT,
        ),
        E::Dlopen { error, .. } => RuntimeError::new(
            codes::LOAD_FAILED,
            format!("could not load ONNX Runtime from `{}`: {error}", path.display()),
            format!(
                "check that the file is an ONNX Runtime library built for {}-{}; otherwise {INSTALL_HINT}",
                std::env::consts::OS,
                std::env::consts::ARCH
            ),
        ),
    }
}

/// Reads the version string from the already-opened library.
#[cfg(unix)]
fn loaded_version(path: &Path) -> Option<String> {
    use std::ffi::{CStr, CString};
    use std::os::unix::ffi::OsStrExt;

    type GetApiBase = unsafe extern "C" fn() -> *const ort::sys::OrtApiBase;

    let c_path = CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: RTLD_NOLOAD only returns a handle to a library that `ort` has
    // already opened (bumping its reference count, released below); it never
    // runs initialisers of a new library.
    let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_NOLOAD) };
    if handle.is_null() {
        return None;
    }
    // SAFETY: `OrtGetApiBase` has this signature in every ONNX Runtime
    // release, and `GetVersionString` returns a static NUL-terminated string.
    let version = unsafe {
        let sym = libc::dlsym(handle, c"OrtGetApiBase".as_ptr());
        let version = if sym.is_null() {
            None
        } else {
            let get_base: GetApiBase = std::mem::transmute::<*mut libc::c_void, GetApiBase>(sym);
            let base = get_base();
            if base.is_null() {
                None
            } else {
                let raw = ((*base).GetVersionString)();
                (!raw.is_null()).then(|| CStr::from_ptr(raw).to_string_lossy().into_owned())
            }
        };
        libc::dlclose(handle);
        version
    };
    version
}

#[cfg(not(unix))]
fn loaded_version(_path: &Path) -> Option<String> {
    None
}

/// Fallback for the npm copy: the `version` in onnxruntime-node's
/// `package.json` (the library sits at `bin/napi-v6/<platform>/<arch>/`).
fn npm_package_version(location: &RuntimeLocation) -> Option<String> {
    if location.source != RuntimeSource::NpmPackage {
        return None;
    }
    let package_dir = location.path.ancestors().nth(5)?;
    let text = std::fs::read_to_string(package_dir.join("package.json")).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    (json.get("name")?.as_str()? == NPM_PACKAGE).then(|| json.get("version")?.as_str().map(str::to_string)).flatten()
}

/// Last fallback: the release branch in the build-info string
/// (`... git-branch=rel-1.30.0, ...`); official builds often say `HEAD`.
/// Only called once the API is loaded.
fn version_from_build_info() -> Option<String> {
    let info = catch_unwind(ort::info).ok()?;
    parse_release_branch(info)
}

fn parse_release_branch(info: &str) -> Option<String> {
    let rest = &info[info.find("rel-")? + 4..];
    let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let version = rest[..end].trim_end_matches('.');
    (!version.is_empty()).then(|| version.to_string())
}

// ---------------------------------------------------------------------------
// Threads
// ---------------------------------------------------------------------------

/// Inference threads: `HYPERFRAMES_THREADS` when it is a whole number from 1 to the cores here,
/// else the cores here (see [`thread_setting`]). A value not taken as given is logged once.
pub fn threads() -> usize {
    let setting = thread_setting();
    if let Some(note) = &setting.note {
        static WARNED: std::sync::Once = std::sync::Once::new();
        WARNED.call_once(|| tracing::warn!("{note}"));
    }
    setting.count
}

/// How many inference threads the engines use, and why when `HYPERFRAMES_THREADS` was not taken
/// as given (`doctor` shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadSetting {
    pub count: usize,
    pub note: Option<String>,
}

pub fn thread_setting() -> ThreadSetting {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    decide_threads(std::env::var_os(ENV_THREADS).map(|v| v.to_string_lossy().into_owned()).as_deref(), cores)
}

/// More threads than cores only make ONNX Runtime's pools spin against each other (99999 took
/// 2 GB in 30 s; 1000 never finished a word), so a larger value is clamped to the cores; a value
/// that is no whole number ≥ 1 is ignored, as it always was, but now said.
fn decide_threads(value: Option<&str>, cores: usize) -> ThreadSetting {
    let cores = cores.max(1);
    let Some(raw) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return ThreadSetting { count: cores, note: None };
    };
    let digits = raw.bytes().all(|b| b.is_ascii_digit());
    // Digits too many for a u64 are still a request for more threads than there are cores.
    let requested = digits.then(|| raw.parse::<u64>().unwrap_or(u64::MAX)).filter(|n| *n > 0);
    match requested {
        Some(n) if n <= cores as u64 => ThreadSetting { count: n as usize, note: None },
        Some(_) => ThreadSetting {
            count: cores,
            note: Some(format!("{ENV_THREADS}={raw} is more than the {cores} cores here: using {cores} threads")),
        },
        None => ThreadSetting {
            count: cores,
            note: Some(format!(
                "{ENV_THREADS}={raw} is not a whole number from 1 to {cores}: ignored, using {cores} threads"
            )),
        },
    }
}

impl From<RuntimeError> for crate::error::Error {
    fn from(e: RuntimeError) -> Self {
        Self::new(e.code, e.message).with_hint(e.hint)
    }
}

#[cfg(test)]
mod tests;
