//! Loaded engines kept for the life of the process: one per model file or folder, loaded on first
//! use and shared by every later call.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::error::EngineResult;

pub struct PerPath<T> {
    loaded: OnceLock<Mutex<HashMap<PathBuf, Arc<T>>>>,
}

impl<T> Default for PerPath<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> PerPath<T> {
    pub const fn new() -> Self {
        Self { loaded: OnceLock::new() }
    }

    /// The engine for `path` (by its canonical form), loading it with `load` the first time.
    pub fn get_or_load(&self, path: &Path, load: impl FnOnce(&Path) -> EngineResult<T>) -> EngineResult<Arc<T>> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let cache = self.loaded.get_or_init(Default::default);
        if let Some(engine) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            return Ok(engine.clone());
        }
        // Loading takes seconds; do it outside the lock. Two racing first calls may both load; the
        // first stored wins and the other is dropped.
        let engine = Arc::new(load(&key)?);
        let mut guard = cache.lock().unwrap_or_else(|e| e.into_inner());
        Ok(guard.entry(key).or_insert(engine).clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn each_path_is_loaded_once_and_failures_are_not_kept() {
        static CACHE: PerPath<String> = PerPath::new();
        let loads = AtomicUsize::new(0);
        let dir = tempfile::tempdir().unwrap();
        let load = |p: &Path| {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(p.display().to_string())
        };
        let a = CACHE.get_or_load(dir.path(), load).unwrap();
        let b = CACHE.get_or_load(&dir.path().join("."), load).unwrap();
        assert!(Arc::ptr_eq(&a, &b), "the same folder by another spelling is the same engine");
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        let missing = dir.path().join("nope");
        let e = CACHE.get_or_load(&missing, |_| Err(crate::engines::error::EngineError::new("MODEL_MISSING", "x")));
        assert_eq!(e.err().unwrap().code, "MODEL_MISSING");
        assert!(CACHE.get_or_load(&missing, load).is_ok(), "a failed load is tried again");
    }
}
