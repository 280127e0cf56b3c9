//! What the music chain and the CLI share: find the installed model, open it once per process,
//! and generate one seed of music for a requested length.
//!
//! The model is never downloaded on the fly: it is large and its weights are licensed for
//! non-commercial use only, so installing it is the user's explicit step
//! (`hyperframes models install musicgen-small`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::engine::{GenerateOptions, Generated, MusicGen};
pub use super::model::{missing, MODEL};
use crate::engines::catalog::{self, ModelSpec};
use crate::engines::error::EngineResult;
use crate::engines::loaded::PerPath;
use crate::engines::models_dir;

/// The longest seed generated (as the JS engine does: MusicGen was trained on 30 s clips, and every
/// second costs 50 decoder steps on a doubled batch); longer requests loop it with a crossfade.
pub const SEED_SECONDS: f64 = 28.0;

pub fn spec() -> Option<&'static ModelSpec> {
    catalog::find(MODEL)
}

/// The installed model's folder, or `MODEL_MISSING`.
pub fn installed_dir() -> EngineResult<PathBuf> {
    let root = models_dir::models_dir();
    let spec = spec().ok_or_else(|| missing(&root))?;
    if catalog::status(&root, spec, false).installed {
        Ok(spec.dir_in(&root))
    } else {
        Err(missing(&root))
    }
}

/// One engine per model folder per process, opened on first use and reused.
pub fn shared(dir: &Path) -> EngineResult<Arc<MusicGen>> {
    static ENGINES: PerPath<MusicGen> = PerPath::new();
    ENGINES.get_or_load(dir, MusicGen::open)
}

/// Seconds to generate for a requested length: all of it up to [`SEED_SECONDS`], else that much.
pub fn seed_seconds(requested: f64) -> f64 {
    requested.min(SEED_SECONDS)
}

pub fn generate(prompt: &str, requested: f64, seed: u64, progress: &dyn Fn(usize, usize)) -> EngineResult<Generated> {
    let engine = shared(&installed_dir()?)?;
    engine.generate(prompt, &GenerateOptions::new(seed_seconds(requested), seed), progress)
}

#[cfg(test)]
mod tests {
    #[test]
    fn musicgen_generates_the_request_up_to_a_28_second_seed() {
        assert_eq!(super::seed_seconds(5.0), 5.0);
        assert_eq!(super::seed_seconds(28.0), 28.0);
        assert_eq!(super::seed_seconds(90.0), 28.0, "longer beds loop the seed");
    }
}
