//! [`Ledger`]: what a ticker's task records on every run, published without a lock: the counts
//! and timings behind `stats()`, the health gauge, the period in force, and whether anyone
//! waits for a run count.
//!
//! One writer (the ticker's task), any number of readers. The timings are written under a
//! sequence lock, so a reader sees them whole; everything is an atomic, so nothing needs
//! `unsafe`. A run costs a handful of stores to memory the task owns: no lock, no
//! read-modify-write on a shared line. The control plane's lock is taken only for what is rare:
//! a failed run's error, a health flip, a period change, a waiting reader.

use std::time::{Duration, Instant};

use runner_lifecycle::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use runner_lifecycle::sync::yield_now;

use crate::stats::{DurationSummary, Flip, Gauge, GaugeState, RunKind, Stats};

/// How many times a reader retries before it yields to the writer.
const SPINS: u32 = 64;

/// Hot fields first: `runs` to `max_took` are written by every run, next to each other.
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Ledger {
    /// The sequence lock: odd while the task writes the fields up to `max_took`.
    seq: AtomicU64,
    runs: AtomicU64,
    /// When the last run started, in ns after `epoch`, plus one (0: no run yet).
    last_start: AtomicU64,
    /// How long the last run took, in ns.
    last_took: AtomicU64,
    total_took: AtomicU64,
    /// The shortest run, in ns (`u64::MAX`: no run yet).
    min_took: AtomicU64,
    max_took: AtomicU64,
    /// Readers waiting in `Ticker::until_runs`: while there are any, each run wakes them.
    watchers: AtomicU64,
    /// A period change waits in the control plane for the task to apply it.
    reset_pending: AtomicBool,
    failures: AtomicU64,
    panics: AtomicU64,
    timeouts: AtomicU64,
    /// The health gauge's state, packed.
    gauge_state: AtomicU64,
    gauge: Gauge,
    /// The instant the recorded starts count from.
    epoch: Instant,
}

/// What [`Ledger::record`] reports back to the task.
#[derive(Debug)]
pub(crate) struct Recorded {
    pub(crate) flip: Flip,
    /// A period change is waiting to be applied.
    pub(crate) reset_pending: bool,
    /// Readers wait for a run count: wake them.
    pub(crate) watched: bool,
}

/// Nanoseconds, saturating at `u64::MAX`.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// Adds one, on a counter only this thread writes: a load and a store, no read-modify-write.
fn bump(counter: &AtomicU64) {
    let now = counter.load(Ordering::Relaxed);
    counter.store(now.saturating_add(1), Ordering::Relaxed);
}

impl Ledger {
    pub(crate) fn new(gauge: Gauge, epoch: Instant) -> Self {
        Ledger {
            seq: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            last_start: AtomicU64::new(0),
            last_took: AtomicU64::new(0),
            total_took: AtomicU64::new(0),
            min_took: AtomicU64::new(u64::MAX),
            max_took: AtomicU64::new(0),
            watchers: AtomicU64::new(0),
            reset_pending: AtomicBool::new(false),
            failures: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            gauge_state: AtomicU64::new(GaugeState::default().pack()),
            gauge,
            epoch,
        }
    }

    /// One run ended (the ticker's task only): how it ended, when it started, how long it took.
    pub(crate) fn record(&self, kind: RunKind, started: Instant, took: Duration) -> Recorded {
        let took = nanos(took);
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        bump(&self.runs);
        let start = nanos(started.saturating_duration_since(self.epoch)).saturating_add(1);
        self.last_start.store(start, Ordering::Relaxed);
        self.last_took.store(took, Ordering::Relaxed);
        let total = self.total_took.load(Ordering::Relaxed);
        self.total_took
            .store(total.saturating_add(took), Ordering::Relaxed);
        if took < self.min_took.load(Ordering::Relaxed) {
            self.min_took.store(took, Ordering::Relaxed);
        }
        if took > self.max_took.load(Ordering::Relaxed) {
            self.max_took.store(took, Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);

        match kind {
            RunKind::Succeeded => {}
            RunKind::Failed => bump(&self.failures),
            RunKind::Panicked => bump(&self.panics),
            RunKind::TimedOut => bump(&self.timeouts),
        }
        let state = GaugeState::unpack(self.gauge_state.load(Ordering::Relaxed));
        let (next, flip) = self.gauge.record(state, kind == RunKind::Succeeded);
        if next != state {
            self.gauge_state.store(next.pack(), Ordering::Relaxed);
        }

        // Pairs with the fence in `watch`: either this run sees the watcher, or the watcher sees
        // this run's count.
        fence(Ordering::SeqCst);
        Recorded {
            flip,
            reset_pending: self.reset_pending.load(Ordering::Acquire),
            watched: self.watchers.load(Ordering::Relaxed) > 0,
        }
    }

    /// The counts and timings, whole: retried while the task is writing them.
    pub(crate) fn stats(&self) -> Stats {
        let mut spins = 0_u32;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 0 {
                let runs = self.runs.load(Ordering::Relaxed);
                let last_start = self.last_start.load(Ordering::Relaxed);
                let last_took = self.last_took.load(Ordering::Relaxed);
                let total = self.total_took.load(Ordering::Relaxed);
                let min = self.min_took.load(Ordering::Relaxed);
                let max = self.max_took.load(Ordering::Relaxed);
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    let ran = runs > 0;
                    return Stats {
                        runs,
                        failures: self.failures.load(Ordering::Relaxed),
                        panics: self.panics.load(Ordering::Relaxed),
                        timeouts: self.timeouts.load(Ordering::Relaxed),
                        last_run_start: (last_start > 0).then(|| {
                            let since = Duration::from_nanos(last_start - 1);
                            tokio::time::Instant::from_std(self.epoch + since)
                        }),
                        last_run_duration: ran.then(|| Duration::from_nanos(last_took)),
                        durations: DurationSummary {
                            count: runs,
                            total: Duration::from_nanos(total),
                            min: ran.then(|| Duration::from_nanos(min)),
                            max: ran.then(|| Duration::from_nanos(max)),
                        },
                    };
                }
            }
            spins += 1;
            if spins % SPINS == 0 {
                yield_now();
            } else {
                core::hint::spin_loop();
            }
        }
    }

    /// How many runs ended, as a watcher reads it: after its registration.
    pub(crate) fn runs(&self) -> u64 {
        self.runs.load(Ordering::SeqCst)
    }

    /// A reader begins (`true`) or stops (`false`) waiting for a run count.
    pub(crate) fn watch(&self, watching: bool) {
        if watching {
            self.watchers.fetch_add(1, Ordering::SeqCst);
        } else {
            self.watchers.fetch_sub(1, Ordering::SeqCst);
        }
        // Pairs with the fence in `record`.
        fence(Ordering::SeqCst);
    }

    /// The gauge and its state, for `health()`.
    pub(crate) fn gauge(&self) -> (Gauge, GaugeState) {
        (
            self.gauge,
            GaugeState::unpack(self.gauge_state.load(Ordering::Relaxed)),
        )
    }

    /// A period change waits for the task (set under the control plane's lock, with the
    /// change itself), or was taken (`false`, under the same lock).
    pub(crate) fn set_reset_pending(&self, pending: bool) {
        self.reset_pending.store(pending, Ordering::Release);
    }
}
