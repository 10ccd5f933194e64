//! The conformance kit against a small reference runner, and against copies of it with one
//! deliberate defect each: the kit must pass the first and name the broken rule for the others.
#![cfg(feature = "conformance")]

mod common;

use std::time::Duration;

use common::{CAPACITY, Defect, Reference};
use runner_core::conformance::{Kit, Probe, Rule};

fn kit(defect: Option<Defect>) -> Kit<impl Fn(Probe) -> Reference> {
    Kit::new(move |probe| Reference::new(probe, defect))
        .deadline(Duration::from_secs(5), tokio::time::sleep)
}

#[tokio::test(start_paused = true)]
async fn reference_runner_keeps_every_rule() {
    let report = kit(None).run().await;
    report.assert_ok();
    assert_eq!(report.held(), Rule::ALL);
}

/// Runs the kit on a broken copy and returns the message of the named rule's violation.
async fn violation_of(defect: Defect, rule: Rule) -> String {
    let report = kit(Some(defect)).run().await;
    let violation = report
        .violation(rule)
        .unwrap_or_else(|| panic!("kit missed {defect:?}; expected `{rule}` broken:\n{report}"));
    let message = violation.to_string();
    assert!(
        message.contains(rule.name()),
        "message does not name the rule: {message}"
    );
    message
}

#[tokio::test(start_paused = true)]
async fn reports_non_idempotent_start() {
    let message = violation_of(Defect::NonIdempotentStart, Rule::StartIsIdempotent).await;
    assert!(message.contains("began the work again"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_stop_returning_before_its_task_ended() {
    let message = violation_of(Defect::EarlyStop, Rule::StopAwaitsWork).await;
    assert!(message.contains("still alive"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_unbounded_error_history() {
    let message = violation_of(Defect::UnboundedHistory, Rule::ErrorHistoryIsBounded).await;
    assert!(
        message.contains(&format!("more than error_capacity() = {CAPACITY}")),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn reports_a_hang_when_given_a_deadline() {
    let message = violation_of(Defect::HangingStop, Rule::StopLeavesStopped).await;
    assert!(message.contains("did not finish within 5s"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_work_that_ends_by_itself_but_stays_running() {
    let message = violation_of(Defect::StaysRunningAfterEnd, Rule::EndByItselfIsPublished).await;
    assert!(message.contains("it must leave Running"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_a_failure_published_as_stopped() {
    let message = violation_of(Defect::StoppedForFailure, Rule::EndByItselfIsPublished).await;
    assert!(
        message.contains("the work returned an error by itself and the state became stopped"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn reports_a_run_that_never_completes() {
    let message = violation_of(Defect::NeverCompleted, Rule::EndByItselfIsPublished).await;
    assert!(
        message.contains("last_exit() is `stopped`, expected `completed`"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn reports_a_change_that_wakes_one_watcher() {
    let message = violation_of(Defect::WakesOneWatcher, Rule::ChangeIsNotified).await;
    assert!(message.contains("woke 1 of 3"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_changed_ignoring_an_old_version() {
    let message = violation_of(Defect::IgnoresOldVersion, Rule::OldVersionResolvesAtOnce).await;
    assert!(message.contains("are lost"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_two_concurrent_starts_that_both_spawn() {
    let message = violation_of(Defect::RacyStart, Rule::ConcurrentStartsBeginOnce).await;
    assert!(message.contains("began the work 2 times"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_a_start_that_breaks_when_dropped_after_its_second_poll() {
    let message = violation_of(Defect::BreaksWhenDroppedLate, Rule::DroppedStartRecovers).await;
    assert!(message.contains("did not finish within"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_restart_clearing_the_history() {
    let message = violation_of(Defect::RestartClearsHistory, Rule::RestartKeepsHistory).await;
    assert!(message.contains("was cleared"), "{message}");
}

#[tokio::test(start_paused = true)]
async fn reports_last_error_returning_the_oldest() {
    let message = violation_of(Defect::LastErrorIsOldest, Rule::LastErrorIsNewest).await;
    assert!(
        message.contains("last_error() is `scripted failure #1"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn reports_health_that_flips_without_a_new_version() {
    let message = violation_of(Defect::SilentHealth, Rule::HealthChangeIsVersioned).await;
    assert!(
        message.contains("health went from `healthy` to `degraded: 1 failed runs`"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn only_checks_the_chosen_rules() {
    let report = kit(Some(Defect::EarlyStop))
        .only([Rule::StartReachesRunning])
        .run()
        .await;
    report.assert_ok();
    assert_eq!(report.held(), [Rule::StartReachesRunning]);
}

#[test]
fn kit_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let kit = kit(None);
    assert_send(kit.run());
}

#[tokio::test(start_paused = true)]
async fn without_skips_the_named_rules() {
    let report = kit(Some(Defect::NeverCompleted))
        .without([Rule::EndByItselfIsPublished])
        .run()
        .await;
    report.assert_ok();
    assert_eq!(report.held().len(), Rule::ALL.len() - 1);
}
