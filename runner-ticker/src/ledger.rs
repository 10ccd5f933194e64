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

use runner_lifecycle::sync::atomic::{AtomicU64, Ordering, fence};
use runner_lifecycle::sync::yield_now;

use crate::stats::{DurationSummary, Flip, Gauge, GaugeState, RunKind, Stats};

/// How many times a reader retries before it yields to the writer.
const SPINS: u32 = 64;

/// The fields every run writes, and the one it reads, next to each other: 48 bytes. The ticker
/// keeps them right after the `Arc`'s counts and its function, and right before the control
/// plane's stop hint, so that a run touches two cache lines of shared state. The rest is a
/// [`Tally`], kept further away and written only when it changes (the task keeps its copies
/// in a [`Writer`]).
#[repr(C)]
#[derive(Debug)]
pub(crate) struct Ledger {
    /// The sequence lock: odd while the task writes the timings (here and in the [`Tally`]).
    seq: AtomicU64,
    runs: AtomicU64,
    /// When the last run started, in ns after the tally's `epoch`, plus one (0: no run yet).
    last_start: AtomicU64,
    /// How long the last run took, in ns.
    last_took: AtomicU64,
    total_took: AtomicU64,
    /// What others ask of the task: [`RESET_PENDING`], plus the number of readers waiting for a
    /// run count (`Ticker::until_runs`) times [`WATCHER`]. One load per run.
    asks: AtomicU64,
}

/// What a run writes only when it changes, or only when it fails: the shortest and longest
/// runs, the failure counts, the health gauge.
#[derive(Debug)]
pub(crate) struct Tally {
    /// The shortest run, in ns (`u64::MAX`: no run yet).
    min_took: AtomicU64,
    max_took: AtomicU64,
    failures: AtomicU64,
    panics: AtomicU64,
    timeouts: AtomicU64,
    /// The health gauge's state, packed.
    gauge_state: AtomicU64,
    gauge: Gauge,
    /// The instant the recorded starts count from.
    epoch: Instant,
}

impl Tally {
    pub(crate) fn new(gauge: Gauge, epoch: Instant) -> Self {
        Tally {
            min_took: AtomicU64::new(u64::MAX),
            max_took: AtomicU64::new(0),
            failures: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            gauge_state: AtomicU64::new(GaugeState::default().pack()),
            gauge,
            epoch,
        }
    }

    /// The gauge and its state, for `health()`.
    pub(crate) fn gauge(&self) -> (Gauge, GaugeState) {
        (
            self.gauge,
            GaugeState::unpack(self.gauge_state.load(Ordering::Relaxed)),
        )
    }
}

/// In [`Ledger::asks`]: a period change waits in the control plane for the task.
const RESET_PENDING: u64 = 1;
/// In [`Ledger::asks`]: one reader waiting for a run count.
const WATCHER: u64 = 2;

/// The task's own copies of what it writes to the [`Tally`], so that recording a run reads no
/// line of it back: the tally is written only when the shortest or longest run or the health
/// gauge changes. (The ledger's own fields are read where they are written: that line is
/// fetched for the write anyway.) Lives in the task.
#[derive(Debug)]
pub(crate) struct Writer {
    min_took: u64,
    max_took: u64,
    gauge_state: GaugeState,
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

/// Adds one, on a counter only the task writes: a load and a store, no read-modify-write (on the
/// rare path of a failed run).
fn bump(counter: &AtomicU64) {
    let now = counter.load(Ordering::Relaxed);
    counter.store(now.saturating_add(1), Ordering::Relaxed);
}

impl Ledger {
    pub(crate) fn new() -> Self {
        Ledger {
            seq: AtomicU64::new(0),
            runs: AtomicU64::new(0),
            last_start: AtomicU64::new(0),
            last_took: AtomicU64::new(0),
            total_took: AtomicU64::new(0),
            asks: AtomicU64::new(0),
        }
    }

    /// The task's copies of what it writes, as they stand: taken when a run of the ticker
    /// begins (the counts survive restarts).
    pub(crate) fn writer(&self, tally: &Tally) -> Writer {
        Writer {
            min_took: tally.min_took.load(Ordering::Relaxed),
            max_took: tally.max_took.load(Ordering::Relaxed),
            gauge_state: GaugeState::unpack(tally.gauge_state.load(Ordering::Relaxed)),
        }
    }

    /// One run ended (the ticker's task only, with its `writer`): how it ended, when it started,
    /// how long it took.
    pub(crate) fn record(
        &self,
        tally: &Tally,
        writer: &mut Writer,
        kind: RunKind,
        started: Instant,
        took: Duration,
    ) -> Recorded {
        let took = nanos(took);
        let start = nanos(started.saturating_duration_since(tally.epoch)).saturating_add(1);
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        let runs = self.runs.load(Ordering::Relaxed).saturating_add(1);
        self.runs.store(runs, Ordering::Relaxed);
        self.last_start.store(start, Ordering::Relaxed);
        self.last_took.store(took, Ordering::Relaxed);
        let total = self.total_took.load(Ordering::Relaxed).saturating_add(took);
        self.total_took.store(total, Ordering::Relaxed);
        if took < writer.min_took {
            writer.min_took = took;
            tally.min_took.store(took, Ordering::Relaxed);
        }
        if took > writer.max_took {
            writer.max_took = took;
            tally.max_took.store(took, Ordering::Relaxed);
        }
        self.seq.store(seq.wrapping_add(2), Ordering::Release);

        match kind {
            RunKind::Succeeded => {}
            RunKind::Failed => bump(&tally.failures),
            RunKind::Panicked => bump(&tally.panics),
            RunKind::TimedOut => bump(&tally.timeouts),
        }
        let (next, flip) = tally
            .gauge
            .record(writer.gauge_state, kind == RunKind::Succeeded);
        if next != writer.gauge_state {
            writer.gauge_state = next;
            tally.gauge_state.store(next.pack(), Ordering::Relaxed);
        }

        // A read-modify-write of `asks`, like the one in `watch`: the two are ordered, so either
        // this run sees the watcher, or the watcher sees this run's count. (Cheaper than a
        // fence; an atomic load would not do.)
        let asks = self.asks.fetch_or(0, Ordering::SeqCst);
        Recorded {
            flip,
            reset_pending: asks & RESET_PENDING != 0,
            watched: asks >= WATCHER,
        }
    }

    /// The counts and timings, whole: retried while the task is writing them.
    pub(crate) fn stats(&self, tally: &Tally) -> Stats {
        let mut spins = 0_u32;
        loop {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 0 {
                let runs = self.runs.load(Ordering::Relaxed);
                let last_start = self.last_start.load(Ordering::Relaxed);
                let last_took = self.last_took.load(Ordering::Relaxed);
                let total = self.total_took.load(Ordering::Relaxed);
                let min = tally.min_took.load(Ordering::Relaxed);
                let max = tally.max_took.load(Ordering::Relaxed);
                fence(Ordering::Acquire);
                if self.seq.load(Ordering::Relaxed) == before {
                    let ran = runs > 0;
                    return Stats {
                        runs,
                        failures: tally.failures.load(Ordering::Relaxed),
                        panics: tally.panics.load(Ordering::Relaxed),
                        timeouts: tally.timeouts.load(Ordering::Relaxed),
                        last_run_start: (last_start > 0).then(|| {
                            let since = Duration::from_nanos(last_start - 1);
                            tokio::time::Instant::from_std(tally.epoch + since)
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

    /// A reader begins (`true`) or stops (`false`) waiting for a run count. Pairs with the
    /// read-modify-write in `record`: a reader that registered and then reads `runs` sees every
    /// run that did not see it.
    pub(crate) fn watch(&self, watching: bool) {
        if watching {
            self.asks.fetch_add(WATCHER, Ordering::SeqCst);
        } else {
            self.asks.fetch_sub(WATCHER, Ordering::SeqCst);
        }
    }

    /// A period change waits for the task (set under the control plane's lock, with the
    /// change itself), or was taken (`false`, under the same lock).
    pub(crate) fn set_reset_pending(&self, pending: bool) {
        if pending {
            self.asks.fetch_or(RESET_PENDING, Ordering::Release);
        } else {
            self.asks.fetch_and(!RESET_PENDING, Ordering::Relaxed);
        }
    }
}
