//! Benchmarks, kept out of the unit tests: each is a function the `benches/` target of the same
//! name calls (`cargo bench --features bench --bench <name>`), so it runs optimised, on its own,
//! and only when asked. They print figures and assert no time.
//!
//! - [`musicgen`]: the MusicGen generation loop against the same loop in Python.
//! - [`voice_pack`]: opening a full-size (28 MB) Kokoro voice pack, its first voice, all voices.
//! - [`whisper_heads`]: choosing the cross-attention heads that time words best.

pub mod musicgen;
pub mod voice_pack;
pub mod whisper_heads;

use std::path::{Path, PathBuf};

/// A fresh folder under the system temp dir, removed on drop (tempfile is a dev-dependency only).
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("hyperframes-bench-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the benchmark's temp folder");
        TempDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
