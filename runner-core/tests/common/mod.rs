//! A small reference runner, correct unless given a [`Defect`], shared by the integration tests.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use runner_core::conformance::{Probe, ProbeError};
use runner_core::{ErrorHistory, ErrorLog, Exit, Runner, Snapshot, State, Status, Version};
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
}

pub(crate) const CAPACITY: usize = 4;

/// A runner whose work is one spawned task that waits for a stop signal.
pub(crate) struct Reference {
    shared: Arc<Shared>,
    defect: Option<Defect>,
}

struct Shared {
    probe: Probe,
    state: watch::Sender<Snapshot>,
    inner: Mutex<Inner>,
}

struct Inner {
    stop_signal: Option<Arc<Notify>>,
    started_at: Option<Instant>,
    last_exit: Option<Exit>,
    log: ErrorLog<ProbeError>,
    unbounded: Vec<Arc<ProbeError>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("reference runner lock poisoned")
    }

    /// Publishes a new state; called with the lock held so states and versions stay in order.
    fn publish(&self, state: State) {
        self.state
            .send_modify(|s| *s = Snapshot::new(state, s.version.next()));
    }
}

impl Reference {
    pub(crate) fn new(probe: Probe, defect: Option<Defect>) -> Self {
        let (state, _) = watch::channel(Snapshot::new(State::Stopped, Version::INITIAL));
        Reference {
            shared: Arc::new(Shared {
                probe,
                state,
                inner: Mutex::new(Inner {
                    stop_signal: None,
                    started_at: None,
                    last_exit: None,
                    log: ErrorLog::new(CAPACITY),
                    unbounded: Vec::new(),
                }),
            }),
            defect,
        }
    }

    fn spawn_work(&self, inner: &mut Inner) {
        let signal = Arc::new(Notify::new());
        inner.stop_signal = Some(Arc::clone(&signal));
        inner.started_at = Some(Instant::now());
        let shared = Arc::clone(&self.shared);
        let defect = self.defect;
        tokio::spawn(async move {
            let activity = shared.probe.enter();
            signal.notified().await;
            let outcome = shared.probe.outcome();
            drop(activity);
            let mut inner = shared.lock();
            inner.last_exit = Some(match outcome {
                Ok(()) => Exit::Stopped,
                Err(error) => {
                    let error = inner.log.record(error);
                    if defect == Some(Defect::UnboundedHistory) {
                        inner.unbounded.push(error.clone());
                    }
                    Exit::Failed(error)
                }
            });
            inner.started_at = None;
            if shared.state.borrow().state != State::Stopped {
                shared.publish(State::Stopped);
            }
        });
    }
}

impl Runner for Reference {
    type Error = Infallible;

    async fn start(&self) -> Result<(), Infallible> {
        loop {
            // Serialise with a stop in progress: wait for it to finish, then look again.
            self.wait_for(|s| s != State::Stopping).await;
            let mut inner = self.shared.lock();
            match self.shared.state.borrow().state {
                State::Stopping => continue,
                State::Running if self.defect == Some(Defect::NonIdempotentStart) => {}
                State::Running => return Ok(()),
                _ => {}
            }
            self.spawn_work(&mut inner);
            if self.shared.state.borrow().state != State::Running {
                self.shared.publish(State::Running);
            }
            return Ok(());
        }
    }

    async fn stop(&self) -> Result<(), Infallible> {
        {
            let mut inner = self.shared.lock();
            if self.shared.state.borrow().state == State::Running {
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
}

impl Status for Reference {
    fn snapshot(&self) -> Snapshot {
        *self.shared.state.borrow()
    }

    async fn changed(&self, since: Version) -> Snapshot {
        let mut rx = self.shared.state.subscribe();
        let seen = rx
            .wait_for(|s| s.version != since)
            .await
            .expect("the sender lives as long as the runner");
        *seen
    }

    fn uptime(&self) -> Option<Duration> {
        let inner = self.shared.lock();
        match self.shared.state.borrow().state {
            State::Running => inner.started_at.map(|t| t.elapsed()),
            _ => None,
        }
    }

    fn last_exit(&self) -> Option<Exit> {
        self.shared.lock().last_exit.clone()
    }
}

impl ErrorHistory for Reference {
    type Recorded = ProbeError;

    fn errors(&self) -> Vec<Arc<ProbeError>> {
        let inner = self.shared.lock();
        if self.defect == Some(Defect::UnboundedHistory) {
            inner.unbounded.clone()
        } else {
            inner.log.to_vec()
        }
    }

    fn error_count(&self) -> u64 {
        self.shared.lock().log.total()
    }

    fn error_capacity(&self) -> usize {
        self.shared.lock().log.capacity()
    }
}
