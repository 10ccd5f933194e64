//! A small reference runner, correct unless given a [`Defect`], shared by the integration tests.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use runner_core::conformance::{Probe, ProbeError};
use runner_core::{
    ErrorHistory, ErrorLog, Exit, Health, Panicked, Runner, Snapshot, State, Status, Version,
};
use tokio::sync::{Notify, watch};

/// The one defect a broken copy of the reference runner has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Defect {
    /// `start` on a running runner spawns the work again.
    NonIdempotentStart,
    /// `stop` publishes `Stopped` and returns without waiting for the task.
    EarlyStop,
    /// Errors are kept in a plain `Vec`; `error_capacity` lies.
    UnboundedHistory,
    /// `stop` never returns.
    HangingStop,
    /// Work that ends by itself leaves the state `Running`.
    StaysRunningAfterEnd,
    /// A run that failed by itself is published as `Stopped`.
    StoppedForFailure,
    /// A run that returned by itself reports `Exit::Stopped`, never `Completed`.
    NeverCompleted,
    /// A state change wakes only one pending `changed` future.
    WakesOneWatcher,
    /// `changed(since)` ignores `since` and waits for the next change.
    IgnoresOldVersion,
    /// `start` checks the state, yields, then spawns: two starts in flight both spawn.
    RacyStart,
    /// `start` marks itself in progress on its second poll and clears the mark only when it
    /// completes: dropped after that poll, it leaves every later `start` waiting.
    BreaksWhenDroppedLate,
    /// `restart` clears the error history.
    RestartClearsHistory,
    /// `last_error` returns the oldest retained error.
    LastErrorIsOldest,
    /// A run that fails by itself is begun again in place, and health turns degraded without a
    /// new version.
    SilentHealth,
}

pub(crate) const CAPACITY: usize = 4;

/// What the reference runner records: a failure the work returned, or its panic.
#[derive(Debug)]
pub(crate) enum RefError {
    Failed(ProbeError),
    Panicked(Panicked),
}

impl std::fmt::Display for RefError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RefError::Failed(error) => error.fmt(f),
            RefError::Panicked(panicked) => panicked.fmt(f),
        }
    }
}

impl std::error::Error for RefError {}

/// A runner whose work is one spawned task that waits for a stop signal.
pub(crate) struct Reference {
    shared: Arc<Shared>,
    defect: Option<Defect>,
}

struct Shared {
    probe: Probe,
    defect: Option<Defect>,
    state: watch::Sender<Snapshot>,
    /// Woken once per change, for [`Defect::WakesOneWatcher`].
    one: Notify,
    inner: Mutex<Inner>,
}

struct Inner {
    stop_signal: Option<Arc<Notify>>,
    started_at: Option<Instant>,
    last_exit: Option<Exit>,
    log: ErrorLog<RefError>,
    unbounded: Vec<Arc<RefError>>,
    /// A start is half-way, for [`Defect::BreaksWhenDroppedLate`].
    starting: bool,
    /// Failures absorbed in place, for [`Defect::SilentHealth`].
    absorbed: u64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("reference runner lock poisoned")
    }

    /// Publishes a new state; called with the lock held so states and versions stay in order.
    fn publish(&self, state: State) {
        self.state
            .send_modify(|s| *s = Snapshot::new(state, s.version.next()));
        self.one.notify_one();
    }

    fn current(&self) -> State {
        self.state.borrow().state
    }

    fn record(&self, inner: &mut Inner, error: RefError) -> Arc<RefError> {
        let error = inner.log.record(error);
        if self.defect == Some(Defect::UnboundedHistory) {
            inner.unbounded.push(error.clone());
        }
        error
    }
}

impl Reference {
    pub(crate) fn new(probe: Probe, defect: Option<Defect>) -> Self {
        let (state, _) = watch::channel(Snapshot::new(State::Stopped, Version::INITIAL));
        Reference {
            shared: Arc::new(Shared {
                probe,
                defect,
                state,
                one: Notify::new(),
                inner: Mutex::new(Inner {
                    stop_signal: None,
                    started_at: None,
                    last_exit: None,
                    log: ErrorLog::new(CAPACITY),
                    unbounded: Vec::new(),
                    starting: false,
                    absorbed: 0,
                }),
            }),
            defect,
        }
    }

    fn spawn_work(&self, inner: &mut Inner) {
        let signal = Arc::new(Notify::new());
        inner.stop_signal = Some(Arc::clone(&signal));
        inner.started_at = Some(Instant::now());
        tokio::spawn(run(Arc::clone(&self.shared), signal));
    }
}

/// The task of one run: the work (begun again in place after a failure with
/// [`Defect::SilentHealth`]), then the report of how it ended.
async fn run(shared: Arc<Shared>, signal: Arc<Notify>) {
    let ended = loop {
        let work = {
            let (probe, signal) = (shared.probe.clone(), Arc::clone(&signal));
            tokio::spawn(async move { probe.run(signal.notified()).await })
        };
        let ended = match work.await {
            Ok(result) => result.map_err(Ok),
            Err(join) => Err(Err(Panicked::from_payload(join.into_panic().as_ref()))),
        };
        let mut inner = shared.lock();
        let requested = inner.stop_signal.is_none();
        if !requested && shared.defect == Some(Defect::SilentHealth) {
            if let Err(Ok(error)) = ended {
                shared.record(&mut inner, RefError::Failed(error));
                inner.absorbed += 1;
                continue;
            }
        }
        break ended;
    };
    let mut inner = shared.lock();
    let requested = inner.stop_signal.take().is_none();
    let (exit, failed) = match ended {
        Ok(()) if requested || shared.defect == Some(Defect::NeverCompleted) => {
            (Exit::Stopped, false)
        }
        Ok(()) => (Exit::Completed, false),
        Err(Ok(error)) => {
            let recorded = shared.record(&mut inner, RefError::Failed(error));
            (Exit::Failed(recorded), true)
        }
        Err(Err(panicked)) => {
            shared.record(&mut inner, RefError::Panicked(panicked.clone()));
            (Exit::Panicked(panicked), true)
        }
    };
    inner.last_exit = Some(exit);
    inner.started_at = None;
    if !requested && shared.defect == Some(Defect::StaysRunningAfterEnd) {
        return;
    }
    let target = if failed && !requested && shared.defect != Some(Defect::StoppedForFailure) {
        State::Failed
    } else {
        State::Stopped
    };
    if shared.current() != target {
        shared.publish(target);
    }
}

impl Runner for Reference {
    type Error = Infallible;

    async fn start(&self) -> Result<(), Infallible> {
        match self.defect {
            Some(Defect::RacyStart) if self.shared.current() != State::Running => {
                // Checked, then yields before spawning: a second start slips in between.
                tokio::task::yield_now().await;
                let mut inner = self.shared.lock();
                self.spawn_work(&mut inner);
                if self.shared.current() != State::Running {
                    self.shared.publish(State::Running);
                }
                return Ok(());
            }
            Some(Defect::BreaksWhenDroppedLate) => {
                if self.shared.lock().starting {
                    // Waits for a start that was dropped half-way: for ever.
                    std::future::pending::<()>().await;
                }
                if self.shared.current() != State::Running {
                    tokio::task::yield_now().await; // the first poll ends here
                    self.shared.lock().starting = true;
                    tokio::task::yield_now().await; // the second poll ends here
                    self.shared.lock().starting = false;
                }
            }
            _ => {}
        }
        loop {
            // Serialise with a stop in progress: wait for it to finish, then look again.
            self.wait_for(|s| s != State::Stopping).await;
            let mut inner = self.shared.lock();
            match self.shared.current() {
                State::Stopping => continue,
                State::Running if self.defect == Some(Defect::NonIdempotentStart) => {}
                State::Running => return Ok(()),
                _ => {}
            }
            self.spawn_work(&mut inner);
            if self.shared.current() != State::Running {
                self.shared.publish(State::Running);
            }
            return Ok(());
        }
    }

    async fn stop(&self) -> Result<(), Infallible> {
        {
            let mut inner = self.shared.lock();
            if self.shared.current() == State::Running {
                if let Some(signal) = inner.stop_signal.take() {
                    signal.notify_one();
                }
                if self.defect == Some(Defect::EarlyStop) {
                    inner.started_at = None;
                    self.shared.publish(State::Stopped);
                    return Ok(());
                }
                self.shared.publish(State::Stopping);
            }
        }
        if self.defect == Some(Defect::HangingStop) {
            std::future::pending::<()>().await;
        }
        self.wait_for(State::is_idle).await;
        Ok(())
    }

    async fn restart(&self) -> Result<(), Infallible> {
        if self.defect == Some(Defect::RestartClearsHistory) {
            self.shared.lock().log = ErrorLog::new(CAPACITY);
        }
        self.stop().await?;
        self.start().await
    }
}

impl Status for Reference {
    fn snapshot(&self) -> Snapshot {
        *self.shared.state.borrow()
    }

    async fn changed(&self, since: Version) -> Snapshot {
        match self.defect {
            Some(Defect::WakesOneWatcher) => loop {
                let notified = self.shared.one.notified();
                let now = self.snapshot();
                if now.version != since {
                    return now;
                }
                notified.await;
            },
            Some(Defect::IgnoresOldVersion) => {
                let mut rx = self.shared.state.subscribe();
                let _ = rx.changed().await;
                *rx.borrow()
            }
            _ => {
                let mut rx = self.shared.state.subscribe();
                let seen = rx
                    .wait_for(|s| s.version != since)
                    .await
                    .expect("the sender lives as long as the runner");
                *seen
            }
        }
    }

    fn uptime(&self) -> Option<Duration> {
        let inner = self.shared.lock();
        match self.shared.current() {
            State::Running => inner.started_at.map(|t| t.elapsed()),
            _ => None,
        }
    }

    fn last_exit(&self) -> Option<Exit> {
        self.shared.lock().last_exit.clone()
    }

    fn health(&self) -> Health {
        let absorbed = self.shared.lock().absorbed;
        match self.state() {
            State::Running if absorbed > 0 => Health::degraded(format!("{absorbed} failed runs")),
            State::Running => Health::Healthy,
            state => Health::unhealthy(state.as_str()),
        }
    }
}

impl ErrorHistory for Reference {
    type Recorded = RefError;

    fn errors(&self) -> Vec<Arc<RefError>> {
        let inner = self.shared.lock();
        if self.defect == Some(Defect::UnboundedHistory) {
            inner.unbounded.clone()
        } else {
            inner.log.to_vec()
        }
    }

    fn last_error(&self) -> Option<Arc<RefError>> {
        let errors = self.errors();
        if self.defect == Some(Defect::LastErrorIsOldest) {
            errors.first().cloned()
        } else {
            errors.last().cloned()
        }
    }

    fn error_count(&self) -> u64 {
        self.shared.lock().log.total()
    }

    fn error_capacity(&self) -> usize {
        self.shared.lock().log.capacity()
    }
}
