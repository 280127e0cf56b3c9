//! Helpers shared by the crate's unit tests:
//!
//! - [`http`]: the one scripted HTTP(S) server on 127.0.0.1 every test that needs a server uses.
//! - [`env_lock`] + [`EnvGuard`]: environment changes are process-wide, so tests that make them
//!   hold one lock and restore what they changed.
//! - [`real_model`] / [`onnxruntime_lib`]: the real-model tier. A missing model is a visible
//!   `SKIPPED:` line on stderr, and a failure where CI installs the models.

pub mod http;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

static ENV_LOCK: Mutex<()> = Mutex::new(());

pub fn env_lock() -> MutexGuard<'static, ()> {
    ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sets (Some) or removes (None) variables and restores them on drop. Hold `env_lock()` first.
pub struct EnvGuard {
    saved: Vec<(String, Option<std::ffi::OsString>)>,
}

impl EnvGuard {
    pub fn set(vars: &[(&str, Option<&str>)]) -> Self {
        let saved = vars.iter().map(|(k, _)| (k.to_string(), std::env::var_os(k))).collect();
        for (k, v) in vars {
            // SAFETY: tests that touch the environment serialise on ENV_LOCK.
            unsafe {
                match v {
                    Some(v) => std::env::set_var(k, v),
                    None => std::env::remove_var(k),
                }
            }
        }
        Self { saved }
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        for (k, v) in self.saved.drain(..).rev() {
            unsafe {
                match v {
                    Some(v) => std::env::set_var(&k, v),
                    None => std::env::remove_var(&k),
                }
            }
        }
    }
}

/// The models root of the real-model tier (`scripts/test.sh` sets it to `.cache/test-models`).
pub const MODELS_ENV: &str = "HYPERFRAMES_TEST_MODELS_DIR";

fn models_root() -> Option<PathBuf> {
    std::env::var_os(MODELS_ENV).filter(|v| !v.is_empty()).map(PathBuf::from)
}

/// In CI with the models dir set, the models were installed on purpose: a missing one is a broken
/// setup, not a reason to skip.
fn must_run() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty()) && models_root().is_some()
}

/// Says on stderr that the running test checked nothing and why (or fails, see [`must_run`]).
pub fn skip<T>(why: &str) -> Option<T> {
    let current = std::thread::current();
    let test = current.name().unwrap_or("?");
    assert!(!must_run(), "{test}: {why}; CI set {MODELS_ENV}, so every real-model test must run");
    // Straight to the stream: libtest captures `eprintln!` of passing tests, and a skip must show.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {test}: {why}");
    None
}

/// The installed catalog model `model` (its folder under `$HYPERFRAMES_TEST_MODELS_DIR`), or a
/// visible skip.
pub fn real_model(model: &str) -> Option<PathBuf> {
    let spec = crate::engines::catalog::find(model).unwrap_or_else(|| panic!("{model} is not in the catalog"));
    match models_root() {
        Some(root) if crate::engines::catalog::status(&root, spec, false).installed => Some(spec.dir_in(&root)),
        Some(root) => skip(&format!("{model} not installed in {} ({MODELS_ENV})", root.display())),
        None => skip(&format!(
            "{model} not installed (set {MODELS_ENV} to a models dir holding {model}/, as scripts/test.sh does; \
             `npm run models:registry` installs them)"
        )),
    }
}

/// The ONNX Runtime library `npm ci` puts under this checkout's `node_modules`, or a visible skip.
pub fn onnxruntime_lib() -> Option<PathBuf> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    match crate::engines::runtime::find_npm_runtime(root) {
        Some(lib) => Some(lib),
        None => skip(&format!("ONNX Runtime not installed under {}/node_modules (run `npm ci`)", root.display())),
    }
}

/// `frames` MPEG-1 layer III frames of silence (128 kb/s, 44.1 kHz): `frames` × 1152 / 44100 s.
pub fn silent_mp3(frames: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..frames {
        let mut frame = vec![0u8; 417];
        frame[..4].copy_from_slice(&[0xff, 0xfb, 0x90, 0x00]);
        out.extend(frame);
    }
    out
}

/// A real FLAC file of `frames` frames of mono 16-bit silence at 48 kHz, as small as FLAC allows:
/// blocks of 65 535 frames, each one CONSTANT subframe (about 12 bytes a block), so an hour costs
/// under 32 KB and 672 M frames about 160 KB. `claimed` is STREAMINFO's total (0: unknown). For
/// decompression-bomb tests; nothing this size is committed.
pub fn silent_flac(frames: u64, claimed: u64) -> Vec<u8> {
    const BLOCK: u64 = 65_535;
    const RATE: u64 = 48_000;
    let mut out = b"fLaC".to_vec();
    out.extend_from_slice(&[0x80, 0, 0, 34]); // the last metadata block: STREAMINFO, 34 bytes
    out.extend_from_slice(&(BLOCK as u16).to_be_bytes()); // min and max block size
    out.extend_from_slice(&(BLOCK as u16).to_be_bytes());
    out.extend_from_slice(&[0; 6]); // min and max frame size: unknown
                                    // 20 bits rate, 3 bits channels - 1, 5 bits bits-per-sample - 1, 36 bits total frames.
    let packed = (RATE << 44) | (15 << 36) | (claimed & ((1 << 36) - 1));
    out.extend_from_slice(&packed.to_be_bytes());
    out.extend_from_slice(&[0; 16]); // MD5: unknown
    let mut done = 0u64;
    let mut number = 0u32;
    while done < frames {
        let len = BLOCK.min(frames - done);
        // Sync and fixed block size; block size from the header's end (16 bits), 48 kHz; mono,
        // 16 bits per sample.
        let mut frame = vec![0xFF, 0xF8, 0x7A, 0x08];
        frame.extend(utf8_coded(number));
        frame.extend_from_slice(&((len - 1) as u16).to_be_bytes());
        frame.push(crc8(&frame));
        frame.extend_from_slice(&[0x00, 0x00, 0x00]); // a CONSTANT subframe of value 0
        let crc = crc16(&frame);
        frame.extend_from_slice(&crc.to_be_bytes());
        out.extend(frame);
        done += len;
        number += 1;
    }
    out
}

/// FLAC's frame number coding (UTF-8's scheme, up to 31 bits).
fn utf8_coded(n: u32) -> Vec<u8> {
    if n < 0x80 {
        return vec![n as u8];
    }
    let (len, lead) = match n {
        0x80..0x800 => (2, 0xC0),
        0x800..0x1_0000 => (3, 0xE0),
        0x1_0000..0x20_0000 => (4, 0xF0),
        0x20_0000..0x400_0000 => (5, 0xF8),
        _ => (6, 0xFC),
    };
    let mut out = vec![0u8; len];
    let mut rest = n;
    for b in out[1..].iter_mut().rev() {
        *b = 0x80 | (rest & 0x3F) as u8;
        rest >>= 6;
    }
    out[0] = lead | rest as u8;
    out
}

fn crc8(bytes: &[u8]) -> u8 {
    let mut crc = 0u8;
    for &b in bytes {
        crc ^= b;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 { (crc << 1) ^ 0x07 } else { crc << 1 };
        }
    }
    crc
}

fn crc16(bytes: &[u8]) -> u16 {
    let mut crc = 0u16;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x8005 } else { crc << 1 };
        }
    }
    crc
}

/// Makes a FIFO at `path` that no one writes to: a reader that opens it blocking hangs for ever.
#[cfg(unix)]
pub fn make_fifo(path: &std::path::Path) {
    let c = std::ffi::CString::new(path.to_str().expect("a UTF-8 path")).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo {}", path.display());
}
