//! `StartStop` keeps every rule of the runner-core contract, in both readiness modes.

use std::convert::Infallible;
use std::time::Duration;

use runner_core::conformance::{Kit, Probe, Rule};
use runner_startstop::{ReadyWhen, RunContext, StartStop};

fn runner(probe: Probe, when: ReadyWhen) -> StartStop {
    StartStop::builder(
        move |run: RunContext| {
            let probe = probe.clone();
            async move {
                run.ready();
                probe.run(run.cancelled()).await
            }
        },
        || async { Ok::<_, Infallible>(()) },
    )
    .ready_when(when)
    .error_capacity(8)
    .build()
    .expect("valid settings")
}

#[tokio::test(start_paused = true)]
async fn keeps_every_rule_when_ready_on_spawn() {
    let report = Kit::new(|probe| runner(probe, ReadyWhen::Spawned))
        .deadline(Duration::from_secs(30), tokio::time::sleep)
        .run()
        .await;
    report.assert_ok();
    assert_eq!(report.held(), Rule::ALL);
}

#[tokio::test(start_paused = true)]
async fn keeps_every_rule_when_ready_on_signal() {
    let report = Kit::new(|probe| runner(probe, ReadyWhen::Signalled))
        .deadline(Duration::from_secs(30), tokio::time::sleep)
        .run()
        .await;
    report.assert_ok();
    assert_eq!(report.held(), Rule::ALL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeps_every_rule_on_a_multi_threaded_runtime() {
    let report = Kit::new(|probe| runner(probe, ReadyWhen::Signalled))
        .deadline(Duration::from_secs(30), tokio::time::sleep)
        .run()
        .await;
    report.assert_ok();
}
