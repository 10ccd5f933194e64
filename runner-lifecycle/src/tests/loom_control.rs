use core::future::Future;
use core::pin::pin;
use core::task::{Context, Waker};
use std::time::Instant;

use loom::future::block_on;
use loom::thread;
use runner_core::{Exit, State};

use crate::control::{Begin, Control, Report};
use crate::fault::Fault;
use crate::machine::ReadyWhen;
use crate::sync::Arc;

type Ctl = Control<Fault>;

fn control() -> Arc<Ctl> {
    Arc::new(Control::new(4, ()))
}

/// `start` as the runners run it; returns the run to drive if one began.
fn start(control: &Ctl, when: ReadyWhen) -> Option<u64> {
    let t0 = Instant::now();
    match block_on(control.begin_start(when, move || t0)) {
        Begin::AlreadyRunning => None,
        Begin::Spawn { run, .. } => Some(run),
    }
}

/// `stop` as the runners run it.
fn stop(control: &Ctl) -> Result<(), Fault> {
    block_on(control.stop(|_| {}))
}

/// How a modelled run's work ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// It runs until asked to stop.
    WhenAsked,
    /// It returns by itself.
    ByItself,
}

/// Plays the task of `run`, as a run's driver does: waits for the stop request (unless the
/// work ends by itself), reports the work's end, then the run's.
fn drive(control: &Ctl, run: u64, ending: Ending) {
    if ending == Ending::WhenAsked {
        // As the drivers do: an atomic load per poll, the lock only to register the waker.
        let mut registered = None;
        block_on(core::future::poll_fn(|cx| {
            control.poll_stop(run, &mut registered, cx)
        }));
    }
    let _ = control.exited(run);
    let finished = control.finish(run, |facts, _, _| {
        Report::ok(if facts.stop_requested {
            Exit::Stopped
        } else {
            Exit::Completed
        })
    });
    assert!(
        finished.is_some(),
        "the driver of run {run} must be the one to finish it"
    );
}

fn spawn_driver(control: &Arc<Ctl>, run: u64, ending: Ending) -> thread::JoinHandle<()> {
    let control = Arc::clone(control);
    thread::spawn(move || drive(&control, run, ending))
}

/// `start` as the runners run it, spawning the task of a run that began, as the real `start`
/// spawns its task before returning.
fn start_and_drive(control: &Arc<Ctl>) -> Option<thread::JoinHandle<()>> {
    start(control, ReadyWhen::Spawned).map(|run| spawn_driver(control, run, Ending::WhenAsked))
}

/// Nothing is left running or waiting.
fn assert_quiet(control: &Ctl) {
    let seen = control.snapshot();
    assert!(seen.state.is_idle(), "ended in {seen}");
    assert_eq!(control.waiting(), 0, "a waker was left registered");
}

/// A run's work returning by itself while a `stop` is in flight: one finish, one exit, and `stop`
/// returns, leaving the runner idle.
#[test]
fn loom_stop_races_exit_by_itself() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Spawned).expect("a new runner starts");
        let driver = spawn_driver(&control, run, Ending::ByItself);
        let stopper = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                let stopped = stop(&control);
                // After stop returns, the runner is idle: no later start was made.
                assert!(control.snapshot().state.is_idle());
                stopped
            })
        };
        assert!(stopper.join().unwrap().is_ok());
        driver.join().unwrap();
        assert_quiet(&control);
        assert_eq!(control.snapshot().state, State::Stopped);
        assert!(matches!(
            control.last_exit(),
            Some(Exit::Completed | Exit::Stopped)
        ));
    });
}

/// `start` and `stop` from two threads on a running runner: serialised, no deadlock, and a final
/// `stop` always brings down whatever the `start` began.
#[test]
fn loom_concurrent_start_and_stop() {
    loom::model(|| {
        let control = control();
        let driver = start_and_drive(&control).expect("a new runner starts");
        let starter = {
            let control = Arc::clone(&control);
            thread::spawn(move || start_and_drive(&control))
        };
        assert!(stop(&control).is_ok());
        driver.join().unwrap();
        let second = starter.join().unwrap();
        assert!(stop(&control).is_ok());
        if let Some(driver) = second {
            driver.join().unwrap();
        }
        assert_quiet(&control);
    });
}

/// `restart` (stop, then start) racing a `stop`: both return, runs never overlap, and a final
/// `stop` brings down whatever the restart began.
#[test]
fn loom_restart_races_stop() {
    loom::model(|| {
        let control = control();
        let driver = start_and_drive(&control).expect("a new runner starts");
        let restarter = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                assert!(stop(&control).is_ok());
                start_and_drive(&control)
            })
        };
        assert!(stop(&control).is_ok());
        driver.join().unwrap();
        let second = restarter.join().unwrap();
        assert!(stop(&control).is_ok());
        if let Some(driver) = second {
            driver.join().unwrap();
        }
        assert_quiet(&control);
    });
}

/// A `stop` future polled once and dropped (a timeout), then a second `stop`: the run finishes
/// without the first future, the second one returns, and the dropped one left no waker behind.
#[test]
fn loom_dropped_stop_then_retry() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Spawned).expect("a new runner starts");
        let driver = spawn_driver(&control, run, Ending::WhenAsked);
        {
            let stopping = pin!(control.stop(|_| {}));
            let _ = stopping.poll(&mut Context::from_waker(Waker::noop()));
        }
        assert!(stop(&control).is_ok());
        driver.join().unwrap();
        assert_quiet(&control);
        assert_eq!(control.snapshot().state, State::Stopped);
    });
}

/// With readiness on, `ready` racing `stop`: the waiting `start` learns either that the run is
/// running or that it was stopped first, never both and never neither.
#[test]
fn loom_ready_races_stop() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Signalled).expect("a new runner starts");
        assert_eq!(control.snapshot().state, State::Starting);
        let driver = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                drive(&control, run, Ending::WhenAsked);
            })
        };
        let signaller = {
            let control = Arc::clone(&control);
            thread::spawn(move || control.ready(run, Instant::now()))
        };
        let stopper = {
            let control = Arc::clone(&control);
            thread::spawn(move || stop(&control))
        };
        let outcome = block_on(control.ready_outcome(run));
        let became_running = signaller.join().unwrap();
        assert!(stopper.join().unwrap().is_ok());
        driver.join().unwrap();
        match outcome {
            Ok(()) => assert!(became_running, "start saw Running that nobody published"),
            // The modelled run reports no start error: a stop before ready leaves `None`.
            Err(None) => assert!(!became_running),
            Err(Some(other)) => panic!("unexpected start outcome: {other}"),
        }
        assert_quiet(&control);
    });
}

/// The work asks for its token while a `stop` races it, then waits to be cancelled: whichever
/// comes first, the token it holds is cancelled by the time the stop returns, and its wait for
/// cancellation ends.
#[test]
fn loom_token_requested_while_stopping() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Spawned).expect("a new runner starts");
        let work = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                let token = control.token(run);
                let mut key = None;
                block_on(core::future::poll_fn(|cx| {
                    control.poll_cancelled(run, &mut key, cx)
                }));
                // The work has seen its cancellation: it ends, and its task reports it.
                let _ = control.exited(run);
                let _ = control.finish(run, |_, _, _| Report::ok(Exit::Stopped));
                token
            })
        };
        assert!(stop(&control).is_ok());
        let token = work.join().unwrap();
        assert!(token.is_cancelled(), "a live token survived the stop");
        assert_eq!(control.snapshot().state, State::Stopped);
        assert_eq!(control.waiting(), 0);
    });
}

/// A run's task dies (its runtime shut down) while a `stop` is in flight: the fault ends the run,
/// the stop returns (with the fault, if it was waiting for that run), and nothing waits for ever.
#[test]
fn loom_fault_races_stop() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Spawned).expect("a new runner starts");
        let dying = {
            let control = Arc::clone(&control);
            thread::spawn(move || control.fault(run, Fault::Abandoned).is_some())
        };
        match stop(&control) {
            Ok(()) | Err(Fault::Abandoned) => {}
            Err(other) => panic!("unexpected stop result: {other}"),
        }
        assert!(dying.join().unwrap(), "nothing else finished the run");
        assert_quiet(&control);
        assert_eq!(control.error_count(), 1, "the fault is recorded once");
        assert!(matches!(control.last_exit(), Some(Exit::Failed(_))));
    });
}

/// A back-off timer firing (the runner restarting itself after its run ended) racing a `stop`:
/// either the stop cancels the back-off and no run begins, or the retry begins a run and the
/// stop brings it down. Either way the stop returns with the runner idle, and nothing waits.
#[test]
fn loom_backoff_timer_races_stop() {
    loom::model(|| {
        let control = control();
        let run = start(&control, ReadyWhen::Spawned).expect("a new runner starts");
        drive(&control, run, Ending::ByItself);
        assert!(
            control.back_off(run),
            "a run that ended by itself backs off"
        );
        assert_eq!(control.snapshot().state, State::BackingOff);
        let timer = {
            let control = Arc::clone(&control);
            thread::spawn(move || {
                let retried = control.retry(run, ReadyWhen::Spawned, Instant::now());
                if let Some(next) = retried {
                    drive(&control, next, Ending::WhenAsked);
                }
                retried
            })
        };
        assert!(stop(&control).is_ok());
        assert!(
            control.snapshot().state.is_idle(),
            "stop returned with {}",
            control.snapshot()
        );
        let retried = timer.join().unwrap();
        assert_quiet(&control);
        assert_eq!(control.snapshot().state, State::Stopped);
        match retried {
            Some(next) => assert_eq!(next, run + 1),
            None => assert_eq!(
                control.snapshot().version.get(),
                5,
                "start, stopping, stopped, backing-off, stopped"
            ),
        }
    });
}
