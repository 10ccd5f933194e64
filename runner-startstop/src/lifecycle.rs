//! The lifecycle state machine: a plain value, no tokio, no clock, no I/O.
//!
//! Every transition returns a `#[must_use]` outcome that tells the async shell what to do next.
//! Runs are numbered; a transition naming a run that is not the current one is refused, so a
//! late signal from an old run can never disturb a newer one.

use runner_core::{Snapshot, State, Version};

/// When a run counts as running.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadyWhen {
    /// As soon as the start function's task is spawned (the default).
    #[default]
    Spawned,
    /// When the start function calls [`RunContext::ready`](crate::RunContext::ready):
    /// `start()` resolves only then, or with the function's error if it ends first.
    Signalled,
}

/// The lifecycle of a start/stop runner.
#[derive(Debug)]
pub(crate) struct Lifecycle {
    state: State,
    version: Version,
    /// The current (or last) run; 0 before the first.
    run: u64,
    /// The last run that finished; runs finish in order.
    finished: u64,
    /// Whether a caller asked the current run to stop (as opposed to it ending by itself).
    stop_requested: bool,
    /// Whether the current run has been `Running` (it was ready, in readiness mode).
    reached_running: bool,
}

/// What [`Lifecycle::start`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Start {
    /// Already running: `start` is a no-op.
    AlreadyRunning,
    /// A start or a stop is in progress: wait for the next change and ask again.
    Wait,
    /// Run `run` begins: spawn its task.
    Begin { run: u64 },
}

/// What [`Lifecycle::stop`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Stop {
    /// Nothing is running: `stop` is a no-op.
    Idle,
    /// Run `run` must be told to stop now; it is `Stopping` from here.
    Signal { run: u64 },
    /// Run `run` is already stopping: wait for it to finish.
    Wait { run: u64 },
}

/// What [`Lifecycle::exited`] decided: how the run came to end.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Exited {
    /// It ended by itself; nobody asked it to stop.
    ByItself,
    /// A stop had been requested already.
    Requested,
}

/// What [`Lifecycle::ready`] and [`Lifecycle::finish`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Applied {
    /// The transition happened.
    Done,
    /// The run named is not in the state the transition needs; nothing changed.
    Ignored,
}

impl Lifecycle {
    pub(crate) const fn new() -> Self {
        Lifecycle {
            state: State::Stopped,
            version: Version::INITIAL,
            run: 0,
            finished: 0,
            stop_requested: false,
            reached_running: false,
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.state, self.version)
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn run(&self) -> u64 {
        self.run
    }

    pub(crate) fn finished(&self) -> u64 {
        self.finished
    }

    /// Whether a caller asked the current run to stop.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    /// Whether the current run has been `Running`.
    pub(crate) fn reached_running(&self) -> bool {
        self.reached_running
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    fn set(&mut self, state: State) {
        self.state = state;
        self.version = self.version.next();
    }

    /// A caller wants the runner running.
    pub(crate) fn start(&mut self, when: ReadyWhen) -> Start {
        match self.state {
            State::Running => Start::AlreadyRunning,
            State::Starting | State::Stopping => Start::Wait,
            _ => {
                self.run += 1;
                self.stop_requested = false;
                self.reached_running = when == ReadyWhen::Spawned;
                self.set(match when {
                    ReadyWhen::Spawned => State::Running,
                    ReadyWhen::Signalled => State::Starting,
                });
                Start::Begin { run: self.run }
            }
        }
    }

    /// Run `run` says it is ready.
    pub(crate) fn ready(&mut self, run: u64) -> Applied {
        if run == self.run && self.state == State::Starting {
            self.reached_running = true;
            self.set(State::Running);
            Applied::Done
        } else {
            Applied::Ignored
        }
    }

    /// A caller wants the runner stopped.
    pub(crate) fn stop(&mut self) -> Stop {
        match self.state {
            State::Starting | State::Running => {
                self.stop_requested = true;
                self.set(State::Stopping);
                Stop::Signal { run: self.run }
            }
            State::Stopping => Stop::Wait { run: self.run },
            _ => Stop::Idle,
        }
    }

    /// The start function of run `run` returned (or panicked); the stop hook runs next.
    pub(crate) fn exited(&mut self, run: u64) -> Exited {
        if run == self.run && matches!(self.state, State::Starting | State::Running) {
            self.set(State::Stopping);
            Exited::ByItself
        } else {
            Exited::Requested
        }
    }

    /// Run `run` is over: its work ended and its stop hook finished. It ends `Failed` if the work
    /// failed by itself, and `Stopped` otherwise (a failure while being stopped is recorded, but
    /// the runner was asked to stop and it did).
    pub(crate) fn finish(&mut self, run: u64, work_failed: bool) -> Applied {
        if run == self.run && self.state == State::Stopping {
            self.finished = run;
            let failed = work_failed && !self.stop_requested;
            self.set(if failed {
                State::Failed
            } else {
                State::Stopped
            });
            Applied::Done
        } else {
            Applied::Ignored
        }
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_run_goes_round_the_cycle() {
        let mut life = Lifecycle::new();
        assert_eq!(life.stop(), Stop::Idle);
        assert_eq!(life.start(ReadyWhen::Spawned), Start::Begin { run: 1 });
        assert_eq!(life.state(), State::Running);
        assert_eq!(life.start(ReadyWhen::Spawned), Start::AlreadyRunning);
        assert_eq!(life.stop(), Stop::Signal { run: 1 });
        assert_eq!(life.stop(), Stop::Wait { run: 1 });
        assert_eq!(life.start(ReadyWhen::Spawned), Start::Wait);
        assert_eq!(life.exited(1), Exited::Requested);
        assert!(life.stop_requested());
        assert_eq!(life.finish(1, true), Applied::Done);
        assert_eq!((life.state(), life.finished()), (State::Stopped, 1));
        assert_eq!(life.snapshot().version, Version::new(3));
    }

    #[test]
    fn readiness_gates_running() {
        let mut life = Lifecycle::new();
        assert_eq!(life.start(ReadyWhen::Signalled), Start::Begin { run: 1 });
        assert_eq!(life.state(), State::Starting);
        assert!(!life.reached_running());
        assert_eq!(life.start(ReadyWhen::Signalled), Start::Wait);
        assert_eq!(life.ready(1), Applied::Done);
        assert!(life.reached_running());
        assert_eq!(life.ready(1), Applied::Ignored);
        assert_eq!(life.state(), State::Running);
    }

    #[test]
    fn a_failed_exit_by_itself_ends_failed_and_can_start_again() {
        let mut life = Lifecycle::new();
        let _ = life.start(ReadyWhen::Spawned);
        assert_eq!(life.exited(1), Exited::ByItself);
        assert_eq!(life.state(), State::Stopping);
        assert_eq!(life.stop(), Stop::Wait { run: 1 });
        assert_eq!(life.finish(1, true), Applied::Done);
        assert_eq!(life.state(), State::Failed);
        assert_eq!(life.stop(), Stop::Idle);
        assert_eq!(life.start(ReadyWhen::Spawned), Start::Begin { run: 2 });
    }

    #[test]
    fn signals_of_an_old_run_are_ignored() {
        let mut life = Lifecycle::new();
        let _ = life.start(ReadyWhen::Signalled);
        let _ = life.stop();
        let _ = life.finish(1, false);
        let _ = life.start(ReadyWhen::Signalled);
        let before = life.snapshot();
        assert_eq!(life.ready(1), Applied::Ignored);
        assert_eq!(life.exited(1), Exited::Requested);
        assert_eq!(life.finish(1, true), Applied::Ignored);
        assert_eq!(life.snapshot(), before);
    }
}
