//! Every output file the crate writes (audio, words, captions, manifests, model sidecars) goes
//! through here, so one set of rules holds everywhere:
//!
//! - a regular file, or a path that does not exist yet, is replaced atomically: the bytes go to a
//!   temporary sibling that is synced and renamed over the target, so a failure never leaves a
//!   partial file and an existing file stays as it was (its permissions are kept on success);
//! - a symbolic link is followed (like shell redirection and `cp`): its final target is replaced
//!   atomically and the link itself is left alone, still pointing at the new content;
//! - a FIFO or a character or block device is written in place, streamed, with no temporary file
//!   (renaming over `/dev/full` or a pipe would destroy it instead of writing to it);
//! - `-` is standard output;
//! - any write error (a full disk, a reader that went away) is an error, never a success.
//!
//! Inputs are read through [`input`]: regular files only, bounded by what the use can need.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::engines::error::{EngineError, EngineResult};

mod distinct;
pub mod input;
pub use distinct::check_distinct;
mod staged;
pub use staged::Staged;

/// The path that means standard output.
pub const STDOUT: &str = "-";
/// The code of the error for standard output closed by its reader (`… | head`). Front ends end
/// quietly on it (see `cli::fail`).
pub const STDOUT_CLOSED: &str = "STDOUT_CLOSED";

/// How many symbolic links are followed before giving up (the kernel's own limit is 40).
const MAX_LINKS: usize = 40;

/// Where the bytes for a path actually go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    /// A FIFO or a device, written in place.
    Stream(PathBuf),
    /// A regular file (existing or not), replaced atomically; symlinks already resolved.
    File(PathBuf),
}

/// Whether `path` is `-`.
pub fn is_stdout(path: &Path) -> bool {
    path.as_os_str() == STDOUT
}

/// Resolves `path` to where its bytes would go, following symbolic links.
pub fn destination(path: &Path) -> EngineResult<Destination> {
    if path.as_os_str().is_empty() {
        return Err(EngineError::new("IO_ERROR", "no output path given"));
    }
    if is_stdout(path) {
        return Ok(Destination::Stdout);
    }
    let mut current = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        let meta = match fs::symlink_metadata(&current) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Destination::File(current)),
            Err(e) => return Err(EngineError::io(format!("cannot write {}", path.display()), &e)),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&current)
                .map_err(|e| EngineError::io(format!("cannot follow the link {}", current.display()), &e))?;
            current = match current.parent() {
                Some(parent) if target.is_relative() => parent.join(target),
                _ => target,
            };
            continue;
        }
        if kind.is_file() {
            return Ok(Destination::File(current));
        }
        if kind.is_dir() {
            return Err(EngineError::new("IO_ERROR", format!("{} is a directory", path.display()))
                .with_hint("Give a file name inside it."));
        }
        if is_streamable(&kind) {
            return Ok(Destination::Stream(current));
        }
        return Err(EngineError::new(
            "IO_ERROR",
            format!("{} is neither a file, a FIFO nor a device, so nothing can be written to it", path.display()),
        ));
    }
    Err(EngineError::new("IO_ERROR", format!("{} is a chain of more than {MAX_LINKS} links", path.display())))
}

#[cfg(unix)]
fn is_streamable(kind: &fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo() || kind.is_char_device() || kind.is_block_device()
}

#[cfg(not(unix))]
fn is_streamable(_: &fs::FileType) -> bool {
    false
}

/// Writes `bytes` to `path` by the rules in the module docs. Parent folders of a new file are created.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> EngineResult<()> {
    write_with(path, |w| w.write_all(bytes))
}

/// Writes what `fill` produces to `path` by the rules in the module docs.
pub fn write_with<F>(path: &Path, fill: F) -> EngineResult<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    match destination(path)? {
        Destination::Stdout => {
            let mut out = io::stdout().lock();
            fill(&mut out).and_then(|_| out.flush()).map_err(|e| stdout_error(&e))
        }
        Destination::Stream(target) => {
            let written = File::options().write(true).open(&target).and_then(|file| {
                let mut w = BufWriter::new(file);
                fill(&mut w)?;
                w.flush()
            });
            written.map_err(|e| stream_error(path, &e))
        }
        Destination::File(target) => replace(path, &target, fill),
    }
}

/// Removes what an earlier [`write_with`] created at `path`, when a later step of the same job
/// failed. Only a regular file (a link's target) is removed: never standard output, a FIFO or a
/// device, and never the link itself.
pub fn discard(path: &Path) {
    if let Ok(Destination::File(target)) = destination(path) {
        let _ = fs::remove_file(target);
    }
}

fn stdout_error(e: &io::Error) -> EngineError {
    if e.kind() == io::ErrorKind::BrokenPipe {
        EngineError::new(STDOUT_CLOSED, "standard output was closed before everything was written")
    } else {
        EngineError::io("cannot write to standard output", e)
    }
}

fn stream_error(path: &Path, e: &io::Error) -> EngineError {
    let mut err = EngineError::io(format!("cannot write {}", path.display()), e);
    if e.kind() == io::ErrorKind::BrokenPipe {
        err.message = format!("the reader of {} went away before everything was written", path.display());
    }
    err
}

/// Writes a temporary sibling of `target` and renames it over `target`. `shown` is the path as the
/// user gave it, for messages.
fn replace<F>(shown: &Path, target: &Path, fill: F) -> EngineResult<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .map_err(|e| EngineError::io(format!("cannot create directory {}", parent.display()), &e))?;
    }
    replace_file(target, Mode::Keep, fill).map_err(|e| EngineError::io(format!("cannot write {}", shown.display()), &e))
}

/// The permissions [`replace_file`] gives the new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The replaced file's permissions; the process default (umask) for a new file.
    Keep,
    /// Exactly these Unix permission bits (e.g. `0o600` for secrets), set before any byte is
    /// written so the content is never readable by others, even for a moment. Ignored elsewhere.
    Exactly(u32),
}

/// The one write-to-temporary-and-rename of the crate: `fill` writes a new file beside `target`
/// (see [`Staged`]: unnamed until committed where the platform allows), which is synced, put at
/// `target` in one rename and made durable by syncing the folder. On any error the new file is
/// gone and `target` is as it was. `target` must be a regular file's path or a free name (callers
/// resolve links first, see [`destination`]); its folder must exist.
pub fn replace_file<F>(target: &Path, mode: Mode, fill: F) -> io::Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let staged = Staged::create(target, mode)?;
    let mut w = BufWriter::new(staged.file());
    fill(&mut w)?;
    w.flush()?;
    drop(w);
    staged.commit()
}

/// Moves a finished file (a download's `.partial`) over `target` the same durable way: its bytes
/// are synced before the name points at them, and the folder after.
pub fn move_into_place(from: &Path, target: &Path) -> io::Result<()> {
    File::open(from)?.sync_all()?;
    fs::rename(from, target)?;
    sync_parent(target);
    Ok(())
}

/// Persists a rename by syncing the folder (best effort; Unix only).
pub fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(parent) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

#[cfg(test)]
mod tests;
