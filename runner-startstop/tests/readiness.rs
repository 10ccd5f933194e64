//! `ReadyWhen::Signalled`: `start` resolves when the start function says it is ready, or with the
//! error the run ended with, once it has ended; every error `start` returns is in the history.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_startstop::{Error, ReadyWhen, RunContext, StartStop};
use tokio::time::Instant;

/// A stop function that takes a second: long enough to see whether `start` waits for it.
async fn slow_stop() -> Result<(), io::Error> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}

fn signalled<S, F>(start: S) -> StartStop
where
    S: Fn(RunContext) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(), io::Error>> + Send + 'static,
{
    StartStop::builder(start, slow_stop)
        .ready_when(ReadyWhen::Signalled)
        .build()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn start_resolves_when_the_start_fn_signals_ready() {
    let runner = Arc::new(signalled(|run: RunContext| async move {
        tokio::time::sleep(Duration::from_secs(3)).await; // binding, warming up
        run.ready();
        run.cancelled().await;
        Ok(())
    }));
    let began = Instant::now();
    let starting = tokio::spawn({
        let runner = Arc::clone(&runner);
        async move { runner.start().await }
    });
    tokio::task::yield_now().await;
    assert_eq!(runner.state(), State::Starting);
    assert!(!runner.readiness().is_ready());
    assert_eq!(runner.uptime(), None, "not running yet");
    starting.await.unwrap().unwrap();
    assert_eq!(began.elapsed(), Duration::from_secs(3));
    assert_eq!(runner.state(), State::Running);
    assert!(runner.readiness().is_ready());
    runner.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_start_fn_failing_before_ready_fails_start_with_its_own_error() {
    let runner = signalled(|_run: RunContext| async { Err(io::Error::other("address in use")) });
    let began = Instant::now();
    let error = runner.start().await.unwrap_err();
    assert_eq!(error.to_string(), "run failed: address in use");
    // `start` returned once the run had ended: stop fn done, state and history final.
    assert_eq!(began.elapsed(), Duration::from_secs(1));
    assert_eq!(runner.state(), State::Failed);
    assert_eq!(runner.error_count(), 1);
    assert_eq!(
        runner.last_error().unwrap().to_string(),
        "run failed: address in use"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panic_before_ready_fails_start_with_the_panic() {
    let runner = signalled(|_run: RunContext| async {
        panic!("config missing");
        #[allow(unreachable_code, reason = "gives the async block its output type")]
        Ok(())
    });
    match runner.start().await {
        Err(Error::RunPanicked(p)) => assert_eq!(p.message(), "config missing"),
        other => panic!("expected RunPanicked, got {other:?}"),
    }
    assert_eq!(runner.state(), State::Failed);
    assert_eq!(runner.error_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_start_fn_returning_ok_before_ready_is_reported_and_recorded() {
    let runner = signalled(|_run: RunContext| async { Ok(()) });
    let error = runner.start().await.unwrap_err();
    assert!(matches!(error, Error::EndedBeforeReady), "{error:?}");
    assert!(matches!(
        &*runner.last_error().unwrap(),
        Error::EndedBeforeReady
    ));
    assert!(matches!(runner.last_exit(), Some(Exit::Completed)));
    assert_eq!(runner.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_stop_before_ready_is_reported_to_start_and_recorded() {
    let runner = Arc::new(signalled(|run: RunContext| async move {
        run.cancelled().await; // never gets ready
        Ok(())
    }));
    let starting = tokio::spawn({
        let runner = Arc::clone(&runner);
        async move { runner.start().await }
    });
    tokio::task::yield_now().await;
    assert_eq!(runner.state(), State::Starting);
    runner.stop().await.unwrap();
    let error = starting.await.unwrap().unwrap_err();
    assert!(matches!(error, Error::StoppedBeforeReady), "{error:?}");
    assert_eq!(runner.error_count(), 1);
    assert!(matches!(
        &*runner.last_error().unwrap(),
        Error::StoppedBeforeReady
    ));
    assert_eq!(runner.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn ready_after_a_stop_was_requested_is_ignored() {
    let runner = Arc::new(signalled(|run: RunContext| async move {
        run.cancelled().await;
        run.ready(); // too late: the run is stopping
        Ok(())
    }));
    let starting = tokio::spawn({
        let runner = Arc::clone(&runner);
        async move { runner.start().await }
    });
    tokio::task::yield_now().await;
    runner.stop().await.unwrap();
    assert!(matches!(
        starting.await.unwrap(),
        Err(Error::StoppedBeforeReady)
    ));
    assert_eq!(runner.state(), State::Stopped);
}
