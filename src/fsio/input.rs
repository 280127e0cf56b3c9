//! Every user- or server-given input file is read through here, so one set of rules holds:
//!
//! - a regular file is required: a FIFO, a socket or a device (`/dev/zero`, a terminal) is refused
//!   at once with `BAD_INPUT`, without blocking on it (the file is opened non-blocking and judged
//!   by `fstat` on the open descriptor, so a path swapped between a check and the open is caught);
//! - a file larger than the use can need is refused with `INPUT_TOO_LARGE` before a byte is read,
//!   and the read itself stops at the limit (a file that grows while it is read, or a size the
//!   file system reports wrongly, cannot push past it);
//! - standard input (`-`), where a command accepts it, is read up to the same kind of limit.
//!
//! Symbolic links are followed, as any reader does.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::error::Error;

/// The code of an input that is larger than its use allows.
pub const TOO_LARGE: &str = "INPUT_TOO_LARGE";
/// The code of an input that is not a regular file where one is expected.
pub const NOT_A_FILE: &str = "BAD_INPUT";

/// What an input is for and how large it may be: the limit a use can need, with the name the
/// messages give it ("the text file", "the credentials file").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Input {
    pub what: &'static str,
    pub max_bytes: u64,
}

impl Input {
    pub const fn new(what: &'static str, max_bytes: u64) -> Self {
        Self { what, max_bytes }
    }
}

const MIB: u64 = 1024 * 1024;

/// Limits shared by more than one reader. A use with its own needs builds its own [`Input`].
pub mod limits {
    use super::{Input, MIB};

    /// Text to speak (`--text-file`, a positional file, `-`): 16 MiB is about 30 hours of speech.
    pub const TEXT: Input = Input::new("the text file", 16 * MIB);
    /// A pronunciation lexicon.
    pub const LEXICON: Input = Input::new("the lexicon", 8 * MIB);
    /// A JSON request (`media build`).
    pub const REQUEST: Input = Input::new("the request", 64 * MIB);
    /// A words file or transcript (captions, imports): a word is well under 200 bytes, so this holds
    /// over a million words.
    pub const WORDS: Input = Input::new("the words file", 256 * MIB);
    /// An audio file to decode (transcription, a recorded narration line, a music bed): 2 GiB holds
    /// about 3 hours of 48 kHz stereo 16-bit WAV and far longer in any compressed format.
    pub const AUDIO: Input = Input::new("the audio file", 2048 * MIB);
    /// A model's side file (a tokenizer, a config): the largest we ship is about 2.5 MiB.
    pub const MODEL_SIDE_FILE: Input = Input::new("the model file", 64 * MIB);
    /// A model read into memory whole (Kokoro's ONNX graph is about 310 MiB).
    pub const MODEL: Input = Input::new("the model", 2048 * MIB);
    /// A voice pack archive (Kokoro's is about 27 MiB for 54 voices).
    pub const VOICE_PACK: Input = Input::new("the voice pack", 1024 * MIB);
}

/// Opens `path` for reading after checking that it is a regular file no larger than `input`
/// allows. Returns the file and its size.
pub fn open(path: &Path, input: Input) -> Result<(File, u64), Error> {
    let file = open_nonblocking(path).map_err(|e| open_error(path, input, &e))?;
    let meta = file.metadata().map_err(|e| open_error(path, input, &e))?;
    if !meta.is_file() {
        return Err(not_a_file(path, input, &meta.file_type()));
    }
    set_blocking(&file).map_err(|e| open_error(path, input, &e))?;
    if meta.len() > input.max_bytes {
        return Err(too_large(path, input, Some(meta.len())));
    }
    Ok((file, meta.len()))
}

/// The whole content of `path` by the rules above.
pub fn read_bytes(path: &Path, input: Input) -> Result<Vec<u8>, Error> {
    let (file, len) = open(path, input)?;
    let mut bytes = Vec::with_capacity(len.min(input.max_bytes) as usize);
    read_capped(file, input, &mut bytes).map_err(|e| match e {
        Capped::TooLarge => too_large(path, input, None),
        Capped::Io(e) => Error::io(format!("cannot read {} {}", input.what, path.display()), &e),
    })?;
    Ok(bytes)
}

/// The content of `path` as UTF-8 text, with a leading byte-order mark removed (editors on
/// Windows write one, and it is no part of the text).
pub fn read_text(path: &Path, input: Input) -> Result<String, Error> {
    text_of(read_bytes(path, input)?, input, &path.display().to_string())
}

/// Standard input, whole, up to the limit of `input`, as UTF-8 text without a byte-order mark.
pub fn read_stdin_text(input: Input) -> Result<String, Error> {
    let mut bytes = Vec::new();
    read_capped(io::stdin().lock(), input, &mut bytes).map_err(|e| match e {
        Capped::TooLarge => too_large(Path::new("standard input"), input, None),
        Capped::Io(e) => Error::io(format!("cannot read {} from standard input", input.what), &e),
    })?;
    text_of(bytes, input, "standard input")
}

/// A reader's bytes as text: a BOM is dropped, invalid UTF-8 is an error naming where it is.
fn text_of(mut bytes: Vec<u8>, input: Input, shown: &str) -> Result<String, Error> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        Error::new(
            NOT_A_FILE,
            format!("{} {shown} is not UTF-8 text (byte {})", input.what, e.utf8_error().valid_up_to()),
        )
        .with_hint("Save it as UTF-8.")
    })
}

enum Capped {
    TooLarge,
    Io(io::Error),
}

fn read_capped(reader: impl Read, input: Input, into: &mut Vec<u8>) -> Result<(), Capped> {
    let read = reader.take(input.max_bytes.saturating_add(1)).read_to_end(into).map_err(Capped::Io)?;
    if read as u64 > input.max_bytes {
        into.clear();
        return Err(Capped::TooLarge);
    }
    Ok(())
}

fn too_large(path: &Path, input: Input, size: Option<u64>) -> Error {
    let size = size.map(|s| format!(" ({})", human_bytes(s))).unwrap_or_default();
    Error::new(
        TOO_LARGE,
        format!(
            "{} {} is too large{size}: at most {} is read",
            input.what,
            path.display(),
            human_bytes(input.max_bytes)
        ),
    )
}

fn open_error(path: &Path, input: Input, e: &io::Error) -> Error {
    if e.kind() == io::ErrorKind::NotFound {
        return Error::new(NOT_A_FILE, format!("{} {} does not exist", input.what, path.display()));
    }
    Error::io(format!("cannot read {} {}", input.what, path.display()), e)
}

fn not_a_file(path: &Path, input: Input, kind: &std::fs::FileType) -> Error {
    let is = if kind.is_dir() { "a folder" } else { kind_name(kind) };
    Error::new(NOT_A_FILE, format!("{} {} is {is}, not a regular file", input.what, path.display()))
        .with_hint("Give the path of a regular file (a pipe or device is not read here).")
}

#[cfg(unix)]
fn kind_name(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn kind_name(_: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

pub(crate) fn human_bytes(n: u64) -> String {
    if n >= MIB {
        format!("{:.0} MiB", n as f64 / MIB as f64)
    } else if n >= 1024 {
        format!("{:.0} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}

/// Opening a FIFO for reading blocks until a writer appears; `O_NONBLOCK` makes the open return
/// at once so the kind can be judged on the descriptor.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options().read(true).custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY).open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

#[cfg(unix)]
fn set_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor this function's caller owns, with plain integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_blocking(_: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Input = Input::new("the test file", 16);

    #[test]
    fn a_regular_file_is_read_whole_and_a_bom_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.txt");
        std::fs::write(&p, b"\xEF\xBB\xBFhello").unwrap();
        assert_eq!(read_text(&p, SMALL).unwrap(), "hello");
        assert_eq!(read_bytes(&p, SMALL).unwrap(), b"\xEF\xBB\xBFhello");
    }

    #[test]
    fn a_file_over_the_limit_is_refused_before_it_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let f = File::create(&p).unwrap();
        f.set_len(500 * MIB).unwrap(); // sparse: costs nothing unless it is read
        let e = read_bytes(&p, SMALL).unwrap_err();
        assert_eq!(e.code, TOO_LARGE);
        assert!(e.message.contains("the test file") && e.message.contains("500 MiB"), "{}", e.message);
        std::fs::write(&p, [b'x'; 16]).unwrap();
        assert_eq!(read_bytes(&p, SMALL).unwrap().len(), 16, "exactly the limit is fine");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_at_once() {
        let e = read_bytes(Path::new("/dev/zero"), SMALL).unwrap_err();
        assert_eq!((e.code, e.message.contains("a device")), (NOT_A_FILE, true), "{}", e.message);
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        // No writer ever opens it: a blocking open would hang this test.
        let e = read_bytes(&fifo, SMALL).unwrap_err();
        assert_eq!((e.code, e.message.contains("a FIFO")), (NOT_A_FILE, true), "{}", e.message);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert_eq!(read_text(&link, SMALL).unwrap_err().code, NOT_A_FILE, "a link to a device too");
        let e = read_bytes(dir.path(), SMALL).unwrap_err();
        assert!(e.message.contains("a folder"), "{}", e.message);
    }

    #[test]
    fn a_missing_file_and_bad_text_say_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_text(&dir.path().join("nope.txt"), SMALL).unwrap_err();
        assert_eq!(e.code, NOT_A_FILE);
        assert!(e.message.contains("does not exist"), "{}", e.message);
        let p = dir.path().join("latin1");
        std::fs::write(&p, b"caf\xE9").unwrap();
        let e = read_text(&p, SMALL).unwrap_err();
        assert!(e.message.contains("not UTF-8") && e.message.contains("byte 3"), "{}", e.message);
    }

    #[test]
    fn a_reader_longer_than_the_limit_stops_there() {
        let mut into = Vec::new();
        assert!(matches!(read_capped(io::repeat(0), SMALL, &mut into), Err(Capped::TooLarge)));
        assert!(into.is_empty());
        assert!(read_capped(&b"0123456789abcdef"[..], SMALL, &mut into).is_ok());
    }
}
