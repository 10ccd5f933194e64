//! [`Metrics`]: counters a runner keeps as it goes (atomics, no lock on the record path), and
//! the [`MetricsSnapshot`] it reports, with each assigned partition's position.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::pipeline::Outcome;
use crate::record::TopicPartition;

/// A runner's counters. See [`MetricsSnapshot`] for what each means.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    consumed: AtomicU64,
    processed: AtomicU64,
    skipped: AtomicU64,
    dead_lettered: AtomicU64,
    failed: AtomicU64,
    commits: AtomicU64,
    commit_failures: AtomicU64,
    committed_offsets: AtomicU64,
    last_commit_micros: AtomicU64,
    max_commit_micros: AtomicU64,
    rebalances: AtomicU64,
    poll_errors: AtomicU64,
    pauses: AtomicU64,
    paused: Mutex<BTreeSet<TopicPartition>>,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Metrics {
    pub(crate) fn consumed(&self, n: usize) {
        add(&self.consumed, n as u64);
    }

    pub(crate) fn settled(&self, outcome: &Outcome) {
        match outcome {
            Outcome::Processed => add(&self.processed, 1),
            Outcome::Skipped => add(&self.skipped, 1),
            Outcome::DeadLettered => add(&self.dead_lettered, 1),
            Outcome::Failed(_) => add(&self.failed, 1),
        }
    }

    pub(crate) fn failed(&self) {
        add(&self.failed, 1);
    }

    pub(crate) fn committed(&self, offsets: usize, took: Duration) {
        add(&self.commits, 1);
        add(&self.committed_offsets, offsets as u64);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.last_commit_micros.store(micros, Ordering::Relaxed);
        self.max_commit_micros.fetch_max(micros, Ordering::Relaxed);
    }

    pub(crate) fn commit_failed(&self) {
        add(&self.commit_failures, 1);
    }

    pub(crate) fn rebalanced(&self) {
        add(&self.rebalances, 1);
    }

    pub(crate) fn poll_failed(&self) {
        add(&self.poll_errors, 1);
    }

    pub(crate) fn paused(&self, partition: &TopicPartition) {
        add(&self.pauses, 1);
        self.lock_paused().insert(partition.clone());
    }

    pub(crate) fn resumed(&self, partition: &TopicPartition) {
        self.lock_paused().remove(partition);
    }

    /// The first partition paused for backpressure, if any.
    pub(crate) fn first_paused(&self) -> Option<TopicPartition> {
        self.lock_paused().first().cloned()
    }

    fn lock_paused(&self) -> std::sync::MutexGuard<'_, BTreeSet<TopicPartition>> {
        self.paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn snapshot(&self, partitions: Vec<PartitionMetrics>) -> MetricsSnapshot {
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        MetricsSnapshot {
            consumed: load(&self.consumed),
            processed: load(&self.processed),
            skipped: load(&self.skipped),
            dead_lettered: load(&self.dead_lettered),
            failed: load(&self.failed),
            commits: load(&self.commits),
            commit_failures: load(&self.commit_failures),
            last_commit_latency: Duration::from_micros(load(&self.last_commit_micros)),
            max_commit_latency: Duration::from_micros(load(&self.max_commit_micros)),
            rebalances: load(&self.rebalances),
            poll_errors: load(&self.poll_errors),
            pauses: load(&self.pauses),
            paused: self.lock_paused().iter().cloned().collect(),
            partitions,
        }
    }
}

/// What a runner did since it was built, and where each assigned partition stands.
///
/// # Examples
///
/// ```
/// use runner_kafka::MetricsSnapshot;
///
/// fn report(m: &MetricsSnapshot) -> String {
///     format!(
///         "{} consumed, {} processed, {} in flight, {} paused",
///         m.consumed,
///         m.processed,
///         m.in_flight(),
///         m.paused.len()
///     )
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Records read from the client.
    pub consumed: u64,
    /// Records processed, every output acknowledged.
    pub processed: u64,
    /// Records skipped on purpose (an error handler's `Continue`).
    pub skipped: u64,
    /// Records sent to a dead-letter queue.
    pub dead_lettered: u64,
    /// Records that failed the runner.
    pub failed: u64,
    /// Commits acknowledged by the group coordinator.
    pub commits: u64,
    /// Commits that failed or timed out.
    pub commit_failures: u64,
    /// How long the last commit took.
    pub last_commit_latency: Duration,
    /// The longest commit.
    pub max_commit_latency: Duration,
    /// Assignment changes (assigned or revoked partitions).
    pub rebalances: u64,
    /// Poll errors (retried after the poll-error backoff).
    pub poll_errors: u64,
    /// Times a partition was paused for backpressure.
    pub pauses: u64,
    /// The partitions paused for backpressure now.
    pub paused: Vec<TopicPartition>,
    /// Each assigned partition.
    pub partitions: Vec<PartitionMetrics>,
}

impl MetricsSnapshot {
    /// Records read and not settled yet, over all partitions.
    #[must_use]
    pub fn in_flight(&self) -> u64 {
        self.partitions.iter().map(|p| p.in_flight).sum()
    }
}

/// Where one assigned partition stands.
///
/// # Examples
///
/// ```
/// use runner_kafka::PartitionMetrics;
///
/// fn lag(p: &PartitionMetrics) -> i64 {
///     p.position.unwrap_or(0) - p.watermark.unwrap_or(0)
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PartitionMetrics {
    /// The partition.
    pub partition: TopicPartition,
    /// One past the last record read.
    pub position: Option<i64>,
    /// One past the last record of an unbroken run of settled ones: what the next commit
    /// commits.
    pub watermark: Option<i64>,
    /// The last offset committed.
    pub committed: Option<i64>,
    /// Records read and not settled yet.
    pub in_flight: u64,
    /// How long since the watermark last moved.
    pub idle_for: Duration,
}
