//! [`Machine`]: the lifecycle state machine. A plain value: no tokio, no clock, no I/O, no
//! locking.
//!
//! Every transition returns a `#[must_use]` outcome that tells the async shell what to do next.
//! Runs are numbered; a transition naming a run that is not the current one is refused, so a
//! late signal from an old run can never disturb a newer one.

use runner_core::{Snapshot, State, Version};

/// When a run counts as running, and so when `start` resolves.
///
/// # Examples
///
/// ```
/// use runner_lifecycle::ReadyWhen;
///
/// assert_eq!(ReadyWhen::default(), ReadyWhen::Spawned);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadyWhen {
    /// As soon as the run's task is spawned (the default).
    #[default]
    Spawned,
    /// When the run says so ([`RunContext::ready`](crate::RunContext::ready)): `start` resolves
    /// only then, or with the run's error if it ends first.
    Signalled,
}

/// The lifecycle of a runner: its state, its version, and the bookkeeping of its runs.
///
/// ```text
///            start                     exited (by itself) ─► Stopping ─► finish ─► Stopped/Failed
/// Stopped ─────────► Starting ─ready─► Running
///    ▲     (Signalled)   │               │ stop
///    │                   └── stop ───────┴──────► Stopping ─► finish ─► Stopped
///    │ stop / retry
/// BackingOff ◄── back_off ── Stopped/Failed (after a run that ended by itself)
/// ```
///
/// # Examples
///
/// ```
/// use runner_core::State;
/// use runner_lifecycle::machine::{Applied, Machine, Start, Stop};
/// use runner_lifecycle::ReadyWhen;
///
/// let mut machine = Machine::new();
/// assert_eq!(machine.start(ReadyWhen::Spawned), Start::Begin { run: 1 });
/// assert_eq!(machine.start(ReadyWhen::Spawned), Start::AlreadyRunning);
/// assert_eq!(machine.stop(), Stop::Signal { run: 1 });
/// assert_eq!(machine.finish(1, false), Applied::Done);
/// assert_eq!(machine.state(), State::Stopped);
/// ```
#[derive(Debug)]
pub struct Machine {
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

/// What [`Machine::start`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Start {
    /// Already running: `start` is a no-op.
    AlreadyRunning,
    /// A start or a stop is in progress: wait for the next change and ask again.
    Wait,
    /// Run `run` begins: spawn its task.
    Begin {
        /// The new run's number.
        run: u64,
    },
}

/// What [`Machine::stop`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Stop {
    /// Nothing is running: `stop` is a no-op.
    Idle,
    /// Run `run` must be told to stop now; it is `Stopping` from here.
    Signal {
        /// The run to stop.
        run: u64,
    },
    /// Run `run` is already stopping: wait for it to finish.
    Wait {
        /// The run stopping.
        run: u64,
    },
    /// The runner was backing off before restarting itself: the restart is cancelled and the
    /// runner is `Stopped` now. Nothing to wait for.
    Cancelled,
}

/// What [`Machine::exited`] decided: how the run came to end.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Exited {
    /// It ended by itself; nobody asked it to stop. It is `Stopping` from here.
    ByItself,
    /// A stop had been requested already (or the run is not the current one).
    Requested,
}

/// What a transition that can be refused decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Applied {
    /// The transition happened.
    Done,
    /// The run named is not in the state the transition needs; nothing changed.
    Ignored,
}

impl Default for Machine {
    fn default() -> Self {
        Machine::new()
    }
}

impl Machine {
    /// A machine that has never run: `Stopped`, at the initial version.
    #[must_use]
    pub const fn new() -> Self {
        Machine {
            state: State::Stopped,
            version: Version::INITIAL,
            run: 0,
            finished: 0,
            stop_requested: false,
            reached_running: false,
        }
    }

    /// The state and its version.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.state, self.version)
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> State {
        self.state
    }

    /// The version: it grows with every transition and every [`touch`](Machine::touch).
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The current (or last) run's number; 0 before the first.
    #[must_use]
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The last run that finished; 0 before the first.
    #[must_use]
    pub fn finished(&self) -> u64 {
        self.finished
    }

    /// Whether a caller asked the current run to stop.
    #[must_use]
    pub fn stop_requested(&self) -> bool {
        self.stop_requested
    }

    /// Whether the current run has been `Running`.
    #[must_use]
    pub fn reached_running(&self) -> bool {
        self.reached_running
    }

    /// Whether run `run` is still wanted: it is the current run, and it is starting or running
    /// (not asked to stop, not ending by itself, not over).
    #[must_use]
    pub fn is_live(&self, run: u64) -> bool {
        run == self.run && matches!(self.state, State::Starting | State::Running)
    }

    fn set(&mut self, state: State) {
        self.state = state;
        self.version = self.version.next();
    }

    /// Something observable other than the state changed (health, readiness): the version
    /// grows, so watchers waiting on it wake.
    pub fn touch(&mut self) {
        self.version = self.version.next();
    }

    /// A caller wants the runner running.
    pub fn start(&mut self, when: ReadyWhen) -> Start {
        match self.state {
            State::Running => Start::AlreadyRunning,
            State::Starting | State::Stopping => Start::Wait,
            _ => self.begin(when),
        }
    }

    fn begin(&mut self, when: ReadyWhen) -> Start {
        self.run += 1;
        self.stop_requested = false;
        self.reached_running = when == ReadyWhen::Spawned;
        self.set(match when {
            ReadyWhen::Spawned => State::Running,
            ReadyWhen::Signalled => State::Starting,
        });
        Start::Begin { run: self.run }
    }

    /// Run `run` says it is ready.
    pub fn ready(&mut self, run: u64) -> Applied {
        if run == self.run && self.state == State::Starting {
            self.reached_running = true;
            self.set(State::Running);
            Applied::Done
        } else {
            Applied::Ignored
        }
    }

    /// A caller wants the runner stopped.
    pub fn stop(&mut self) -> Stop {
        match self.state {
            State::Starting | State::Running => {
                self.stop_requested = true;
                self.set(State::Stopping);
                Stop::Signal { run: self.run }
            }
            State::Stopping => Stop::Wait { run: self.run },
            State::BackingOff => {
                self.set(State::Stopped);
                Stop::Cancelled
            }
            _ => Stop::Idle,
        }
    }

    /// The work of run `run` ended (returned, failed or panicked); the rest of the run (a stop
    /// hook) comes next, then [`finish`](Machine::finish).
    pub fn exited(&mut self, run: u64) -> Exited {
        if self.is_live(run) {
            self.set(State::Stopping);
            Exited::ByItself
        } else {
            Exited::Requested
        }
    }

    /// Run `run` is over: its work ended and its stop hook finished. It ends `Failed` if it
    /// failed by itself (`failed`, and nobody asked it to stop), and `Stopped` otherwise: a
    /// failure while being stopped is recorded, but the runner was asked to stop and it did.
    pub fn finish(&mut self, run: u64, failed: bool) -> Applied {
        if run == self.run && self.state == State::Stopping {
            self.finished = run;
            self.set(if failed && !self.stop_requested {
                State::Failed
            } else {
                State::Stopped
            });
            Applied::Done
        } else {
            Applied::Ignored
        }
    }

    /// After run `run` ended by itself, the runner waits before starting itself again.
    pub fn back_off(&mut self, run: u64) -> Applied {
        if run == self.run && self.state.is_idle() && !self.stop_requested {
            self.set(State::BackingOff);
            Applied::Done
        } else {
            Applied::Ignored
        }
    }

    /// The back-off after run `after` is over: begins the next run and returns its number.
    /// Returns `None`, changing nothing, if a caller stopped or started the runner meanwhile: the
    /// retry is dropped.
    #[must_use]
    pub fn retry(&mut self, after: u64, when: ReadyWhen) -> Option<u64> {
        if after == self.run && self.state == State::BackingOff {
            match self.begin(when) {
                Start::Begin { run } => Some(run),
                _ => None,
            }
        } else {
            None
        }
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_run_goes_round_the_cycle() {
        let mut machine = Machine::new();
        assert_eq!(machine.stop(), Stop::Idle);
        assert_eq!(machine.start(ReadyWhen::Spawned), Start::Begin { run: 1 });
        assert_eq!(machine.state(), State::Running);
        assert_eq!(machine.start(ReadyWhen::Spawned), Start::AlreadyRunning);
        assert_eq!(machine.stop(), Stop::Signal { run: 1 });
        assert_eq!(machine.stop(), Stop::Wait { run: 1 });
        assert_eq!(machine.start(ReadyWhen::Spawned), Start::Wait);
        assert_eq!(machine.exited(1), Exited::Requested);
        assert!(machine.stop_requested());
        assert_eq!(machine.finish(1, true), Applied::Done);
        assert_eq!((machine.state(), machine.finished()), (State::Stopped, 1));
        assert_eq!(machine.snapshot().version, Version::new(3));
    }

    #[test]
    fn readiness_gates_running() {
        let mut machine = Machine::new();
        assert_eq!(machine.start(ReadyWhen::Signalled), Start::Begin { run: 1 });
        assert_eq!(machine.state(), State::Starting);
        assert!(!machine.reached_running());
        assert_eq!(machine.start(ReadyWhen::Signalled), Start::Wait);
        assert_eq!(machine.ready(1), Applied::Done);
        assert!(machine.reached_running());
        assert_eq!(machine.ready(1), Applied::Ignored);
        assert_eq!(machine.state(), State::Running);
    }

    #[test]
    fn a_failed_exit_by_itself_ends_failed_and_can_start_again() {
        let mut machine = Machine::new();
        let _ = machine.start(ReadyWhen::Spawned);
        assert_eq!(machine.exited(1), Exited::ByItself);
        assert_eq!(machine.state(), State::Stopping);
        assert_eq!(machine.stop(), Stop::Wait { run: 1 });
        assert_eq!(machine.finish(1, true), Applied::Done);
        assert_eq!(machine.state(), State::Failed);
        assert_eq!(machine.stop(), Stop::Idle);
        assert_eq!(machine.start(ReadyWhen::Spawned), Start::Begin { run: 2 });
    }

    #[test]
    fn signals_of_an_old_run_are_ignored() {
        let mut machine = Machine::new();
        let _ = machine.start(ReadyWhen::Signalled);
        let _ = machine.stop();
        let _ = machine.finish(1, false);
        let _ = machine.start(ReadyWhen::Signalled);
        let before = machine.snapshot();
        assert_eq!(machine.ready(1), Applied::Ignored);
        assert_eq!(machine.exited(1), Exited::Requested);
        assert_eq!(machine.finish(1, true), Applied::Ignored);
        assert_eq!(machine.back_off(1), Applied::Ignored);
        assert_eq!(machine.retry(1, ReadyWhen::Spawned), None);
        assert_eq!(machine.snapshot(), before);
    }

    #[test]
    fn touch_moves_the_version_only() {
        let mut machine = Machine::new();
        let before = machine.snapshot();
        machine.touch();
        assert_eq!(machine.state(), before.state);
        assert!(machine.version() > before.version);
    }

    #[test]
    fn back_off_then_retry_or_stop() {
        let mut machine = Machine::new();
        let _ = machine.start(ReadyWhen::Spawned);
        let _ = machine.exited(1);
        let _ = machine.finish(1, true);
        assert_eq!(machine.back_off(1), Applied::Done);
        assert_eq!(machine.state(), State::BackingOff);
        assert_eq!(machine.retry(1, ReadyWhen::Spawned), Some(2));
        assert_eq!(machine.state(), State::Running);

        let _ = machine.exited(2);
        let _ = machine.finish(2, true);
        assert_eq!(machine.back_off(2), Applied::Done);
        assert_eq!(machine.stop(), Stop::Cancelled);
        assert_eq!(machine.state(), State::Stopped);
        assert_eq!(
            machine.retry(2, ReadyWhen::Spawned),
            None,
            "stopped meanwhile"
        );
    }

    #[test]
    fn a_stopped_run_does_not_back_off() {
        let mut machine = Machine::new();
        let _ = machine.start(ReadyWhen::Spawned);
        let _ = machine.stop();
        let _ = machine.finish(1, false);
        assert_eq!(machine.back_off(1), Applied::Ignored);
    }
}
