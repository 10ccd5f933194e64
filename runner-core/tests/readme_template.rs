//! The runner the workspace README used to teach, kept verbatim but for its wiring to the probe:
//! it hangs in `stop` once its work ends by itself, publishes `Stopped` for a failed run and never
//! reports `Exit::Completed`. The kit must name the broken rule.
#![cfg(feature = "conformance")]

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use runner_core::conformance::{Kit, Probe, ProbeError, Rule};
use runner_core::{ErrorHistory, ErrorLog, Exit, Runner, Snapshot, State, Status, Version};
use tokio::sync::{Notify, watch};

/// Runs `work` on a task until stopped; `work` gets the signal to watch.
struct Worker<W> {
    work: W,
    state: Arc<watch::Sender<Snapshot>>,
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    stop: Option<Arc<Notify>>,
    since: Option<Instant>,
    exit: Option<Exit>,
    errors: ErrorLog<ProbeError>,
}

fn publish(state: &watch::Sender<Snapshot>, to: State) {
    state.send_modify(|s| *s = Snapshot::new(to, s.version.next()));
}

impl<W, F> Worker<W>
where
    W: Fn(Arc<Notify>) -> F + Send + Sync,
    F: Future<Output = Result<(), ProbeError>> + Send + 'static,
{
    fn new(work: W) -> Self {
        let (state, _) = watch::channel(Snapshot::new(State::Stopped, Version::INITIAL));
        Worker {
            work,
            state: Arc::new(state),
            inner: Arc::default(),
        }
    }
}

impl<W, F> Runner for Worker<W>
where
    W: Fn(Arc<Notify>) -> F + Send + Sync,
    F: Future<Output = Result<(), ProbeError>> + Send + 'static,
{
    type Error = Infallible;

    async fn start(&self) -> Result<(), Infallible> {
        loop {
            self.wait_for(|s| s != State::Stopping).await; // serialise with a stop
            let mut inner = self.inner.lock().unwrap();
            match self.state.borrow().state {
                State::Running => return Ok(()), // idempotent
                State::Stopping => continue,
                _ => {}
            }
            let stop = Arc::new(Notify::new());
            let run = (self.work)(stop.clone());
            (inner.stop, inner.since) = (Some(stop), Some(Instant::now()));
            let (state, shared) = (self.state.clone(), self.inner.clone());
            tokio::spawn(async move {
                let result = run.await;
                let mut inner = shared.lock().unwrap();
                inner.exit = Some(match result {
                    Ok(()) => Exit::Stopped,
                    Err(e) => Exit::Failed(inner.errors.record(e)),
                });
                inner.since = None;
                publish(&state, State::Stopped);
            });
            publish(&self.state, State::Running);
            return Ok(());
        }
    }

    async fn stop(&self) -> Result<(), Infallible> {
        if let Some(stop) = self.inner.lock().unwrap().stop.take() {
            stop.notify_one();
            publish(&self.state, State::Stopping);
        }
        self.wait_for(State::is_idle).await; // dropped? the task still finishes
        Ok(())
    }
}

impl<W: Send + Sync> Status for Worker<W> {
    fn snapshot(&self) -> Snapshot {
        *self.state.borrow()
    }

    async fn changed(&self, since: Version) -> Snapshot {
        *self
            .state
            .subscribe()
            .wait_for(|s| s.version != since)
            .await
            .unwrap()
    }

    fn uptime(&self) -> Option<Duration> {
        let since = self.inner.lock().unwrap().since;
        since.filter(|_| self.is_running()).map(|t| t.elapsed())
    }

    fn last_exit(&self) -> Option<Exit> {
        self.inner.lock().unwrap().exit.clone()
    }
}

impl<W: Send + Sync> ErrorHistory for Worker<W> {
    type Recorded = ProbeError;

    fn errors(&self) -> Vec<Arc<ProbeError>> {
        self.inner.lock().unwrap().errors.to_vec()
    }

    fn error_count(&self) -> u64 {
        self.inner.lock().unwrap().errors.total()
    }

    fn error_capacity(&self) -> usize {
        self.inner.lock().unwrap().errors.capacity()
    }
}

#[tokio::test(start_paused = true)]
async fn the_old_readme_template_is_caught() {
    let report = Kit::new(|probe: Probe| {
        Worker::new(move |stop: Arc<Notify>| {
            let probe = probe.clone();
            async move { probe.run(stop.notified()).await }
        })
    })
    .deadline(Duration::from_secs(5), tokio::time::sleep)
    .run()
    .await;
    let violation = report
        .violation(Rule::EndByItselfIsPublished)
        .unwrap_or_else(|| panic!("the kit passed the broken template:\n{report}"));
    assert!(
        violation
            .detail()
            .contains("last_exit() is `stopped`, expected `completed`"),
        "{violation}"
    );
}

#[tokio::test(start_paused = true)]
async fn its_stop_hangs_after_the_work_failed_by_itself() {
    // The first defect hides the others in the report: show the hang on its own.
    let probe = Probe::new();
    let worker = Worker::new({
        let probe = probe.clone();
        move |stop: Arc<Notify>| {
            let probe = probe.clone();
            async move { probe.run(stop.notified()).await }
        }
    });
    worker.start().await.unwrap();
    probe.entered_at_least(1).await;
    probe.end_by_itself(runner_core::conformance::Ending::Err);
    let seen = worker.wait_for(State::is_idle).await;
    assert_eq!(
        seen.state,
        State::Stopped,
        "published Stopped for a failure"
    );
    let stopped = tokio::time::timeout(Duration::from_secs(5), worker.stop()).await;
    assert!(
        stopped.is_err(),
        "stop returned: the template no longer hangs?"
    );
    assert_eq!(worker.state(), State::Stopping, "stuck for ever");
}
