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
