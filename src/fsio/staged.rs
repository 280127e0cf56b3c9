//! A new file built beside its target and put in its place in one step ([`Staged::commit`]).
//!
//! On Linux the file has no name until it is committed (`O_TMPFILE`): a crash, a kill or Ctrl-C in
//! the middle of a long write (a minute of speech written as it is made) leaves nothing behind,
//! where a named temporary file would stay in the user's folder. Elsewhere, or where the file
//! system cannot make unnamed files, it is a hidden sibling, removed if the write is abandoned.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{sync_parent, Mode};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A free-looking hidden sibling name for `target` (the caller creates it exclusively).
fn temp_path_for(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    target.with_file_name(format!(".{name}.{}.{nanos:x}{n}.tmp", std::process::id()))
}

/// A file being written in place of `target`. Dropping it unfinished removes it.
#[derive(Debug)]
pub struct Staged {
    /// Open until committed (closed before the rename: Windows may refuse to move an open file).
    file: Option<File>,
    target: PathBuf,
    /// The hidden sibling's name; `None` while the file has no name at all.
    named: Option<PathBuf>,
}

impl Staged {
    /// Starts a replacement for `target` (a regular file's path or a free name; its folder must
    /// exist), with the permissions `mode` asks for set before any byte is written.
    pub fn create(target: &Path, mode: Mode) -> io::Result<Staged> {
        let permissions = match mode {
            Mode::Keep => fs::metadata(target).ok().map(|m| m.permissions()),
            #[cfg(unix)]
            Mode::Exactly(bits) => {
                use std::os::unix::fs::PermissionsExt;
                // The umask may take bits away at creation; set exactly what was asked.
                Some(fs::Permissions::from_mode(bits))
            }
            #[cfg(not(unix))]
            Mode::Exactly(_) => None,
        };
        let staged = match unnamed(target, mode) {
            Some(file) => Staged { file: Some(file), target: target.to_path_buf(), named: None },
            None => {
                let tmp = temp_path_for(target);
                let mut options = File::options();
                options.read(true).write(true).create_new(true);
                #[cfg(unix)]
                if let Mode::Exactly(bits) = mode {
                    use std::os::unix::fs::OpenOptionsExt;
                    options.mode(bits);
                }
                let file = options.open(&tmp)?;
                Staged { file: Some(file), target: target.to_path_buf(), named: Some(tmp) }
            }
        };
        if let Some(p) = permissions {
            staged.file().set_permissions(p)?;
        }
        Ok(staged)
    }

    /// The file to write (`&File` is `Write` and `Seek`; wrap it in a `BufWriter`).
    pub fn file(&self) -> &File {
        self.file.as_ref().expect("open until committed")
    }

    /// Syncs the file, puts it at `target` (replacing what was there in one rename) and syncs the
    /// folder. On an error `target` is as it was and the new file is gone.
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("open until committed");
        file.sync_all()?;
        let named = match self.named.take() {
            Some(tmp) => tmp,
            None => link_unnamed(&file, &self.target)?,
        };
        drop(file);
        if let Err(e) = fs::rename(&named, &self.target) {
            let _ = fs::remove_file(&named);
            return Err(e);
        }
        sync_parent(&self.target);
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let Some(tmp) = &self.named {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// An unnamed file in `target`'s folder, when the platform and file system can make one and
/// `/proc` is there to name it later; `None` otherwise (the caller then names it).
#[cfg(target_os = "linux")]
fn unnamed(target: &Path, mode: Mode) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    if !Path::new("/proc/self/fd").is_dir() {
        return None;
    }
    let dir = match target.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => p.to_path_buf(),
        None => PathBuf::from("."),
    };
    let bits = match mode {
        Mode::Exactly(bits) => bits,
        Mode::Keep => 0o666,
    };
    // Refused by file systems without unnamed files (EOPNOTSUPP) and by old kernels (EISDIR).
    File::options().read(true).write(true).custom_flags(libc::O_TMPFILE).mode(bits).open(dir).ok()
}

#[cfg(not(target_os = "linux"))]
fn unnamed(_: &Path, _: Mode) -> Option<File> {
    None
}

/// Gives an unnamed file a hidden sibling name of `target`, ready to be renamed over it (a link
/// cannot replace an existing name; a rename can).
#[cfg(target_os = "linux")]
fn link_unnamed(file: &File, target: &Path) -> io::Result<PathBuf> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd())).expect("no NUL in a number");
    loop {
        let tmp = temp_path_for(target);
        let to = CString::new(tmp.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
        // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
        let rc = unsafe {
            libc::linkat(libc::AT_FDCWD, from.as_ptr(), libc::AT_FDCWD, to.as_ptr(), libc::AT_SYMLINK_FOLLOW)
        };
        if rc == 0 {
            return Ok(tmp);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::AlreadyExists {
            return Err(e);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn link_unnamed(_: &File, _: &Path) -> io::Result<PathBuf> {
    unreachable!("files are only unnamed on Linux")
}
