//! The keyed runner's own behaviour: records of different keys of a partition at once, those of
//! one key one at a time in offset order, at most `max_concurrency` at once, and a commit that
//! only ever covers the unbroken run of settled records (a slow record holds it back; a revoke
//! or a failure commits only that run). All on the paused clock.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{
    AnyRunner, Clients, Entry, Journal, Kind, Script, Setup, Step, TOPIC, WAIT, commits_of,
    committed, processors, record_failed, runner, tp,
};
use proptest::prelude::*;
use runner_core::{Exit, Runner, State, Status};
use runner_kafka::memory::MemoryCluster;
use runner_kafka::{ErrorAction, ErrorContext, Message, Phase, PhaseHandlers};
use tokio::time::{Instant, sleep_until};

/// A cluster with one partition of [`TOPIC`] holding a record per key of `keys`, in order
/// (record `i` has value `i`; `None`: no key).
fn keyed_cluster(keys: &[Option<&str>]) -> MemoryCluster {
    let cluster = MemoryCluster::new();
    cluster.create_topic(TOPIC, 1).unwrap();
    for (i, key) in keys.iter().enumerate() {
        let mut record = runner_kafka::OutRecord::new(TOPIC)
            .with_partition(0)
            .with_value(i.to_string());
        if let Some(key) = key {
            record = record.with_key(*key);
        }
        cluster.produce(record).unwrap();
    }
    cluster
}

/// `n` records of distinct keys `k0`, `k1`, …
fn distinct(n: usize) -> Vec<Option<String>> {
    (0..n).map(|i| Some(format!("k{i}"))).collect()
}

fn refs(keys: &[Option<String>]) -> Vec<Option<&str>> {
    keys.iter().map(Option::as_deref).collect()
}

/// A keyed runner of `who` with `max` concurrency and `setup`, processing as `script` says.
fn keyed<S>(
    clients: &Clients,
    journal: &Journal,
    who: &'static str,
    max: usize,
    setup: Setup,
    script: S,
) -> AnyRunner
where
    S: Fn(&Message<String, String>, usize) -> Script + Send + Sync + 'static,
{
    let setup = Setup {
        max_concurrency: max,
        ..setup
    };
    runner(
        Kind::Keyed,
        clients.make(),
        processors(journal, who, script),
        &setup,
    )
}

/// The most records begun and not ended at once, by anyone (from the journal).
fn most_at_once(entries: &[Entry]) -> usize {
    let (mut now, mut most) = (0_usize, 0);
    for entry in entries {
        match entry.step {
            Step::Began => now += 1,
            Step::Done | Step::Failed => now -= 1,
            Step::Created => {}
        }
        most = most.max(now);
    }
    most
}

#[tokio::test(start_paused = true)]
async fn different_keys_of_a_partition_run_concurrently() {
    let keys = distinct(8);
    let cluster = keyed_cluster(&refs(&keys));
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let runner = keyed(&clients, &journal, "a", 16, Setup::default(), |_, _| {
        Script::ok().after(Duration::from_secs(1))
    });
    let t0 = Instant::now();
    runner.start().await.unwrap();
    journal
        .wait("8 done", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 8
        })
        .await;
    // Eight records of a second each, done in one second: all at once.
    for offset in 0..8 {
        assert_eq!(
            journal.times("a", 0, offset, Step::Done),
            [t0 + Duration::from_secs(1)]
        );
    }
    assert_eq!(most_at_once(&journal.entries()), 8);
    let created = journal.count(Step::Created);
    assert_eq!(created, 8, "a processor per record processed at once");
    common::eventually("all committed", || committed(&cluster, &tp(0)) == Some(8)).await;
    runner.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn one_key_runs_in_offset_order_one_at_a_time() {
    // a at 0, 2, 4; b at 1, c at 3 and 5. (Records without a key share the null key's lane:
    // `keyed::tests` in the crate; these processors decode keys as `String`, never null.)
    let keys = [
        Some("a"),
        Some("b"),
        Some("a"),
        Some("c"),
        Some("a"),
        Some("c"),
    ];
    let cluster = keyed_cluster(&keys);
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let runner = keyed(&clients, &journal, "a", 16, Setup::default(), |_, _| {
        Script::ok().after(Duration::from_secs(1))
    });
    let t0 = Instant::now();
    runner.start().await.unwrap();
    journal
        .wait("6 done", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 6
        })
        .await;
    let done = |offset| journal.times("a", 0, offset, Step::Done)[0] - t0;
    let secs = Duration::from_secs;
    // a's records one after the other, b's, c's and the first keyless one meanwhile.
    assert_eq!(
        [done(0), done(2), done(4)],
        [secs(1), secs(2), secs(3)],
        "key a: in offset order, one at a time"
    );
    assert_eq!(done(1), secs(1));
    assert_eq!([done(3), done(5)], [secs(1), secs(2)], "key c");
    let began = |offset| journal.times("a", 0, offset, Step::Began)[0] - t0;
    assert_eq!([began(0), began(2), began(4)], [secs(0), secs(1), secs(2)]);
    common::eventually("all committed", || committed(&cluster, &tp(0)) == Some(6)).await;
    runner.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn max_concurrency_bounds_the_records_in_flight() {
    let keys = distinct(10);
    let cluster = keyed_cluster(&refs(&keys));
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let runner = keyed(&clients, &journal, "a", 3, Setup::default(), |_, _| {
        Script::ok().after(Duration::from_secs(1))
    });
    let t0 = Instant::now();
    runner.start().await.unwrap();
    journal
        .wait("10 done", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 10
        })
        .await;
    assert_eq!(most_at_once(&journal.entries()), 3);
    assert_eq!(journal.count(Step::Created), 3, "three processors, reused");
    // Three a second, in offset order: 0-2, 3-5, 6-8, then 9.
    let ends: Vec<u64> = (0..10)
        .map(|o| (journal.times("a", 0, o, Step::Done)[0] - t0).as_secs())
        .collect();
    assert_eq!(ends, [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]);
    runner.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_slow_early_record_holds_the_commit_back_while_later_ones_complete() {
    let keys = distinct(6);
    let cluster = keyed_cluster(&refs(&keys));
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    // Record 0 takes 10 s, the others 1 s; commits every second.
    let runner = keyed(&clients, &journal, "a", 16, Setup::default(), |m, _| {
        let took = if m.offset == 0 { 10 } else { 1 };
        Script::ok().after(Duration::from_secs(took))
    });
    let t0 = Instant::now();
    runner.start().await.unwrap();
    sleep_until(t0 + Duration::from_secs(5)).await;
    assert_eq!(journal.offsets(0, Step::Done), [1, 2, 3, 4, 5]);
    assert_eq!(
        commits_of(&cluster, &tp(0)),
        Vec::<i64>::new(),
        "0 holds it"
    );
    let partition = &runner.metrics().partitions[0];
    assert_eq!((partition.watermark, partition.in_flight), (None, 1));
    common::eventually("all committed", || committed(&cluster, &tp(0)) == Some(6)).await;
    assert_eq!(
        commits_of(&cluster, &tp(0)),
        [6],
        "never a commit past the unsettled 0"
    );
    assert!(t0.elapsed() >= Duration::from_secs(10));
    runner.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_revoke_mid_flight_commits_the_settled_prefix_and_the_next_owner_does_the_rest() {
    let keys = distinct(6);
    let cluster = keyed_cluster(&refs(&keys));
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let no_interval = Setup {
        commit_interval: Duration::from_secs(3600),
        ..Setup::default()
    };
    let script = |m: &Message<String, String>, _| {
        let took = if m.offset == 1 { 10 } else { 1 };
        Script::ok().after(Duration::from_secs(took))
    };
    let a = keyed(&clients, &journal, "a", 16, no_interval.clone(), script);
    let b = keyed(&clients, &journal, "b", 16, no_interval, script);
    let t0 = Instant::now();
    a.start().await.unwrap();
    sleep_until(t0 + Duration::from_secs(2)).await;
    // b joins: one partition, two members; whoever gets it starts where a committed.
    b.start().await.unwrap();
    assert_eq!(
        commits_of(&cluster, &tp(0)),
        [1],
        "the revoke committed the settled prefix, 0"
    );
    journal
        .wait("1 to 5 done again", |e| {
            e.iter().filter(|e| e.step == Step::Done).count() == 10
        })
        .await;
    // The revoke cancelled a's 1 (begun, never done by a) and nothing after 0 was committed:
    // the next owner (a again, or b) did 1 to 5 again, 2 to 5 for the second time.
    let mut done = journal.offsets(0, Step::Done);
    done.sort_unstable();
    assert_eq!(done, [0, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assert!(
        journal.times("a", 0, 1, Step::Done).len() <= 1,
        "a's first 1 never done"
    );
    assert!(
        journal.entries().iter().all(|e| !(e.offset == 1
            && e.step == Step::Done
            && e.at < t0 + Duration::from_secs(12))),
        "the 1 begun before the revoke was cancelled, not finished"
    );
    a.stop().await.unwrap();
    b.stop().await.unwrap();
    assert_eq!(committed(&cluster, &tp(0)), Some(6));
}

#[tokio::test(start_paused = true)]
async fn fail_stops_the_runner_without_committing_the_failed_record() {
    let keys = distinct(6);
    let cluster = keyed_cluster(&refs(&keys));
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    // Record 2 fails after 2 s (the default handler says Fail); the others take 1 s.
    let runner = keyed(&clients, &journal, "a", 16, Setup::default(), |m, _| {
        if m.offset == 2 {
            Script::err("bad order").after(Duration::from_secs(2))
        } else {
            Script::ok().after(Duration::from_secs(1))
        }
    });
    runner.start().await.unwrap();
    let stopped = tokio::time::timeout(WAIT, runner.wait_for(State::is_idle)).await;
    assert!(stopped.is_ok(), "the runner ends by itself");
    assert_eq!(runner.state(), State::Failed);
    assert!(matches!(runner.last_exit(), Some(Exit::Failed(_))));
    let (partition, offset, phase, message) = record_failed(&runner.failure());
    assert_eq!(
        (partition, offset, phase, message.as_str()),
        (tp(0), 2, Phase::Processing, "bad order")
    );
    assert_eq!(journal.offsets(0, Step::Done), [0, 1, 3, 4, 5]);
    assert_eq!(
        committed(&cluster, &tp(0)),
        Some(2),
        "0 and 1, not the failed 2 nor what came after it"
    );
}

/// What a record does in the model: how long it takes, and how it ends.
#[derive(Clone, Copy, Debug)]
enum Fate {
    Ok(u64),
    /// Fails after this many 100 ms: the handler skips it (`Continue`).
    Skip(u64),
    /// Fails once after this many 100 ms, then succeeds (`Retry`).
    Retry(u64),
}

fn fate() -> impl Strategy<Value = Fate> {
    prop_oneof![
        4 => (0_u64..30).prop_map(Fate::Ok),
        1 => (0_u64..30).prop_map(Fate::Skip),
        1 => (0_u64..30).prop_map(Fate::Retry),
    ]
}

/// Runs `records` (key, fate) through a keyed runner of `max` concurrency, checking the
/// watermark every 10 ms of the paused clock, then each key's order.
async fn model(records: Vec<(u8, Fate)>, max: usize) -> Result<(), TestCaseError> {
    let keys: Vec<Option<String>> = records.iter().map(|(k, _)| Some(format!("k{k}"))).collect();
    let cluster = keyed_cluster(&refs(&keys));
    let journal = Journal::new();
    let clients = Clients::new(&cluster).max_records(7);
    let fates: HashMap<i64, Fate> = records
        .iter()
        .enumerate()
        .map(|(i, (_, f))| (i as i64, *f))
        .collect();
    let handler = |ctx: &ErrorContext<'_>| {
        if ctx.error.to_string() == "retry" {
            ErrorAction::Retry {
                after: Duration::from_millis(100),
            }
        } else {
            ErrorAction::Continue
        }
    };
    let setup = Setup {
        handlers: PhaseHandlers::new().general(handler),
        commit_interval: Duration::from_millis(300),
        channel_buffer_size: 5,
        ..Setup::default()
    };
    let runner = keyed(&clients, &journal, "a", max, setup, move |m, attempt| {
        let tenth = Duration::from_millis(100);
        match fates[&m.offset] {
            Fate::Ok(t) => Script::ok().after(tenth * t as u32),
            Fate::Skip(t) => Script::err("skip").after(tenth * t as u32),
            Fate::Retry(t) if attempt == 1 => Script::err("retry").after(tenth * t as u32),
            Fate::Retry(t) => Script::ok().after(tenth * t as u32),
        }
    });
    let n = records.len() as i64;
    runner.start().await.unwrap();
    let ended = || -> std::collections::HashSet<i64> {
        journal
            .entries()
            .iter()
            .filter(|e| matches!(e.step, Step::Done | Step::Failed))
            .map(|e| e.offset)
            .collect()
    };
    for _ in 0..60_000 {
        // The watermark and the commit never pass a record that has not ended.
        let watermark = runner.metrics().partitions[0].watermark.unwrap_or(0);
        let committed = committed(&cluster, &tp(0)).unwrap_or(0);
        prop_assert!(committed <= watermark);
        let ended = ended();
        for offset in 0..watermark {
            prop_assert!(
                ended.contains(&offset),
                "the watermark {watermark} passed {offset}"
            );
        }
        if committed == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    prop_assert_eq!(committed(&cluster, &tp(0)), Some(n), "all committed");
    runner.stop().await.unwrap();
    // Per key: begun in offset order, each after the previous one of its key ended.
    let entries = journal.entries();
    prop_assert!(most_at_once(&entries) <= max);
    let mut last: HashMap<Option<String>, (i64, bool)> = HashMap::new();
    for entry in &entries {
        let key = keys[entry.offset.max(0) as usize].clone();
        match entry.step {
            Step::Began => {
                if let Some(&(previous, ended)) = last.get(&key) {
                    prop_assert!(ended, "two records of one key at once");
                    prop_assert!(previous <= entry.offset, "a key out of order");
                }
                last.insert(key, (entry.offset, false));
            }
            Step::Done | Step::Failed => {
                prop_assert_eq!(last.get(&key), Some(&(entry.offset, false)));
                last.insert(key, (entry.offset, true));
            }
            Step::Created => {}
        }
    }
    let ended = ended();
    for offset in 0..n {
        prop_assert!(ended.contains(&offset), "{offset} processed at least once");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Random keys (of four), durations and outcomes (done, skipped, retried once):
    /// each key's records are processed in offset order, one at a time; at most `max` at once;
    /// the watermark (and the commit) never passes a record that has not ended; everything is
    /// processed and committed.
    #[test]
    fn per_key_order_and_the_watermark_hold(
        records in proptest::collection::vec((0_u8..4, fate()), 1..40),
        max in 1_usize..6,
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        runtime.block_on(model(records, max))?;
    }
}
