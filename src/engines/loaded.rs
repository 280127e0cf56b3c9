//! Loaded engines kept for the life of the process: one per model file or folder, loaded on first
//! use and shared by every later call. The caches also answer whether any engine is working right
//! now ([`any_in_use`]): the process must not run ONNX Runtime's teardown under a working session.
//!
//! Exit safety has two halves, both here:
//! - an exit gate ([`ExitGate`]): once exit begins, no engine use starts (a thread about to load or
//!   borrow an engine parks until the process ends), closed atomically with the check of whether
//!   one is under way, so no use can slip in between the check and ONNX Runtime's teardown;
//! - the exit guard ([`arm`]): a handler, run while the process exits, that closes the gate and
//!   ends the process at once (`_exit`, same status) if an engine is still in use. Exit handlers
//!   run last-registered first, and ONNX Runtime registers its static destructors when it is
//!   loaded and as its sessions are first built; so the guard is registered again after each of
//!   those ([`rearm`]) to stay ahead of them. (A worker torn down before ONNX Runtime was loaded
//!   used to leave the guard behind ONNX Runtime's destructors: they ran first, under the session
//!   the orphaned work was still building, and the process ended on signal 11.)

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::error::EngineResult;

/// One engine's place in a cache: locked while it loads, so racing first calls load it once.
type Slot<T> = Arc<Mutex<Option<Arc<T>>>>;

pub struct PerPath<T> {
    loaded: OnceLock<Mutex<HashMap<PathBuf, Slot<T>>>>,
    gate: &'static ExitGate,
}

impl<T> Default for PerPath<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether engine use may start. Closing it and starting a use are ordered (`SeqCst` on both
/// sides, Dekker-style): either the closer sees the use, or the use sees the gate closed.
pub struct ExitGate {
    exiting: AtomicBool,
    /// Uses counted by [`ExitGate::scoped`] (loading ONNX Runtime itself).
    scoped: AtomicUsize,
}

impl ExitGate {
    pub const fn new() -> Self {
        Self { exiting: AtomicBool::new(false), scoped: AtomicUsize::new(0) }
    }

    /// False once [`ExitGate::close`] has run. Checked by a use after it made itself visible
    /// (a locked slot or a held engine, or the scoped count).
    fn admits(&self) -> bool {
        !self.exiting.load(Ordering::SeqCst)
    }

    /// Exit begins: from now on no use starts. Returns whether one is under way (`busy` tells
    /// for the caches; scoped uses are counted here).
    fn close(&self, busy: impl FnOnce() -> bool) -> bool {
        self.exiting.store(true, Ordering::SeqCst);
        self.scoped.load(Ordering::SeqCst) > 0 || busy()
    }

    /// Runs `f` as a use of the engines, or returns `None` without running it once exit began.
    fn scoped<R>(&self, f: impl FnOnce() -> R) -> Option<R> {
        struct Leave<'a>(&'a AtomicUsize);
        impl Drop for Leave<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.scoped.fetch_add(1, Ordering::SeqCst);
        let _leave = Leave(&self.scoped);
        self.admits().then(f)
    }
}

impl Default for ExitGate {
    fn default() -> Self {
        Self::new()
    }
}

/// The process's gate.
static EXIT_GATE: ExitGate = ExitGate::new();

/// A thread that may not start its engine use because the process is exiting waits here for the
/// end (which the exit in progress brings): returning an error instead would let the work go on
/// (the next line of a build, its manifest) during the exit.
fn wait_for_the_exit() -> ! {
    loop {
        std::thread::park();
    }
}

/// `f` (loading ONNX Runtime, say) counted as an engine use; never returns once exit has begun.
pub fn as_use<R>(f: impl FnOnce() -> R) -> R {
    EXIT_GATE.scoped(f).unwrap_or_else(|| wait_for_the_exit())
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
        Self::gated_by(&EXIT_GATE)
    }

    const fn gated_by(gate: &'static ExitGate) -> Self {
        Self { loaded: OnceLock::new(), gate }
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
    /// Once the process is exiting, never returns (see [`ExitGate`]).
    pub fn get_or_load(
        &'static self,
        path: &Path,
        load: impl FnOnce(&Path) -> EngineResult<T>,
    ) -> EngineResult<Arc<T>> {
        self.admitted(path, load).unwrap_or_else(|| wait_for_the_exit())
    }

    /// [`PerPath::get_or_load`], or `None` when the gate is closed.
    fn admitted(
        &'static self,
        path: &Path,
        load: impl FnOnce(&Path) -> EngineResult<T>,
    ) -> Option<EngineResult<Arc<T>>> {
        let key = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
        let slot = self.cache().lock().unwrap_or_else(|e| e.into_inner()).entry(key.clone()).or_default().clone();
        let mut engine = slot.lock().unwrap_or_else(|e| e.into_inner());
        // Checked with the slot locked, which makes this use visible to the closer's check: the
        // lock itself while loading, the engine's count once handed out.
        if !self.gate.admits() {
            return None;
        }
        if let Some(e) = engine.as_ref() {
            return Some(Ok(e.clone()));
        }
        let loaded = match load(&key) {
            Ok(e) => Arc::new(e),
            Err(e) => return Some(Err(e)),
        };
        // Building the first session initialises more of ONNX Runtime's statics, whose
        // destructors now come after the guard in the exit order.
        rearm();
        *engine = Some(loaded.clone());
        Some(Ok(loaded))
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

// ---------------------------------------------------------------------------
// The exit guard
// ---------------------------------------------------------------------------

/// The status `process.exit` announced, for platforms whose exit handlers are not told it.
static ANNOUNCED: AtomicI32 = AtomicI32::new(0);
/// Set by the first [`arm`]: from then on every [`rearm`] registers the guard again.
static ARMED: AtomicBool = AtomicBool::new(false);

/// Arms the exit guard: a JS environment is closing (its `process` emitted `exit`, or a worker is
/// torn down), and the process may exit while engines work. `code`: the status `process.exit`
/// announced, when known.
pub fn arm(code: Option<i32>) {
    if let Some(code) = code {
        ANNOUNCED.store(code, Ordering::SeqCst);
    }
    ARMED.store(true, Ordering::SeqCst);
    register_guard();
}

/// Registers the guard again, once armed, so it runs before the exit handlers registered since
/// (ONNX Runtime's, when it was just loaded or built its first session). A handful per process.
pub fn rearm() {
    if ARMED.load(Ordering::SeqCst) {
        register_guard();
    }
}

fn register_guard() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::ffi::{c_int, c_void};
        extern "C" {
            /// glibc: like `atexit`, but the handler receives the exit status.
            fn on_exit(handler: extern "C" fn(c_int, *mut c_void), arg: *mut c_void) -> c_int;
        }
        extern "C" fn handler(status: c_int, _: *mut c_void) {
            end_now_if_busy(status);
        }
        // SAFETY: registers a plain function with no captured state.
        unsafe { on_exit(handler, std::ptr::null_mut()) };
    }
    #[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
    {
        extern "C" fn handler() {
            end_now_if_busy(ANNOUNCED.load(Ordering::SeqCst));
        }
        // SAFETY: registers a plain function with no captured state.
        unsafe { libc::atexit(handler) };
    }
}

/// The exit handler: closes the gate, and ends the process now if an engine is in use.
#[cfg_attr(not(unix), allow(dead_code))]
fn end_now_if_busy(status: std::ffi::c_int) {
    if EXIT_GATE.close(any_in_use) {
        #[cfg(unix)]
        // SAFETY: flushing C stdio and ending the process are valid at any point of exit.
        unsafe {
            libc::fflush(std::ptr::null_mut());
            libc::_exit(status)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

    /// A cache with a gate of its own, so closing it leaves the process's gate open.
    fn gated_cache<T: Send + Sync + 'static>() -> (&'static ExitGate, &'static PerPath<T>) {
        let gate: &'static ExitGate = Box::leak(Box::new(ExitGate::new()));
        (gate, Box::leak(Box::new(PerPath::gated_by(gate))))
    }

    #[test]
    fn once_exit_began_no_engine_is_handed_out_or_loaded() {
        let (gate, cache) = gated_cache::<u8>();
        let dir = tempfile::tempdir().unwrap();
        let engine = cache.admitted(dir.path(), |_| Ok(1)).unwrap().unwrap();
        drop(engine);
        assert!(!gate.close(|| cache.busy()), "nothing in use when exit began");
        assert!(cache.admitted(dir.path(), |_| Ok(2)).is_none(), "a loaded engine is not handed out");
        let other = dir.path().join("other");
        std::fs::create_dir(&other).unwrap();
        let loads = AtomicUsize::new(0);
        let refused = cache.admitted(&other, |_| Ok(loads.fetch_add(1, Ordering::SeqCst) as u8));
        assert!(refused.is_none() && loads.load(Ordering::SeqCst) == 0, "nothing new is loaded");
    }

    #[test]
    fn a_use_that_started_before_exit_is_seen_by_the_check() {
        let (gate, cache) = gated_cache::<u8>();
        let dir = tempfile::tempdir().unwrap();
        let held = cache.admitted(dir.path(), |_| Ok(1)).unwrap().unwrap();
        assert!(gate.close(|| cache.busy()), "an engine held by a caller is in use");
        drop(held);
        let (gate, _) = gated_cache::<u8>();
        let inside = gate.scoped(|| gate.close(|| false));
        assert_eq!(inside, Some(true), "a scoped use (loading ONNX Runtime) is in use");
        assert_eq!(gate.scoped(|| ()), None, "and none starts after exit began");
    }

    /// The exit check against uses starting at the same moment: whenever the check found nothing
    /// in use, no use may have started (a use slipping in there ran under ONNX Runtime's teardown).
    #[test]
    fn no_use_starts_after_an_exit_check_that_found_none() {
        let mut idle_checks = 0;
        for _ in 0..300 {
            let (gate, cache) = gated_cache::<u8>();
            let dir = tempfile::tempdir().unwrap();
            drop(cache.admitted(dir.path(), |_| Ok(1)).unwrap().unwrap());
            let found_idle = Arc::new(AtomicBool::new(false));
            let user = {
                let (found_idle, path) = (found_idle.clone(), dir.path().to_path_buf());
                std::thread::spawn(move || {
                    let Some(engine) = cache.admitted(&path, |_| Ok(1)) else { return false };
                    let started_after_idle_check = found_idle.load(Ordering::SeqCst);
                    drop(engine);
                    started_after_idle_check
                })
            };
            std::thread::yield_now();
            if !gate.close(|| cache.busy()) {
                found_idle.store(true, Ordering::SeqCst);
                idle_checks += 1;
            }
            assert!(!user.join().unwrap(), "a use started after the exit check found none");
        }
        assert!(idle_checks > 0, "some checks found nothing in use");
    }
}
