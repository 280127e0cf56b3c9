//! Local engines (Kokoro speech, Whisper transcription and alignment, MusicGen music) and the
//! plumbing they share: locating/loading ONNX Runtime, the model catalog and
//! the on-disk models directory.

pub mod catalog;
pub mod error;
pub mod install;
pub mod kokoro;
pub mod loaded;
pub mod models_dir;
pub mod musicgen;
pub mod onnx_edit;
pub mod resident;
pub mod runtime;
#[cfg(any(test, feature = "bench"))]
#[cfg_attr(not(test), allow(dead_code))]
pub mod testing;
pub mod whisper;

pub const OFFLINE_ENV: &str = "HYPERFRAMES_OFFLINE";

/// `HYPERFRAMES_OFFLINE=1`: never touch the network (no model downloads, no hosted providers).
pub fn offline() -> bool {
    std::env::var(OFFLINE_ENV).is_ok_and(|v| matches!(v.trim(), "1" | "true" | "yes"))
}
