//! Random sequences of operations on a real `StartStop`, checked against a reference model after
//! every step: state, exit reason, error count, stop-function calls and run number must match.
//!
//! Operations the model says are meaningless (telling a start function to exit when none runs)
//! are generated too; they must change nothing.

use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::Duration;

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_startstop::{RunContext, StartStop};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

/// What the test can do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Start,
    Stop,
    Restart,
    /// `stop()` polled once, then dropped (a caller's timeout).
    DroppedStop,
    /// The running start function returns `Ok(())` by itself.
    ExitOk,
    /// The running start function returns an error by itself.
    ExitErr,
    /// The running start function panics.
    Panic,
}

/// How the last run ended, as the model tracks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LastExit {
    Completed,
    Failed,
    Panicked,
    Stopped,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Model {
    state: State,
    runs: u64,
    errors: u64,
    stop_calls: u64,
    last_exit: Option<LastExit>,
}

impl Model {
    /// The running start function ends by itself: the stop function runs once.
    fn exit(&mut self, state: State, exit: LastExit, error: bool) {
        if self.state == State::Running {
            self.state = state;
            self.last_exit = Some(exit);
            self.stop_calls += 1;
            self.errors += u64::from(error);
        }
    }

    fn stop(&mut self) {
        if self.state == State::Running {
            self.state = State::Stopped;
            self.last_exit = Some(LastExit::Stopped);
            self.stop_calls += 1;
        }
    }

    fn start(&mut self) {
        if self.state != State::Running {
            self.state = State::Running;
            self.runs += 1;
        }
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model {
            state: State::Stopped,
            runs: 0,
            errors: 0,
            stop_calls: 0,
            last_exit: None,
        })
        .boxed()
    }

    fn transitions(_state: &Model) -> BoxedStrategy<Op> {
        prop_oneof![
            3 => Just(Op::Start),
            2 => Just(Op::Stop),
            1 => Just(Op::Restart),
            1 => Just(Op::DroppedStop),
            1 => Just(Op::ExitOk),
            1 => Just(Op::ExitErr),
            1 => Just(Op::Panic),
        ]
        .boxed()
    }

    fn apply(mut model: Model, op: &Op) -> Model {
        match op {
            Op::Start => model.start(),
            Op::Stop | Op::DroppedStop => model.stop(),
            Op::Restart => {
                model.stop();
                model.start();
            }
            Op::ExitOk => model.exit(State::Stopped, LastExit::Completed, false),
            Op::ExitErr => model.exit(State::Failed, LastExit::Failed, true),
            Op::Panic => model.exit(State::Failed, LastExit::Panicked, true),
        }
        model
    }
}

/// What a test tells the running start function to do.
#[derive(Debug)]
enum Command {
    ReturnOk,
    ReturnErr,
    Panic,
}

/// The runner under test, its runtime (paused clock), and the test's handles on it.
struct Harness {
    runtime: Runtime,
    runner: StartStop,
    /// The command channel of the current run.
    commands: Arc<Mutex<Option<mpsc::UnboundedSender<Command>>>>,
    last_run: Arc<AtomicU64>,
    stop_calls: Arc<AtomicU64>,
}

impl Harness {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let commands = Arc::new(Mutex::new(None));
        let last_run = Arc::new(AtomicU64::new(0));
        let stop_calls = Arc::new(AtomicU64::new(0));
        let runner = {
            let (commands, last_run, stop_calls) = (
                Arc::clone(&commands),
                Arc::clone(&last_run),
                Arc::clone(&stop_calls),
            );
            StartStop::new(
                move |run: RunContext| {
                    let (tx, mut rx) = mpsc::unbounded_channel();
                    *commands.lock().unwrap() = Some(tx);
                    last_run.store(run.run(), Ordering::SeqCst);
                    async move {
                        tokio::select! {
                            () = run.cancelled() => Ok(()),
                            command = rx.recv() => match command {
                                Some(Command::ReturnOk) | None => Ok(()),
                                Some(Command::ReturnErr) => Err(io::Error::other("told to fail")),
                                Some(Command::Panic) => panic!("told to panic"),
                            },
                        }
                    }
                },
                move || {
                    stop_calls.fetch_add(1, Ordering::SeqCst);
                    async { Ok::<_, io::Error>(()) }
                },
            )
        };
        Harness {
            runtime,
            runner,
            commands,
            last_run,
            stop_calls,
        }
    }

    /// Tells the current run's start function to end, if one is running.
    fn command(&self, command: Command) {
        if self.runner.is_running() {
            if let Some(tx) = &*self.commands.lock().unwrap() {
                let _ = tx.send(command);
            }
        }
    }

    fn apply(&self, op: Op) {
        let runner = &self.runner;
        self.runtime.block_on(async {
            match op {
                Op::Start => runner.start().await.expect("start"),
                Op::Stop => runner.stop().await.expect("stop"),
                Op::Restart => runner.restart().await.expect("restart"),
                Op::DroppedStop => {
                    let stop = pin!(runner.stop());
                    let _ = stop.poll(&mut Context::from_waker(Waker::noop()));
                }
                Op::ExitOk => self.command(Command::ReturnOk),
                Op::ExitErr => self.command(Command::ReturnErr),
                Op::Panic => self.command(Command::Panic),
            }
            // Let every task run until nothing is left to do: on the paused clock, the sleep
            // completes only once the runtime is idle.
            tokio::time::sleep(Duration::from_millis(1)).await;
        });
    }
}

struct StartStopMatchesModel;

impl StateMachineTest for StartStopMatchesModel {
    type SystemUnderTest = Harness;
    type Reference = Reference;

    fn init_test(_model: &Model) -> Harness {
        Harness::new()
    }

    fn apply(harness: Harness, _model: &Model, op: Op) -> Harness {
        harness.apply(op);
        harness
    }

    fn check_invariants(harness: &Harness, model: &Model) {
        let runner = &harness.runner;
        assert_eq!(runner.state(), model.state, "state");
        assert_eq!(runner.is_running(), model.state == State::Running);
        assert_eq!(runner.uptime().is_some(), model.state == State::Running);
        assert_eq!(runner.error_count(), model.errors, "error count");
        assert_eq!(
            harness.stop_calls.load(Ordering::SeqCst),
            model.stop_calls,
            "stop function calls"
        );
        assert_eq!(harness.last_run.load(Ordering::SeqCst), model.runs, "runs");
        let exit = runner.last_exit().map(|exit| match exit {
            Exit::Completed => LastExit::Completed,
            Exit::Failed(_) => LastExit::Failed,
            Exit::Panicked(_) => LastExit::Panicked,
            Exit::Stopped => LastExit::Stopped,
            other => panic!("unexpected exit {other:?}"),
        });
        assert_eq!(exit, model.last_exit, "last exit");
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        .. ProptestConfig::default()
    })]

    #[test]
    fn start_stop_matches_the_model(sequential 1..48 => StartStopMatchesModel);
}
