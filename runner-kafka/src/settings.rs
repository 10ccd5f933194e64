//! [`Settings`]: what a runner's builder decided, shared by its runs.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::handler::PhaseHandlers;

/// How records are processed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    /// One after the other, by the engine (a `SingleThreadedRunner`).
    Single,
    /// A worker per partition (a `PartitionedRunner`).
    Partitioned {
        channel_buffer_size: usize,
        worker_shutdown_timeout: Duration,
    },
    /// A worker per partition, processing records of different keys at once (a
    /// `KeyedRunner`).
    Keyed {
        channel_buffer_size: usize,
        worker_shutdown_timeout: Duration,
        /// At most this many records of a partition processed at once (at least 1).
        max_concurrency: usize,
    },
}

#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) name: Cow<'static, str>,
    /// The processors' name, in dead-letter records (`x-error-node`).
    pub(crate) node: Arc<str>,
    pub(crate) topics: Vec<String>,
    pub(crate) handlers: Arc<PhaseHandlers>,
    pub(crate) poll_error_backoff: Backoff,
    /// How many bytes of a partition's records the engine holds, beyond its worker's queue,
    /// before it pauses the partition (partitioned and keyed runners).
    pub(crate) max_held_bytes: usize,
    pub(crate) commit_interval: Duration,
    pub(crate) commit_timeout: Duration,
    pub(crate) stuck_after: Duration,
    pub(crate) close_timeout: Duration,
    /// How long the work under way may take to finish on stop: the single-threaded runner's
    /// record and deliveries, or the partitioned or keyed runner's queued records and deliveries.
    pub(crate) drain_timeout: Duration,
    pub(crate) mode: Mode,
}

impl Settings {
    pub(crate) fn worker_shutdown_timeout(&self) -> Duration {
        match self.mode {
            Mode::Single => Duration::ZERO,
            Mode::Partitioned {
                worker_shutdown_timeout,
                ..
            }
            | Mode::Keyed {
                worker_shutdown_timeout,
                ..
            } => worker_shutdown_timeout,
        }
    }

    /// How long a stop may take before the lifecycle aborts the run: every step of the
    /// shutdown, bounded.
    pub(crate) fn exit_timeout(&self) -> Duration {
        self.drain_timeout
            .saturating_add(self.commit_timeout)
            .saturating_add(self.close_timeout.saturating_mul(2))
            .saturating_add(Duration::from_secs(5))
    }
}
