//! Both runners on the in-memory cluster, on the paused clock: commits on the interval, on
//! revoke (before the partition is released) and on stop; lost partitions never committed;
//! failing and hanging commits.

mod common;

use std::time::Duration;

use common::{
    Clients, GROUP, Journal, Kind, Script, Setup, Step, TOPIC, both, cluster, commits_of,
    committed, eventually, fill, processors, runner, three, tp,
};
use runner_core::{Exit, Runner, State, Status};
use runner_kafka::memory::MemoryCluster;
use runner_kafka::{Client, ClientError, ClientErrorKind, Error, Event};
use tokio::time::{Instant, sleep_until, timeout};

three!(
    commits_on_the_interval,
    commits_on_revoke_before_the_release_and_the_new_owner_starts_there,
    commits_on_stop,
    a_commit_failure_on_revoke_is_not_fatal_and_the_records_come_again,
    a_hanging_commit_is_bounded_by_the_commit_timeout,
    a_hanging_commit_on_stop_is_bounded_by_the_commit_timeout,
    a_hanging_commit_on_revoke_holds_the_partition_at_most_the_commit_timeout,
);

// Not run on the keyed runner: its records have different keys, so the keyed runner processes them at once and has them
// all done before the loss, where this test counts on a partition processed one record at a time. Their keyed counterparts are in `tests/keyed.rs`.
both!(a_lost_partition_is_never_committed,);

/// Only revokes and stops commit.
fn no_interval() -> Setup {
    Setup {
        commit_interval: Duration::from_secs(3600),
        ..Setup::default()
    }
}

/// A member that is not a runner: joins the group and takes its first assignment.
async fn member(cluster: &MemoryCluster) -> (runner_kafka::memory::MemoryClient, Vec<i32>) {
    let mut client = cluster.client(GROUP);
    client.subscribe(&[TOPIC.to_owned()]).unwrap();
    match timeout(common::WAIT, client.poll()).await {
        Ok(Ok(Event::Assigned(partitions))) => {
            let partitions = partitions.iter().map(|p| p.partition).collect();
            (client, partitions)
        }
        other => panic!("expected an assignment, got {other:?}"),
    }
}

async fn commits_on_the_interval(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 5);
    let journal = Journal::new();
    let setup = Setup {
        commit_interval: Duration::from_secs(2),
        ..Setup::default()
    };
    let factory = processors(&journal, "a", |_, _| Script::ok());
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    let t0 = Instant::now();
    runner.start().await.unwrap();

    sleep_until(t0 + Duration::from_millis(1990)).await;
    assert_eq!(journal.offsets(0, Step::Done).len(), 5);
    assert_eq!(
        commits_of(&cluster, &tp(0)),
        Vec::<i64>::new(),
        "not before the interval"
    );
    sleep_until(t0 + Duration::from_millis(2010)).await;
    assert_eq!(commits_of(&cluster, &tp(0)), [5]);

    fill(&cluster, TOPIC, 1, 5..8);
    sleep_until(t0 + Duration::from_millis(3990)).await;
    assert_eq!(commits_of(&cluster, &tp(0)), [5]);
    sleep_until(t0 + Duration::from_millis(4010)).await;
    assert_eq!(commits_of(&cluster, &tp(0)), [5, 8]);
    sleep_until(t0 + Duration::from_millis(6010)).await;
    assert_eq!(
        commits_of(&cluster, &tp(0)),
        [5, 8],
        "nothing new: nothing committed"
    );
    runner.stop().await.unwrap();
    assert_eq!(commits_of(&cluster, &tp(0)), [5, 8]);
}

async fn commits_on_revoke_before_the_release_and_the_new_owner_starts_there(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 40);
    let journal = Journal::new();
    let slow = |_: &_, _| Script::ok().after(Duration::from_millis(100));
    // Five records per poll, so that the single-threaded runner sees the revoke soon.
    let a = runner(
        kind,
        Clients::new(&cluster).max_records(5).make(),
        processors(&journal, "a", slow),
        &no_interval(),
    );
    let b = runner(
        kind,
        Clients::new(&cluster).max_records(5).make(),
        processors(&journal, "b", slow),
        &no_interval(),
    );
    a.start().await.unwrap();
    journal.reached("a", 1, 3, Step::Done).await;
    b.start().await.unwrap(); // returns once b has its partition: a released it

    // Eager: a gave both back, committing each where it was; it got 0 again, b got 1.
    eventually("everything processed", || {
        (0..2).all(|p| journal.offsets(p, Step::Done).len() >= 40)
    })
    .await;
    let all: Vec<i64> = (0..40).collect();
    for p in 0..2 {
        let mut done = journal.offsets(p, Step::Done);
        done.sort_unstable();
        assert_eq!(done, all, "partition {p}: each record done exactly once");
    }
    let revoke = commits_of(&cluster, &tp(1));
    let handed = revoke[0];
    assert!(0 < handed && handed < 40, "a commit mid-stream: {revoke:?}");
    assert_eq!(
        journal.of(Some("b"), 1, Step::Began).first(),
        Some(&handed),
        "b starts exactly where a committed on revoke"
    );
    assert_eq!(
        journal.of(Some("a"), 1, Step::Done).last(),
        Some(&(handed - 1))
    );
    assert_eq!(
        journal.of(Some("b"), 0, Step::Began),
        Vec::<i64>::new(),
        "b never had 0"
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(0)), Some(40));
    assert_eq!(committed(&cluster, &tp(1)), Some(40));
}

async fn commits_on_stop(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 5);
    let journal = Journal::new();
    let factory = processors(&journal, "a", |_, _| Script::ok());
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &no_interval());
    runner.start().await.unwrap();
    journal
        .wait("everything done", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 10
        })
        .await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        cluster.commits(GROUP),
        [],
        "nothing committed before the stop"
    );
    runner.stop().await.unwrap();
    assert_eq!(commits_of(&cluster, &tp(0)), [5]);
    assert_eq!(commits_of(&cluster, &tp(1)), [5]);
}

async fn a_lost_partition_is_never_committed(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 5);
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let factory = processors(&journal, "a", |_, _| {
        Script::ok().after(Duration::from_secs(1))
    });
    let runner = runner(kind, clients.make(), factory, &no_interval());
    let t0 = Instant::now();
    runner.start().await.unwrap();
    sleep_until(t0 + Duration::from_millis(2500)).await;
    assert_eq!(journal.offsets(0, Step::Done), [0, 1]);

    cluster.lose(clients.member()).unwrap(); // a session timeout
    // The lost partition goes to the next member at once, from the last commit: none.
    let (mut other, mine) = member(&cluster).await;
    assert_eq!(mine, [0]);
    eventually("the runner saw the loss", || {
        runner.metrics().partitions.is_empty() && runner.metrics().rebalances == 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(10)).await;
    runner.stop().await.unwrap();
    assert_eq!(
        cluster.commits(GROUP),
        [],
        "never committed, not even on stop"
    );
    // The cluster would refuse an evicted member's commit anyway: the runner never tried.
    let metrics = runner.metrics();
    assert_eq!((metrics.commits, metrics.commit_failures), (0, 0));
    match kind {
        // It reads its whole batch before it polls the loss: nothing cancels it.
        Kind::Single => assert_eq!(journal.offsets(0, Step::Done), [0, 1, 2, 3, 4]),
        // The worker of the lost partition was cancelled mid-record.
        Kind::Keyed => unreachable!("not run on the keyed runner"),
        Kind::Partitioned => assert_eq!(journal.offsets(0, Step::Done), [0, 1]),
    }
    // Read again by the new owner, from the start: nothing is lost.
    match timeout(common::WAIT, other.poll()).await {
        Ok(Ok(Event::Records(records))) => assert_eq!(records[0].offset, 0),
        other => panic!("expected records, got {other:?}"),
    }
}

async fn a_commit_failure_on_revoke_is_not_fatal_and_the_records_come_again(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 10);
    let journal = Journal::new();
    let a = runner(
        kind,
        Clients::new(&cluster).make(),
        processors(&journal, "a", |_, _| Script::ok()),
        &no_interval(),
    );
    let b = runner(
        kind,
        Clients::new(&cluster).make(),
        processors(&journal, "b", |_, _| Script::ok()),
        &no_interval(),
    );
    a.start().await.unwrap();
    journal
        .wait("a did everything", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 20
        })
        .await;
    let refused = ClientError::new(ClientErrorKind::Rebalancing, "REBALANCE_IN_PROGRESS");
    cluster.fail_commits(GROUP, 1, refused);
    b.start().await.unwrap();

    // Nothing was committed: a reads 0 again from the start, b reads 1 from the start.
    eventually("read again", || {
        journal.of(Some("a"), 0, Step::Done).len() == 20
            && journal.of(Some("b"), 1, Step::Done).len() == 10
    })
    .await;
    let all: Vec<i64> = (0..10).collect();
    assert_eq!(journal.of(Some("a"), 0, Step::Done)[10..], all[..]);
    assert_eq!(journal.of(Some("b"), 1, Step::Done), all);
    assert_eq!(a.state(), State::Running, "not fatal");
    assert_eq!(a.metrics().commit_failures, 1);
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(0)), Some(10));
    assert_eq!(committed(&cluster, &tp(1)), Some(10));
}

async fn a_hanging_commit_is_bounded_by_the_commit_timeout(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 5);
    let journal = Journal::new();
    let setup = Setup {
        commit_interval: Duration::from_secs(1),
        commit_timeout: Duration::from_secs(3),
        ..Setup::default()
    };
    let factory = processors(&journal, "a", |_, _| Script::ok());
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    cluster.hang_commits(GROUP, true);
    let t0 = Instant::now();
    runner.start().await.unwrap();

    // The commit of the tick at 1 s gives up at 4 s.
    sleep_until(t0 + Duration::from_millis(3990)).await;
    assert_eq!(runner.metrics().commit_failures, 0);
    sleep_until(t0 + Duration::from_millis(4010)).await;
    assert_eq!(runner.metrics().commit_failures, 1);
    assert_eq!(runner.state(), State::Running);
    assert_eq!(cluster.commits(GROUP), []);

    cluster.hang_commits(GROUP, false);
    eventually("committed once answered", || {
        committed(&cluster, &tp(0)) == Some(5)
    })
    .await;
    assert!(t0.elapsed() <= Duration::from_secs(6), "{:?}", t0.elapsed());
    runner.stop().await.unwrap();
}

async fn a_hanging_commit_on_stop_is_bounded_by_the_commit_timeout(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 5);
    let journal = Journal::new();
    let setup = Setup {
        commit_timeout: Duration::from_secs(3),
        ..no_interval()
    };
    let factory = processors(&journal, "a", |_, _| Script::ok());
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    runner.start().await.unwrap();
    journal.reached("a", 0, 4, Step::Done).await;
    cluster.hang_commits(GROUP, true);

    let t0 = Instant::now();
    runner.stop().await.unwrap();
    assert_eq!(t0.elapsed(), Duration::from_secs(3));
    assert_eq!(runner.state(), State::Stopped);
    assert!(matches!(runner.last_exit(), Some(Exit::Failed(_))));
    assert!(matches!(
        runner.failure(),
        Error::CommitTimedOut(d) if d == Duration::from_secs(3)
    ));
    assert_eq!(cluster.commits(GROUP), []);
    assert_eq!(cluster.members(GROUP), [], "closed all the same");
}

async fn a_hanging_commit_on_revoke_holds_the_partition_at_most_the_commit_timeout(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 5);
    let journal = Journal::new();
    let setup = Setup {
        commit_timeout: Duration::from_secs(3),
        ..no_interval()
    };
    let a = runner(
        kind,
        Clients::new(&cluster).make(),
        processors(&journal, "a", |_, _| Script::ok()),
        &setup,
    );
    a.start().await.unwrap();
    journal
        .wait("a did everything", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 10
        })
        .await;
    cluster.hang_commits(GROUP, true);
    let t0 = Instant::now();
    let (_b, mine) = member(&cluster).await;
    assert_eq!(mine, [1]);
    assert_eq!(
        t0.elapsed(),
        Duration::from_secs(3),
        "released once the commit gave up"
    );
    assert_eq!(a.state(), State::Running);
    cluster.hang_commits(GROUP, false);
    a.stop().await.unwrap();
}
