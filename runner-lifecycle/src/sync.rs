//! The synchronisation primitives of the control plane: `std` normally, `loom` under
//! `--cfg runner_loom`, so loom models check the very code the runners use.
//!
//! Pattern crates built on this crate put their own shared state behind this facade too, so
//! their loom models see it (under `--cfg runner_loom`, every crate in the build is compiled
//! against loom at once).
//!
//! # Examples
//!
//! ```
//! use runner_lifecycle::sync::{Arc, Mutex, lock};
//!
//! let shared = Arc::new(Mutex::new(0_u32));
//! *lock(&shared) += 1;
//! assert_eq!(*lock(&shared), 1);
//! ```

#[cfg(not(runner_loom))]
pub use std::sync::{Arc, Mutex, MutexGuard, atomic};

#[cfg(runner_loom)]
pub use loom::sync::{Arc, Mutex, MutexGuard, atomic};

/// Lets another thread run: for the rare retry loops of lock-free readers (a reader that met a
/// write in progress). loom's own under `--cfg runner_loom`, so models see the yield.
pub fn yield_now() {
    #[cfg(not(runner_loom))]
    std::thread::yield_now();
    #[cfg(runner_loom)]
    loom::thread::yield_now();
}

/// Locks `mutex`, ignoring poisoning: every critical section in the runner crates leaves the
/// state consistent before anything in it can panic, and none of them calls user code.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
