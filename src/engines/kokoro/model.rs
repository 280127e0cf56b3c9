//! The Kokoro ONNX model: loaded once per file per process, with the per-token durations tensor
//! exposed as an extra output so word timings come from the model itself.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::Session;
use ort::value::Tensor;

use super::voices::STYLE_DIM;
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::loaded::PerPath;
use crate::engines::{catalog, onnx_edit, resident, runtime};

/// Kokoro's internal per-token frame counts (rounded, clipped ≥ 1), `[1, tokens + 2]`.
pub const DURATIONS_TENSOR: &str = "/encoder/Clip_output_0";
#[cfg(test)]
/// Audio samples per duration frame at 24 kHz.
pub const SAMPLES_PER_FRAME: usize = 600;

pub struct KokoroModel {
    session: Mutex<Session>,
    tokens_input: &'static str,
    has_durations: bool,
}

/// One forward pass.
pub struct Inference {
    pub audio: Vec<f32>,
    /// One per padded token when the model exposes them.
    pub durations: Option<Vec<f32>>,
}

fn corrupt(path: &Path, detail: impl std::fmt::Display) -> EngineError {
    EngineError::new("MODEL_CORRUPT", format!("{} is not a usable Kokoro model: {detail}", path.display())).with_hint(
        format!(
            "Check it with `hyperframes models verify kokoro`, or reinstall with `{}`.",
            catalog::install_command("kokoro")
        ),
    )
}

enum ModelSource<'a> {
    File(&'a Path),
    Memory(&'a [u8]),
}

fn build_session(source: ModelSource<'_>) -> Result<Session, ort::Error> {
    let rt = runtime::ensure_loaded().map_err(|e| ort::Error::new(e.message))?;
    let mut builder =
        Session::builder(rt.environment())?.with_intra_threads(runtime::threads()).map_err(ort::Error::<()>::from)?;
    // Every chunk has its own length, so a memory pattern planned for one does not fit the next;
    // without it, the 994-character benchmark paragraph peaks at 502 MB instead of 550 MB, at the
    // same speed. (Turning the CPU arena off instead costs far more; re-measured with the heap
    // trims below, release, in MiB: 1,673 with glibc's defaults, 801 with an 8 MB mmap threshold,
    // and 384 with a 4 MB one but 40% more CPU, 47 s of it the kernel zeroing fresh pages.)
    builder = builder.with_memory_pattern(false).map_err(ort::Error::<()>::from)?;
    let session = match source {
        // From a file, ONNX Runtime maps the weights instead of holding extra copies.
        ModelSource::File(path) => builder.commit_from_file(path),
        ModelSource::Memory(bytes) => builder.commit_from_memory(bytes),
    }?;
    // What building the session freed (the parsed model, the optimiser's scratch) stays resident
    // in glibc's heap until trimmed, and the English G2P's embedded data (read before the model
    // loads) stays resident in the addon's read-only segment (12.4 MB, 0.4 MB once dropped).
    // Trimming after every chunk as well (see `infer`), the benchmark paragraph to WAV peaks at
    // 396 MiB (3 runs of 4; the other 408) instead of 425-437 MiB, at the same speed (A/B,
    // release); the trims alone give 408 MiB. The rest is the weights and ONNX Runtime's CPU arena.
    resident::trim_heap();
    resident::drop_read_only_data();
    Ok(session)
}

/// Where the copy of the model with the durations output lives: a hidden folder beside the model,
/// named after the original's size and modification time so a replaced model gets a fresh copy.
/// The installed file itself stays byte-identical to the published one.
fn timed_copy_path(path: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
    let name = path.file_stem()?.to_string_lossy();
    Some(path.parent()?.join(TIMED_DIR).join(format!("{name}@{}-{mtime}.onnx", meta.len())))
}

/// Hidden folder of derived model copies next to an installed model.
pub const TIMED_DIR: &str = ".timed";

fn remove_timed_copies(dir: &Path, keep: &str, prefix: &str) {
    let keep_sidecar = format!("{keep}.sha256-ok");
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name != keep && name != keep_sidecar && name.starts_with(prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Removes the derived copies of `model` (when the model itself is removed).
pub fn remove_derived(model: &Path) {
    let (Some(dir), Some(name)) = (model.parent(), model.file_stem().and_then(|n| n.to_str())) else { return };
    let timed = dir.join(TIMED_DIR);
    remove_timed_copies(&timed, "", &format!("{name}@"));
    let _ = std::fs::remove_dir(timed);
}

fn write_timed_copy(target: &Path, edited: &[u8]) -> std::io::Result<()> {
    let dir = target.parent().expect("the timed copy has a folder");
    std::fs::create_dir_all(dir)?;
    // Older copies of this model (since replaced) are no longer needed; other models' stay.
    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let prefix = name.split_once('@').map(|(stem, _)| format!("{stem}@")).unwrap_or_default();
    remove_timed_copies(dir, name, &prefix);
    crate::fsio::write_bytes(target, edited).map_err(|e| std::io::Error::other(e.message))?;
    // What the copy must hash to, for `models verify`; its size and time let loading trust it
    // without hashing (see `usable_timed_copy`).
    catalog::record_verified(target, &catalog::sha256_hex(edited))
}

fn discard_timed_copy(t: &Path) {
    let _ = std::fs::remove_file(t);
    let _ = std::fs::remove_file(catalog::sidecar_path(t));
}

/// The derived copy, when it is still exactly what was written: same size and modification time
/// as recorded beside it when it was derived. That check costs a `stat` instead of hashing 90 MB
/// on every load; it catches truncation, a rewrite and a copy over it (all change the size or the
/// time). Only a same-size edit that also restores the time slips through, the same trust the
/// catalog's hash cache gives installed files; `models verify` rehashes in full. A copy that fails
/// the check (or has no record, from an older version) is deleted, so it is derived again from
/// the verified original instead of loading damaged weights or falling back to approximate timings.
fn usable_timed_copy(t: &Path) -> bool {
    if !t.is_file() {
        return false;
    }
    if catalog::recorded_digest(t).is_some() {
        return true;
    }
    tracing::debug!(path = %t.display(), "the derived model copy changed since it was made; deriving it again");
    discard_timed_copy(t);
    false
}

/// Checks the derived copy of the model at `model` (`models verify` with `rehash`, `doctor`
/// without): `None` when there is none. With `rehash`, a copy whose bytes are not what was
/// derived is deleted (the next load derives it again) and reported corrupt, and copies left
/// from a replaced model are deleted.
pub fn check_derived(model: &Path, rehash: bool) -> Option<(PathBuf, catalog::FileState)> {
    use catalog::FileState;
    // Loading resolves links (see `shared`), so the copy sits beside the real file.
    let model = &model.canonicalize().ok()?;
    let t = timed_copy_path(model)?;
    if rehash {
        let (Some(dir), Some(stem)) = (t.parent(), model.file_stem().map(|s| s.to_string_lossy())) else {
            return None;
        };
        let name = t.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        remove_timed_copies(dir, &name, &format!("{stem}@"));
    }
    if !t.is_file() {
        return None;
    }
    let state = match (rehash, catalog::recorded_digest_any(&t)) {
        (_, None) => FileState::Corrupt { expected: "a recorded sha256".into(), actual: "none".into() },
        (false, Some(_)) if catalog::recorded_digest(&t).is_some() => FileState::Verified,
        (false, Some(_)) => FileState::Corrupt {
            expected: "the size and time it was derived with".into(),
            actual: "changed since".into(),
        },
        (true, Some(expected)) => match catalog::sha256_file(&t) {
            Ok(actual) if actual == expected => FileState::Verified,
            Ok(actual) => FileState::Corrupt { expected, actual },
            Err(e) => FileState::Corrupt { expected, actual: e.to_string() },
        },
    };
    if rehash && !matches!(state, FileState::Verified) {
        discard_timed_copy(&t);
    }
    Some((t, state))
}

impl KokoroModel {
    pub fn load(path: &Path) -> EngineResult<KokoroModel> {
        runtime::ensure_loaded()?;
        use crate::fsio::input;
        let bytes = input::read_bytes(path, input::limits::MODEL).map_err(|e| {
            if e.code == input::NOT_A_FILE && !path.exists() {
                EngineError::new("MODEL_MISSING", format!("The Kokoro model is not installed ({}).", path.display()))
                    .with_hint(format!("Run `{}`.", catalog::install_command("kokoro")))
            } else {
                e
            }
        })?;
        let inputs = onnx_edit::graph_input_names(&bytes).map_err(|e| corrupt(path, e))?;
        let tokens_input = if inputs.iter().any(|n| n == "tokens") {
            "tokens"
        } else if inputs.iter().any(|n| n == "input_ids") {
            "input_ids"
        } else {
            return Err(corrupt(path, format!("no `tokens` or `input_ids` input (inputs: {})", inputs.join(", "))));
        };
        for needed in ["style", "speed"] {
            if !inputs.iter().any(|n| n == needed) {
                return Err(corrupt(path, format!("no `{needed}` input")));
            }
        }
        let outputs = onnx_edit::graph_output_names(&bytes).map_err(|e| corrupt(path, e))?;
        if outputs.iter().any(|n| n == DURATIONS_TENSOR) {
            drop(bytes);
            let session = build_session(ModelSource::File(path)).map_err(|e| corrupt(path, e))?;
            return Ok(Self::new(session, tokens_input, true));
        }
        // Expose the durations: from a cached copy on disk when the folder is writable (the lean
        // path), else from memory.
        let timed = timed_copy_path(path);
        let with_durations = match timed.as_deref().filter(|t| usable_timed_copy(t)) {
            Some(t) => {
                drop(bytes);
                build_session(ModelSource::File(t))
            }
            None => {
                let edited = onnx_edit::add_graph_outputs(&bytes, &[DURATIONS_TENSOR]).map_err(|e| corrupt(path, e))?;
                drop(bytes);
                let written = timed.as_deref().map(|t| write_timed_copy(t, &edited));
                match (timed.as_deref(), written) {
                    (Some(t), Some(Ok(()))) => {
                        drop(edited);
                        build_session(ModelSource::File(t))
                    }
                    (_, Some(Err(e))) => {
                        tracing::debug!("cannot cache the timed model ({e}); loading it from memory");
                        build_session(ModelSource::Memory(&edited))
                    }
                    _ => build_session(ModelSource::Memory(&edited)),
                }
            }
        };
        match with_durations {
            Ok(session) => Ok(Self::new(session, tokens_input, true)),
            Err(first) => {
                tracing::debug!("model has no usable durations tensor ({first}); word timings will be approximate");
                if let Some(t) = &timed {
                    discard_timed_copy(t);
                }
                let session = build_session(ModelSource::File(path)).map_err(|e| corrupt(path, e))?;
                Ok(Self::new(session, tokens_input, false))
            }
        }
    }

    fn new(session: Session, tokens_input: &'static str, has_durations: bool) -> Self {
        Self { session: Mutex::new(session), tokens_input, has_durations }
    }

    /// Whether the graph exposes the durations tensor (exact word timings).
    #[cfg(test)]
    pub fn has_durations(&self) -> bool {
        self.has_durations
    }

    /// Runs one chunk: `padded_tokens` already carries the pad (0) at both ends.
    pub fn infer(&self, padded_tokens: &[i64], style: &[f32; STYLE_DIM], speed: f32) -> EngineResult<Inference> {
        let failed = |e: ort::Error| EngineError::new("INFERENCE_FAILED", format!("Kokoro inference failed: {e}"));
        let tokens = Tensor::from_array(([1usize, padded_tokens.len()], padded_tokens.to_vec())).map_err(failed)?;
        let style = Tensor::from_array(([1usize, STYLE_DIM], style.to_vec())).map_err(failed)?;
        let speed = Tensor::from_array(([1usize], vec![speed])).map_err(failed)?;
        let mut session = self.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session
            .run(ort::inputs![self.tokens_input => tokens, "style" => style, "speed" => speed])
            .map_err(failed)?;
        let (_, audio) = outputs["audio"].try_extract_tensor::<f32>().map_err(failed)?;
        let durations = if self.has_durations {
            let (_, d) = outputs[DURATIONS_TENSOR].try_extract_tensor::<f32>().map_err(failed)?;
            Some(d.to_vec())
        } else {
            None
        };
        let inference = Inference { audio: audio.to_vec(), durations };
        drop(outputs);
        drop(session);
        // Each chunk's outputs and the kernels' scratch outside the arena go back to glibc's heap.
        resident::trim_heap();
        Ok(inference)
    }
}

/// One session per model file per process, created on first use and reused.
pub fn shared(path: &Path) -> EngineResult<Arc<KokoroModel>> {
    static MODELS: PerPath<KokoroModel> = PerPath::new();
    MODELS.get_or_load(path, KokoroModel::load)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::testing::onnx::{kokoro_like, kokoro_like_durations};

    /// The derived model copies in `dir`'s `.timed` folder (not their digest records).
    fn copies(dir: &Path) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir.join(TIMED_DIR))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "onnx"))
            .collect();
        out.sort();
        out
    }

    fn write_model(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kokoro.onnx");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn exposes_durations_and_matches_the_sample_count() {
        let (_d, path) = write_model(&kokoro_like("tokens", true));
        let model = KokoroModel::load(&path).unwrap();
        assert!(model.has_durations());
        let padded = [0i64, 50, 83, 54, 156, 57, 135, 0];
        let out = model.infer(&padded, &[0.25; STYLE_DIM], 1.0).unwrap();
        let durations = out.durations.unwrap();
        assert_eq!(durations, kokoro_like_durations(&padded, 1.0));
        let frames: f32 = durations.iter().sum();
        assert_eq!(out.audio.len(), frames as usize * SAMPLES_PER_FRAME);
    }

    #[test]
    fn accepts_the_input_ids_name() {
        let (_d, path) = write_model(&kokoro_like("input_ids", true));
        let model = KokoroModel::load(&path).unwrap();
        assert!(model.infer(&[0, 10, 0], &[0.1; STYLE_DIM], 1.0).unwrap().durations.is_some());
    }

    #[test]
    fn a_model_without_durations_still_speaks() {
        let (_d, path) = write_model(&kokoro_like("tokens", false));
        let model = KokoroModel::load(&path).unwrap();
        assert!(!model.has_durations());
        let out = model.infer(&[0, 10, 20, 0], &[0.1; STYLE_DIM], 1.0).unwrap();
        assert!(out.durations.is_none() && !out.audio.is_empty());
    }

    #[test]
    fn corrupt_and_missing_models_are_clear_errors() {
        let (_d, path) = write_model(b"\x08\x07garbage that is not a model");
        let err = KokoroModel::load(&path).err().unwrap();
        assert_eq!(err.code, "MODEL_CORRUPT");
        assert!(err.hint.unwrap().contains("hyperframes models"));
        let err = KokoroModel::load(Path::new("/nonexistent/kokoro.onnx")).err().unwrap();
        assert_eq!(err.code, "MODEL_MISSING");
    }

    #[test]
    fn sessions_are_shared_per_file() {
        let (_d, path) = write_model(&kokoro_like("tokens", true));
        assert!(Arc::ptr_eq(&shared(&path).unwrap(), &shared(&path).unwrap()));
    }

    #[test]
    fn the_timed_copy_is_cached_beside_the_model_and_the_original_untouched() {
        let original = kokoro_like("tokens", true);
        let (dir, path) = write_model(&original);
        assert!(KokoroModel::load(&path).unwrap().has_durations());
        let cached = copies(dir.path());
        assert_eq!(cached.len(), 1);
        assert_eq!(std::fs::read(&path).unwrap(), original, "the installed file keeps its published bytes");
        let outputs = onnx_edit::graph_output_names(&std::fs::read(&cached[0]).unwrap()).unwrap();
        assert!(outputs.iter().any(|n| n == DURATIONS_TENSOR));
        // Loading again reuses the copy.
        assert!(KokoroModel::load(&path).unwrap().has_durations());
        assert_eq!(copies(dir.path()), cached);
    }

    #[test]
    fn a_stale_or_missing_tensor_copy_is_not_kept() {
        let (dir, path) = write_model(&kokoro_like("tokens", false));
        assert!(!KokoroModel::load(&path).unwrap().has_durations());
        let left = std::fs::read_dir(dir.path().join(TIMED_DIR)).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "a copy that cannot load is removed");
    }

    #[test]
    fn copies_of_different_models_in_one_folder_coexist_and_removal_is_per_model() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("kokoro-v1.0.int8.onnx");
        let b = dir.path().join("kokoro-v1.0.onnx");
        std::fs::write(&a, kokoro_like("tokens", true)).unwrap();
        std::fs::write(&b, kokoro_like("input_ids", true)).unwrap();
        KokoroModel::load(&a).unwrap();
        KokoroModel::load(&b).unwrap();
        assert_eq!(copies(dir.path()).len(), 2);
        remove_derived(&b);
        let left: Vec<String> = std::fs::read_dir(dir.path().join(TIMED_DIR))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 2, "the copy and its digest record: {left:?}");
        assert!(left.iter().all(|n| n.starts_with("kokoro-v1.0.int8@")), "{left:?}");
    }

    #[test]
    fn a_truncated_or_rewritten_derived_copy_is_derived_again_not_downgraded() {
        let (dir, path) = write_model(&kokoro_like("tokens", true));
        KokoroModel::load(&path).unwrap();
        let copy = copies(dir.path()).remove(0);
        let good = std::fs::read(&copy).unwrap();
        // Truncated: loading derives it again and keeps exact timings.
        std::fs::write(&copy, &good[..good.len() / 2]).unwrap();
        assert!(KokoroModel::load(&path).unwrap().has_durations(), "no fallback to approximate timings");
        assert_eq!(std::fs::read(&copy).unwrap(), good);
        // Same size, different bytes (a rewrite changes the modification time): derived again.
        let mut flipped = good.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x55;
        std::fs::write(&copy, &flipped).unwrap();
        assert!(!check_derived(&path, false).unwrap().1.is_usable(), "doctor's cheap check sees it");
        assert!(KokoroModel::load(&path).unwrap().has_durations());
        assert_eq!(std::fs::read(&copy).unwrap(), good);
        assert_eq!(check_derived(&path, true).unwrap().1, catalog::FileState::Verified);
    }

    #[test]
    fn a_full_check_finds_a_damaged_copy_even_with_its_time_restored_and_deletes_it() {
        let (dir, path) = write_model(&kokoro_like("tokens", true));
        KokoroModel::load(&path).unwrap();
        let copy = copies(dir.path()).remove(0);
        let when = std::fs::metadata(&copy).unwrap().modified().unwrap();
        let mut bytes = std::fs::read(&copy).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x55;
        std::fs::write(&copy, &bytes).unwrap();
        std::fs::File::options().write(true).open(&copy).unwrap().set_modified(when).unwrap();
        assert!(check_derived(&path, false).unwrap().1.is_usable(), "the cheap check cannot see this one");
        let (_, state) = check_derived(&path, true).unwrap();
        assert!(matches!(state, catalog::FileState::Corrupt { .. }), "{state:?}");
        assert!(!copy.exists() && !catalog::sidecar_path(&copy).exists());
        assert!(check_derived(&path, true).is_none());
        assert!(KokoroModel::load(&path).unwrap().has_durations());
        assert_eq!(check_derived(&path, true).unwrap().1, catalog::FileState::Verified);
    }
}
