//! The synchronisation primitives of the control plane: `std` normally, `loom` under
//! `--cfg runner_loom`, so the loom models check the very code the ticker uses.

#[cfg(not(runner_loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

#[cfg(runner_loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

/// Locks `mutex`, ignoring poisoning: every critical section leaves the state consistent before
/// anything in it can panic, and none of them calls user code.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
