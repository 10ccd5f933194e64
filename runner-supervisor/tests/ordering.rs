//! Start in dependency order, readiness-gated and concurrent; stop in reverse; a graph that
//! cannot work is refused, naming the culprits.

mod common;

use std::time::Duration;

use common::{Fake, Log};
use runner_core::{Runner, State, Status};
use runner_supervisor::{BuildError, ServiceOptions, Supervisor};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn opts() -> ServiceOptions {
    ServiceOptions::new()
}

#[tokio::test(start_paused = true)]
async fn requires_waits_until_the_dependency_is_running_and_ready() {
    let log = Log::default();
    let db = Fake::new("db", &log);
    db.ready_after(SECOND * 2);
    let api = Fake::new("api", &log);
    let supervisor = Supervisor::builder()
        .service("api", api.runner(), opts().requires("db"))
        .service("db", db.runner(), opts())
        .build()
        .unwrap();
    let t0 = Instant::now();
    supervisor.start().await.unwrap();
    assert_eq!(
        Instant::now() - t0,
        SECOND * 2,
        "start returned once all were ready"
    );
    assert!(
        log.at("ready:db") < log.at("start:api"),
        "{:?}",
        log.entries()
    );
    assert_eq!(supervisor.services(), ["db", "api"], "dependency order");
    assert!(supervisor.readiness().is_ready());
    supervisor.stop().await.unwrap();
    assert!(
        log.at("stopped:api") < log.at("stopped:db"),
        "{:?}",
        log.entries()
    );
    assert_eq!(supervisor.state(), State::Stopped);
}

#[tokio::test(start_paused = true)]
async fn independent_services_start_at_once() {
    let log = Log::default();
    let fakes: Vec<Fake> = (0..5).map(|i| Fake::new(&format!("s{i}"), &log)).collect();
    let mut builder = Supervisor::builder();
    for (i, fake) in fakes.iter().enumerate() {
        fake.ready_after(SECOND);
        builder = builder.service(format!("s{i}"), fake.runner(), opts());
    }
    let supervisor = builder.build().unwrap();
    let t0 = Instant::now();
    supervisor.start().await.unwrap();
    assert_eq!(
        Instant::now() - t0,
        SECOND,
        "five 1 s starts took 1 s together"
    );
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn start_delay_comes_before_each_start() {
    let log = Log::default();
    let slow = Fake::new("slow", &log);
    let supervisor = Supervisor::builder()
        .service("slow", slow.runner(), opts().start_delay(SECOND * 3))
        .build()
        .unwrap();
    let t0 = Instant::now();
    supervisor.start().await.unwrap();
    assert_eq!(Instant::now() - t0, SECOND * 3);
    supervisor.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn after_orders_without_waiting_for_readiness_restarts() {
    let log = Log::default();
    let (a, b) = (Fake::new("a", &log), Fake::new("b", &log));
    a.ready_after(SECOND);
    let supervisor = Supervisor::builder()
        .service("a", a.runner(), opts())
        .service("b", b.runner(), opts().after("a"))
        .build()
        .unwrap();
    supervisor.start().await.unwrap();
    assert!(log.at("ready:a") < log.at("start:b"));
    supervisor.stop().await.unwrap();
    assert!(log.at("stopped:b") < log.at("stopped:a"));
}

#[tokio::test(start_paused = true)]
async fn a_diamond_stops_in_reverse_concurrently() {
    let log = Log::default();
    let fakes: Vec<Fake> = ["root", "left", "right", "top"]
        .iter()
        .map(|n| Fake::new(n, &log))
        .collect();
    for fake in &fakes {
        fake.stop_takes(SECOND);
    }
    let supervisor = Supervisor::builder()
        .service("root", fakes[0].runner(), opts())
        .service("left", fakes[1].runner(), opts().requires("root"))
        .service("right", fakes[2].runner(), opts().requires("root"))
        .service(
            "top",
            fakes[3].runner(),
            opts().requires("left").requires("right"),
        )
        .build()
        .unwrap();
    supervisor.start().await.unwrap();
    let t0 = Instant::now();
    supervisor.stop().await.unwrap();
    // top, then left and right together, then root: three seconds, not four.
    assert_eq!(Instant::now() - t0, SECOND * 3, "{:?}", log.entries());
    let at = |e: &str| log.at(e);
    assert!(at("stopped:top") < at("stopped:left") && at("stopped:top") < at("stopped:right"));
    assert!(at("stopped:left") < at("stopped:root") && at("stopped:right") < at("stopped:root"));
}

#[test]
fn bad_graphs_are_typed_errors_naming_the_culprits() {
    let log = Log::default();
    let fake = || Fake::new("x", &log).runner();
    let build = |services: Vec<(&str, ServiceOptions)>| {
        let mut builder = Supervisor::builder();
        for (name, options) in services {
            builder = builder.service(name, fake(), options);
        }
        builder.build().map(drop)
    };
    assert_eq!(build(vec![("", opts())]), Err(BuildError::EmptyName));
    assert_eq!(
        build(vec![("a", opts()), ("a", opts())]),
        Err(BuildError::DuplicateName("a".into()))
    );
    assert_eq!(
        build(vec![("a", opts().requires("nope"))]),
        Err(BuildError::UnknownDependency {
            service: "a".into(),
            dependency: "nope".into()
        })
    );
    assert_eq!(
        build(vec![("a", opts().after("a"))]),
        Err(BuildError::SelfDependency("a".into()))
    );
    let cycle = build(vec![
        ("a", opts().requires("c")),
        ("b", opts().requires("a")),
        ("c", opts().after("b")),
        ("d", opts()),
    ])
    .unwrap_err();
    let BuildError::Cycle(path) = &cycle else {
        panic!("expected a cycle, got {cycle}");
    };
    assert_eq!(path.first(), path.last(), "{cycle}");
    assert_eq!(path.len(), 4, "{cycle}");
    assert!(
        cycle.to_string().starts_with("dependency cycle: "),
        "{cycle}"
    );
    assert_eq!(
        build(vec![("a", opts().stop_timeout(Duration::ZERO))]),
        Err(BuildError::ZeroTimeout {
            service: "a".into(),
            which: "stop timeout"
        })
    );
}
