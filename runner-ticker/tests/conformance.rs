//! `Ticker` keeps every rule of the runner-core contract.

use std::time::Duration;

use runner_core::conformance::{Kit, Probe, Rule};
use runner_ticker::{FirstRun, TickContext, Ticker};

/// A ticker whose first run begins at once and lasts until the ticker is stopped: the kit sees
/// the work begin and end through the probe.
fn ticker(probe: Probe) -> Ticker {
    Ticker::builder(Duration::from_secs(60), move |tick: TickContext| {
        let probe = probe.clone();
        async move {
            let _alive = probe.enter();
            tick.cancelled().await;
            probe.outcome()
        }
    })
    .first_run(FirstRun::Immediately)
    .error_capacity(8)
    .build()
    .expect("valid settings")
}

#[tokio::test(start_paused = true)]
async fn keeps_every_rule() {
    let report = Kit::new(ticker)
        .deadline(Duration::from_secs(30), tokio::time::sleep)
        .run()
        .await;
    report.assert_ok();
    assert_eq!(report.held(), Rule::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_every_rule_on_a_multi_threaded_runtime() {
    let report = Kit::new(ticker)
        .deadline(Duration::from_secs(30), tokio::time::sleep)
        .run()
        .await;
    report.assert_ok();
}
