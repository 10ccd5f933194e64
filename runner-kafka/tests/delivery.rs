//! Both runners on the in-memory cluster, on the paused clock: every record is processed and
//! committed, in order within its partition; an offset is committed only once the record's
//! outputs are acknowledged; `run_until`; a runner started again after a stop.

mod common;

use std::time::Duration;

use common::{
    AnyRunner, Clients, Journal, Kind, SINK, Script, Setup, Step, cluster, commits_of, committed,
    eventually, fill, forward, processors, runner, three, tp, tp0, values,
};
use runner_core::{Runner, State, Status};
use tokio::time::{Instant, sleep, sleep_until};

three!(
    every_record_is_processed_once_in_order_and_committed,
    outputs_are_acknowledged_before_the_offset_is_committed,
    run_until_stops_when_its_future_resolves,
    starts_again_after_a_stop_with_a_new_client,
);

/// A runner of `kind` forwarding every record to the sink, and its journal.
fn forwarding(kind: Kind, clients: &Clients) -> (AnyRunner, Journal) {
    let journal = Journal::new();
    let factory = processors(&journal, "a", |message, _| {
        Script::outputs(vec![forward(message)])
    });
    let runner = runner(kind, clients.make(), factory, &Setup::default());
    (runner, journal)
}

async fn every_record_is_processed_once_in_order_and_committed(kind: Kind) {
    let cluster = cluster(common::TOPIC, 3, 20);
    cluster.create_topic(SINK, 1).unwrap();
    let clients = Clients::new(&cluster);
    let (runner, journal) = forwarding(kind, &clients);
    runner.start().await.unwrap();
    assert_eq!(runner.state(), State::Running);

    eventually("everything committed", || {
        (0..3).all(|p| committed(&cluster, &tp(p)) == Some(20))
    })
    .await;
    let expected: Vec<i64> = (0..20).collect();
    for p in 0..3 {
        assert_eq!(journal.offsets(p, Step::Done), expected, "partition {p}");
        assert_eq!(journal.offsets(p, Step::Began), expected, "once each");
        // The outputs of one source partition keep its order in the sink.
        let sent: Vec<String> = values(&cluster, SINK)
            .into_iter()
            .filter(|v| v.starts_with(&format!("{p}:")))
            .collect();
        let in_order: Vec<String> = expected.iter().map(|o| format!("{p}:{o}")).collect();
        assert_eq!(sent, in_order);
        // Commits only go forward.
        let commits = commits_of(&cluster, &tp(p));
        assert!(commits.windows(2).all(|w| w[0] < w[1]), "{commits:?}");
    }
    let metrics = runner.metrics();
    assert_eq!((metrics.consumed, metrics.processed), (60, 60));
    assert_eq!(metrics.in_flight(), 0);

    runner.stop().await.unwrap();
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(
        cluster.records(&tp0(SINK)).len(),
        60,
        "no output sent twice"
    );
    assert_eq!(
        cluster.members(common::GROUP),
        [],
        "the client left the group"
    );
}

async fn outputs_are_acknowledged_before_the_offset_is_committed(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    cluster.create_topic(SINK, 1).unwrap();
    let ack = Duration::from_secs(5);
    cluster.delivery_delay(ack);
    let clients = Clients::new(&cluster);
    let (runner, journal) = forwarding(kind, &clients);
    let t0 = Instant::now();
    runner.start().await.unwrap();

    // Each record's output is sent as soon as the record is processed (the next records are
    // processed meanwhile) and acknowledged 5 s later; the interval commits every second. Look
    // every 100 ms: the committed offset never passes a record whose output is not
    // acknowledged, although the output is in the log.
    let mut seen = Vec::new();
    for step in 0..100_u32 {
        sleep_until(t0 + Duration::from_millis(50) + Duration::from_millis(100) * step).await;
        let elapsed = t0.elapsed();
        let acked = if elapsed >= ack { 3 } else { 0 };
        let sent = cluster.records(&tp0(SINK)).len() as i64;
        let done = committed(&cluster, &tp(0)).unwrap_or(0);
        assert!(
            done <= acked,
            "at {elapsed:?}: committed {done} with {acked} outputs acknowledged"
        );
        assert_eq!(
            sent, 3,
            "at {elapsed:?}: every output is in the log at once"
        );
        seen.push(done);
    }
    assert_eq!(seen.first(), Some(&0));
    assert_eq!(
        seen.last(),
        Some(&3),
        "everything committed once acknowledged"
    );
    assert_eq!(journal.offsets(0, Step::Done), [0, 1, 2]);
    let processed: Vec<Duration> = (0..3)
        .map(|o| journal.times("a", 0, o, Step::Done)[0] - t0)
        .collect();
    assert_eq!(
        processed,
        [Duration::ZERO; 3],
        "the next record does not wait for the previous one's ack"
    );
    runner.stop().await.unwrap();
}

async fn run_until_stops_when_its_future_resolves(kind: Kind) {
    let cluster = cluster(common::TOPIC, 2, 5);
    cluster.create_topic(SINK, 1).unwrap();
    let clients = Clients::new(&cluster);
    let setup = Setup {
        // Only the stop's commit can commit.
        commit_interval: Duration::from_secs(3600),
        ..Setup::default()
    };
    let journal = Journal::new();
    let factory = processors(&journal, "a", |_, _| Script::ok());
    let runner = runner(kind, clients.make(), factory, &setup);
    let t0 = Instant::now();

    runner
        .run_until(sleep(Duration::from_secs(5)))
        .await
        .unwrap();

    assert_eq!(t0.elapsed(), Duration::from_secs(5));
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(journal.count(Step::Done), 10);
    for p in 0..2 {
        assert_eq!(commits_of(&cluster, &tp(p)), [5], "committed once, on stop");
    }
    assert_eq!(cluster.members(common::GROUP), []);
}

async fn starts_again_after_a_stop_with_a_new_client(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 5);
    let clients = Clients::new(&cluster);
    let journal = Journal::new();
    let factory = processors(&journal, "a", |_, _| Script::ok());
    let runner = runner(kind, clients.make(), factory, &Setup::default());

    runner.start().await.unwrap();
    journal.reached("a", 0, 4, Step::Done).await;
    runner.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(0)), Some(5));
    let first = clients.member();

    fill(&cluster, common::TOPIC, 1, 5..10);
    runner.start().await.unwrap();
    assert_eq!(runner.state(), State::Running);
    journal.reached("a", 0, 9, Step::Done).await;
    runner.stop().await.unwrap();

    let made = clients.made();
    assert_eq!(made.len(), 2, "one client per run");
    assert_ne!(made[1], first);
    let all: Vec<i64> = (0..10).collect();
    assert_eq!(
        journal.offsets(0, Step::Began),
        all,
        "the second run starts where the first committed"
    );
    assert_eq!(committed(&cluster, &tp(0)), Some(10));
    assert_eq!(
        journal.count(Step::Created),
        2,
        "a new processor per assignment"
    );
}
