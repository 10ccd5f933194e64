//! Backpressure on the in-memory cluster, on the paused clock: with a slow processor and a
//! large backlog, the records a runner holds stay bounded; the partitioned runner pauses a
//! partition at the client while its queue is full and more than `max_held_bytes` of its
//! records wait (most tests set it to 0: paused as soon as the queue is full), and resumes it
//! once nothing is held.

mod common;

use std::time::Duration;

use common::{
    Clients, Journal, Kind, Script, Setup, Step, TOPIC, cluster, committed, processors, runner,
    three, tp,
};
use runner_core::{Health, Runner, Status};
use tokio::time::{Instant, sleep_until};

three!(memory_stays_bounded_under_a_slow_processor);

/// Records per poll (the cluster's default).
const PER_POLL: u64 = 100;
/// The partitioned runner's queue per partition.
const QUEUE: usize = 10;

async fn memory_stays_bounded_under_a_slow_processor(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 1000);
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let setup = Setup {
        channel_buffer_size: QUEUE,
        // Paused as soon as the queue is full: nothing held unpaused.
        max_held_bytes: 0,
        ..Setup::default()
    };
    let factory = processors(&journal, "a", |_, _| {
        Script::ok().after(Duration::from_millis(100))
    });
    let runner = runner(kind, clients.make(), factory, &setup);
    let t0 = Instant::now();
    runner.start().await.unwrap();

    // Look every 50 ms (between the records' ends) until everything is committed.
    let (mut most, mut paused_seen, mut resumed_seen) = (0, false, false);
    for step in 1..=2400_u32 {
        sleep_until(t0 + Duration::from_millis(50) * step - Duration::from_millis(25)).await;
        let metrics = runner.metrics();
        let read_not_done = metrics.consumed - journal.count(Step::Done) as u64;
        assert_eq!(metrics.in_flight(), read_not_done);
        most = most.max(read_not_done);
        let at_client = cluster.paused(clients.member());
        assert_eq!(
            at_client, metrics.paused,
            "the runner's pauses are the client's"
        );
        if at_client.is_empty() {
            resumed_seen |= paused_seen;
        } else {
            paused_seen = true;
        }
        if committed(&cluster, &tp(0)) == Some(1000) {
            break;
        }
    }
    assert_eq!(committed(&cluster, &tp(0)), Some(1000));
    assert_eq!(
        journal.offsets(0, Step::Done),
        (0..1000).collect::<Vec<_>>(),
        "in order, once each"
    );
    let metrics = runner.metrics();
    assert_eq!(metrics.consumed, 1000, "no record read twice");
    match kind {
        Kind::Single => {
            // It reads no more while it processes: one poll at most.
            assert_eq!(most, PER_POLL);
            assert_eq!(metrics.pauses, 0);
        }
        Kind::Partitioned | Kind::Keyed => {
            // One poll beyond the queue, plus the record being processed, at most; the
            // partition paused at the client meanwhile, and resumed when drained.
            assert!(most > QUEUE as u64, "something was held: {most}");
            assert!(most <= PER_POLL + QUEUE as u64 + 1, "held too many: {most}");
            assert!(paused_seen && resumed_seen);
            assert!(metrics.pauses >= 2, "{}", metrics.pauses);
        }
    }
    assert_eq!(cluster.paused(clients.member()), []);
    runner.stop().await.unwrap();
}

/// Twenty records, a second each, ten fit in the queue: the partition is paused with ten
/// held, and the runner is degraded. At 5 s the queue is down to half (five): the worker takes
/// the next at once, six held records move in, four still wait, so it stays paused. At 11 s
/// the queue is at half again, the last four move in, and the partition is resumed; the next
/// health check (at 12 s) finds the runner healthy.
#[tokio::test(start_paused = true)]
async fn a_partition_is_resumed_once_drained_below_half_and_nothing_is_held() {
    let cluster = cluster(TOPIC, 1, 20);
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let setup = Setup {
        channel_buffer_size: QUEUE,
        // Paused as soon as the queue is full: nothing held unpaused.
        max_held_bytes: 0,
        ..Setup::default()
    };
    let factory = processors(&journal, "a", |_, _| {
        Script::ok().after(Duration::from_secs(1))
    });
    let runner = runner(Kind::Partitioned, clients.make(), factory, &setup);
    let t0 = Instant::now();
    runner.start().await.unwrap();
    let at = |ms: u64| {
        let (runner, cluster, clients, journal) = (&runner, &cluster, &clients, &journal);
        async move {
            sleep_until(t0 + Duration::from_millis(ms)).await;
            let paused = cluster.paused(clients.member());
            assert_eq!(
                runner.metrics().paused,
                paused,
                "the runner's pause is the client's"
            );
            (
                paused == [tp(0)],
                journal.count(Step::Done),
                runner.health(),
            )
        }
    };
    let degraded = Health::degraded("partition orders/0 is paused for backpressure");
    assert_eq!(at(10).await, (true, 0, Health::Healthy), "not checked yet");
    assert_eq!(at(1010).await, (true, 1, degraded.clone()));
    assert_eq!(
        at(5010).await,
        (true, 5, degraded.clone()),
        "four still held"
    );
    assert_eq!(at(10_990).await, (true, 10, degraded.clone()));
    assert_eq!(at(11_010).await, (false, 11, degraded), "resumed");
    assert_eq!(at(12_010).await, (false, 12, Health::Healthy));
    assert_eq!(runner.metrics().pauses, 1);
    assert_eq!(runner.metrics().consumed, 20, "nothing read twice");
    common::eventually("everything committed", || {
        committed(&cluster, &tp(0)) == Some(20)
    })
    .await;
    runner.stop().await.unwrap();
}

/// One slow partition paused for backpressure does not hold the others back.
#[tokio::test(start_paused = true)]
async fn the_other_partitions_flow_while_one_is_paused() {
    let cluster = cluster(TOPIC, 2, 100);
    let journal = Journal::new();
    let clients = Clients::new(&cluster).max_records(50);
    let setup = Setup {
        channel_buffer_size: QUEUE,
        // Paused as soon as the queue is full: nothing held unpaused.
        max_held_bytes: 0,
        ..Setup::default()
    };
    let factory = processors(&journal, "a", |message, _| {
        let each = if message.partition == 0 { 1000 } else { 1 };
        Script::ok().after(Duration::from_millis(each))
    });
    let runner = runner(Kind::Partitioned, clients.make(), factory, &setup);
    let t0 = Instant::now();
    runner.start().await.unwrap();
    sleep_until(t0 + Duration::from_millis(1500)).await;
    assert_eq!(journal.offsets(1, Step::Done).len(), 100);
    assert_eq!(journal.offsets(0, Step::Done), [0]);
    assert_eq!(cluster.paused(clients.member()), [tp(0)]);
    assert_eq!(
        runner.health().reason(),
        Some("partition orders/0 is paused for backpressure")
    );
    common::eventually("1 committed", || committed(&cluster, &tp(1)) == Some(100)).await;
    runner.stop().await.unwrap();
}

/// Records are held unpaused up to the byte budget (with librdkafka, a pause drops what it
/// fetched ahead: holding a little spares that); past the budget the partition is paused all
/// the same, and what is held stays within queue + budget + one poll.
#[tokio::test(start_paused = true)]
async fn records_are_held_unpaused_up_to_the_byte_budget() {
    const SIZE: usize = 100;
    // More than a poll's worth (100 records): a processor that keeps up never passes it.
    const BUDGET: usize = 150 * SIZE;
    let cluster = runner_kafka::memory::MemoryCluster::new();
    cluster.create_topic(TOPIC, 1).unwrap();
    for i in 0..1000 {
        let value = format!("{i:0>width$}", width = SIZE);
        cluster.append(&tp(0), "", value).unwrap();
    }
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let setup = |max_held_bytes| Setup {
        channel_buffer_size: QUEUE,
        max_held_bytes,
        ..Setup::default()
    };

    // Within the default budget (1 MiB, here the whole backlog): held records move in as the
    // queue drains, and the partition is never paused.
    let fast = processors(&journal, "fast", |_, _| Script::ok());
    let first = runner(
        Kind::Partitioned,
        clients.make(),
        fast,
        &setup(runner_kafka::DEFAULT_MAX_HELD_BYTES),
    );
    first.start().await.unwrap();
    common::eventually("all done", || journal.count(Step::Done) == 1000).await;
    assert_eq!(first.metrics().pauses, 0, "held, never paused");
    first.stop().await.unwrap();

    // A slow one: paused once the budget is passed; what is held stays bounded.
    let cluster = common::cluster(TOPIC, 1, 0);
    for i in 0..1000 {
        cluster
            .append(&tp(0), "", format!("{i:0>width$}", width = SIZE))
            .unwrap();
    }
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let slow = processors(&journal, "slow", |_, _| {
        Script::ok().after(Duration::from_millis(100))
    });
    let runner = runner(Kind::Partitioned, clients.make(), slow, &setup(BUDGET));
    let t0 = Instant::now();
    runner.start().await.unwrap();
    let mut most = 0;
    for step in 1..=100_u32 {
        sleep_until(t0 + Duration::from_millis(50) * step - Duration::from_millis(25)).await;
        let metrics = runner.metrics();
        most = most.max(metrics.in_flight());
    }
    let metrics = runner.metrics();
    assert!(metrics.pauses >= 1, "paused past the budget: {metrics:?}");
    let bound = QUEUE as u64 + (BUDGET / SIZE) as u64 + PER_POLL + 1;
    assert!(
        most > QUEUE as u64 + (BUDGET / SIZE) as u64,
        "the budget was used: {most}"
    );
    assert!(most <= bound, "held {most}, more than {bound}");
    runner.stop().await.unwrap();
}
