//! `Supervisor` keeps every rule of the runner-core contract that applies to it, so it nests
//! under another supervisor like any runner.

use std::sync::Arc;
use std::time::Duration;

use runner_core::conformance::{Kit, Probe, ProbeError, Rule};
use runner_lifecycle::{Managed, RunContext, Work};
use runner_supervisor::{ServiceOptions, Supervisor};

/// The kit's work, as one service: ready at once, running until stopped or until the kit ends
/// it.
#[derive(Debug)]
struct Probed(Probe);

impl Work for Probed {
    type Error = ProbeError;

    async fn run(self: Arc<Self>, run: RunContext) -> Result<(), ProbeError> {
        run.ready();
        self.0.run(run.cancelled()).await
    }
}

/// A supervisor of one service running the kit's work, beside a plain one it does not touch.
fn supervisor(probe: Probe) -> Supervisor {
    Supervisor::builder()
        .service("probed", Managed::new(Probed(probe)), ServiceOptions::new())
        .error_capacity(8)
        .build()
        .expect("a valid graph")
}

/// A supervisor's work is its services: one of them ending is for the service's restart
/// policy to decide (restart it, leave it down, or give up when the intensity is exceeded;
/// the last is tested in `restarts.rs`), not the end of the supervisor. So the rule about the
/// work ending by itself does not apply; every other rule does.
fn kit() -> Kit<fn(Probe) -> Supervisor> {
    Kit::new(supervisor as fn(Probe) -> Supervisor)
        .without([Rule::EndByItselfIsPublished])
        .deadline(Duration::from_secs(120), tokio::time::sleep)
}

#[tokio::test(start_paused = true)]
async fn keeps_every_rule_that_applies() {
    let report = kit().run().await;
    report.assert_ok();
    assert_eq!(report.held().len(), Rule::ALL.len() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_every_rule_on_a_multi_threaded_runtime() {
    kit().run().await.assert_ok();
}
