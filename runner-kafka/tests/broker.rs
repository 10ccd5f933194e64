//! The runners against a real Apache Kafka broker: `cargo xtask ci kafka` starts one on
//! 127.0.0.1 and runs these with its address in `RUNNER_KAFKA_BROKERS` (by hand:
//! `RUNNER_KAFKA_BROKERS=$(cargo xtask broker start) cargo test -p runner-kafka --test broker`).
//! Not part of a plain `cargo test` (`test = false` in the manifest): without a broker they fail,
//! they are never skipped.
//!
//! Each test has topics and a group of its own, so they share the broker. Real time: every wait
//! is on a condition, bounded by count and time.

mod librdkafka;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use librdkafka::{WAIT, bounded};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use runner_core::{Runner, State, Status};
use runner_kafka::{
    Client, ClientError, ClientErrorKind, ErrorAction, ErrorContext, Event, KafkaClient,
    KafkaConfig, KafkaProducer, Message, OutRecord, PartitionedRunner, Producer, Record,
    SingleThreadedRunner, TopicPartition, X_ERROR_MESSAGE, X_ERROR_PHASE, X_ORIGINAL_OFFSET,
    X_ORIGINAL_PARTITION, X_ORIGINAL_TOPIC,
};
use tokio::time::{sleep, timeout};

/// The broker's bootstrap address.
fn brokers() -> String {
    std::env::var("RUNNER_KAFKA_BROKERS").unwrap_or_else(|_| {
        panic!(
            "RUNNER_KAFKA_BROKERS is not set: these tests need a real broker; run \
             `cargo xtask ci kafka`, or `RUNNER_KAFKA_BROKERS=$(cargo xtask broker start) \
             cargo test -p runner-kafka --test broker`"
        )
    })
}

/// `name` made unique to this run and test.
fn unique(name: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{name}-{}-{nanos}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Waits until `done` holds: checked every 100 ms, at most [`WAIT`].
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    for _ in 0..(WAIT.as_millis() / 100) {
        if done() {
            return;
        }
        sleep(Duration::from_millis(100)).await;
    }
    assert!(done(), "{what}: not after {:?}", started.elapsed());
}

/// Creates `topics`, each with `partitions` partitions, and waits until they exist.
async fn create_topics(topics: &[&str], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("an admin client");
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| NewTopic::new(topic, partitions, TopicReplication::Fixed(1)))
        .collect();
    let results = bounded(
        "create topics",
        admin.create_topics(&new, &AdminOptions::new().operation_timeout(Some(WAIT))),
    )
    .await
    .expect("create_topics");
    for result in results {
        result.unwrap_or_else(|(topic, error)| panic!("creating {topic}: {error}"));
    }
}

fn config(group: &str) -> KafkaConfig {
    librdkafka::config(&brokers(), group)
}

fn cooperative(group: &str) -> KafkaConfig {
    config(group).set_consumer("partition.assignment.strategy", "cooperative-sticky")
}

fn make(config: KafkaConfig) -> impl Fn() -> Result<KafkaClient, ClientError> + Send + Sync {
    move || {
        KafkaClient::new(&config)
            .map_err(|e| ClientError::new(ClientErrorKind::Config, e.to_string()))
    }
}

/// Produces records `range` to `topic`: key `k{n % keys}`, value `n`, all acknowledged.
async fn produce(topic: &str, range: std::ops::Range<u64>, keys: u64) {
    let producer = KafkaProducer::new(&config("unused")).unwrap();
    let acks: Vec<_> = range
        .map(|n| {
            producer.send(
                OutRecord::new(topic)
                    .with_key(format!("k{}", n % keys))
                    .with_value(n.to_string()),
            )
        })
        .collect();
    for ack in acks {
        bounded("produce", ack).await.expect("acknowledged");
    }
}

async fn read_all(topic: &str, count: usize) -> Vec<Record> {
    librdkafka::read_all(&brokers(), &unique("reader"), topic, count).await
}

/// What the processors did: (member, partition, offset, value).
#[derive(Clone, Default)]
struct Journal(Arc<Mutex<Vec<(&'static str, i32, i64, u64)>>>);

impl Journal {
    fn entries(&self) -> Vec<(&'static str, i32, i64, u64)> {
        self.0.lock().unwrap().clone()
    }

    fn values(&self) -> BTreeSet<u64> {
        self.entries().iter().map(|e| e.3).collect()
    }

    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    fn members(&self) -> BTreeSet<&'static str> {
        self.entries().iter().map(|e| e.0).collect()
    }
}

/// A processor factory for member `who`: journals each record, waits `pause`, and forwards
/// its value to `sink`.
fn forwarding(
    who: &'static str,
    journal: &Journal,
    sink: &str,
    pause: Duration,
) -> impl runner_kafka::ProcessorFactory<String, String> {
    let (journal, sink) = (journal.clone(), sink.to_owned());
    move |_: &TopicPartition| {
        let (journal, sink) = (journal.clone(), sink.clone());
        move |record: Message<String, String>| {
            let (journal, sink) = (journal.clone(), sink.clone());
            async move {
                let value: u64 = record.value.parse()?;
                if !pause.is_zero() {
                    sleep(pause).await;
                }
                journal
                    .0
                    .lock()
                    .unwrap()
                    .push((who, record.partition, record.offset, value));
                Ok::<_, std::num::ParseIntError>(vec![
                    OutRecord::new(sink)
                        .with_key(record.key)
                        .with_value(value.to_string()),
                ])
            }
        }
    }
}

fn partitioned(
    config: KafkaConfig,
    topic: &str,
    factory: impl runner_kafka::ProcessorFactory<String, String>,
) -> PartitionedRunner {
    PartitionedRunner::builder(make(config), [topic.to_owned()], factory)
        .commit_interval(Duration::from_millis(200))
        .build()
        .unwrap()
}

/// The sum of the committed offsets of `runners`' partitions.
fn committed(runners: &[&PartitionedRunner]) -> i64 {
    runners
        .iter()
        .flat_map(|r| r.metrics().partitions)
        .map(|p| p.committed.unwrap_or(0))
        .sum()
}

/// The sum of the offsets `group` committed for `topic`'s `partitions` partitions, as the
/// broker has them.
fn group_committed(group: &str, topic: &str, partitions: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Offset, TopicPartitionList};
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .create()
        .expect("a consumer");
    let mut wanted = TopicPartitionList::new();
    for partition in 0..partitions {
        wanted.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(wanted, WAIT)
        .expect("the committed offsets");
    // Plain data at once: a list obtained from the consumer must not outlive it (kafka-notes).
    let sum = committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(offset) => offset,
            _ => 0,
        })
        .sum();
    drop(committed);
    sum
}

/// The values of the records on `sink`.
async fn sink_values(sink: &str, count: usize) -> BTreeMap<u64, usize> {
    let mut seen = BTreeMap::new();
    for record in read_all(sink, count).await {
        let value = String::from_utf8(record.value.unwrap()).unwrap();
        *seen.entry(value.parse::<u64>().unwrap()).or_insert(0) += 1;
    }
    seen
}

/// Three members share a 12-partition topic, joining one by one and leaving one by one: every
/// record is processed and forwarded, each member got a share while all three ran, and every
/// rebalance committed before it let go.
async fn three_members(config: fn(&str) -> KafkaConfig) {
    let (topic, sink, group) = (unique("orders"), unique("totals"), unique("group"));
    create_topics(&[&topic, &sink], 12).await;
    produce(&topic, 0..600, 50).await;
    let journal = Journal::default();
    let runners: Vec<PartitionedRunner> = ["a", "b", "c"]
        .into_iter()
        .map(|who| {
            partitioned(
                config(&group),
                &topic,
                forwarding(who, &journal, &sink, Duration::from_millis(2)),
            )
        })
        .collect();
    for runner in &runners {
        bounded("start", runner.start()).await.unwrap();
    }
    let all = runners.iter().collect::<Vec<_>>();
    eventually("three members hold 4 partitions each", || {
        runners.iter().all(|r| r.metrics().partitions.len() == 4)
    })
    .await;
    produce(&topic, 600..1200, 50).await;
    eventually("the first 1200 done and committed", || {
        journal.values().len() == 1200 && committed(&all) == 1200
    })
    .await;
    assert_eq!(journal.members(), BTreeSet::from(["a", "b", "c"]));

    // Members leave one by one while records keep coming: the others take over.
    bounded("stop a", runners[0].stop()).await.unwrap();
    produce(&topic, 1200..1500, 50).await;
    bounded("stop b", runners[1].stop()).await.unwrap();
    produce(&topic, 1500..1800, 50).await;
    eventually("c took everything", || {
        runners[2].metrics().partitions.len() == 12
    })
    .await;
    eventually("all 1800 done", || journal.values().len() == 1800).await;
    bounded("stop c", runners[2].stop()).await.unwrap();
    for runner in &runners {
        assert_eq!(runner.state(), State::Stopped);
        assert!(runner.metrics().rebalances >= 2, "{:?}", runner.metrics());
    }
    // Nothing lost, and what was forwarded is what was processed.
    let forwarded = sink_values(&sink, journal.count()).await;
    assert_eq!(
        forwarded.keys().copied().collect::<BTreeSet<_>>(),
        journal.values()
    );
    assert_eq!(forwarded.values().sum::<usize>(), journal.count());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_twelve_partitions_eager() {
    three_members(config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_share_twelve_partitions_cooperative_sticky() {
    three_members(cooperative).await;
}

/// A runner commits on stop; a new one of the group resumes after what was committed: the
/// first records are not processed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_and_resumes_after_a_restart() {
    let (topic, sink, group) = (unique("events"), unique("out"), unique("group"));
    create_topics(&[&topic, &sink], 3).await;
    produce(&topic, 0..90, 9).await;
    let journal = Journal::default();
    let first = SingleThreadedRunner::builder(
        make(config(&group)),
        [topic.clone()],
        forwarding("first", &journal, &sink, Duration::ZERO),
    )
    .commit_interval(Duration::from_secs(3600)) // only the stop commits
    .build()
    .unwrap();
    bounded("start", first.start()).await.unwrap();
    eventually("90 done", || journal.count() == 90).await;
    bounded("stop", first.stop()).await.unwrap();
    assert_eq!(first.metrics().commits, 1, "{:?}", first.metrics());

    produce(&topic, 90..120, 9).await;
    let second = SingleThreadedRunner::builder(
        make(config(&group)),
        [topic.clone()],
        forwarding("second", &journal, &sink, Duration::ZERO),
    )
    .build()
    .unwrap();
    bounded("start again", second.start()).await.unwrap();
    eventually("the 30 new ones done", || journal.count() == 120).await;
    bounded("stop again", second.stop()).await.unwrap();
    let again: BTreeSet<u64> = journal
        .entries()
        .iter()
        .filter(|e| e.0 == "second")
        .map(|e| e.3)
        .collect();
    assert_eq!(again, (90..120).collect(), "only the new records, once");
}

/// Outputs and dead letters are on the broker before the source's offset is committed; dead
/// letters carry the headers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_and_dead_letters_are_on_the_broker_before_the_commit() {
    let (topic, sink, dlq, group) = (
        unique("orders"),
        unique("totals"),
        unique("orders.dlq"),
        unique("group"),
    );
    create_topics(&[&topic, &sink, &dlq], 2).await;
    let producer = KafkaProducer::new(&config("unused")).unwrap();
    let acks: Vec<_> = (0..40)
        .map(|n| {
            // Every tenth is not a number: failed by the processor, dead-lettered.
            let value = if n % 10 == 3 {
                format!("bad-{n}")
            } else {
                n.to_string()
            };
            producer.send(
                OutRecord::new(&*topic)
                    .with_key(format!("k{}", n % 4))
                    .with_value(value),
            )
        })
        .collect();
    for ack in acks {
        bounded("produce", ack).await.unwrap();
    }
    let journal = Journal::default();
    let runner = PartitionedRunner::builder(
        make(config(&group)),
        [topic.clone()],
        forwarding("a", &journal, &sink, Duration::ZERO),
    )
    .processing_error_handler({
        let dlq = dlq.clone();
        move |_: &ErrorContext<'_>| ErrorAction::SendToDlq {
            topic: dlq.clone().into(),
        }
    })
    .commit_interval(Duration::from_millis(200))
    .build()
    .unwrap();
    bounded("start", runner.start()).await.unwrap();
    eventually("all settled and committed", || {
        let m = runner.metrics();
        m.processed + m.dead_lettered == 40 && committed(&[&runner]) == 40
    })
    .await;
    // Committed: so the outputs are there already (read with a fresh group, nothing flushed).
    let totals = read_all(&sink, 36).await;
    let dead = read_all(&dlq, 4).await;
    bounded("stop", runner.stop()).await.unwrap();
    assert_eq!(totals.len(), 36);
    assert_eq!(dead.len(), 4);
    let header =
        |r: &Record, name: &str| String::from_utf8(r.header(name).unwrap().to_vec()).unwrap();
    let origins: BTreeSet<(String, String)> = dead
        .iter()
        .map(|r| {
            (
                header(r, X_ORIGINAL_PARTITION),
                header(r, X_ORIGINAL_OFFSET),
            )
        })
        .collect();
    assert_eq!(origins.len(), 4, "{origins:?}");
    for record in &dead {
        assert_eq!(header(record, X_ORIGINAL_TOPIC), topic);
        assert_eq!(header(record, X_ERROR_PHASE), "processing");
        assert!(header(record, X_ERROR_MESSAGE).contains("invalid digit"));
        assert!(record.value.as_deref().unwrap().starts_with(b"bad-"));
    }
}

/// A slow processor behind a small queue: partitions are paused at the consumer and resumed,
/// and nothing is lost or reordered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_pauses_and_resumes_partitions() {
    let (topic, sink, group) = (unique("burst"), unique("out"), unique("group"));
    create_topics(&[&topic, &sink], 2).await;
    produce(&topic, 0..400, 8).await;
    let journal = Journal::default();
    let runner = PartitionedRunner::builder(
        make(config(&group)),
        [topic.clone()],
        forwarding("a", &journal, &sink, Duration::from_millis(5)),
    )
    .channel_buffer_size(4)
    .max_held_bytes(0) // paused as soon as the queue is full
    .commit_interval(Duration::from_millis(200))
    .build()
    .unwrap();
    bounded("start", runner.start()).await.unwrap();
    eventually("400 done", || journal.count() == 400).await;
    eventually("committed", || committed(&[&runner]) == 400).await;
    let metrics = runner.metrics();
    bounded("stop", runner.stop()).await.unwrap();
    assert!(metrics.pauses > 0, "never paused: {metrics:?}");
    assert!(metrics.paused.is_empty(), "still paused: {metrics:?}");
    // In order within each partition.
    let mut last: BTreeMap<i32, i64> = BTreeMap::new();
    for (_, partition, offset, _) in journal.entries() {
        if let Some(before) = last.insert(partition, offset) {
            assert!(offset > before, "{partition}: {offset} after {before}");
        }
    }
}

/// A member stops while its records are being processed: the other takes its partitions over
/// from what it committed; every record is processed, and what was processed twice is only
/// what the leaving member had not committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_leaves_during_processing_loses_nothing() {
    let (topic, sink, group) = (unique("jobs"), unique("out"), unique("group"));
    create_topics(&[&topic, &sink], 4).await;
    let journal = Journal::default();
    let a = partitioned(
        config(&group),
        &topic,
        forwarding("a", &journal, &sink, Duration::from_millis(20)),
    );
    let b = partitioned(
        config(&group),
        &topic,
        forwarding("b", &journal, &sink, Duration::from_millis(20)),
    );
    bounded("start a", a.start()).await.unwrap();
    bounded("start b", b.start()).await.unwrap();
    // Both settled in the group before the records come: the join's revoke cancels nothing.
    eventually("two partitions each", || {
        a.metrics().partitions.len() == 2 && b.metrics().partitions.len() == 2
    })
    .await;
    produce(&topic, 0..200, 20).await;
    eventually("both are processing", || journal.members().len() == 2).await;
    let a_done_before = journal.entries().iter().filter(|e| e.0 == "a").count();
    bounded("stop a mid-stream", a.stop()).await.unwrap();
    assert!(a_done_before < 200, "a was still busy");
    eventually("b holds everything", || b.metrics().partitions.len() == 4).await;
    eventually("all 200 done", || journal.values().len() == 200).await;
    bounded("stop b", b.stop()).await.unwrap();
    assert_eq!(group_committed(&group, &topic, 4), 200);
    // a's stop committed what it settled: b redid none of it.
    let by_a: BTreeSet<u64> = journal
        .entries()
        .iter()
        .filter(|e| e.0 == "a")
        .map(|e| e.3)
        .collect();
    let by_b: BTreeSet<u64> = journal
        .entries()
        .iter()
        .filter(|e| e.0 == "b")
        .map(|e| e.3)
        .collect();
    assert_eq!(
        by_a.intersection(&by_b).count(),
        0,
        "a clean stop commits what it did: {:?}",
        a.metrics()
    );
    assert_eq!(by_a.len() + by_b.len(), 200);
}
