//! `Managed` keeps the contract, reports health with a version, and every way its task can die
//! ends the run with a recorded fault.
#![cfg(feature = "conformance")]

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use runner_core::conformance::{Kit, Probe, Rule};
use runner_core::{ErrorHistory, Exit, Health, Runner, State, Status};
use runner_lifecycle::control::{Begin, Control};
use runner_lifecycle::{Error, Fault, Managed, Probed, ReadyWhen, RunContext, Work, task};

/// Work wired to the kit's probe directly.
struct Probing(Probe);

impl Work for Probing {
    type Error = runner_core::conformance::ProbeError;

    async fn run(self: Arc<Self>, run: RunContext) -> Result<(), Self::Error> {
        run.ready();
        self.0.run(run.cancelled()).await
    }
}

/// Work that knows nothing of the kit: it waits to be stopped.
struct Idle;

impl Work for Idle {
    type Error = Infallible;

    async fn run(self: Arc<Self>, run: RunContext) -> Result<(), Infallible> {
        run.ready();
        run.cancelled().await;
        Ok(())
    }
}

fn kit<R: Runner + Status + ErrorHistory>(make: impl Fn(Probe) -> R) -> Kit<impl Fn(Probe) -> R> {
    Kit::new(make).deadline(Duration::from_secs(30), tokio::time::sleep)
}

#[tokio::test(start_paused = true)]
async fn keeps_every_rule_in_both_readiness_modes() {
    for when in [ReadyWhen::Spawned, ReadyWhen::Signalled] {
        let report = kit(|probe| {
            Managed::builder(Probing(probe))
                .ready_when(when)
                .error_capacity(8)
                .build()
                .expect("valid settings")
        })
        .run()
        .await;
        report.assert_ok();
        assert_eq!(report.held(), Rule::ALL, "{when:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_every_rule_on_a_multi_threaded_runtime() {
    kit(|probe| Managed::new(Probing(probe)))
        .run()
        .await
        .assert_ok();
}

#[tokio::test(start_paused = true)]
async fn a_work_under_probed_keeps_every_rule() {
    let report = kit(|probe| Managed::new(Probed::new(Idle, probe)))
        .run()
        .await;
    report.assert_ok();
    assert_eq!(report.held(), Rule::ALL);
}

/// Work that reports its health as the test tells it.
struct Reporting(tokio::sync::watch::Receiver<Health>);

impl Work for Reporting {
    type Error = Infallible;

    async fn run(self: Arc<Self>, run: RunContext) -> Result<(), Infallible> {
        let mut health = self.0.clone();
        loop {
            run.set_health(health.borrow_and_update().clone());
            tokio::select! {
                () = run.cancelled() => return Ok(()),
                changed = health.changed() => if changed.is_err() { return Ok(()) },
            }
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_reported_health_change_advances_the_version() {
    let (tell, told) = tokio::sync::watch::channel(Health::Healthy);
    let runner = Managed::new(Reporting(told));
    runner.start().await.unwrap();
    tokio::task::yield_now().await;
    let before = runner.snapshot();
    assert_eq!(runner.health(), Health::Healthy);

    tell.send(Health::degraded("lagging")).unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(5), runner.changed(before.version))
        .await
        .expect("the version moved");
    assert_eq!(seen.state, State::Running);
    assert_eq!(runner.health(), Health::degraded("lagging"));

    // A new reason of the same kind is not a change worth a version.
    tell.send(Health::degraded("still lagging")).unwrap();
    tokio::task::yield_now().await;
    assert_eq!(runner.snapshot().version, seen.version);
    assert_eq!(runner.health(), Health::degraded("still lagging"));

    runner.stop().await.unwrap();
    assert!(matches!(runner.health(), Health::Unhealthy(_)));
    runner.start().await.unwrap();
    assert_eq!(
        runner.health(),
        Health::Healthy,
        "a new run reports its own health"
    );
    runner.stop().await.unwrap();
}

#[test]
fn start_outside_a_runtime_is_no_runtime() {
    let runner = Managed::new(Idle);
    let start = std::pin::pin!(runner.start());
    let polled = start.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert!(matches!(
        polled,
        std::task::Poll::Ready(Err(Error::NoRuntime))
    ));
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(runner.error_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_exit_timeout_of_duration_max_waits_for_the_run() {
    let runner = Managed::builder(SlowWindDown)
        .exit_timeout(Duration::MAX)
        .stop_hook_timeout(Duration::MAX)
        .build()
        .unwrap();
    runner.start().await.unwrap();
    let stopped = tokio::time::timeout(Duration::from_secs(7200), runner.stop()).await;
    assert!(matches!(stopped, Ok(Ok(()))), "{stopped:?}");
    assert!(matches!(runner.last_exit(), Some(Exit::Stopped)));
}

struct SlowWindDown;

impl Work for SlowWindDown {
    type Error = Infallible;

    async fn run(self: Arc<Self>, run: RunContext) -> Result<(), Infallible> {
        run.cancelled().await;
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(())
    }

    async fn stop(self: Arc<Self>) -> Result<(), Infallible> {
        tokio::time::sleep(Duration::from_secs(1800)).await;
        Ok(())
    }
}

/// A driver with a bug: it panics on its first poll.
struct Buggy {
    control: Arc<Control<Error>>,
    run: u64,
}

impl std::future::Future for Buggy {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        panic!("driver bug")
    }
}

impl task::Driver for Buggy {
    fn fault(self: std::pin::Pin<&mut Self>, fault: Fault) {
        let _ = self.control.fault(self.run, fault);
    }
}

/// A run's task that panics (a bug in a driver): the guard ends the run as `Failed`, with the
/// panic recorded, instead of leaving `Running` behind a dead task.
#[tokio::test(start_paused = true)]
async fn a_panicking_driver_ends_its_run_as_a_fault() {
    let control: Arc<Control<Error>> = Arc::new(Control::new(4, ()));
    let Begin::Spawn { run, .. } = control
        .begin_start(ReadyWhen::Spawned, runner_lifecycle::now)
        .await
    else {
        unreachable!("a new control plane starts");
    };
    let driver = Buggy {
        control: Arc::clone(&control),
        run,
    };
    let runtime = task::runtime().expect("inside a runtime");
    task::spawn(&runtime, driver)
        .await
        .expect("the guard caught the panic");
    assert_eq!(control.snapshot().state, State::Failed);
    match control.last_error().as_deref() {
        Some(Error::Internal(panicked)) => assert_eq!(panicked.message(), "driver bug"),
        other => panic!("expected an internal panic, got {other:?}"),
    }
    assert!(control.stop(|_| {}).await.is_ok(), "nothing left to stop");
}
