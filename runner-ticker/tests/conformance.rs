//! `Ticker` keeps every rule of the runner-core contract that applies to it.

use std::time::Duration;

use runner_core::conformance::{Kit, Probe, Rule};
use runner_ticker::{FirstRun, TickContext, Ticker};

/// A ticker whose first run begins at once and lasts until the ticker is stopped: the kit sees
/// the work begin and end through the probe. One failed run makes it unhealthy, so the kit sees
/// its health change too.
fn ticker(probe: Probe) -> Ticker {
    Ticker::builder(Duration::from_secs(60), move |tick: TickContext| {
        let probe = probe.clone();
        async move { probe.run(tick.cancelled()).await }
    })
    .first_run(FirstRun::Immediately)
    .unhealthy_after(1)
    .error_capacity(8)
    .build()
    .expect("valid settings")
}

/// A ticker's work does not end when one tick does: a failed or panicking tick is recorded and
/// the ticker goes on (its health says so). So the rule about work ending by itself does not
/// apply; every other rule does.
fn kit() -> Kit<fn(Probe) -> Ticker> {
    Kit::new(ticker as fn(Probe) -> Ticker)
        .without([Rule::EndByItselfIsPublished])
        .deadline(Duration::from_secs(30), tokio::time::sleep)
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

/// The rule the ticker skips, checked for what a ticker does instead: the failed tick is
/// recorded, the ticker keeps running, and its health turns unhealthy with a new version.
#[tokio::test(start_paused = true)]
async fn a_failed_tick_is_recorded_and_the_ticker_goes_on() {
    use runner_core::conformance::Ending;
    use runner_core::{ErrorHistory, Runner, State, Status};

    let probe = Probe::new();
    let ticker = ticker(probe.clone());
    ticker.start().await.unwrap();
    probe.entered_at_least(1).await;
    let before = ticker.snapshot();
    probe.end_by_itself(Ending::Err);
    let seen = tokio::time::timeout(Duration::from_secs(30), ticker.changed(before.version))
        .await
        .expect("the health flip must come with a new version");
    assert_eq!(seen.state, State::Running);
    assert!(!ticker.health().is_healthy(), "{}", ticker.health());
    assert_eq!(ticker.error_count(), 1);
    probe.entered_at_least(2).await; // the next tick, a period later
    ticker.stop().await.unwrap();
}
