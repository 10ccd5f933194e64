//! Every lifecycle transition emits a `tracing` event under the `runner::lifecycle` target.
//! A minimal subscriber records event messages; the runtime is current-thread, so the
//! thread-local default subscriber sees the runner's tasks too.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_core::{Runner, State, Status};
use runner_startstop::{ReadyWhen, RunContext, StartStop};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records the message of every `runner::` event.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with("runner::")
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0.lock().unwrap().push(message);
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

fn recording() -> (Recorder, tracing::subscriber::DefaultGuard) {
    let recorder = Recorder::default();
    let guard = tracing::subscriber::set_default(recorder.clone());
    (recorder, guard)
}

#[tokio::test(start_paused = true)]
async fn start_ready_stop_and_finish_are_traced() {
    let (events, _guard) = recording();
    let runner = StartStop::builder(
        |run: RunContext| async move {
            run.ready();
            run.cancelled().await;
            Ok::<_, io::Error>(())
        },
        || async { Err::<(), _>(io::Error::other("flush failed")) },
    )
    .ready_when(ReadyWhen::Signalled)
    .build()
    .unwrap();
    runner.start().await.unwrap();
    runner.start().await.unwrap();
    assert_eq!(
        events.take(),
        [
            "runner.starting",
            "runner.ready: running",
            "runner.start: already running"
        ]
    );
    let _ = runner.stop().await;
    // The start function returns as soon as it is cancelled, so the run goes straight from the
    // stop request to the stop function: no wind-down to report.
    assert_eq!(
        events.take(),
        [
            "runner.stop: requested",
            "runner.stop_hook: failed",
            "runner.finished"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn an_exit_by_itself_and_an_abort_are_traced() {
    let (events, _guard) = recording();
    let runner = StartStop::new(
        |_run: RunContext| async { Err::<(), _>(io::Error::other("gone")) },
        || async { Ok::<_, io::Error>(()) },
    );
    runner.start().await.unwrap();
    runner.wait_for(State::is_idle).await;
    assert_eq!(
        events.take(),
        [
            "runner.starting",
            "runner.exited: the run ended by itself",
            "runner.stop_hook: done",
            "runner.finished"
        ]
    );

    let stubborn = StartStop::builder(
        |_run: RunContext| std::future::pending::<Result<(), io::Error>>(),
        || async { Ok::<_, io::Error>(()) },
    )
    .exit_timeout(Duration::from_millis(10))
    .build()
    .unwrap();
    stubborn.start().await.unwrap();
    let _ = stubborn.stop().await;
    assert_eq!(
        events.take(),
        [
            "runner.starting",
            "runner.stop: requested",
            "runner.winding_down: stop hook started while the run winds down",
            "runner.stop_hook: done",
            "runner.aborted: the run outlived its grace period",
            "runner.finished"
        ]
    );
}
