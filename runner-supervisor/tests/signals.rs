//! `run_until_signal`: the `main` of a service. Real signals, sent to this test's own process
//! (each test file is its own process), so this file holds a single test.
#![cfg(unix)]

mod common;

use std::time::Duration;

use common::{Fake, Log, logged, next};
use runner_core::{State, Status};
use runner_supervisor::{ServiceOptions, Supervisor};
use tokio::signal::unix::{SignalKind, signal};

/// Sends `signal` (`INT` or `TERM`) to this process.
fn raise(signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), std::process::id().to_string()])
        .status()
        .expect("kill(1) runs");
    assert!(status.success());
}

#[tokio::test]
async fn a_signal_stops_in_order_and_a_second_one_forces_the_end() {
    // Listening before anything is raised: from now on SIGINT and SIGTERM no longer end the
    // process, whichever listener tokio wakes.
    let mut interrupts = signal(SignalKind::interrupt()).unwrap();
    let _terminates = signal(SignalKind::terminate()).unwrap();

    // First: a clean stop on SIGTERM, dependents first.
    let log = Log::default();
    let (db, api) = (Fake::new("db", &log), Fake::new("api", &log));
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .service("api", api.runner(), ServiceOptions::new().requires("db"))
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    let main = tokio::spawn(async move {
        let report = supervisor.run_until_signal(Duration::from_secs(60)).await;
        (report, supervisor)
    });
    next(&mut events, "ready").await;
    logged(&log, "ready:api", 1).await;
    raise("TERM");
    let (report, supervisor) = tokio::time::timeout(Duration::from_secs(60), main)
        .await
        .expect("the signal ends the wait")
        .unwrap();
    assert!(report.unwrap().is_clean());
    assert!(
        log.at("stopped:api") < log.at("stopped:db"),
        "{:?}",
        log.entries()
    );
    assert_eq!(supervisor.state(), State::Stopped);

    // Then: a service that ignores its stop; the second SIGINT ends the wait at once, and the
    // report names what is still up.
    let log = Log::default();
    let stuck = Fake::new("stuck", &log);
    stuck.ignore_stop();
    let supervisor = Supervisor::builder()
        .service(
            "stuck",
            stuck.runner(),
            ServiceOptions::new().stop_timeout(Duration::from_secs(3600)),
        )
        .stop_deadline(Duration::from_secs(3600))
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    let main = tokio::spawn(async move {
        let report = supervisor.run_until_signal(Duration::from_secs(3600)).await;
        (report, supervisor)
    });
    logged(&log, "ready:stuck", 1).await;
    raise("INT");
    next(&mut events, "stopping").await;
    raise("INT");
    let (report, supervisor) = tokio::time::timeout(Duration::from_secs(60), main)
        .await
        .expect("the second signal ends the wait")
        .unwrap();
    let report = report.unwrap();
    assert!(report.forced());
    assert_eq!(report.unstopped(), [("stuck".to_owned(), State::Stopping)]);
    assert_eq!(
        supervisor.state(),
        State::Stopping,
        "its stop goes on without us"
    );
    // The test's own listener saw the signals too (tokio wakes every listener).
    assert!(interrupts.recv().await.is_some());
}
