//! Both runners on the in-memory cluster, on the paused clock, through rebalances: a second
//! member joining while a record is in flight, in its retry's backoff, or in its dead-letter
//! send; a rebalance during a stop; a paused partition revoked and assigned again; cooperative
//! (incremental) handovers; lost vs revoked partitions.
//!
//! Runner "a" starts first, so it keeps the even partitions and "b" gets the odd ones.

mod common;

use std::time::Duration;

use common::{
    AnyRunner, Clients, DLQ, Journal, Kind, Script, Setup, Step, TOPIC, both, cluster, commits_of,
    committed, eventually, fill, processors, runner, three, tp, tp0,
};
use runner_core::{Runner, State, Status};
use runner_kafka::memory::{MemoryCluster, Protocol};
use runner_kafka::{ErrorAction, ErrorContext, Message, PhaseHandlers, SilentFail, WithDlq};
use tokio::time::{Instant, sleep_until};

three!(
    a_rebalance_mid_dead_letter_send,
    a_rebalance_during_a_stop,
    a_member_with_nothing_assigned_is_ready_and_takes_over_later,
);

// Not run on the keyed runner: they expect which records are done, and when, from a partition processed one
// record at a time (a record a second); under the keyed runner its records (of different keys)
// run at once. Their keyed counterparts are in `tests/keyed.rs`.
both!(
    a_rebalance_mid_record,
    a_rebalance_mid_backoff,
    a_cooperative_rebalance_touches_only_the_revoked_partitions,
    lost_vs_revoked,
);

/// Runner `who` of `kind` in the group, with `clients`' options and `script`.
fn member<S>(
    kind: Kind,
    clients: &Clients,
    journal: &Journal,
    who: &'static str,
    setup: &Setup,
    script: S,
) -> AnyRunner
where
    S: Fn(&Message<String, String>, usize) -> Script + Send + Sync + 'static,
{
    runner(
        kind,
        clients.make(),
        processors(journal, who, script),
        setup,
    )
}

/// Only revokes and stops commit.
fn no_interval() -> Setup {
    Setup {
        commit_interval: Duration::from_secs(3600),
        ..Setup::default()
    }
}

/// Every record of `partitions` partitions of `per_partition` records was done exactly once.
fn each_done_once(journal: &Journal, partitions: i32, per_partition: i64) {
    let all: Vec<i64> = (0..per_partition).collect();
    for p in 0..partitions {
        let mut done = journal.offsets(p, Step::Done);
        done.sort_unstable();
        assert_eq!(done, all, "partition {p}: each record done exactly once");
    }
}

/// The second member joins at `at`: it is running (it has joined the group and been handed its
/// first assignment: under eager assignment its partitions, under cooperative an empty one)
/// when this returns.
async fn join_at(b: &AnyRunner, at: Instant) {
    sleep_until(at).await;
    b.start().await.unwrap();
}

async fn a_rebalance_mid_record(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 3);
    let journal = Journal::new();
    // One record per poll: the single-threaded runner sees the revoke after each record.
    let clients = Clients::new(&cluster).max_records(1);
    let slow = |_: &_, _| Script::ok().after(Duration::from_secs(10));
    let a = member(kind, &clients, &journal, "a", &no_interval(), slow);
    let b = member(kind, &clients, &journal, "b", &no_interval(), slow);
    let t0 = Instant::now();
    a.start().await.unwrap();
    join_at(&b, t0 + Duration::from_secs(2)).await;
    let released = t0.elapsed();

    eventually("everything done", || journal.count(Step::Done) == 6).await;
    each_done_once(&journal, 2, 3);
    let b_began = journal.times(
        "b",
        1,
        journal.of(Some("b"), 1, Step::Began)[0],
        Step::Began,
    );
    match kind {
        Kind::Single => {
            // It cannot cancel what it runs inline: the revoke waits for the record in flight
            // (a@0/0, done at 10 s), which is committed before the release and not redone.
            assert_eq!(released, Duration::from_secs(10));
            assert_eq!(journal.of(Some("a"), 0, Step::Began), [0, 1, 2]);
            assert_eq!(commits_of(&cluster, &tp(0))[0], 1);
            assert_eq!(journal.of(Some("b"), 1, Step::Began), [0, 1, 2]);
        }
        Kind::Keyed => unreachable!("not run on the keyed runner"),
        Kind::Partitioned => {
            // The records in flight (a@0/0 and a@1/0) are cancelled at once, not committed:
            // b does 1/0 from the start, a does 0/0 again.
            assert_eq!(released, Duration::from_secs(2));
            assert_eq!(journal.of(Some("a"), 1, Step::Began), [0]);
            assert_eq!(journal.of(Some("a"), 1, Step::Done), Vec::<i64>::new());
            assert_eq!(journal.of(Some("a"), 0, Step::Began), [0, 0, 1, 2]);
            assert_eq!(journal.of(Some("b"), 1, Step::Began), [0, 1, 2]);
            assert_eq!(b_began, [t0 + Duration::from_secs(2)]);
        }
    }
    assert_eq!(journal.of(Some("b"), 0, Step::Began), Vec::<i64>::new());
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(0)), Some(3));
    assert_eq!(committed(&cluster, &tp(1)), Some(3));
}

async fn a_rebalance_mid_backoff(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 3);
    let journal = Journal::new();
    let clients = Clients::new(&cluster).max_records(1);
    let backoff = Duration::from_secs(30);
    let setup = Setup {
        handlers: PhaseHandlers::new()
            .processing(move |_: &ErrorContext<'_>| ErrorAction::Retry { after: backoff }),
        ..no_interval()
    };
    // a fails 1/0 the first time; b never fails.
    let a = member(kind, &clients, &journal, "a", &setup, |m, attempt| {
        if (m.partition, m.offset, attempt) == (1, 0, 1) {
            Script::err("not yet")
        } else {
            Script::ok()
        }
    });
    let b = member(kind, &clients, &journal, "b", &setup, |_, _| Script::ok());
    let t0 = Instant::now();
    a.start().await.unwrap();
    journal.reached("a", 1, 0, Step::Failed).await;
    join_at(&b, t0 + Duration::from_secs(5)).await;
    let released = t0.elapsed();

    eventually("everything done", || journal.count(Step::Done) == 6).await;
    each_done_once(&journal, 2, 3);
    match kind {
        Kind::Single => {
            // The backoff runs inline: the revoke waits for the retry, which succeeds and is
            // committed before the release; b starts after it.
            assert_eq!(released, backoff);
            assert_eq!(journal.times("a", 1, 0, Step::Began), [t0, t0 + backoff]);
            assert_eq!(journal.of(Some("b"), 1, Step::Began), [1, 2]);
        }
        Kind::Keyed => unreachable!("not run on the keyed runner"),
        Kind::Partitioned => {
            // The retry waiting in its backoff is cancelled with the worker: a never tries
            // again; b does the record, at once.
            assert_eq!(released, Duration::from_secs(5));
            assert_eq!(journal.times("a", 1, 0, Step::Began), [t0]);
            assert_eq!(
                journal.times("b", 1, 0, Step::Began),
                [t0 + Duration::from_secs(5)]
            );
        }
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(1)), Some(3));
}

async fn a_rebalance_mid_dead_letter_send(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 2);
    cluster.create_topic(DLQ, 1).unwrap();
    let ack = Duration::from_secs(10);
    cluster.delivery_delay(ack);
    let journal = Journal::new();
    let clients = Clients::new(&cluster).max_records(1);
    let setup = Setup::handlers(PhaseHandlers::new().processing(WithDlq::new(DLQ, SilentFail)));
    // Record 1/0 is bad, whoever reads it.
    let bad = |m: &Message<String, String>, _| {
        if (m.partition, m.offset) == (1, 0) {
            Script::err("bad order")
        } else {
            Script::ok()
        }
    };
    let a = member(kind, &clients, &journal, "a", &setup, bad);
    let b = member(kind, &clients, &journal, "b", &setup, bad);
    let t0 = Instant::now();
    a.start().await.unwrap();
    journal.reached("a", 1, 0, Step::Failed).await;
    let failed_at = t0.elapsed();
    join_at(&b, t0 + failed_at + Duration::from_secs(2)).await;
    let released = t0.elapsed() - failed_at;

    eventually("1/0 committed past", || {
        committed(&cluster, &tp(1)) == Some(2)
    })
    .await;
    let dead: Vec<i64> = cluster
        .records(&tp0(DLQ))
        .iter()
        .map(|r| {
            std::str::from_utf8(r.header(runner_kafka::X_ORIGINAL_OFFSET).unwrap())
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    match kind {
        Kind::Single => {
            // The send runs inline: the revoke waits for its ack; one dead letter.
            assert_eq!(released, ack);
            assert_eq!(dead, [0]);
            assert_eq!(journal.of(Some("b"), 1, Step::Began), [1]);
        }
        Kind::Partitioned | Kind::Keyed => {
            // The send in flight is cancelled with the worker, its record not committed; b
            // reads it again and dead-letters it again: twice, never lost.
            assert_eq!(released, Duration::from_secs(2));
            assert_eq!(dead, [0, 0]);
            assert_eq!(journal.of(Some("b"), 1, Step::Began), [0, 1]);
        }
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

async fn a_rebalance_during_a_stop(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 6);
    let journal = Journal::new();
    let clients = Clients::new(&cluster).max_records(1);
    let slow = |_: &_, _| Script::ok().after(Duration::from_secs(1));
    let a = member(kind, &clients, &journal, "a", &no_interval(), slow);
    let b = member(kind, &clients, &journal, "b", &no_interval(), slow);
    let t0 = Instant::now();
    a.start().await.unwrap();
    sleep_until(t0 + Duration::from_millis(2500)).await;

    // b joins as a stops: a, winding down, polls no more; it commits, closes, and only then
    // does b get the partitions, from a's commits.
    let (started, stopped) = tokio::join!(b.start(), a.stop());
    started.unwrap();
    stopped.unwrap();
    let handed: Vec<Option<i64>> = (0..2).map(|p| committed(&cluster, &tp(p))).collect();
    eventually("everything done", || journal.count(Step::Done) == 12).await;
    each_done_once(&journal, 2, 6);
    for p in 0..2 {
        let a_done = journal.of(Some("a"), p, Step::Done);
        assert_eq!(
            handed[p as usize],
            Some(a_done.len() as i64),
            "partition {p}"
        );
        assert_eq!(
            journal.of(Some("b"), p, Step::Began).first().copied(),
            handed[p as usize].filter(|&o| o < 6),
            "b starts where a committed"
        );
    }
    assert_eq!(a.state(), State::Stopped);
    b.stop().await.unwrap();
}

async fn a_cooperative_rebalance_touches_only_the_revoked_partitions(kind: Kind) {
    let cluster = cluster(TOPIC, 4, 6);
    let journal = Journal::new();
    let clients = Clients::new(&cluster)
        .protocol(Protocol::Cooperative)
        .max_records(1);
    let slow = |_: &_, _| Script::ok().after(Duration::from_secs(1));
    let a = member(kind, &clients, &journal, "a", &no_interval(), slow);
    let b = member(kind, &clients, &journal, "b", &no_interval(), slow);
    let t0 = Instant::now();
    a.start().await.unwrap();
    join_at(&b, t0 + Duration::from_millis(2500)).await;
    // Cooperative: b joined with nothing free (its start returned on that empty assignment);
    // it gets 1 and 3 once a has let them go.
    eventually("b has begun partition 1", || {
        !journal.of(Some("b"), 1, Step::Began).is_empty()
    })
    .await;
    // Only 1 and 3 moved: the commits made so far are theirs, on revoke (of what a had
    // done of them).
    let on_revoke: Vec<i32> = cluster
        .commits(common::GROUP)
        .iter()
        .map(|(p, _)| p.partition)
        .collect();
    assert!(
        !on_revoke.is_empty() && on_revoke.iter().all(|p| [1, 3].contains(p)),
        "{on_revoke:?}"
    );

    eventually("everything done", || journal.count(Step::Done) == 24).await;
    each_done_once(&journal, 4, 6);
    let all: Vec<i64> = (0..6).collect();
    let created = |who, p| {
        journal
            .entries()
            .iter()
            .filter(|e| e.who == who && e.partition == p && e.step == Step::Created)
            .count()
    };
    for p in [0, 2] {
        // Kept: the same processor all along, no record begun twice.
        assert_eq!(created("a", p), 1, "partition {p}");
        assert_eq!(journal.of(Some("a"), p, Step::Began), all, "partition {p}");
    }
    for p in [1, 3] {
        let handed = commits_of(&cluster, &tp(p)).first().copied().unwrap_or(0);
        assert_eq!(
            journal.of(Some("b"), p, Step::Began).first(),
            Some(&handed),
            "b starts partition {p} where a committed"
        );
    }
    if kind == Kind::Partitioned {
        // The kept partitions' workers went on through the rebalance: a record a second.
        for p in [0, 2] {
            let done: Vec<Instant> = (0..6)
                .map(|o| journal.times("a", p, o, Step::Done)[0])
                .collect();
            let expected: Vec<Instant> = (1..=6).map(|s| t0 + Duration::from_secs(s)).collect();
            assert_eq!(done, expected, "partition {p} was not interrupted");
        }
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}

async fn lost_vs_revoked(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 6);
    let journal = Journal::new();
    let clients = Clients::new(&cluster).max_records(1);
    let a_clients = Clients::new(&cluster).max_records(1);
    let slow = |_: &_, _| Script::ok().after(Duration::from_secs(1));
    let a = member(kind, &a_clients, &journal, "a", &no_interval(), slow);
    let b = member(kind, &clients, &journal, "b", &no_interval(), slow);
    let t0 = Instant::now();
    a.start().await.unwrap();
    // Revoked: what a did of 1 is committed, and b goes on from there.
    join_at(&b, t0 + Duration::from_millis(2500)).await;
    let revoked = commits_of(&cluster, &tp(1));
    assert_eq!(revoked.len(), 1);
    assert_eq!(
        journal.of(Some("b"), 1, Step::Began).first(),
        revoked.first()
    );

    // Lost: what a did of 0 since is not committed; b reads it again.
    sleep_until(t0 + Duration::from_millis(5500)).await;
    let committed_0 = commits_of(&cluster, &tp(0));
    cluster.lose(a_clients.member()).unwrap();
    eventually("b took 0", || {
        !journal.of(Some("b"), 0, Step::Began).is_empty()
    })
    .await;
    assert_eq!(
        commits_of(&cluster, &tp(0)),
        committed_0,
        "no commit of the lost partition"
    );
    assert_eq!(
        journal.of(Some("b"), 0, Step::Began).first().copied(),
        Some(committed_0.last().copied().unwrap_or(0)),
        "b reads 0 again from the last commit"
    );
    eventually("b read 0 to the end", || {
        journal.of(Some("b"), 0, Step::Done).last() == Some(&5)
    })
    .await;
    let mut done = journal.offsets(0, Step::Done);
    done.sort_unstable();
    done.dedup();
    assert_eq!(done, (0..6).collect::<Vec<_>>(), "nothing lost");
    assert_eq!(a.state(), State::Running, "a lost member's runner goes on");
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(0)), Some(6));
}

/// A partition paused for backpressure, revoked and assigned again, is resumed: librdkafka
/// (and the in-memory cluster) keeps the pause across an eager rebalance, the runner clears it.
#[tokio::test(start_paused = true)]
async fn a_paused_partition_revoked_and_assigned_again_is_resumed() {
    let cluster = cluster(TOPIC, 1, 20);
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let setup = Setup {
        channel_buffer_size: 2,
        max_held_bytes: 0, // paused as soon as the queue is full
        ..Setup::default()
    };
    let runner = runner(
        Kind::Partitioned,
        clients.make(),
        processors(&journal, "a", |_, _| {
            Script::ok().after(Duration::from_secs(1))
        }),
        &setup,
    );
    runner.start().await.unwrap();
    eventually("paused for backpressure", || {
        cluster.paused(clients.member()) == [tp(0)]
    })
    .await;

    rebalance(&cluster, &runner).await;
    eventually("everything committed", || {
        committed(&cluster, &tp(0)) == Some(20)
    })
    .await;
    let done = journal.offsets(0, Step::Done);
    assert_eq!(done, (0..20).collect::<Vec<_>>());
    assert_eq!(cluster.paused(clients.member()), []);
    assert!(
        runner.metrics().pauses >= 2,
        "paused again after the rebalance"
    );
    runner.stop().await.unwrap();
}

/// An eager rebalance of the group, seen through by the runner (revoked, then assigned).
async fn rebalance(cluster: &MemoryCluster, runner: &AnyRunner) {
    let before = runner.metrics().rebalances;
    cluster.rebalance(common::GROUP);
    eventually("revoked and assigned again", || {
        runner.metrics().rebalances >= before + 2
    })
    .await;
}

/// More members than partitions: the one left without a partition has joined all the same, so
/// its `start` returns (an empty assignment is an assignment), and it takes the partition over
/// when the first member leaves.
async fn a_member_with_nothing_assigned_is_ready_and_takes_over_later(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 3);
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let ok = |_: &_, _| Script::ok();
    let a = member(kind, &clients, &journal, "a", &no_interval(), ok);
    let b = member(kind, &clients, &journal, "b", &no_interval(), ok);
    a.start().await.unwrap();
    eventually("a did the backlog", || journal.count(Step::Done) == 3).await;
    tokio::time::timeout(Duration::from_secs(600), b.start())
        .await
        .expect("b is ready with nothing assigned")
        .unwrap();
    assert_eq!(b.state(), State::Running);
    let members = cluster.members(common::GROUP);
    assert_eq!(members.len(), 2, "both joined");
    assert_eq!(cluster.assignment(members[1]), [], "b holds nothing");

    a.stop().await.unwrap();
    fill(&cluster, TOPIC, 1, 3..5);
    eventually("b took over", || {
        journal.of(Some("b"), 0, Step::Done) == [3, 4]
    })
    .await;
    b.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(0)), Some(5));
}
