//! The ticker's lifecycle: a plain value, no tokio, no clock, no I/O. Transitions return
//! `#[must_use]` outcomes. A ticker's task only ends because it was asked to stop (a failing or
//! panicking run is recorded and the ticker goes on), so there is no `Failed` state here.

use runner_core::{Snapshot, State, Version};

#[derive(Debug)]
pub(crate) struct Lifecycle {
    state: State,
    version: Version,
    /// The current (or last) span of ticking, from a `start` to the end of its `stop`.
    run: u64,
    /// The last run that finished.
    finished: u64,
}

/// What [`Lifecycle::start`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Start {
    AlreadyRunning,
    /// A stop is in progress: wait for the next change and ask again.
    Wait,
    /// Run `run` begins: spawn its task.
    Begin {
        run: u64,
    },
}

/// What [`Lifecycle::stop`] decided.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Stop {
    Idle,
    /// Run `run` must stop now; it is `Stopping` from here.
    Signal {
        run: u64,
    },
    /// Run `run` is already stopping.
    Wait {
        run: u64,
    },
}

impl Lifecycle {
    pub(crate) const fn new() -> Self {
        Lifecycle {
            state: State::Stopped,
            version: Version::INITIAL,
            run: 0,
            finished: 0,
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot::new(self.state, self.version)
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn version(&self) -> Version {
        self.version
    }

    pub(crate) fn run(&self) -> u64 {
        self.run
    }

    pub(crate) fn finished(&self) -> u64 {
        self.finished
    }

    fn set(&mut self, state: State) {
        self.state = state;
        self.version = self.version.next();
    }

    pub(crate) fn start(&mut self) -> Start {
        match self.state {
            State::Running => Start::AlreadyRunning,
            State::Stopping => Start::Wait,
            _ => {
                self.run += 1;
                self.set(State::Running);
                Start::Begin { run: self.run }
            }
        }
    }

    pub(crate) fn stop(&mut self) -> Stop {
        match self.state {
            State::Running => {
                self.set(State::Stopping);
                Stop::Signal { run: self.run }
            }
            State::Stopping => Stop::Wait { run: self.run },
            _ => Stop::Idle,
        }
    }

    /// Run `run`'s task has ended. Returns `false` (and changes nothing) if `run` was not the run
    /// stopping.
    #[must_use]
    pub(crate) fn finish(&mut self, run: u64) -> bool {
        if run == self.run && self.state == State::Stopping {
            self.finished = run;
            self.set(State::Stopped);
            true
        } else {
            false
        }
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    #[test]
    fn start_stop_finish() {
        let mut life = Lifecycle::new();
        assert_eq!(life.stop(), Stop::Idle);
        assert_eq!(life.start(), Start::Begin { run: 1 });
        assert_eq!(life.start(), Start::AlreadyRunning);
        assert_eq!(life.stop(), Stop::Signal { run: 1 });
        assert_eq!(life.start(), Start::Wait);
        assert_eq!(life.stop(), Stop::Wait { run: 1 });
        assert!(!life.finish(2), "not the run stopping");
        assert!(life.finish(1));
        assert_eq!((life.state(), life.finished()), (State::Stopped, 1));
        assert_eq!(life.start(), Start::Begin { run: 2 });
        assert_eq!(life.version(), Version::new(4));
    }
}
