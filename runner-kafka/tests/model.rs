//! Random runs against the at-least-once model, on the in-memory cluster and the paused clock:
//! random partitions and records, random processing results (ok with an output, error then
//! skipped, error then dead-lettered, panic then skipped, slow), random delivery delays, and
//! random events (a second member joins, the runner is stopped and started again), with any
//! runner (single-threaded, partitioned, keyed). Whatever happens:
//! - every offset below a committed one was settled (processed with its output on the sink,
//!   skipped on purpose, or dead-lettered) by some processor;
//! - in the end every record is committed, so every record was processed at least once;
//! - each processor (one per partition assignment; a keyed runner's, per key) saw its
//!   partition's offsets in increasing order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use runner_core::Runner;
use runner_kafka::memory::MemoryCluster;
use runner_kafka::{
    ErrorAction, ErrorContext, KeyedRunner, Message, OutRecord, PartitionedRunner,
    SingleThreadedRunner, TopicPartition,
};

const TOPIC: &str = "events";
const SINK: &str = "results";
const DLQ: &str = "events.dlq";
const GROUP: &str = "model";

/// What processing a record does, by its value.
#[derive(Clone, Copy, Debug)]
enum Fate {
    Ok,
    Skip,
    DeadLetter,
    Panic,
    Slow,
}

fn fate(n: u8) -> Fate {
    match n % 10 {
        0..=4 => Fate::Ok,
        5 => Fate::Skip,
        6 => Fate::DeadLetter,
        7 => Fate::Panic,
        _ => Fate::Slow,
    }
}

#[derive(Clone, Debug)]
struct Case {
    kind: Kind,
    partitions: i32,
    fates: Vec<Vec<u8>>,
    delivery_delay_ms: u64,
    /// Seconds after the start: a second member joins; the first is restarted.
    join_at: Option<u64>,
    restart_at: Option<u64>,
}

fn case() -> impl Strategy<Value = Case> {
    (1_i32..=3).prop_flat_map(|partitions| {
        (
            prop_oneof![
                Just(Kind::Single),
                Just(Kind::Partitioned),
                Just(Kind::Keyed)
            ],
            proptest::collection::vec(
                proptest::collection::vec(any::<u8>(), 0..20),
                partitions as usize,
            ),
            prop_oneof![Just(0_u64), 1_u64..300],
            proptest::option::of(1_u64..6),
            proptest::option::of(1_u64..6),
        )
            .prop_map(
                move |(kind, fates, delivery_delay_ms, join_at, restart_at)| Case {
                    kind,
                    partitions,
                    fates,
                    delivery_delay_ms,
                    join_at,
                    restart_at,
                },
            )
    })
}

/// What the processors did: (processor id, partition, offset, settled, key) in order.
type Journal = Arc<Mutex<Vec<(u64, i32, i64, bool, String)>>>;

/// Which runner a case runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Single,
    Partitioned,
    Keyed,
}

/// Any runner, started and stopped alike.
enum AnyRunner {
    Single(SingleThreadedRunner),
    Partitioned(PartitionedRunner),
    Keyed(KeyedRunner),
}

/// Every start and stop is bounded (on the paused clock): a hang fails the case.
const BOUND: Duration = Duration::from_secs(600);

impl AnyRunner {
    async fn start(&self) -> Result<(), TestCaseError> {
        let started = tokio::time::timeout(BOUND, async {
            match self {
                AnyRunner::Single(r) => r.start().await,
                AnyRunner::Partitioned(r) => r.start().await,
                AnyRunner::Keyed(r) => r.start().await,
            }
        });
        match started.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(TestCaseError::fail(format!("start failed: {error}"))),
            Err(_) => Err(TestCaseError::fail("start hung")),
        }
    }

    async fn stop(&self) -> Result<(), TestCaseError> {
        let stopped = tokio::time::timeout(BOUND, async {
            match self {
                AnyRunner::Single(r) => r.stop().await,
                AnyRunner::Partitioned(r) => r.stop().await,
                AnyRunner::Keyed(r) => r.stop().await,
            }
        });
        match stopped.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(TestCaseError::fail(format!("stop failed: {error}"))),
            Err(_) => Err(TestCaseError::fail("stop hung")),
        }
    }
}

fn runner(
    cluster: &MemoryCluster,
    kind: Kind,
    journal: &Journal,
    ids: &Arc<AtomicU64>,
) -> AnyRunner {
    let make = {
        let cluster = cluster.clone();
        move || Ok(cluster.client(GROUP))
    };
    let (journal, ids) = (Arc::clone(journal), Arc::clone(ids));
    let factory = move |_: &TopicPartition| {
        let id = ids.fetch_add(1, Ordering::SeqCst);
        let journal = Arc::clone(&journal);
        move |message: Message<String, String>| {
            let journal = Arc::clone(&journal);
            async move {
                let fate = fate(message.value.parse::<u8>().unwrap());
                let mark = |settled| {
                    journal.lock().unwrap().push((
                        id,
                        message.partition,
                        message.offset,
                        settled,
                        message.key.clone(),
                    ))
                };
                match fate {
                    Fate::Ok => {}
                    Fate::Slow => tokio::time::sleep(Duration::from_millis(700)).await,
                    Fate::Skip => {
                        mark(true);
                        return Err("skip me".into());
                    }
                    Fate::DeadLetter => {
                        mark(true);
                        return Err("dead-letter me".into());
                    }
                    Fate::Panic => {
                        mark(true);
                        panic!("a processor panicked");
                    }
                }
                mark(true);
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(vec![
                    OutRecord::new(SINK)
                        .with_value(format!("{}:{}", message.partition, message.offset)),
                ])
            }
        }
    };
    // Errors are skipped or dead-lettered, panics skipped: nothing fails the runner.
    let handler = |ctx: &ErrorContext<'_>| {
        if ctx.error.to_string().contains("dead-letter") {
            ErrorAction::SendToDlq { topic: DLQ.into() }
        } else {
            ErrorAction::Continue
        }
    };
    match kind {
        Kind::Partitioned => AnyRunner::Partitioned(
            PartitionedRunner::builder(make, [TOPIC], factory)
                .error_handler(handler)
                .commit_interval(Duration::from_millis(500))
                .channel_buffer_size(4)
                .build()
                .unwrap(),
        ),
        Kind::Keyed => AnyRunner::Keyed(
            KeyedRunner::builder(make, [TOPIC], factory)
                .error_handler(handler)
                .commit_interval(Duration::from_millis(500))
                .channel_buffer_size(4)
                .max_concurrency(2)
                .build()
                .unwrap(),
        ),
        Kind::Single => AnyRunner::Single(
            SingleThreadedRunner::builder(make, [TOPIC], factory)
                .error_handler(handler)
                .commit_interval(Duration::from_millis(500))
                .build()
                .unwrap(),
        ),
    }
}

fn check(case: &Case) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let cluster = MemoryCluster::new();
        cluster.create_topic(TOPIC, case.partitions).unwrap();
        cluster.create_topic(SINK, 1).unwrap();
        cluster.create_topic(DLQ, 1).unwrap();
        for (p, fates) in case.fates.iter().enumerate() {
            let tp = TopicPartition::new(TOPIC, p as i32);
            for fate in fates {
                cluster
                    .append(&tp, format!("k{}", fate % 3), fate.to_string())
                    .unwrap();
            }
        }
        cluster.delivery_delay(Duration::from_millis(case.delivery_delay_ms));
        let journal: Journal = Arc::default();
        let ids = Arc::new(AtomicU64::new(0));

        let first = runner(&cluster, case.kind, &journal, &ids);
        first.start().await?;
        let mut second = None;
        let t0 = tokio::time::Instant::now();
        for step in 1..=8_u64 {
            tokio::time::sleep_until(t0 + Duration::from_secs(step)).await;
            if case.join_at == Some(step) {
                let runner = runner(&cluster, case.kind, &journal, &ids);
                runner.start().await?;
                second = Some(runner);
            }
            if case.restart_at == Some(step) {
                first.stop().await?;
                first.start().await?;
            }
        }
        first.stop().await?;
        if let Some(second) = &second {
            second.stop().await?;
        }
        // Whatever was left is finished by a last runner.
        let last = runner(&cluster, case.kind, &journal, &ids);
        last.start().await?;
        let ends: BTreeMap<i32, i64> = case
            .fates
            .iter()
            .enumerate()
            .map(|(p, fates)| (p as i32, fates.len() as i64))
            .collect();
        let all_committed = || {
            ends.iter().all(|(&p, &end)| {
                end == 0 || cluster.committed(GROUP, &TopicPartition::new(TOPIC, p)) == Some(end)
            })
        };
        for _ in 0..600 {
            if all_committed() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        last.stop().await?;
        prop_assert!(all_committed(), "not everything was committed in the end");

        let journal = journal.lock().unwrap().clone();
        let settled: BTreeSet<(i32, i64)> =
            journal.iter().filter(|e| e.3).map(|e| (e.1, e.2)).collect();
        let outputs: BTreeSet<String> = cluster
            .records(&TopicPartition::new(SINK, 0))
            .iter()
            .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
            .collect();
        let dead: BTreeSet<(i32, i64)> = cluster
            .records(&TopicPartition::new(DLQ, 0))
            .iter()
            .map(|r| {
                let header = |n: &str| String::from_utf8(r.header(n).unwrap().to_vec()).unwrap();
                (
                    header("x-original-partition").parse().unwrap(),
                    header("x-original-offset").parse().unwrap(),
                )
            })
            .collect();
        // Every committed offset covers only records settled by someone, with their effect.
        for (tp, offset) in cluster.commits(GROUP) {
            for o in 0..offset {
                let p = tp.partition;
                prop_assert!(
                    settled.contains(&(p, o)),
                    "{tp}@{o} committed but never settled"
                );
                match fate(case.fates[p as usize][o as usize]) {
                    Fate::Ok | Fate::Slow => prop_assert!(
                        outputs.contains(&format!("{p}:{o}")),
                        "{tp}@{o}: its output is missing"
                    ),
                    Fate::DeadLetter => {
                        prop_assert!(dead.contains(&(p, o)), "{tp}@{o}: not dead-lettered")
                    }
                    Fate::Skip | Fate::Panic => {}
                }
            }
        }
        // Each processor saw its partition's offsets in increasing order (a keyed runner's
        // processor, each key's: its keys run concurrently, each in order).
        let mut last_seen: BTreeMap<(u64, i32, &str), i64> = BTreeMap::new();
        for (id, p, o, _, key) in &journal {
            let key = if case.kind == Kind::Keyed {
                key.as_str()
            } else {
                ""
            };
            if let Some(&before) = last_seen.get(&(*id, *p, key)) {
                prop_assert!(
                    *o > before,
                    "processor {id} saw {p}@{o} after {p}@{before} ({key})"
                );
            }
            last_seen.insert((*id, *p, key), *o);
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, max_shrink_iters: 64, .. ProptestConfig::default() })]

    #[test]
    fn at_least_once_in_order_whatever_happens(case in case()) {
        check(&case)?;
    }
}
