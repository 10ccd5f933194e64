//! Restart policies, backoff, max retries, the stable period, restart intensity and escalation,
//! rest_for_one on `requires` edges, and restarts on liveness, on the paused clock.

mod common;

use std::time::Duration;

use common::{Command, Fake, Log, logged, next};
use runner_core::{ErrorHistory, Exit, Health, Runner, State, Status};
use runner_supervisor::{
    Backoff, Error, Event, Intensity, RestartPolicy, ServiceOptions, Supervisor,
};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn no_jitter() -> ServiceOptions {
    ServiceOptions::new().backoff(Backoff::default().with_jitter(false))
}

#[tokio::test(start_paused = true)]
async fn a_failing_service_backs_off_1_2_4_8_16_then_gives_up() {
    let log = Log::default();
    let flaky = Fake::new("flaky", &log);
    let supervisor = Supervisor::builder()
        .service("flaky", flaky.runner(), no_jitter())
        .intensity(Intensity::new(100, Duration::from_secs(60)))
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    let mut delays = Vec::new();
    for run in 1..=6 {
        logged(&log, "ready:flaky", run).await;
        flaky.send(Command::Fail);
        if run <= 5 {
            match next(&mut events, "backing-off").await {
                Event::BackingOff { delay, attempt, .. } => {
                    assert_eq!(attempt, u32::try_from(run).unwrap());
                    delays.push(delay.as_secs());
                }
                other => panic!("{other}"),
            }
        }
    }
    assert_eq!(delays, [1, 2, 4, 8, 16]);
    match next(&mut events, "gave-up").await {
        Event::GaveUp { restarts, .. } => assert_eq!(restarts, 5),
        other => panic!("{other}"),
    }
    let status = supervisor.health_status();
    assert_eq!(status.services[0].restarts, 6);
    assert!(!supervisor.health().is_healthy(), "{}", supervisor.health());
    assert_eq!(
        supervisor.state(),
        State::Running,
        "one service giving up is not the end"
    );
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn jitter_stays_within_a_quarter() {
    let log = Log::default();
    let flaky = Fake::new("flaky", &log);
    let supervisor = Supervisor::builder()
        .service(
            "flaky",
            flaky.runner(),
            ServiceOptions::new().max_retries(0),
        )
        .intensity(Intensity::new(1000, Duration::from_secs(1)))
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    for run in 1..=8_u32 {
        logged(&log, "ready:flaky", run as usize).await;
        flaky.send(Command::Fail);
        let Event::BackingOff { delay, .. } = next(&mut events, "backing-off").await else {
            unreachable!()
        };
        let base = (2_f64.powi(run as i32 - 1)).min(60.0);
        let secs = delay.as_secs_f64();
        assert!(
            (base * 0.75..=base * 1.25).contains(&secs),
            "restart {run}: {secs} s outside {base} s ± 25 %"
        );
    }
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_retry_count_resets_after_a_stable_period() {
    let log = Log::default();
    let flaky = Fake::new("flaky", &log);
    let supervisor = Supervisor::builder()
        .service(
            "flaky",
            flaky.runner(),
            no_jitter().stable_after(SECOND * 10),
        )
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    let attempt = |e: Event| match e {
        Event::BackingOff { attempt, .. } => attempt,
        other => panic!("{other}"),
    };
    logged(&log, "ready:flaky", 1).await;
    flaky.send(Command::Fail);
    assert_eq!(attempt(next(&mut events, "backing-off").await), 1);
    logged(&log, "ready:flaky", 2).await;
    flaky.send(Command::Fail);
    assert_eq!(attempt(next(&mut events, "backing-off").await), 2);
    logged(&log, "ready:flaky", 3).await;
    tokio::time::sleep(SECOND * 10).await; // stable now
    flaky.send(Command::Fail);
    assert_eq!(
        attempt(next(&mut events, "backing-off").await),
        1,
        "counter reset"
    );
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn policies_decide_after_a_clean_exit_and_a_failure() {
    for (policy, after_exit, after_failure) in [
        (RestartPolicy::Never, false, false),
        (RestartPolicy::Always, true, true),
        (RestartPolicy::OnFailure, false, true),
    ] {
        for (command, restarts) in [(Command::Exit, after_exit), (Command::Fail, after_failure)] {
            let log = Log::default();
            let fake = Fake::new("svc", &log);
            let supervisor = Supervisor::builder()
                .service("svc", fake.runner(), no_jitter().restart(policy))
                .build()
                .unwrap();
            supervisor.start().await.unwrap();
            let kind = format!("{command:?}");
            fake.send(command);
            logged(&log, "exited:svc", 1).await;
            tokio::time::sleep(SECOND * 5).await;
            assert_eq!(
                log.count("start:svc"),
                if restarts { 2 } else { 1 },
                "{policy} after {kind}: {:?}",
                log.entries()
            );
            supervisor.stop().await.unwrap();
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_service_is_restarted_like_a_failing_one() {
    let log = Log::default();
    let fake = Fake::new("svc", &log);
    let supervisor = Supervisor::builder()
        .service("svc", fake.runner(), no_jitter())
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    fake.send(Command::Panic);
    match next(&mut events, "exited").await {
        Event::Exited { exit, .. } => assert!(matches!(exit, Exit::Panicked(_)), "{exit}"),
        other => panic!("{other}"),
    }
    logged(&log, "ready:svc", 2).await;
    let status = &supervisor.health_status().services[0];
    assert!(
        status
            .last_error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("panicked")
    );
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn too_many_restarts_trip_the_intensity_and_the_supervisor_fails() {
    let log = Log::default();
    let (a, b, other) = (
        Fake::new("a", &log),
        Fake::new("b", &log),
        Fake::new("other", &log),
    );
    let supervisor = Supervisor::builder()
        .service("a", a.runner(), no_jitter().max_retries(0))
        .service("b", b.runner(), no_jitter().max_retries(0))
        .service("other", other.runner(), ServiceOptions::new())
        .intensity(Intensity::new(3, Duration::from_secs(60)))
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    for fake in [&a, &b] {
        fake.send(Command::Fail);
    }
    logged(&log, "ready:a", 2).await;
    logged(&log, "ready:b", 2).await;
    // Restarts three and four: the fourth within 60 s is one too many.
    for fake in [&a, &b] {
        fake.send(Command::Fail);
    }
    // Four restarts within 60 s: more than 3.
    let seen = supervisor.wait_for(State::is_idle).await;
    assert_eq!(seen.state, State::Failed);
    match next(&mut events, "intensity-tripped").await {
        Event::IntensityTripped { restarts, .. } => assert_eq!(restarts, 4),
        other => panic!("{other}"),
    }
    match supervisor.last_error().as_deref() {
        Some(Error::IntensityExceeded {
            restarts: 4,
            within,
            service,
        }) => {
            assert_eq!(*within, Duration::from_secs(60));
            assert!(service == "a" || service == "b", "{service}");
        }
        other => panic!("{other:?}"),
    }
    assert!(log.count("stopped:other") == 1, "every service was stopped");
    assert!(
        supervisor.stop().await.is_ok(),
        "a no-op: it failed by itself"
    );
    assert_eq!(
        supervisor.state(),
        State::Failed,
        "the failure is not masked"
    );
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_that_gives_up_is_restarted_by_its_parent() {
    let log = Log::default();
    let worker = Fake::new("worker", &log);
    let inner = Supervisor::builder()
        .name("inner")
        .service("worker", worker.runner(), no_jitter().max_retries(0))
        .intensity(Intensity::new(1, Duration::from_secs(60)))
        .build()
        .unwrap();
    let outer = Supervisor::builder()
        .name("outer")
        .service("inner", inner, no_jitter())
        .build()
        .unwrap();
    let mut events = outer.subscribe();
    outer.start().await.unwrap();
    worker.send(Command::Fail); // restart 1: within the inner intensity
    logged(&log, "ready:worker", 2).await;
    worker.send(Command::Fail); // restart 2: the inner supervisor gives up
    match next(&mut events, "exited").await {
        Event::Exited { service, exit } => {
            assert_eq!(&*service, "inner");
            assert!(exit.to_string().contains("gave up"), "{exit}");
        }
        other => panic!("{other}"),
    }
    // The outer policy (OnFailure) restarts the inner supervisor, which starts its worker.
    logged(&log, "ready:worker", 3).await;
    assert!(outer.readiness().is_ready());
    outer.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn rest_for_one_follows_requires_edges_only() {
    let log = Log::default();
    let (db, api, cache, reports) = (
        Fake::new("db", &log),
        Fake::new("api", &log),
        Fake::new("cache", &log),
        Fake::new("reports", &log),
    );
    let supervisor = Supervisor::builder()
        .service("db", db.runner(), no_jitter())
        .service("api", api.runner(), no_jitter().requires("db"))
        .service("cache", cache.runner(), no_jitter().requires("api"))
        .service("reports", reports.runner(), no_jitter().after("db"))
        .build()
        .unwrap();
    supervisor.start().await.unwrap();
    db.send(Command::Fail);
    // api and cache (which requires api) stop, cache first; reports (after only) does not.
    logged(&log, "ready:db", 2).await;
    logged(&log, "ready:cache", 2).await;
    let at = |e: &str| log.at(e);
    assert!(
        at("stopped:cache") < at("stopped:api"),
        "{:?}",
        log.entries()
    );
    assert!(at("stopped:api") < log.entries().iter().rposition(|e| e == "start:db").unwrap());
    let restarted_api = log
        .entries()
        .iter()
        .rposition(|e| e == "start:api")
        .unwrap();
    assert!(log.entries().iter().rposition(|e| e == "ready:db").unwrap() < restarted_api);
    assert_eq!(log.count("start:reports"), 1, "after: ordering only");
    assert_eq!(log.count("stopped:reports"), 0);
    let status = supervisor.health_status();
    let mut restarts: Vec<(String, u64)> = status
        .services
        .iter()
        .map(|s| (s.name.clone(), s.restarts))
        .collect();
    restarts.sort();
    let expected: Vec<(String, u64)> = [("api", 0), ("cache", 0), ("db", 1), ("reports", 0)]
        .map(|(n, r)| (n.to_owned(), r))
        .into();
    assert_eq!(restarts, expected);
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_service_unhealthy_for_its_grace_is_restarted() {
    let log = Log::default();
    let sick = Fake::new("sick", &log);
    let supervisor = Supervisor::builder()
        .service(
            "sick",
            sick.runner(),
            no_jitter().liveness_grace(Some(SECOND * 10)),
        )
        .build()
        .unwrap();
    let mut events = supervisor.subscribe();
    supervisor.start().await.unwrap();
    let before = supervisor.snapshot();
    sick.send(Command::Health(Health::unhealthy("disk full")));
    next(&mut events, "unhealthy").await;
    // The supervisor's own health turned, with a new version: a parent learns it.
    let seen = supervisor.changed(before.version).await;
    assert_eq!(seen.state, State::Running);
    assert!(
        supervisor.health().reason().unwrap().contains("sick"),
        "{}",
        supervisor.health()
    );
    let t0 = Instant::now();
    next(&mut events, "restarting").await;
    assert_eq!(
        Instant::now() - t0,
        SECOND * 10,
        "restarted at the end of the grace period"
    );
    logged(&log, "ready:sick", 2).await;
    assert!(supervisor.health().is_healthy(), "{}", supervisor.health());
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_service_healthy_again_within_its_grace_is_left_alone() {
    let log = Log::default();
    let sick = Fake::new("sick", &log);
    let supervisor = Supervisor::builder()
        .service(
            "sick",
            sick.runner(),
            no_jitter().liveness_grace(Some(SECOND * 10)),
        )
        .build()
        .unwrap();
    supervisor.start().await.unwrap();
    sick.send(Command::Health(Health::unhealthy("slow")));
    tokio::time::sleep(SECOND * 5).await;
    sick.send(Command::Health(Health::Healthy));
    tokio::time::sleep(SECOND * 30).await;
    assert_eq!(log.count("start:sick"), 1);
    supervisor.stop().await.unwrap();
    let _ = supervisor.error_count();
}
