//! Stopping both runners on the in-memory cluster, on the paused clock: the work in flight is
//! finished within the drain timeout, a processor that never finishes does not hang the stop,
//! and a duration of `Duration::MAX` means no limit.

mod common;

use std::time::Duration;

use common::{
    Clients, GROUP, Journal, Kind, Script, Setup, Step, TOPIC, both, cluster, commits_of,
    processors, runner, three, tp,
};
use runner_core::{Runner, State, Status};
use tokio::time::{Instant, sleep_until, timeout};

three!(duration_max_means_no_limit,);

// Not run on the keyed runner: they time the drain of a queue processed one record at a time; the keyed
// runner drains it at once (its records have different keys). Their keyed counterparts are in `tests/keyed.rs`.
both!(
    a_stop_finishes_the_work_in_flight,
    a_processor_that_never_finishes_does_not_hang_the_stop,
);

/// Only the stop commits.
fn no_interval() -> Setup {
    Setup {
        commit_interval: Duration::from_secs(3600),
        ..Setup::default()
    }
}

async fn a_stop_finishes_the_work_in_flight(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 5);
    let journal = Journal::new();
    let factory = processors(&journal, "a", |_, _| {
        Script::ok().after(Duration::from_secs(1))
    });
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &no_interval());
    let t0 = Instant::now();
    runner.start().await.unwrap();
    sleep_until(t0 + Duration::from_millis(500)).await;
    runner.stop().await.unwrap();
    let stopped = t0.elapsed();
    match kind {
        Kind::Single => {
            // The record in flight is finished; the rest of the batch is left for later.
            assert_eq!(stopped, Duration::from_secs(1));
            assert_eq!(journal.offsets(0, Step::Done), [0]);
            assert_eq!(commits_of(&cluster, &tp(0)), [1]);
        }
        Kind::Keyed => unreachable!("not run on the keyed runner"),
        Kind::Partitioned => {
            // The worker drains its queue.
            assert_eq!(stopped, Duration::from_secs(5));
            assert_eq!(journal.offsets(0, Step::Done), [0, 1, 2, 3, 4]);
            assert_eq!(commits_of(&cluster, &tp(0)), [5]);
        }
    }
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(cluster.members(GROUP), []);
}

async fn a_processor_that_never_finishes_does_not_hang_the_stop(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 3);
    let journal = Journal::new();
    // Record 1 never finishes the first time; the second time it does.
    let factory = processors(&journal, "a", |message, attempt| {
        if (message.offset, attempt) == (1, 1) {
            Script::hang()
        } else {
            Script::ok()
        }
    });
    let drain = Duration::from_secs(5);
    let setup = Setup {
        drain_timeout: drain,
        ..no_interval()
    };
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    runner.start().await.unwrap();
    journal.reached("a", 0, 1, Step::Began).await;

    let t0 = Instant::now();
    let stopped = timeout(Duration::from_secs(600), runner.stop())
        .await
        .expect("the stop returns");
    assert_eq!(
        t0.elapsed(),
        drain,
        "given the drain timeout, then cancelled"
    );
    stopped.unwrap();
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(
        commits_of(&cluster, &tp(0)),
        [1],
        "what was done is committed, the record cancelled is not"
    );
    assert_eq!(cluster.members(GROUP), [], "the client was closed");

    // The next run reads the cancelled record again.
    timeout(Duration::from_secs(600), runner.start())
        .await
        .expect("the next run gets the partition")
        .unwrap();
    journal.reached("a", 0, 2, Step::Done).await;
    runner.stop().await.unwrap();
    assert_eq!(journal.offsets(0, Step::Done), [0, 1, 2]);
    assert_eq!(commits_of(&cluster, &tp(0)), [1, 3]);
}

async fn duration_max_means_no_limit(kind: Kind) {
    let cluster = cluster(TOPIC, 2, 3);
    let journal = Journal::new();
    let factory = processors(&journal, "a", |_, _| Script::ok());
    let setup = Setup {
        commit_interval: Duration::MAX,
        commit_timeout: Duration::MAX,
        stuck_after: Duration::MAX,
        close_timeout: Duration::MAX,
        worker_shutdown_timeout: Duration::MAX,
        drain_timeout: Duration::MAX,
        ..Setup::default()
    };
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    runner.start().await.unwrap();
    journal
        .wait("everything done", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 6
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(cluster.commits(GROUP), [], "no interval commit in an hour");
    assert!(runner.health().is_healthy());
    runner.stop().await.unwrap();
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(commits_of(&cluster, &tp(0)), [3]);
    assert_eq!(commits_of(&cluster, &tp(1)), [3]);
}

/// The workers drain at the same time, each within the worker shutdown timeout, all within
/// the drain timeout: the shorter bounds the stop.
#[tokio::test(start_paused = true)]
async fn a_worker_that_never_finishes_is_given_the_worker_shutdown_timeout() {
    let cluster = cluster(TOPIC, 2, 3);
    let journal = Journal::new();
    // Record 0/1 never finishes; partition 1 drains in full.
    let factory = processors(&journal, "a", |message, _| {
        if (message.partition, message.offset) == (0, 1) {
            Script::hang()
        } else {
            Script::ok().after(Duration::from_secs(1))
        }
    });
    let worker = Duration::from_secs(5);
    let setup = Setup {
        worker_shutdown_timeout: worker,
        drain_timeout: Duration::from_secs(60),
        ..no_interval()
    };
    let runner = runner(
        Kind::Partitioned,
        Clients::new(&cluster).make(),
        factory,
        &setup,
    );
    runner.start().await.unwrap();
    journal.reached("a", 0, 1, Step::Began).await;

    let t0 = Instant::now();
    runner.stop().await.unwrap();
    assert_eq!(t0.elapsed(), worker);
    assert_eq!(commits_of(&cluster, &tp(0)), [1]);
    assert_eq!(
        commits_of(&cluster, &tp(1)),
        [3],
        "the other worker drained"
    );
    assert_eq!(cluster.members(GROUP), []);
}
