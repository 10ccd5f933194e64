//! How a run learns it should end: `RunContext::cancelled`, `is_cancelled`, and the token made on
//! request for whatever the start function hands it to.

use std::io;
use std::sync::{Arc, Mutex};

use runner_core::{Runner, State, Status};
use runner_startstop::{RunContext, StartStop};
use tokio_util::sync::CancellationToken;

/// Keeps the context of the last run, so the test can look at it from outside.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Option<RunContext>>>);

impl Seen {
    fn context(&self) -> RunContext {
        self.0
            .lock()
            .unwrap()
            .clone()
            .expect("the start function ran")
    }
}

fn keeping_context(seen: &Seen) -> StartStop {
    let seen = seen.clone();
    StartStop::new(
        move |run: RunContext| {
            *seen.0.lock().unwrap() = Some(run.clone());
            async move {
                run.cancelled().await;
                Ok::<_, io::Error>(())
            }
        },
        || async { Ok::<_, io::Error>(()) },
    )
}

#[tokio::test(start_paused = true)]
async fn the_token_is_shared_by_clones_and_fires_on_stop() {
    let seen = Seen::default();
    let runner = keeping_context(&seen);
    runner.start().await.unwrap();
    tokio::task::yield_now().await;
    let context = seen.context();
    let token = context.token();
    let child = context.clone().token().child_token();
    assert!(!token.is_cancelled() && !context.is_cancelled());
    runner.stop().await.unwrap();
    assert!(token.is_cancelled(), "the token fires on stop");
    assert!(child.is_cancelled(), "clones hand out the same token");
    assert!(context.is_cancelled());
}

#[tokio::test(start_paused = true)]
async fn a_token_asked_for_after_the_run_is_over_is_already_cancelled() {
    let seen = Seen::default();
    let runner = keeping_context(&seen);
    runner.start().await.unwrap();
    tokio::task::yield_now().await;
    runner.stop().await.unwrap();
    let late: CancellationToken = seen.context().token();
    assert!(late.is_cancelled());
    // A new run has a fresh token; the old context stays cancelled.
    runner.start().await.unwrap();
    tokio::task::yield_now().await;
    assert!(!seen.context().token().is_cancelled());
    assert!(late.is_cancelled());
    runner.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_token_fires_when_the_run_ends_by_itself_so_spawned_work_ends_too() {
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let done_tx = Arc::new(Mutex::new(Some(done_tx)));
    let runner = StartStop::new(
        move |run: RunContext| {
            let done_tx = Arc::clone(&done_tx);
            async move {
                let token = run.token();
                tokio::spawn(async move {
                    token.cancelled().await;
                    if let Some(tx) = done_tx.lock().unwrap().take() {
                        let _ = tx.send(());
                    }
                });
                Err::<(), _>(io::Error::other("lost the connection"))
            }
        },
        || async { Ok::<_, io::Error>(()) },
    );
    runner.start().await.unwrap();
    done_rx.await.expect("the sub-task saw the token fire");
    assert_eq!(runner.wait_for(State::is_idle).await.state, State::Failed);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_cancelled_future_leaves_the_run_unharmed() {
    let runner = StartStop::new(
        |run: RunContext| async move {
            // Give up waiting once, then wait properly.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(1), run.cancelled()).await;
            run.cancelled().await;
            Ok::<_, io::Error>(())
        },
        || async { Ok::<_, io::Error>(()) },
    );
    runner.start().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(runner.is_running());
    runner.stop().await.unwrap();
    assert_eq!(runner.state(), State::Stopped);
}
