//! Start failures and timeouts, stop timeouts and the global deadline, services added and
//! removed while running, events and lagging subscribers, readiness and health status, on the
//! paused clock.

mod common;

use std::time::Duration;

use common::{Command, Fake, Log, logged, next};
use runner_core::{ErrorHistory, Health, Runner, State, Status};
use runner_supervisor::{Error, Event, RemoveError, ServiceOptions, Supervisor};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_failed_start_returns_every_error_and_stops_the_started_in_reverse() {
    let log = Log::default();
    let (db, cache, api, jobs) = (
        Fake::new("db", &log),
        Fake::new("cache", &log),
        Fake::new("api", &log),
        Fake::new("jobs", &log),
    );
    api.fail_starts(1);
    jobs.fail_starts(1);
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .service(
            "cache",
            cache.runner(),
            ServiceOptions::new().requires("db"),
        )
        .service("api", api.runner(), ServiceOptions::new().requires("cache"))
        .service(
            "jobs",
            jobs.runner(),
            ServiceOptions::new().requires("cache"),
        )
        .build()
        .unwrap();
    let error = supervisor.start().await.unwrap_err();
    let Error::Start(start) = &error else {
        panic!("{error}")
    };
    let mut failed: Vec<&str> = start.failures().iter().map(|(n, _)| n.as_str()).collect();
    failed.sort_unstable();
    assert_eq!(failed, ["api", "jobs"], "every error, not just the first");
    assert!(
        error.to_string().contains("api refused to start"),
        "{error}"
    );
    assert!(
        error.to_string().contains("jobs refused to start"),
        "{error}"
    );
    assert!(
        log.at("stopped:cache") < log.at("stopped:db"),
        "{:?}",
        log.entries()
    );
    assert_eq!(supervisor.state(), State::Failed);
    assert_eq!(supervisor.error_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_start_that_takes_too_long_fails_and_is_stopped_again() {
    let log = Log::default();
    let (db, slow) = (Fake::new("db", &log), Fake::new("slow", &log));
    slow.ready_after(SECOND * 10);
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .service(
            "slow",
            slow.runner(),
            ServiceOptions::new().start_timeout(SECOND * 2),
        )
        .build()
        .unwrap();
    let t0 = Instant::now();
    let error = supervisor.start().await.unwrap_err();
    assert_eq!(t0.elapsed(), SECOND * 2, "failed at the timeout, not later");
    let Error::Start(start) = &error else {
        panic!("{error}")
    };
    assert_eq!(start.failures().len(), 1);
    assert_eq!(start.failures()[0].0, "slow");
    assert_eq!(start.failures()[0].1.to_string(), "did not start within 2s");
    assert_eq!(log.count("ready:slow"), 0);
    assert_eq!(
        log.count("stopped:db"),
        1,
        "the started one was stopped again"
    );
    let status = supervisor.health_status();
    let slow = status.services.iter().find(|s| s.name == "slow").unwrap();
    assert!(slow.state.is_idle(), "the slow start was stopped: {slow:?}");
}

#[tokio::test(start_paused = true)]
async fn a_service_that_ignores_stop_is_reported_at_its_stop_timeout() {
    let log = Log::default();
    let (db, stuck) = (Fake::new("db", &log), Fake::new("stuck", &log));
    stuck.ignore_stop();
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .service(
            "stuck",
            stuck.runner(),
            ServiceOptions::new()
                .requires("db")
                .stop_timeout(SECOND * 3),
        )
        .stop_deadline(SECOND * 60)
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    let t0 = Instant::now();
    let error = supervisor.stop().await.unwrap_err();
    assert_eq!(t0.elapsed(), SECOND * 3, "its own stop timeout bounds it");
    let report = error
        .stop_report()
        .expect("a stop error carries its report");
    assert_eq!(report.unstopped(), [("stuck".to_owned(), State::Stopping)]);
    assert_eq!(report.deadline_passed(), None);
    assert!(report.to_string().contains("stuck"), "{report}");
    match next(&mut events, "stop-timed-out").await {
        Event::StopTimedOut { service, after } => {
            assert_eq!(&*service, "stuck");
            assert_eq!(after, SECOND * 3);
        }
        other => panic!("{other}"),
    }
    // db was stopped after giving up on stuck: order is kept even when a stop times out.
    assert_eq!(log.count("stopped:db"), 1);
    assert_eq!(supervisor.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn the_global_deadline_bounds_the_whole_stop() {
    let log = Log::default();
    let (stuck, slow, db) = (
        Fake::new("stuck", &log),
        Fake::new("slow", &log),
        Fake::new("db", &log),
    );
    stuck.ignore_stop();
    slow.stop_takes(SECOND * 3);
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .service(
            "stuck",
            stuck.runner(),
            ServiceOptions::new()
                .requires("db")
                .stop_timeout(SECOND * 3600),
        )
        .service("slow", slow.runner(), ServiceOptions::new())
        .stop_deadline(SECOND * 5)
        .build()
        .unwrap();
    supervisor.start().await.unwrap();
    let t0 = Instant::now();
    let error = supervisor.stop().await.unwrap_err();
    // The global deadline, plus no slack at all on the paused clock.
    assert_eq!(t0.elapsed(), SECOND * 5);
    let report = error.stop_report().unwrap();
    let mut unstopped: Vec<(String, State)> = report.unstopped().to_vec();
    unstopped.sort_by(|a, b| a.0.cmp(&b.0));
    // stuck never stopped; db waits for it (it requires db) so it was never asked to.
    assert_eq!(
        unstopped,
        [
            ("db".to_owned(), State::Running),
            ("stuck".to_owned(), State::Stopping)
        ]
    );
    assert_eq!(report.deadline_passed(), Some(SECOND * 5));
    assert_eq!(
        log.count("stopped:slow"),
        1,
        "slow stopped within the deadline"
    );
    assert_eq!(supervisor.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn services_are_added_and_removed_while_running() {
    let log = Log::default();
    let (db, late) = (Fake::new("db", &log), Fake::new("late", &log));
    late.ready_after(SECOND);
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    supervisor
        .add("late", late.runner(), ServiceOptions::new().requires("db"))
        .unwrap();
    assert!(
        matches!(next(&mut events, "added").await, Event::Added { service } if &*service == "late")
    );
    // Not ready yet: the supervisor's readiness waits for it.
    assert!(!supervisor.readiness().is_ready());
    logged(&log, "ready:late", 1).await;
    assert_eq!(supervisor.services(), ["db", "late"]);
    let ready = tokio::time::timeout(SECOND, supervisor.wait_for(|_| true)).await;
    assert!(ready.is_ok());
    for _ in 0..100 {
        if supervisor.readiness().is_ready() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(supervisor.readiness().is_ready());

    // Bad additions are typed errors, nothing is added.
    assert!(
        supervisor
            .add("late", late.runner(), ServiceOptions::new())
            .is_err()
    );
    assert!(
        supervisor
            .add("x", late.runner(), ServiceOptions::new().requires("nope"))
            .is_err()
    );

    match supervisor.remove("db").await {
        Err(RemoveError::Required { service, by }) => {
            assert_eq!(service, "db");
            assert_eq!(by, ["late"]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        supervisor.remove("nope").await,
        Err(RemoveError::Unknown(name)) if name == "nope"
    ));
    supervisor.remove("late").await.unwrap();
    assert_eq!(
        log.count("stopped:late"),
        1,
        "stopped before it is forgotten"
    );
    assert_eq!(log.count("stopped:db"), 0, "the others run on");
    assert_eq!(supervisor.services(), ["db"]);
    supervisor.remove("db").await.unwrap();
    assert!(supervisor.services().is_empty());
    assert_eq!(supervisor.state(), State::Running);
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_service_added_to_a_stopped_supervisor_starts_with_the_others() {
    let log = Log::default();
    let (db, late) = (Fake::new("db", &log), Fake::new("late", &log));
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .build()
        .unwrap();
    supervisor
        .add("late", late.runner(), ServiceOptions::new().requires("db"))
        .unwrap();
    assert_eq!(
        log.entries(),
        Vec::<String>::new(),
        "nothing starts before `start`"
    );
    supervisor.start().await.unwrap();
    assert!(log.at("ready:db") < log.at("start:late"));
    supervisor.remove("late").await.unwrap();
    supervisor.stop().await.unwrap();
    supervisor.remove("db").await.unwrap();
    assert!(supervisor.services().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_slow_subscriber_lags_and_never_blocks_the_supervisor() {
    let log = Log::default();
    let fakes: Vec<Fake> = (0..20).map(|i| Fake::new(&format!("s{i}"), &log)).collect();
    let mut builder = Supervisor::builder().event_capacity(4);
    for (i, fake) in fakes.iter().enumerate() {
        builder = builder.service(format!("s{i}"), fake.runner(), ServiceOptions::new());
    }
    let supervisor = builder.build().unwrap();
    let mut slow = supervisor.subscribe();
    // 20 services, 2 events each to be ready: far more than 4, never read.
    supervisor.start().await.unwrap();
    match slow.recv().await {
        Some(Err(lagged)) => assert!(lagged.0 >= 36, "{lagged:?}"),
        other => panic!("the slow subscriber is told it lagged: {other:?}"),
    }
    // And it goes on with the newest events.
    assert!(matches!(slow.recv().await, Some(Ok(_))));
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_optional_service_does_not_hold_up_readiness() {
    let log = Log::default();
    let (db, extra) = (Fake::new("db", &log), Fake::new("extra", &log));
    extra.ready_after(SECOND * 30);
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .service(
            "extra",
            extra.runner(),
            ServiceOptions::new().optional(true),
        )
        .build()
        .unwrap();
    let t0 = Instant::now();
    supervisor.start().await.unwrap();
    assert_eq!(
        t0.elapsed(),
        Duration::ZERO,
        "ready without the optional one"
    );
    assert!(supervisor.readiness().is_ready());
    let status = supervisor.health_status();
    let extra_status = status.services.iter().find(|s| s.name == "extra").unwrap();
    assert!(extra_status.optional && !extra_status.ready);
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn health_status_reports_every_field_from_what_was_seen() {
    let log = Log::default();
    let (db, flaky) = (Fake::new("db", &log), Fake::new("flaky", &log));
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), ServiceOptions::new())
        .service("flaky", flaky.runner(), ServiceOptions::new())
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    tokio::time::advance(SECOND * 7).await;
    let status = supervisor.health_status();
    assert!(status.health.is_healthy(), "{}", status.health);
    let db_status = &status.services[0];
    assert_eq!(
        (db_status.name.as_str(), db_status.state, db_status.ready),
        ("db", State::Running, true)
    );
    assert_eq!(db_status.uptime, Some(SECOND * 7));
    assert_eq!((db_status.restarts, db_status.next_restart), (0, None));

    db.send(Command::Health(Health::degraded("replica lag")));
    for _ in 0..100 {
        if !supervisor.health().is_healthy() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let health = supervisor.health();
    assert!(matches!(health, Health::Degraded(_)), "{health}");
    assert!(health.to_string().contains("db") && health.to_string().contains("replica lag"));

    db.send(Command::Health(Health::Healthy));
    for _ in 0..100 {
        if supervisor.health().is_healthy() {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(supervisor.health().is_healthy());
    flaky.send(Command::Fail);
    match next(&mut events, "backing-off").await {
        Event::BackingOff { delay, .. } => {
            let status = supervisor.health_status();
            let flaky_status = &status.services[1];
            assert_eq!(flaky_status.state, State::BackingOff);
            assert!(!flaky_status.ready);
            assert_eq!(flaky_status.uptime, None);
            assert!(
                flaky_status
                    .last_error
                    .as_ref()
                    .unwrap()
                    .to_string()
                    .contains("crashed")
            );
            let due = flaky_status
                .next_restart
                .expect("backing off: a restart is due");
            let in_ = due.saturating_duration_since(Instant::now().into_std());
            assert!(in_ <= delay, "{in_:?} vs {delay:?}");
            assert!(matches!(
                status.health,
                Health::Unhealthy(_) | Health::Degraded(_)
            ));
            assert!(
                status.health.to_string().contains("flaky"),
                "{}",
                status.health
            );
        }
        other => panic!("{other}"),
    }
    logged(&log, "ready:flaky", 2).await;
    let status = supervisor.health_status();
    assert_eq!(status.services[1].restarts, 1);
    assert_eq!(status.services[1].state, State::Running);
    supervisor.stop().await.unwrap();
}
