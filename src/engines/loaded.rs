//! Loaded engines kept for the life of the process: one per model file or folder, loaded on first
//! use and shared by every later call. The caches also answer whether any engine is working right
//! now ([`any_in_use`]): the process must not run ONNX Runtime's teardown under a working session.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use super::error::EngineResult;

/// One engine's place in a cache: locked while it loads, so racing first calls load it once.
type Slot<T> = Arc<Mutex<Option<Arc<T>>>>;

pub struct PerPath<T> {
    loaded: OnceLock<Mutex<HashMap<PathBuf, Slot<T>>>>,
}

impl<T> Default for PerPath<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A cache that can say whether one of its engines is loading or borrowed.
trait Busy: Sync {
    fn busy(&self) -> bool;
}

/// Every cache that has been used, for [`any_in_use`].
static CACHES: Mutex<Vec<&'static dyn Busy>> = Mutex::new(Vec::new());

/// True while any engine is loading or held by a caller (running inference, in practice). Never
/// blocks: a cache whose lock is taken right now counts as busy. Safe to call while exiting.
pub fn any_in_use() -> bool {
    let Ok(caches) = CACHES.try_lock() else { return true };
    caches.iter().any(|c| c.busy())
}

impl<T> PerPath<T> {
    pub const fn new() -> Self {
        Self { loaded: OnceLock::new() }
    }
}

impl<T: Send + Sync + 'static> PerPath<T> {
    fn cache(&'static self) -> &'static Mutex<HashMap<PathBuf, Slot<T>>> {
        self.loaded.get_or_init(|| {
            CACHES.lock().unwrap_or_else(|e| e.into_inner()).push(self);
            Default::default()
        })
    }

    /// The engine for `path` (by its canonical form), loading it with `load` the first time. A
    /// second caller waits for a load in progress rather than loading the model again (each
    /// copy holds hundreds of MB); a failed load is not kept, so the next call tries again.
    pub fn get_or_load(
        &'static self,
        path: &Path,
        load: impl FnOnce(&Path) -> EngineResult<T>,
    ) -> EngineResult<Arc<T>> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let slot = self.cache().lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default().clone();
        let mut engine = slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = engine.as_ref() {
            return Ok(e.clone());
        }
        let loaded = Arc::new(load(&key)?);
        *engine = Some(loaded.clone());
        Ok(loaded)
    }
}

impl<T: Send + Sync> Busy for PerPath<T> {
    fn busy(&self) -> bool {
        let Some(cache) = self.loaded.get() else { return false };
        let Ok(slots) = cache.try_lock() else { return true };
        slots.values().any(|slot| match slot.try_lock() {
            // Held by the cache and by one or more callers.
            Ok(engine) => engine.as_ref().is_some_and(|e| Arc::strong_count(e) > 1),
            // Loading (or being handed out this instant).
            Err(_) => true,
        })
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

    #[test]
    fn racing_first_calls_load_once() {
        static CACHE: PerPath<usize> = PerPath::new();
        let loads = AtomicUsize::new(0);
        let dir = tempfile::tempdir().unwrap();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    CACHE
                        .get_or_load(dir.path(), |_| {
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            Ok(loads.fetch_add(1, Ordering::SeqCst))
                        })
                        .unwrap()
                });
            }
        });
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn an_engine_is_in_use_while_a_caller_holds_it_or_it_loads() {
        static CACHE: PerPath<u8> = PerPath::new();
        let dir = tempfile::tempdir().unwrap();
        let (entered_tx, entered_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let loading = std::thread::spawn(move || {
            CACHE.get_or_load(dir.path(), |_| {
                entered_tx.send(()).unwrap();
                release_rx.recv().unwrap();
                Ok(7)
            })
        });
        entered_rx.recv().unwrap();
        assert!(CACHE.busy(), "loading");
        release_tx.send(()).unwrap();
        let engine = loading.join().unwrap().unwrap();
        assert!(CACHE.busy(), "held by a caller");
        drop(engine);
        assert!(!CACHE.busy(), "only the cache holds it");
    }
}
