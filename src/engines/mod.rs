//! Local engines (Kokoro voice, Whisper captions, MusicGen music) and the
//! plumbing they share: locating/loading ONNX Runtime, the model catalog and
//! the on-disk models directory.

pub mod catalog;
pub mod models_dir;
pub mod runtime;

/// Serialises tests that read or write process environment variables
/// (`ORT_DYLIB_PATH`, `HYPERFRAMES_MODELS_DIR`, `HYPERFRAMES_THREADS`, …).
/// Every test in the crate that touches those variables should hold this lock.
#[cfg(test)]
pub(crate) fn env_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
