//! [`Gate`]: the backpressure handshake between the engine and a partition's worker. The
//! engine counts the records it queues; the worker counts those it is done with (their
//! processing ended). When the queue is
//! full the engine pauses the partition and asks to be woken; the worker wakes it once the
//! queue has drained to half. Neither side may miss the other: the engine asks, then looks at
//! the count again itself, so a worker that drained the queue before it could see the request
//! is covered. Under the [`sync`](runner_lifecycle::sync) facade, checked by loom
//! (`src/tests/loom_gate.rs`).

use runner_lifecycle::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Gate {
    queued: AtomicUsize,
    wake_wanted: AtomicBool,
    capacity: usize,
}

impl Gate {
    pub(crate) fn new(capacity: usize) -> Self {
        Gate {
            queued: AtomicUsize::new(0),
            wake_wanted: AtomicBool::new(false),
            capacity,
        }
    }

    /// The engine queued a record.
    pub(crate) fn queued(&self) {
        self.queued.fetch_add(1, Ordering::SeqCst);
    }

    /// The worker is done with a record. `true`: the engine asked to be woken and the queue is at most
    /// half full: wake it (the request is consumed).
    pub(crate) fn taken(&self) -> bool {
        let left = self.queued.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
        left * 2 <= self.capacity && self.wake_wanted.swap(false, Ordering::SeqCst)
    }

    /// The engine paused the partition and asks to be woken once the queue drained to half.
    /// `true`: it already has (the request is consumed): refill now.
    pub(crate) fn want_wake(&self) -> bool {
        // Read-modify-writes, not a store and a load: each reads the latest value and
        // synchronises with the worker's, so the two sides cannot both miss. (A plain store here
        // is also what loom 0.7 mishandles against a concurrent swap: tokio-rs/loom#254.)
        let _ = self.wake_wanted.swap(true, Ordering::SeqCst);
        self.queued.fetch_add(0, Ordering::SeqCst) * 2 <= self.capacity
            && self.wake_wanted.swap(false, Ordering::SeqCst)
    }
}
