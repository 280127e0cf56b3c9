//! Work done on behalf of a JS environment (a [`Scope`]): counted while it runs on the blocking
//! pool, told when that environment closes, and waited for when a worker is torn down.
//!
//! A worker's native work outlives its JS environment: a synthesis or a build keeps going on
//! other threads after `worker.terminate()`, and the process may then exit under it (ONNX
//! Runtime's static destructors running under a working session: signal 11). So a worker's
//! teardown closes its scope — the futures stop at their next `await`, blocking work at its
//! next checkpoint ([`closed`]: between chunks, before a model loads) — and waits until none of
//! its blocking work runs.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
pub struct Scope(Arc<Inner>);

#[derive(Default)]
struct Inner {
    closed: AtomicBool,
    /// Blocking closures of this scope running now.
    running: Mutex<usize>,
    idle: Condvar,
    closing: tokio::sync::Notify,
}

tokio::task_local! {
    static CURRENT: Scope;
}

thread_local! {
    /// The scope of the blocking closure this thread runs.
    static BLOCKING: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

impl Scope {
    /// Closes the scope: its work stops at the next chance. Idempotent.
    pub fn close(&self) {
        self.0.closed.store(true, Ordering::SeqCst);
        self.0.closing.notify_waiters();
    }

    pub fn is_closed(&self) -> bool {
        self.0.closed.load(Ordering::SeqCst)
    }

    /// Resolves once the scope is closed.
    pub async fn closed(&self) {
        loop {
            let notified = self.0.closing.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Runs `work` in this scope: the blocking closures it starts ([`crate::blocking`]) count.
    pub async fn run<F: std::future::Future>(&self, work: F) -> F::Output {
        CURRENT.scope(self.clone(), work).await
    }

    /// Waits until no blocking closure of this scope runs, at most `limit` (a closure stuck on
    /// something else must not hang the teardown for ever). True when idle.
    pub fn wait_idle(&self, limit: Duration) -> bool {
        let running = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        let (running, _) =
            self.0.idle.wait_timeout_while(running, limit, |n| *n > 0).unwrap_or_else(|e| e.into_inner());
        *running == 0
    }

    fn enter(&self) -> Running {
        *self.0.running.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        Running(self.clone())
    }
}

/// One blocking closure of a scope, running.
pub(crate) struct Running(Scope);

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = self.0 .0.running.lock().unwrap_or_else(|e| e.into_inner());
        *running -= 1;
        if *running == 0 {
            self.0 .0.idle.notify_all();
        }
    }
}

/// The current task's scope, counted as running until the returned value is dropped (by the
/// blocking closure about to start, on its thread).
pub(crate) fn enter_current() -> Option<Running> {
    CURRENT.try_with(Scope::enter).ok()
}

/// Runs `f` on this (blocking) thread as part of `running`'s scope.
pub(crate) fn run_blocking<T>(running: Option<Running>, f: impl FnOnce() -> T) -> T {
    let scope = running.as_ref().map(|r| r.0.clone());
    let previous = BLOCKING.with(|b| b.replace(scope));
    let out = f();
    BLOCKING.with(|b| *b.borrow_mut() = previous);
    drop(running);
    out
}

/// True when the scope of the work running here (a blocking closure, or a task) has closed:
/// stop at this checkpoint, the environment that asked for the work is gone.
pub fn closed() -> bool {
    BLOCKING
        .with(|b| b.borrow().as_ref().map(Scope::is_closed))
        .unwrap_or_else(|| CURRENT.try_with(Scope::is_closed).unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocking_work_counts_until_it_ends_and_sees_its_scope_close() {
        let scope = Scope::default();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let task = {
            let scope = scope.clone();
            tokio::spawn(async move {
                scope
                    .run(crate::blocking(move || {
                        started_tx.send(closed()).unwrap();
                        go_rx.recv().unwrap();
                        closed()
                    }))
                    .await
            })
        };
        assert!(!started_rx.recv().unwrap(), "open while it starts");
        assert!(!scope.wait_idle(Duration::ZERO), "running");
        scope.close();
        go_tx.send(()).unwrap();
        assert!(task.await.unwrap(), "the closure saw its scope close");
        assert!(scope.wait_idle(Duration::from_secs(60)), "idle once the closure returned");
        assert!(!closed(), "no scope outside it");
    }

    #[tokio::test]
    async fn closing_wakes_whoever_waits_for_it() {
        let scope = Scope::default();
        let waiter = tokio::spawn({
            let scope = scope.clone();
            async move { scope.closed().await }
        });
        tokio::task::yield_now().await;
        scope.close();
        waiter.await.unwrap();
        scope.closed().await;
    }
}
