//! The in-memory cluster, on tokio's paused clock: logs, rebalances (eager and cooperative),
//! lost members, commits and positions, pauses, faults.

use std::slice::from_ref;
use std::time::Duration;

use runner_kafka::memory::{MemoryClient, MemoryCluster, MemoryError, OffsetReset, Protocol};
use runner_kafka::{
    Barrier, Client, ClientError, ClientErrorKind, Event, OutRecord, Producer, Record,
    TopicPartition,
};
use tokio::time::{Instant, sleep, timeout};

/// Long enough for anything that is coming to come: the clock is paused, so waiting costs
/// nothing and a timeout means nothing was coming.
const WAIT: Duration = Duration::from_secs(60);

fn tp(topic: &str, partition: i32) -> TopicPartition {
    TopicPartition::new(topic, partition)
}

fn tps(topic: &str, partitions: &[i32]) -> Vec<TopicPartition> {
    partitions.iter().map(|&p| tp(topic, p)).collect()
}

fn topics(names: &[&str]) -> Vec<String> {
    names.iter().map(|&name| name.to_owned()).collect()
}

fn cluster_with(topic: &str, partitions: i32) -> MemoryCluster {
    let cluster = MemoryCluster::new();
    cluster.create_topic(topic, partitions).unwrap();
    cluster
}

fn member(cluster: &MemoryCluster, protocol: Protocol) -> MemoryClient {
    cluster
        .client_builder("g")
        .protocol(protocol)
        .build()
        .unwrap()
}

async fn next(client: &mut MemoryClient) -> Event {
    timeout(WAIT, client.poll())
        .await
        .expect("an event in time")
        .expect("a poll without error")
}

async fn nothing(client: &mut MemoryClient) {
    if let Ok(event) = timeout(WAIT, client.poll()).await {
        panic!("expected nothing, got {event:?}");
    }
}

async fn assigned(client: &mut MemoryClient) -> Vec<TopicPartition> {
    match next(client).await {
        Event::Assigned(partitions) => partitions,
        other => panic!("expected an assignment, got {other:?}"),
    }
}

async fn revoked(client: &mut MemoryClient) -> (Vec<TopicPartition>, bool, Barrier) {
    match next(client).await {
        Event::Revoked {
            partitions,
            lost,
            barrier,
        } => (partitions, lost, barrier),
        other => panic!("expected a revoke, got {other:?}"),
    }
}

async fn records(client: &mut MemoryClient) -> Vec<Record> {
    match next(client).await {
        Event::Records(records) => records,
        other => panic!("expected records, got {other:?}"),
    }
}

fn placed(records: &[Record]) -> Vec<(i32, i64)> {
    records.iter().map(|r| (r.partition, r.offset)).collect()
}

fn fill(cluster: &MemoryCluster, tp: &TopicPartition, n: usize) {
    for i in 0..n {
        cluster
            .append(tp, format!("k{i}"), format!("v{i}"))
            .unwrap();
    }
}

// --- logs -------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn produce_consume_roundtrip() {
    let cluster = cluster_with("orders", 3);
    let mut client = cluster.client("g");
    client.subscribe(&topics(&["orders"])).unwrap();
    assert_eq!(assigned(&mut client).await, tps("orders", &[0, 1, 2]));

    let producer = client.producer();
    producer
        .send(
            OutRecord::new("orders")
                .with_key("o-1")
                .with_value("2 apples")
                .with_header("h", "1"),
        )
        .await
        .unwrap();
    let got = records(&mut client).await;
    assert_eq!(got.len(), 1);
    let record = &got[0];
    assert_eq!(record.key.as_deref(), Some(&b"o-1"[..]));
    assert_eq!(record.value.as_deref(), Some(&b"2 apples"[..]));
    assert_eq!(record.header("h"), Some(&b"1"[..]));
    assert_eq!(record.offset, 0);
    assert_eq!(cluster.records(&record.topic_partition()), got);
    nothing(&mut client).await;
}

#[tokio::test(start_paused = true)]
async fn offsets_are_contiguous_and_keys_keep_their_partition() {
    let cluster = cluster_with("orders", 3);
    for _ in 0..7 {
        cluster.produce(OutRecord::new("orders")).unwrap();
    }
    let keyed = (0..5)
        .map(|_| {
            cluster
                .produce(OutRecord::new("orders").with_key("same"))
                .unwrap()
        })
        .collect::<Vec<_>>();
    assert!(keyed.iter().all(|r| r.partition == keyed[0].partition));
    let mut total = 0;
    for partition in 0..3 {
        let log = cluster.records(&tp("orders", partition));
        let offsets = log.iter().map(|r| r.offset).collect::<Vec<_>>();
        let expected = (0..i64::try_from(log.len()).unwrap()).collect::<Vec<_>>();
        assert_eq!(offsets, expected, "partition {partition}");
        total += log.len();
    }
    assert_eq!(total, 12);
    // Without a key, round-robin: 3, 2, 2 before the keyed ones.
    let unkeyed = (0..3)
        .map(|p| {
            cluster
                .records(&tp("orders", p))
                .iter()
                .filter(|r| r.key.is_none())
                .count()
        })
        .collect::<Vec<_>>();
    assert_eq!(unkeyed, [3, 2, 2]);

    assert_eq!(
        cluster.append(&tp("nope", 0), "k", "v"),
        Err(MemoryError::UnknownTopic("nope".into()))
    );
    assert_eq!(
        cluster.append(&tp("orders", 3), "k", "v"),
        Err(MemoryError::UnknownPartition(tp("orders", 3)))
    );
    assert_eq!(cluster.records(&tp("orders", 3)), []);
}

#[tokio::test(start_paused = true)]
async fn create_topic_refuses_bad_input() {
    let cluster = cluster_with("orders", 1);
    assert_eq!(
        cluster.create_topic("orders", 2),
        Err(MemoryError::TopicExists("orders".into()))
    );
    for partitions in [0, -1] {
        assert_eq!(
            cluster.create_topic("totals", partitions),
            Err(MemoryError::NoPartitions {
                topic: "totals".into(),
                partitions
            })
        );
    }
    assert_eq!(
        cluster.create_topic("", 1),
        Err(MemoryError::EmptyTopicName)
    );
    assert_eq!(cluster.records(&tp("orders", 0)), []);
}

#[tokio::test(start_paused = true)]
async fn a_poll_waits_for_records_on_the_clock() {
    let cluster = cluster_with("orders", 1);
    let mut client = cluster.client("g");
    client.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut client).await;
    let started = Instant::now();
    let (polled, ()) = tokio::join!(client.poll(), async {
        sleep(Duration::from_secs(5)).await;
        cluster.append(&tp("orders", 0), "k", "v").unwrap();
    });
    let Ok(Event::Records(got)) = polled else {
        panic!("expected records, got {polled:?}")
    };
    assert_eq!(placed(&got), [(0, 0)]);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn records_come_round_robin_up_to_the_maximum_per_poll() {
    let cluster = cluster_with("orders", 2);
    fill(&cluster, &tp("orders", 0), 5);
    fill(&cluster, &tp("orders", 1), 5);
    let mut client = cluster
        .client_builder("g")
        .max_records_per_poll(3)
        .build()
        .unwrap();
    client.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut client).await;
    assert_eq!(
        placed(&records(&mut client).await),
        [(0, 0), (0, 1), (0, 2)]
    );
    assert_eq!(
        placed(&records(&mut client).await),
        [(1, 0), (1, 1), (1, 2)]
    );
    assert_eq!(
        placed(&records(&mut client).await),
        [(0, 3), (0, 4), (1, 3)]
    );
    assert_eq!(placed(&records(&mut client).await), [(1, 4)]);
    nothing(&mut client).await;
    assert_eq!(
        cluster
            .client_builder("g")
            .max_records_per_poll(0)
            .build()
            .unwrap_err(),
        MemoryError::ZeroMaxRecords
    );
}

// --- rebalances -------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn eager_rebalance_waits_for_every_barrier_then_splits() {
    let cluster = cluster_with("orders", 4);
    let all = tps("orders", &[0, 1, 2, 3]);
    let mut first = member(&cluster, Protocol::Eager);
    first.subscribe(&topics(&["orders"])).unwrap();
    assert_eq!(assigned(&mut first).await, all);

    let mut second = member(&cluster, Protocol::Eager);
    second.subscribe(&topics(&["orders"])).unwrap();
    let (partitions, lost, barrier) = revoked(&mut first).await;
    assert_eq!((partitions, lost), (all.clone(), false));
    // The revoke's barrier holds everything: the newcomer gets nothing.
    nothing(&mut second).await;
    assert_eq!(cluster.assignment(first.member_id()), all);
    assert_eq!(cluster.assignment(second.member_id()), []);
    barrier.done();
    assert_eq!(assigned(&mut first).await, tps("orders", &[0, 2]));
    assert_eq!(assigned(&mut second).await, tps("orders", &[1, 3]));

    // A third member: both are revoked, and one barrier is not enough.
    let mut third = member(&cluster, Protocol::Eager);
    third.subscribe(&topics(&["orders"])).unwrap();
    let (partitions, _, first_barrier) = revoked(&mut first).await;
    assert_eq!(partitions, tps("orders", &[0, 2]));
    let (partitions, _, second_barrier) = revoked(&mut second).await;
    assert_eq!(partitions, tps("orders", &[1, 3]));
    drop(first_barrier); // dropped counts as done
    nothing(&mut first).await;
    nothing(&mut third).await;
    assert_eq!(
        cluster.assignment(second.member_id()),
        tps("orders", &[1, 3])
    );
    second_barrier.done();
    assert_eq!(assigned(&mut first).await, tps("orders", &[0, 3]));
    assert_eq!(assigned(&mut second).await, tps("orders", &[1]));
    assert_eq!(assigned(&mut third).await, tps("orders", &[2]));
    assert_eq!(
        cluster.members("g"),
        [first.member_id(), second.member_id(), third.member_id()]
    );
}

#[tokio::test(start_paused = true)]
async fn a_member_that_gets_nothing_is_handed_an_empty_assignment() {
    for protocol in [Protocol::Eager, Protocol::Cooperative] {
        let cluster = cluster_with("orders", 1);
        let mut first = member(&cluster, protocol);
        first.subscribe(&topics(&["orders"])).unwrap();
        assert_eq!(assigned(&mut first).await, tps("orders", &[0]));
        let mut second = member(&cluster, protocol);
        second.subscribe(&topics(&["orders"])).unwrap();
        if protocol == Protocol::Eager {
            let (_, _, barrier) = revoked(&mut first).await;
            barrier.done();
            assert_eq!(assigned(&mut first).await, tps("orders", &[0]));
        }
        // It joined the generation: it learns so, with nothing in it (a runner's readiness
        // waits for this), and only once.
        assert_eq!(assigned(&mut second).await, [], "{protocol}");
        nothing(&mut second).await;
    }
}

#[tokio::test(start_paused = true)]
async fn an_assignment_not_yet_polled_is_withdrawn_silently() {
    let cluster = cluster_with("orders", 2);
    let mut first = member(&cluster, Protocol::Eager);
    first.subscribe(&topics(&["orders"])).unwrap();
    let mut second = member(&cluster, Protocol::Eager);
    second.subscribe(&topics(&["orders"])).unwrap();
    // `first` never saw both partitions: no revoke, just its share.
    assert_eq!(assigned(&mut first).await, tps("orders", &[0]));
    assert_eq!(assigned(&mut second).await, tps("orders", &[1]));
    nothing(&mut first).await;
}

#[tokio::test(start_paused = true)]
async fn cooperative_rebalance_moves_only_what_moves() {
    let cluster = cluster_with("orders", 4);
    let mut first = member(&cluster, Protocol::Cooperative);
    first.subscribe(&topics(&["orders"])).unwrap();
    assert_eq!(assigned(&mut first).await, tps("orders", &[0, 1, 2, 3]));

    let mut second = member(&cluster, Protocol::Cooperative);
    second.subscribe(&topics(&["orders"])).unwrap();
    let (partitions, lost, barrier) = revoked(&mut first).await;
    assert_eq!((partitions, lost), (tps("orders", &[1, 3]), false));
    // The newcomer joined the generation with nothing free yet (an empty assignment, as
    // librdkafka hands out), and waits for the old owner's barrier; the old owner keeps
    // reading the rest.
    assert_eq!(assigned(&mut second).await, []);
    nothing(&mut second).await;
    cluster.append(&tp("orders", 0), "k", "v").unwrap();
    cluster.append(&tp("orders", 1), "k", "v").unwrap();
    assert_eq!(placed(&records(&mut first).await), [(0, 0)]);
    barrier.done();
    assert_eq!(assigned(&mut second).await, tps("orders", &[1, 3]));
    assert_eq!(placed(&records(&mut second).await), [(1, 0)]);
    nothing(&mut first).await;

    // A third member: p2 moves from the first to the third, p3 from the second to the first.
    let mut third = member(&cluster, Protocol::Cooperative);
    third.subscribe(&topics(&["orders"])).unwrap();
    let (partitions, _, first_barrier) = revoked(&mut first).await;
    assert_eq!(partitions, tps("orders", &[2]));
    let (partitions, _, second_barrier) = revoked(&mut second).await;
    assert_eq!(partitions, tps("orders", &[3]));
    second_barrier.done();
    assert_eq!(assigned(&mut first).await, tps("orders", &[3]));
    assert_eq!(assigned(&mut third).await, []);
    nothing(&mut third).await;
    first_barrier.done();
    assert_eq!(assigned(&mut third).await, tps("orders", &[2]));
    assert_eq!(
        cluster.assignment(first.member_id()),
        tps("orders", &[0, 3])
    );
    assert_eq!(cluster.assignment(second.member_id()), tps("orders", &[1]));
    assert_eq!(cluster.assignment(third.member_id()), tps("orders", &[2]));

    // Nothing moves: a cooperative rebalance revokes nothing.
    cluster.rebalance("g");
    nothing(&mut first).await;
    nothing(&mut second).await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_member_loses_everything_and_the_others_take_over_at_once() {
    let cluster = cluster_with("orders", 2);
    let mut first = member(&cluster, Protocol::Cooperative);
    first.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut first).await;
    let mut second = member(&cluster, Protocol::Cooperative);
    second.subscribe(&topics(&["orders"])).unwrap();
    assert_eq!(assigned(&mut second).await, [], "joined, nothing free yet");
    let (_, _, barrier) = revoked(&mut first).await;
    barrier.done();
    assert_eq!(assigned(&mut second).await, tps("orders", &[1]));

    cluster.lose(first.member_id()).unwrap();
    // The others do not wait for the lost member.
    assert_eq!(assigned(&mut second).await, tps("orders", &[0]));
    let (partitions, lost, barrier) = revoked(&mut first).await;
    assert_eq!((partitions, lost), (tps("orders", &[0]), true));
    drop(barrier);
    assert_eq!(cluster.assignment(first.member_id()), []);
    assert_eq!(cluster.members("g"), [second.member_id()]);
    let refused = first.commit(vec![(tp("orders", 0), 1)]).await.unwrap_err();
    assert_eq!(refused.kind(), ClientErrorKind::Rebalancing);
    assert_eq!(cluster.commits("g"), []);
    assert_eq!(
        cluster.lose(first.member_id()),
        Err(MemoryError::NotInGroup(first.member_id()))
    );
    nothing(&mut first).await;

    // It comes back when it subscribes again.
    first.subscribe(&topics(&["orders"])).unwrap();
    assert_eq!(
        assigned(&mut first).await,
        [],
        "joined again, nothing free yet"
    );
    let (partitions, _, barrier) = revoked(&mut second).await;
    assert_eq!(partitions, tps("orders", &[0]));
    barrier.done();
    assert_eq!(assigned(&mut first).await, tps("orders", &[0]));
}

#[tokio::test(start_paused = true)]
async fn eager_members_do_not_wait_for_a_lost_members_barrier() {
    let cluster = cluster_with("orders", 2);
    let mut first = member(&cluster, Protocol::Eager);
    first.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut first).await;
    let mut second = member(&cluster, Protocol::Eager);
    second.subscribe(&topics(&["orders"])).unwrap();
    let (_, _, barrier) = revoked(&mut first).await;
    barrier.done();
    assigned(&mut first).await;
    assigned(&mut second).await;

    cluster.rebalance("g");
    let (_, _, held_by_first) = revoked(&mut first).await;
    let (_, _, second_barrier) = revoked(&mut second).await;
    second_barrier.done();
    // `first` is stuck in its barrier and evicted: `second` gets everything.
    cluster.lose(first.member_id()).unwrap();
    assert_eq!(assigned(&mut second).await, tps("orders", &[0, 1]));
    let (partitions, lost, _) = revoked(&mut first).await;
    // It had polled its revoke already: nothing left to lose.
    assert_eq!((partitions, lost), (vec![], true));
    held_by_first.done(); // too late: releases nothing
    assert_eq!(
        cluster.assignment(second.member_id()),
        tps("orders", &[0, 1])
    );
    nothing(&mut second).await;
}

#[tokio::test(start_paused = true)]
async fn close_triggers_a_rebalance() {
    for protocol in [Protocol::Eager, Protocol::Cooperative] {
        let cluster = cluster_with("orders", 2);
        let mut first = member(&cluster, protocol);
        first.subscribe(&topics(&["orders"])).unwrap();
        assigned(&mut first).await;
        let mut second = member(&cluster, protocol);
        second.subscribe(&topics(&["orders"])).unwrap();
        if protocol == Protocol::Cooperative {
            assert_eq!(assigned(&mut second).await, [], "joined, nothing free yet");
        }
        let (_, _, barrier) = revoked(&mut first).await;
        barrier.done();
        if protocol == Protocol::Eager {
            assigned(&mut first).await;
        }
        assert_eq!(assigned(&mut second).await, tps("orders", &[1]));

        second.close(Duration::from_secs(1)).await.unwrap();
        assert_eq!(cluster.members("g"), [first.member_id()], "{protocol}");
        if protocol == Protocol::Eager {
            let (partitions, _, barrier) = revoked(&mut first).await;
            assert_eq!(partitions, tps("orders", &[0]));
            barrier.done();
            assert_eq!(assigned(&mut first).await, tps("orders", &[0, 1]));
        } else {
            assert_eq!(assigned(&mut first).await, tps("orders", &[1]));
        }
        nothing(&mut first).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_topic_created_after_subscribing_is_assigned() {
    let cluster = MemoryCluster::new();
    let mut client = cluster.client("g");
    client.subscribe(&topics(&["later"])).unwrap();
    assert_eq!(assigned(&mut client).await, [], "joined, nothing to assign");
    nothing(&mut client).await;
    cluster.create_topic("later", 2).unwrap();
    assert_eq!(assigned(&mut client).await, tps("later", &[0, 1]));
}

#[tokio::test(start_paused = true)]
async fn subscribe_refuses_bad_input_and_mixed_protocols() {
    let cluster = cluster_with("orders", 1);
    let mut eager = member(&cluster, Protocol::Eager);
    let kind = |result: Result<(), ClientError>| result.unwrap_err().kind();
    assert_eq!(kind(eager.subscribe(&[])), ClientErrorKind::Config);
    assert_eq!(
        kind(eager.subscribe(&topics(&[""]))),
        ClientErrorKind::Config
    );
    assert_eq!(
        kind(cluster.client("").subscribe(&topics(&["orders"]))),
        ClientErrorKind::Config
    );
    eager.subscribe(&topics(&["orders"])).unwrap();
    let mut cooperative = member(&cluster, Protocol::Cooperative);
    assert_eq!(
        kind(cooperative.subscribe(&topics(&["orders"]))),
        ClientErrorKind::Config
    );
    assert_eq!(cluster.members("g"), [eager.member_id()]);
    // Once the group is empty, another protocol may start it.
    eager.close(Duration::from_secs(1)).await.unwrap();
    cooperative.subscribe(&topics(&["orders"])).unwrap();
    assert_eq!(assigned(&mut cooperative).await, tps("orders", &[0]));
}

// --- commits and positions --------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_new_member_resumes_from_the_committed_offset() {
    let cluster = cluster_with("orders", 1);
    let p0 = tp("orders", 0);
    fill(&cluster, &p0, 5);
    let mut first = cluster.client("g");
    first.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut first).await;
    assert_eq!(records(&mut first).await.len(), 5);
    first.commit(vec![(p0.clone(), 3)]).await.unwrap();
    assert_eq!(cluster.committed("g", &p0), Some(3));
    first.close(Duration::from_secs(1)).await.unwrap();

    let mut second = cluster.client("g");
    second.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut second).await;
    // 3 and 4 were delivered, not committed: delivered again.
    assert_eq!(placed(&records(&mut second).await), [(0, 3), (0, 4)]);
    nothing(&mut second).await;

    // The same member, assigned the partition again, also restarts from the committed offset.
    cluster.rebalance("g");
    let (_, _, barrier) = revoked(&mut second).await;
    barrier.done();
    assigned(&mut second).await;
    assert_eq!(placed(&records(&mut second).await), [(0, 3), (0, 4)]);
}

#[tokio::test(start_paused = true)]
async fn offset_reset_latest_skips_the_backlog() {
    let cluster = cluster_with("orders", 1);
    let p0 = tp("orders", 0);
    fill(&cluster, &p0, 3);
    let mut client = cluster
        .client_builder("g")
        .offset_reset(OffsetReset::Latest)
        .build()
        .unwrap();
    client.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut client).await;
    nothing(&mut client).await;
    cluster.append(&p0, "k", "new").unwrap();
    assert_eq!(placed(&records(&mut client).await), [(0, 3)]);
}

#[tokio::test(start_paused = true)]
async fn commit_rules_during_an_eager_rebalance() {
    let cluster = cluster_with("orders", 2);
    let (p0, p1) = (tp("orders", 0), tp("orders", 1));
    let mut first = member(&cluster, Protocol::Eager);
    // Not in the group yet: refused.
    let refused = first.commit(vec![(p0.clone(), 1)]).await.unwrap_err();
    assert_eq!(refused.kind(), ClientErrorKind::Rebalancing);
    first.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut first).await;
    first.commit(vec![(p0.clone(), 1)]).await.unwrap();

    let mut second = member(&cluster, Protocol::Eager);
    second.subscribe(&topics(&["orders"])).unwrap();
    // Before it polled its revoke, and inside the barrier: accepted.
    first.commit(vec![(p0.clone(), 2)]).await.unwrap();
    let (_, _, barrier) = revoked(&mut first).await;
    first.commit(vec![(p1.clone(), 1)]).await.unwrap();
    // The newcomer, rejoining with nothing: refused.
    let refused = second.commit(vec![(p1.clone(), 9)]).await.unwrap_err();
    assert_eq!(refused.kind(), ClientErrorKind::Rebalancing);
    barrier.done();
    // Released, its new assignment not polled yet: refused.
    let refused = first.commit(vec![(p0.clone(), 9)]).await.unwrap_err();
    assert_eq!(refused.kind(), ClientErrorKind::Rebalancing);
    assigned(&mut first).await;
    assigned(&mut second).await;
    // Stable again: accepted, also for a partition the member does not own (p1 is the
    // second's): fencing is the runner's job, as with librdkafka.
    first.commit(vec![(p1.clone(), 2)]).await.unwrap();
    second.commit(vec![(p1.clone(), 3)]).await.unwrap();
    assert_eq!(
        cluster.commits("g"),
        [
            (p0.clone(), 1),
            (p0.clone(), 2),
            (p1.clone(), 1),
            (p1.clone(), 2),
            (p1.clone(), 3)
        ]
    );
    assert_eq!(cluster.committed("g", &p1), Some(3));

    // Bad input: refused whole.
    let unknown = first
        .commit(vec![(p0.clone(), 5), (tp("orders", 7), 1)])
        .await
        .unwrap_err();
    assert_eq!(unknown.kind(), ClientErrorKind::Config);
    let negative = first.commit(vec![(p0.clone(), -1)]).await.unwrap_err();
    assert_eq!(negative.kind(), ClientErrorKind::Config);
    assert_eq!(cluster.committed("g", &p0), Some(2));
}

// --- pause ------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn pause_stops_records_and_survives_an_eager_revoke_and_assign() {
    let cluster = cluster_with("orders", 2);
    let (p0, p1) = (tp("orders", 0), tp("orders", 1));
    let mut client = cluster.client("g");
    // Nothing assigned yet: refused.
    assert_eq!(
        client.pause(from_ref(&p0)).unwrap_err().kind(),
        ClientErrorKind::Config
    );
    client.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut client).await;
    client.pause(from_ref(&p0)).unwrap();
    cluster.append(&p0, "k", "v").unwrap();
    cluster.append(&p1, "k", "v").unwrap();
    assert_eq!(placed(&records(&mut client).await), [(1, 0)]);
    nothing(&mut client).await;

    cluster.rebalance("g");
    let (partitions, _, barrier) = revoked(&mut client).await;
    assert_eq!(partitions, [p0.clone(), p1.clone()]);
    // Not assigned any more: cannot be resumed (all or nothing).
    assert_eq!(
        client.resume(&[p1.clone(), p0.clone()]).unwrap_err().kind(),
        ClientErrorKind::Config
    );
    assert_eq!(cluster.paused(client.member_id()), from_ref(&p0));
    barrier.done();
    assert_eq!(assigned(&mut client).await, [p0.clone(), p1.clone()]);
    // Still paused after the revoke and the assignment, as in librdkafka.
    assert_eq!(cluster.paused(client.member_id()), from_ref(&p0));
    assert_eq!(placed(&records(&mut client).await), [(1, 0)]); // nothing committed: again
    nothing(&mut client).await;

    client.resume(from_ref(&p0)).unwrap();
    assert_eq!(cluster.paused(client.member_id()), []);
    assert_eq!(placed(&records(&mut client).await), [(0, 0)]);
}

#[tokio::test(start_paused = true)]
async fn records_held_by_a_pause_come_right_after_resume() {
    let cluster = cluster_with("orders", 1);
    let p0 = tp("orders", 0);
    let mut client = cluster.client("g");
    client.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut client).await;
    client.pause(from_ref(&p0)).unwrap();
    cluster.append(&p0, "k", "v").unwrap();
    nothing(&mut client).await;
    client.resume(from_ref(&p0)).unwrap();
    let started = Instant::now();
    assert_eq!(placed(&records(&mut client).await), [(0, 0)]);
    assert_eq!(started.elapsed(), Duration::ZERO);
}

// --- faults -----------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn scripted_poll_failures_wake_a_waiting_poll_then_stop() {
    let cluster = cluster_with("orders", 1);
    let mut client = cluster.client("g");
    client.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut client).await;
    let down = ClientError::new(ClientErrorKind::Transient, "broker transport failure");
    let id = client.member_id();
    let started = Instant::now();
    let (polled, ()) = tokio::join!(client.poll(), async {
        sleep(Duration::from_secs(2)).await;
        cluster.fail_polls(id, 2, down.clone()).unwrap();
    });
    assert_eq!(polled.unwrap_err(), down);
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(client.poll().await.unwrap_err(), down);
    nothing(&mut client).await;
    cluster.append(&tp("orders", 0), "k", "v").unwrap();
    assert_eq!(records(&mut client).await.len(), 1);

    let gone = cluster.client("g").member_id();
    let closed = cluster.client("g");
    let closed_id = closed.member_id();
    closed.close(Duration::from_secs(1)).await.unwrap();
    assert_eq!(
        cluster.fail_polls(closed_id, 1, down.clone()),
        Err(MemoryError::UnknownMember(closed_id))
    );
    assert!(cluster.fail_polls(gone, 1, down).is_ok());
    assert_eq!(
        cluster.lose(gone),
        Err(MemoryError::NotInGroup(gone)),
        "never subscribed"
    );
}

#[tokio::test(start_paused = true)]
async fn commit_failures_and_hanging_commits_bounded_by_the_callers_timeout() {
    let cluster = cluster_with("orders", 1);
    let p0 = tp("orders", 0);
    let mut client = cluster.client("g");
    client.subscribe(&topics(&["orders"])).unwrap();
    assigned(&mut client).await;

    let error = ClientError::new(ClientErrorKind::Rebalancing, "REBALANCE_IN_PROGRESS");
    cluster.fail_commits("g", 1, error.clone());
    assert_eq!(client.commit(vec![(p0.clone(), 1)]).await, Err(error));
    assert_eq!(cluster.commits("g"), []);

    cluster.hang_commits("g", true);
    let started = Instant::now();
    let bounded = timeout(Duration::from_secs(3), client.commit(vec![(p0.clone(), 1)])).await;
    assert!(bounded.is_err(), "a hanging commit never answers");
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    assert_eq!(cluster.committed("g", &p0), None);

    // Cleared while a commit waits: it is answered and stored then.
    let (committed, ()) = tokio::join!(client.commit(vec![(p0.clone(), 2)]), async {
        sleep(Duration::from_secs(4)).await;
        cluster.hang_commits("g", false);
    });
    committed.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(7));
    assert_eq!(cluster.commits("g"), [(p0.clone(), 2)]);
}

#[tokio::test(start_paused = true)]
async fn send_failures_delivery_delay_and_flush() {
    let cluster = cluster_with("totals", 1);
    let t0 = tp("totals", 0);
    let client = cluster.client("g");
    let producer = client.producer();
    cluster.delivery_delay(Duration::from_millis(100));

    let started = Instant::now();
    producer
        .send(OutRecord::new("totals").with_value("a"))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(100));

    let error = ClientError::new(ClientErrorKind::Transient, "message timed out");
    cluster.fail_sends(1, error.clone());
    assert_eq!(producer.send(OutRecord::new("totals")).await, Err(error));
    assert_eq!(
        cluster.records(&t0).len(),
        1,
        "a failed send appends nothing"
    );
    let unknown = producer.send(OutRecord::new("nope")).await.unwrap_err();
    assert_eq!(unknown.kind(), ClientErrorKind::Config);
    let bad_partition = producer
        .send(OutRecord::new("totals").with_partition(4))
        .await
        .unwrap_err();
    assert_eq!(bad_partition.kind(), ClientErrorKind::Config);

    // Sends not awaited (even dropped) are in the log; flush waits for their acks.
    let start = Instant::now();
    drop(producer.send(OutRecord::new("totals").with_value("b")));
    let pending = producer.send(OutRecord::new("totals").with_value("c"));
    assert_eq!(cluster.records(&t0).len(), 3);
    producer.flush(Duration::from_secs(1)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    pending.await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100));
    producer.flush(Duration::ZERO).await.unwrap();

    // Acks slower than the flush's budget: a timeout error, after the budget.
    cluster.delivery_delay(Duration::from_secs(10));
    let slow = producer.send(OutRecord::new("totals"));
    let start = Instant::now();
    let flushed = producer.flush(Duration::from_secs(1)).await.unwrap_err();
    assert_eq!(flushed.kind(), ClientErrorKind::Timeout);
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    // A producer of its own does not wait for others' sends.
    cluster.producer().flush(Duration::ZERO).await.unwrap();
    slow.await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(10));

    // A delay that never ends does not overflow.
    cluster.delivery_delay(Duration::MAX);
    let never = producer.send(OutRecord::new("totals"));
    assert!(timeout(WAIT, never).await.is_err());
}
