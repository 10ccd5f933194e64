//! Benchmark of runner-kafka's runners against a raw rdkafka consumer, on librdkafka's mock
//! cluster and on a real Apache Kafka, side by side in one run.
//!
//! Run it with `cargo xtask bench kafka`, which starts the real broker (`cargo xtask broker`)
//! and passes its address in `RUNNER_KAFKA_BROKERS`; run directly (`cargo bench -p
//! runner-bench --bench kafka`) without that variable, it measures the mock cluster only and
//! says so. Everything runs in one process on a multi-threaded tokio runtime with 2 worker
//! threads (the machine has 2 cores), except the memory scenario, whose every side runs in a
//! child process of its own (this binary, `--rss KIND ...`) so that its resident set is its own.
//! On the mock cluster the brokers are threads of this process too, sharing the cores.
//!
//! Every consumer is configured as a runner's `KafkaClient` is by `KafkaConfig::new(brokers)
//! .group_id(group)`: the runner defaults (no auto-commit, no offset store,
//! `auto.offset.reset=earliest`, `fetch.queue.backoff.ms=10`) and librdkafka's defaults
//! otherwise; the raw consumers are given the same configuration (`KafkaConfig::consumer_config`).
//! Each consumer has a group of its own and reads from the earliest offset. The topics are
//! fresh per cluster and filled before they are read (a backlog), except in the rebalance
//! scenario, where records stream in.
//!
//! Scenarios, each printed as rows of `ours`, `baseline`, `ratio` and `goal` in one table per
//! cluster:
//!
//! 1. **No-op processor throughput.** `BENCH_KAFKA_RECORDS` records (default 1,000,000) of
//!    `BENCH_KAFKA_RECORD_BYTES` (default 100) on `BENCH_KAFKA_PARTITIONS` (default 6)
//!    partitions, read by the `SingleThreadedRunner`, the `PartitionedRunner` and the
//!    `KeyedRunner` (default options) with a processor that only counts, and by a raw
//!    `BaseConsumer` poll loop that only counts: records per second from the first record
//!    consumed to the last. `BENCH_KAFKA_REPS` repetitions of each (default 3, the order
//!    rotating), the median counts. Goal: each runner at least 0.95× the raw loop.
//! 2. **CPU-bound processor** (a calibrated busy loop of 20 µs per record, the same work on
//!    every side), `BENCH_KAFKA_CPU_RECORDS` records (default 200,000): the `PartitionedRunner`
//!    against the `SingleThreadedRunner` on the 6-partition topic, goal at least 1.8× on 2
//!    cores; the `KeyedRunner` on a 1-partition topic with 1,000 keys against the
//!    `PartitionedRunner` on that topic, goal at least 1.8×. The keyed processor runs the loop
//!    in `tokio::task::spawn_blocking`, as runner-kafka's README asks of a processor "that
//!    computes for long" (a partition's concurrent records are processed on its worker's task,
//!    so an inline loop would run them one after the other); a context row shows the keyed
//!    runner with the loop inline. The partitioned and single-threaded processors run it
//!    inline (one record at a time per partition: nothing to gain from another thread).
//! 3. **Memory under a slow processor** (1 ms `tokio::time::sleep` per record; the raw loop
//!    sleeps 1 ms per record on its thread and keeps nothing) facing the whole backlog of
//!    scenario 1: the peak resident set (`VmHWM` in `/proc/self/status`) above the resident
//!    set before the consumer was created, over `BENCH_KAFKA_RSS_SECONDS` (default 10) from the
//!    consumer's creation, in a child process per side. Goal: at most 64 MiB above idle.
//! 4. **Commits and rebalances.** Records stream in (2,000 per second) on a 6-partition topic
//!    read by a `PartitionedRunner` with a 500 ms commit interval; `BENCH_KAFKA_REBALANCES`
//!    times (default 3) a second member of its group starts (and later stops). Printed: each
//!    commit's latency (the runner's `last_commit_latency`, sampled every millisecond, on both
//!    members; median, p99, and the runners' `max_commit_latency`), the time from the second
//!    member's `start` to the first member's revoke, and from that revoke to both members
//!    processing again (the first one after its new assignment). Classic eager protocol
//!    (librdkafka's default), `session.timeout.ms=6000`, `heartbeat.interval.ms=500`. No goal.
//!
//! librdkafka's mock cluster keeps at most 5 MiB per partition (it deletes the oldest
//! silently): there the backlogs are cut to what a partition holds ([`MOCK_PARTITION_BYTES`]),
//! and the table says how many records each scenario read. Every backlog is checked after it
//! was produced: each partition's low watermark 0, the high watermarks adding up.
//!
//! The goals are printed, not enforced: a missed goal still exits 0; a panic or an error exits
//! non-zero.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer as _};
use runner_bench::{median, peak_resident_bytes, ratio, resident_bytes};
use runner_core::Runner;
use runner_kafka::{
    BoxError, ClientError, ClientErrorKind, KafkaClient, KafkaConfig, KeyedRunner, Message,
    MetricsSnapshot, MockKafka, OutRecord, PartitionedRunner, Processor, SingleThreadedRunner,
    TopicPartition,
};
use tokio::runtime::Runtime;

/// The result of most things here (an error `Send`, for the tasks).
type Res<T> = Result<T, BoxError>;

/// Records of the throughput and memory backlog when `BENCH_KAFKA_RECORDS` is not set.
const DEFAULT_RECORDS: u64 = 1_000_000;
/// Bytes of each record's value when `BENCH_KAFKA_RECORD_BYTES` is not set.
const DEFAULT_RECORD_BYTES: u64 = 100;
/// Partitions of the backlog topics when `BENCH_KAFKA_PARTITIONS` is not set.
const DEFAULT_PARTITIONS: u64 = 6;
/// Records of the CPU-bound scenario when `BENCH_KAFKA_CPU_RECORDS` is not set.
const DEFAULT_CPU_RECORDS: u64 = 200_000;
/// Repetitions of each throughput measurement when `BENCH_KAFKA_REPS` is not set.
const DEFAULT_REPS: u64 = 3;
/// Seconds of each memory measurement when `BENCH_KAFKA_RSS_SECONDS` is not set.
const DEFAULT_RSS_SECONDS: u64 = 10;
/// Second members joining in the rebalance scenario when `BENCH_KAFKA_REBALANCES` is not set.
const DEFAULT_REBALANCES: u64 = 3;
/// Distinct keys of every topic's records (`k0` .. `k999`).
const KEYS: u64 = 1_000;
/// The CPU-bound processor's work per record.
const SPIN: Duration = Duration::from_micros(20);
/// The slow processor's sleep per record.
const SLOW: Duration = Duration::from_millis(1);
/// Worker threads of the runtime.
const WORKER_THREADS: usize = 2;
/// What librdkafka's mock cluster is trusted to keep of a partition: it keeps at most 5 MiB
/// (then deletes the oldest), minus room for the batches' own headers.
const MOCK_PARTITION_BYTES: u64 = 4_500_000;
/// Bytes of a record in a batch beyond its key and value (lengths, deltas, attributes).
const RECORD_OVERHEAD: u64 = 16;
/// The longest a consumer may take to get its first record (a group join on the mock cluster
/// takes about 3 s).
const FIRST_RECORD_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one throughput run may read, from its first record, when `BENCH_KAFKA_RUN_SECONDS`
/// is not set: a run cut there is measured on what it read (and says so), which keeps the
/// whole bench within minutes however slow a runner is.
const DEFAULT_RUN_SECONDS: u64 = 15;
/// The longest a runner's stop or a raw consumer's close is awaited.
const CLOSE_BUDGET: Duration = Duration::from_secs(20);
/// Records per second streamed in during the rebalance scenario.
const STREAM_RATE: u64 = 2_000;
/// The rebalance scenario's commit interval.
const REBALANCE_COMMIT_INTERVAL: Duration = Duration::from_millis(500);
/// The longest one rebalance may take before the scenario gives up.
const REBALANCE_TIMEOUT: Duration = Duration::from_secs(120);
/// Goal: a runner's no-op throughput / the raw consumer's, at least.
const THROUGHPUT_GOAL: f64 = 0.95;
/// Goal: the speed-up of parallel processing on 2 cores, at least.
const SPEEDUP_GOAL: f64 = 1.8;
/// Goal: the peak resident set above idle under a slow processor, at most.
const RSS_GOAL: u64 = 64 * 1024 * 1024;

fn main() -> Res<()> {
    // `cargo bench` passes `--bench`; our own arguments are those of a memory child.
    let args = std::env::args().skip(1).collect::<Vec<_>>();
    if let Some(at) = args.iter().position(|arg| arg == "--rss") {
        return rss_child(&args[at + 1..]);
    }

    let sizes = Sizes::from_env()?;
    let runtime = runtime()?;
    let spin = calibrate(SPIN);
    let real = std::env::var("RUNNER_KAFKA_BROKERS")
        .ok()
        .filter(|brokers| !brokers.trim().is_empty());
    if real.is_none() {
        println!(
            "kafka bench: RUNNER_KAFKA_BROKERS is not set: measuring librdkafka's mock cluster \
             only (`cargo xtask bench kafka` starts a real broker and measures both)"
        );
    }
    let mut clusters = vec![Cluster::Mock(Arc::new(MockKafka::new(1)?))];
    if let Some(brokers) = real {
        clusters.push(Cluster::Real(brokers));
    }
    for cluster in &clusters {
        let started = Instant::now();
        // On a worker, like the runners' own tasks.
        let measuring = runtime.spawn({
            let cluster = cluster.clone();
            async move {
                measure(&cluster, sizes, spin)
                    .await
                    .map_err(|error| error.to_string())
            }
        });
        let table = runtime.block_on(measuring)??;
        table.print(&cluster.describe(), sizes, spin, started.elapsed());
    }
    Ok(())
}

/// The runtime everything runs on: 2 workers, time and I/O drivers.
fn runtime() -> Res<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()?)
}

// ---------------------------------------------------------------------------------------------
// sizes and clusters

/// The sizes of the run, from the environment.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    records: u64,
    record_bytes: u64,
    partitions: u64,
    cpu_records: u64,
    reps: u64,
    rss_seconds: u64,
    rebalances: u64,
    /// See [`DEFAULT_RUN_SECONDS`].
    run_budget: Duration,
    /// Which scenarios run (`BENCH_KAFKA_SCENARIOS`, digits; default all: `1234`).
    scenarios: [bool; 4],
    /// The partitioned and keyed runners' `channel_buffer_size` (`BENCH_KAFKA_CHANNEL_BUFFER`;
    /// default the runners' own), to compare configurations.
    channel_buffer: Option<usize>,
}

impl Sizes {
    fn from_env() -> Res<Self> {
        Ok(Sizes {
            records: env_number("BENCH_KAFKA_RECORDS", DEFAULT_RECORDS, 1)?,
            record_bytes: env_number("BENCH_KAFKA_RECORD_BYTES", DEFAULT_RECORD_BYTES, 8)?,
            partitions: env_number("BENCH_KAFKA_PARTITIONS", DEFAULT_PARTITIONS, 1)?,
            cpu_records: env_number("BENCH_KAFKA_CPU_RECORDS", DEFAULT_CPU_RECORDS, 1)?,
            reps: env_number("BENCH_KAFKA_REPS", DEFAULT_REPS, 1)?,
            rss_seconds: env_number("BENCH_KAFKA_RSS_SECONDS", DEFAULT_RSS_SECONDS, 1)?,
            rebalances: env_number("BENCH_KAFKA_REBALANCES", DEFAULT_REBALANCES, 1)?,
            run_budget: Duration::from_secs(env_number(
                "BENCH_KAFKA_RUN_SECONDS",
                DEFAULT_RUN_SECONDS,
                1,
            )?),
            scenarios: {
                let text = std::env::var("BENCH_KAFKA_SCENARIOS").unwrap_or_else(|_| "1234".into());
                if text.is_empty() || !text.chars().all(|c| ('1'..='4').contains(&c)) {
                    return Err(format!("BENCH_KAFKA_SCENARIOS={text:?}: digits 1 to 4").into());
                }
                ['1', '2', '3', '4'].map(|digit| text.contains(digit))
            },
            channel_buffer: match std::env::var("BENCH_KAFKA_CHANNEL_BUFFER") {
                Ok(_) => Some(usize::try_from(env_number(
                    "BENCH_KAFKA_CHANNEL_BUFFER",
                    0,
                    1,
                )?)?),
                Err(_) => None,
            },
        })
    }

    /// The records a partition of `cluster` can hold: unlimited on a real broker.
    fn per_partition_cap(self, cluster: &Cluster) -> u64 {
        match cluster {
            Cluster::Real(_) => u64::MAX,
            Cluster::Mock(_) => {
                MOCK_PARTITION_BYTES
                    / (self.record_bytes + key(KEYS - 1).len() as u64 + RECORD_OVERHEAD)
            }
        }
    }
}

/// The number in the environment variable `name`, at least `min`; `default` if it is not set.
fn env_number(name: &str, default: u64, min: u64) -> Res<u64> {
    let Ok(text) = std::env::var(name) else {
        return Ok(default);
    };
    let value = text
        .trim()
        .replace('_', "")
        .parse::<u64>()
        .map_err(|err| format!("{name}={text:?}: {err}"))?;
    if value < min {
        return Err(format!("{name}={value}: use at least {min}").into());
    }
    Ok(value)
}

/// Where the records are.
#[derive(Clone)]
enum Cluster {
    /// librdkafka's mock cluster, in this process.
    Mock(Arc<MockKafka>),
    /// A real cluster at this bootstrap address.
    Real(String),
}

impl Cluster {
    fn bootstrap(&self) -> &str {
        match self {
            Cluster::Mock(mock) => mock.bootstrap_servers(),
            Cluster::Real(brokers) => brokers,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Cluster::Mock(_) => "mock",
            Cluster::Real(_) => "real",
        }
    }

    fn describe(&self) -> String {
        match self {
            Cluster::Mock(_) => "librdkafka's mock cluster (1 broker, in this process)".to_owned(),
            Cluster::Real(brokers) => format!("Apache Kafka at {brokers}"),
        }
    }

    /// Creates topic `name` (replication factor 1).
    async fn create_topic(&self, name: &str, partitions: u64) -> Res<()> {
        let partitions = i32::try_from(partitions)?;
        match self {
            Cluster::Mock(mock) => Ok(mock.create_topic(name, partitions)?),
            Cluster::Real(brokers) => {
                let admin = admin(brokers)?;
                let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
                for result in admin.create_topics([&topic], &AdminOptions::new()).await? {
                    result.map_err(|(topic, error)| format!("creating {topic}: {error}"))?;
                }
                Ok(())
            }
        }
    }

    /// Deletes the topics (a real broker may outlive the run); best effort.
    async fn delete_topics(&self, names: &[&str]) {
        if let Cluster::Real(brokers) = self {
            if let Ok(admin) = admin(brokers) {
                let _ = admin.delete_topics(names, &AdminOptions::new()).await;
            }
        }
    }
}

fn admin(brokers: &str) -> Res<AdminClient<DefaultClientContext>> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?)
}

// ---------------------------------------------------------------------------------------------
// the run on one cluster

/// A topic filled before it is read.
#[derive(Debug, Clone)]
struct Backlog {
    topic: String,
    partitions: u64,
    records: u64,
}

/// Every scenario on `cluster`; the rows of its table.
async fn measure(cluster: &Cluster, sizes: Sizes, spin: u64) -> Res<Table> {
    let run = format!("runner-bench-{}-{}", std::process::id(), cluster.name());
    let cap = sizes.per_partition_cap(cluster);
    let spread = cap.saturating_mul(sizes.partitions);
    let noop = Backlog {
        topic: format!("{run}-noop"),
        partitions: sizes.partitions,
        records: sizes.records.min(spread),
    };
    let cpu = Backlog {
        topic: format!("{run}-cpu"),
        partitions: sizes.partitions,
        records: sizes.cpu_records.min(spread),
    };
    let cpu_one = Backlog {
        topic: format!("{run}-cpu-one"),
        partitions: 1,
        records: sizes.cpu_records.min(cap),
    };
    let stream_topic = format!("{run}-stream");
    let mut table = Table::default();
    for backlog in [&noop, &cpu, &cpu_one] {
        cluster
            .create_topic(&backlog.topic, backlog.partitions)
            .await?;
        let (bootstrap, to_fill) = (cluster.bootstrap().to_owned(), backlog.clone());
        let took = tokio::task::spawn_blocking(move || {
            fill(&bootstrap, &to_fill, sizes.record_bytes).map_err(|e| e.to_string())
        })
        .await??;
        table.note(format!(
            "backlog {}: {} records x {} B on {} partitions, produced in {:.2} s",
            backlog.topic,
            backlog.records,
            sizes.record_bytes,
            backlog.partitions,
            took.as_secs_f64()
        ));
    }
    if noop.records < sizes.records || cpu_one.records < sizes.cpu_records {
        table.note(format!(
            "the mock cluster keeps at most 5 MiB per partition: backlogs cut to {} records per \
             partition (asked for {} and {})",
            cap, sizes.records, sizes.cpu_records
        ));
    }
    if let Some(size) = sizes.channel_buffer {
        table.note(format!(
            "channel_buffer_size of the partitioned and keyed runners: {size}"
        ));
    }
    let [noop_on, cpu_on, memory_on, rebalance_on] = sizes.scenarios;
    if noop_on {
        throughput(cluster, &noop, sizes, &mut table).await?;
    }
    if cpu_on {
        cpu_bound(cluster, &cpu, &cpu_one, spin, sizes, &mut table).await?;
    }
    if memory_on {
        memory(cluster, &noop, sizes, &mut table).await?;
    }
    if rebalance_on {
        cluster
            .create_topic(&stream_topic, sizes.partitions)
            .await?;
        rebalances(cluster, &stream_topic, sizes, &mut table).await?;
    }
    cluster
        .delete_topics(&[&noop.topic, &cpu.topic, &cpu_one.topic, &stream_topic])
        .await;
    Ok(table)
}

/// Record `n`'s key: `k0` .. `k999`.
fn key(n: u64) -> String {
    format!("k{}", n % KEYS)
}

/// A producer for the backlogs and the stream.
fn producer(bootstrap: &str) -> Res<BaseProducer> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "10")
        .set("queue.buffering.max.messages", "500000")
        .create()?)
}

/// Sends record `n` of a topic with `partitions` partitions (partition `n % partitions`),
/// waiting for room in the producer's queue.
fn send(
    producer: &BaseProducer,
    topic: &str,
    partitions: u64,
    n: u64,
    value: &mut [u8],
) -> Res<()> {
    let key = key(n);
    value[..8].copy_from_slice(&n.to_be_bytes());
    let partition = i32::try_from(n % partitions)?;
    let mut record = BaseRecord::to(topic)
        .partition(partition)
        .key(&key)
        .payload(&*value);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                producer.poll(Duration::from_millis(5));
            }
            Err((error, _)) => return Err(error.into()),
        }
    }
}

/// Produces `backlog`, then checks that every record is there: each partition's low watermark
/// 0 (the mock cluster deletes the oldest silently) and the high watermarks adding up.
fn fill(bootstrap: &str, backlog: &Backlog, record_bytes: u64) -> Res<Duration> {
    let producer = producer(bootstrap)?;
    let mut value = vec![b'v'; usize::try_from(record_bytes)?];
    let started = Instant::now();
    for n in 0..backlog.records {
        send(&producer, &backlog.topic, backlog.partitions, n, &mut value)?;
        if n % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(120))?;
    let took = started.elapsed();
    let mut total = 0;
    for partition in 0..i32::try_from(backlog.partitions)? {
        let (low, high) = producer.client().fetch_watermarks(
            &backlog.topic,
            partition,
            Duration::from_secs(10),
        )?;
        if low != 0 {
            return Err(format!(
                "{} partition {partition}: records deleted (low watermark {low})",
                backlog.topic
            )
            .into());
        }
        total += high;
    }
    if u64::try_from(total)? != backlog.records {
        return Err(format!(
            "{}: {total} records stored of {} produced",
            backlog.topic, backlog.records
        )
        .into());
    }
    Ok(took)
}

// ---------------------------------------------------------------------------------------------
// what a consumer does with each record, and how it is counted

/// Nanoseconds since the first call in this process.
fn now_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    // Never 0, which means "not yet" in a `Probe`.
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX) + 1
}

/// Counts the records a consumer processed, and when the first and the last were.
#[derive(Debug, Default)]
struct Probe {
    count: AtomicU64,
    first_ns: AtomicU64,
    last_ns: AtomicU64,
}

impl Probe {
    fn record(&self) {
        let now = now_ns();
        let _ = self
            .first_ns
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.last_ns.fetch_max(now, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Release);
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }

    fn first_ns(&self) -> u64 {
        self.first_ns.load(Ordering::Relaxed)
    }

    fn last_ns(&self) -> u64 {
        self.last_ns.load(Ordering::Relaxed)
    }

    /// Records per second from the first record to the last.
    fn rate(&self) -> u64 {
        let span = self.last_ns().saturating_sub(self.first_ns()).max(1);
        (self.count() as f64 * 1e9 / span as f64) as u64
    }

    /// Whether the run is over: `total` records processed, or `budget` spent since the first.
    fn done(&self, total: u64, budget: Duration) -> bool {
        let first = self.first_ns();
        self.count() >= total || (first != 0 && now_ns().saturating_sub(first) > nanos(budget))
    }

    /// Waits until the run is [`done`](Self::done).
    async fn wait_for(&self, total: u64, budget: Duration) -> Res<()> {
        let started = Instant::now();
        while !self.done(total, budget) {
            if self.first_ns() == 0 && started.elapsed() > FIRST_RECORD_TIMEOUT {
                return Err(format!("no record processed in {FIRST_RECORD_TIMEOUT:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        Ok(())
    }

    /// What the run measured, once done.
    fn measured(&self, of: u64) -> Rate {
        Rate {
            per_second: self.rate(),
            read: self.count().min(of),
            of,
        }
    }
}

/// A throughput run's result.
#[derive(Debug, Clone, Copy)]
struct Rate {
    /// Records per second from the first record to the last.
    per_second: u64,
    /// Records read: fewer than `of` when the run was cut at its budget.
    read: u64,
    of: u64,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// `*` for a run cut at its budget.
fn cut_mark(rate: &Rate) -> &'static str {
    if rate.read < rate.of { "*" } else { "" }
}

/// Burns the CPU for `iterations` rounds of a loop the compiler cannot remove.
fn spin(iterations: u64) {
    let mut x = 0_u64;
    for i in 0..iterations {
        x = black_box(x.wrapping_mul(31).wrapping_add(i));
    }
    black_box(x);
}

/// The iterations of [`spin`] that take `target` on this machine (the fastest of a few tries).
fn calibrate(target: Duration) -> u64 {
    const PROBE: u64 = 2_000_000;
    let fastest = (0..5)
        .map(|_| {
            let started = Instant::now();
            spin(PROBE);
            started.elapsed()
        })
        .min()
        .unwrap_or(Duration::from_millis(1));
    (PROBE as f64 * target.as_secs_f64() / fastest.as_secs_f64().max(1e-9)) as u64
}

/// The work per record.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// Nothing: count it.
    Nothing,
    /// [`spin`] this many iterations, inline.
    Spin(u64),
    /// [`spin`] this many iterations in `spawn_blocking` (what runner-kafka's README asks of a
    /// keyed processor that computes for long).
    SpinBlocking(u64),
    /// Sleep (`tokio::time::sleep`; the raw loop sleeps its thread).
    Sleep(Duration),
}

/// The processor of every runner here: does its [`Work`], then counts the record.
#[derive(Debug, Clone)]
struct Counting {
    probe: Arc<Probe>,
    work: Work,
}

impl Processor<(), ()> for Counting {
    async fn process(&mut self, _: Message<(), ()>) -> Result<Vec<OutRecord>, BoxError> {
        match self.work {
            Work::Nothing => {}
            Work::Spin(iterations) => spin(iterations),
            Work::SpinBlocking(iterations) => {
                tokio::task::spawn_blocking(move || spin(iterations)).await?;
            }
            Work::Sleep(duration) => tokio::time::sleep(duration).await,
        }
        self.probe.record();
        Ok(Vec::new())
    }
}

// ---------------------------------------------------------------------------------------------
// the consumers: the three runners and the raw loop

/// Which runner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Single,
    Partitioned,
    Keyed,
}

impl Kind {
    const ALL: [Kind; 3] = [Kind::Single, Kind::Partitioned, Kind::Keyed];

    fn name(self) -> &'static str {
        match self {
            Kind::Single => "SingleThreaded",
            Kind::Partitioned => "Partitioned",
            Kind::Keyed => "Keyed",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|kind| kind.name() == name)
    }
}

/// One of the three runners.
enum AnyRunner {
    Single(SingleThreadedRunner),
    Partitioned(PartitionedRunner),
    Keyed(KeyedRunner),
}

/// The runner options the scenarios change; the others keep their defaults.
#[derive(Debug, Clone, Copy)]
struct Options {
    commit_interval: Option<Duration>,
    channel_buffer: Option<usize>,
}

impl Options {
    fn of(sizes: Sizes) -> Self {
        Options {
            commit_interval: None,
            channel_buffer: sizes.channel_buffer,
        }
    }
}

impl AnyRunner {
    /// A runner of `kind` reading `topic` with `config`'s client, processing with `work`.
    fn build(
        kind: Kind,
        config: KafkaConfig,
        topic: &str,
        probe: &Arc<Probe>,
        work: Work,
        options: Options,
    ) -> Res<Self> {
        let make_client = move || {
            KafkaClient::new(&config)
                .map_err(|error| ClientError::new(ClientErrorKind::Config, error.to_string()))
        };
        let processor = Counting {
            probe: Arc::clone(probe),
            work,
        };
        let factory = move |_: &TopicPartition| processor.clone();
        let interval = options
            .commit_interval
            .unwrap_or(runner_kafka::DEFAULT_COMMIT_INTERVAL);
        let buffer = options
            .channel_buffer
            .unwrap_or(runner_kafka::DEFAULT_CHANNEL_BUFFER_SIZE);
        Ok(match kind {
            Kind::Single => AnyRunner::Single(
                SingleThreadedRunner::builder::<_, _, (), ()>(make_client, [topic], factory)
                    .commit_interval(interval)
                    .build()?,
            ),
            Kind::Partitioned => AnyRunner::Partitioned(
                PartitionedRunner::builder::<_, _, (), ()>(make_client, [topic], factory)
                    .commit_interval(interval)
                    .channel_buffer_size(buffer)
                    .build()?,
            ),
            Kind::Keyed => AnyRunner::Keyed(
                KeyedRunner::builder::<_, _, (), ()>(make_client, [topic], factory)
                    .commit_interval(interval)
                    .channel_buffer_size(buffer)
                    .build()?,
            ),
        })
    }

    async fn start(&self) -> Res<()> {
        match self {
            AnyRunner::Single(runner) => runner.start().await?,
            AnyRunner::Partitioned(runner) => runner.start().await?,
            AnyRunner::Keyed(runner) => runner.start().await?,
        }
        Ok(())
    }

    /// Stops it within [`CLOSE_BUDGET`]; a stop that fails or takes longer is reported, not
    /// fatal (the measurement is done).
    async fn stop(&self) {
        let stopped = tokio::time::timeout(CLOSE_BUDGET, async {
            match self {
                AnyRunner::Single(runner) => runner.stop().await,
                AnyRunner::Partitioned(runner) => runner.stop().await,
                AnyRunner::Keyed(runner) => runner.stop().await,
            }
        })
        .await;
        match stopped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("kafka bench: a runner's stop failed: {error}"),
            Err(_) => eprintln!("kafka bench: a runner did not stop within {CLOSE_BUDGET:?}"),
        }
    }

    fn metrics(&self) -> MetricsSnapshot {
        match self {
            AnyRunner::Single(runner) => runner.metrics(),
            AnyRunner::Partitioned(runner) => runner.metrics(),
            AnyRunner::Keyed(runner) => runner.metrics(),
        }
    }
}

/// The configuration of a runner's client in `group`.
fn runner_config(bootstrap: &str, group: &str) -> KafkaConfig {
    KafkaConfig::new(bootstrap).group_id(group)
}

/// The raw consumer's configuration: the one [`runner_config`] gives a runner's consumer.
fn raw_config(bootstrap: &str, group: &str) -> Res<ClientConfig> {
    Ok(runner_config(bootstrap, group).consumer_config()?)
}

/// A raw `BaseConsumer` poll loop in `group` reading `topic`: each record is dropped at once,
/// after its [`Work`] (done on this thread; not a sleep), and counted, until `done` says so or
/// `deadline`.
fn raw_consume(
    bootstrap: &str,
    group: &str,
    topic: &str,
    probe: &Probe,
    work: Work,
    done: &(dyn Fn(&Probe) -> bool + Sync),
    deadline: Instant,
) -> Res<()> {
    let consumer: BaseConsumer = raw_config(bootstrap, group)?.create()?;
    consumer.subscribe(&[topic])?;
    while !done(probe) && Instant::now() < deadline {
        // Skipped: nothing yet, or a transient error (a runner retries those too).
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(100)) {
            drop(message);
            match work {
                Work::Nothing => {}
                Work::Spin(iterations) | Work::SpinBlocking(iterations) => spin(iterations),
                // The memory scenario's raw side is `raw_slow`.
                Work::Sleep(_) => return Err("the raw poll loop does not sleep".into()),
            }
            probe.record();
        }
    }
    close_raw(consumer);
    Ok(())
}

/// Drops `consumer` on a thread of its own, waiting at most [`CLOSE_BUDGET`] (dropping an
/// rdkafka consumer can hang: kafka-notes §3.1).
fn close_raw(consumer: BaseConsumer) {
    let (closed, close) = mpsc::channel();
    std::thread::spawn(move || {
        drop(consumer);
        let _ = closed.send(());
    });
    if close.recv_timeout(CLOSE_BUDGET).is_err() {
        eprintln!("kafka bench: a raw consumer did not close within {CLOSE_BUDGET:?}; left behind");
    }
}

/// Reads `backlog` with a runner of `kind` (a group of its own) doing `work`; its records/s.
async fn runner_rate(
    kind: Kind,
    cluster: &Cluster,
    backlog: &Backlog,
    group: &str,
    work: Work,
    options: Options,
    budget: Duration,
) -> Res<Rate> {
    let probe = Arc::new(Probe::default());
    let config = runner_config(cluster.bootstrap(), group);
    let runner = AnyRunner::build(kind, config, &backlog.topic, &probe, work, options)?;
    runner.start().await?;
    let read = probe.wait_for(backlog.records, budget).await;
    // Measured before the stop, which drains what is queued.
    let rate = probe.measured(backlog.records);
    runner.stop().await;
    read?;
    Ok(rate)
}

/// Reads `backlog` with the raw loop (a group of its own) doing `work`; its records/s.
async fn raw_rate(
    cluster: &Cluster,
    backlog: &Backlog,
    group: &str,
    work: Work,
    budget: Duration,
) -> Res<Rate> {
    let probe = Arc::new(Probe::default());
    let (bootstrap, group, topic, total) = (
        cluster.bootstrap().to_owned(),
        group.to_owned(),
        backlog.topic.clone(),
        backlog.records,
    );
    let counted = Arc::clone(&probe);
    tokio::task::spawn_blocking(move || {
        raw_consume(
            &bootstrap,
            &group,
            &topic,
            &counted,
            work,
            &|probe| probe.done(total, budget),
            Instant::now() + FIRST_RECORD_TIMEOUT + budget,
        )
        .map_err(|error| error.to_string())
    })
    .await??;
    if probe.count() == 0 {
        return Err(format!("the raw consumer read nothing in {FIRST_RECORD_TIMEOUT:?}").into());
    }
    Ok(probe.measured(total))
}

// ---------------------------------------------------------------------------------------------
// scenario 1: no-op throughput

async fn throughput(
    cluster: &Cluster,
    backlog: &Backlog,
    sizes: Sizes,
    table: &mut Table,
) -> Res<()> {
    // Index 0: the raw loop; then the runners in `Kind::ALL` order.
    let sides: [Option<Kind>; 4] = [
        None,
        Some(Kind::Single),
        Some(Kind::Partitioned),
        Some(Kind::Keyed),
    ];
    let mut rates: [Vec<Rate>; 4] = Default::default();
    for rep in 0..sizes.reps {
        for turn in 0..sides.len() {
            // The order rotates with each repetition.
            let at = (turn + usize::try_from(rep)?) % sides.len();
            let name = sides[at].map_or("raw", Kind::name);
            let group = format!("{}-{name}-{rep}", backlog.topic);
            let rate = match sides[at] {
                None => raw_rate(cluster, backlog, &group, Work::Nothing, sizes.run_budget).await?,
                Some(kind) => {
                    runner_rate(
                        kind,
                        cluster,
                        backlog,
                        &group,
                        Work::Nothing,
                        Options::of(sizes),
                        sizes.run_budget,
                    )
                    .await?
                }
            };
            rates[at].push(rate);
        }
    }
    let each = |rates: &[Rate]| {
        rates
            .iter()
            .map(|rate| format!("{}k{}", rate.per_second / 1000, cut_mark(rate)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let median_of =
        |rates: &[Rate]| median(&mut rates.iter().map(|rate| rate.per_second).collect::<Vec<_>>());
    let raw = median_of(&rates[0]);
    for (at, kind) in Kind::ALL.into_iter().enumerate() {
        let ours = median_of(&rates[at + 1]);
        table.row(Row::ratio_at_least(
            format!("1 no-op: {} vs raw BaseConsumer", kind.name()),
            per_second(ours),
            per_second(raw),
            ratio(ours, raw),
            THROUGHPUT_GOAL,
        ));
    }
    table.note(format!(
        "1 no-op: {} records, median of {} (order rotating); each rec/s (* = cut at {} s from \
         its first record, measured on what it read): raw [{}], SingleThreaded [{}], \
         Partitioned [{}], Keyed [{}]",
        backlog.records,
        sizes.reps,
        sizes.run_budget.as_secs(),
        each(&rates[0]),
        each(&rates[1]),
        each(&rates[2]),
        each(&rates[3]),
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// scenario 2: CPU-bound processing

async fn cpu_bound(
    cluster: &Cluster,
    spread: &Backlog,
    one: &Backlog,
    spin: u64,
    sizes: Sizes,
    table: &mut Table,
) -> Res<()> {
    let group = |name: &str, backlog: &Backlog| format!("{}-{name}", backlog.topic);
    let single = runner_rate(
        Kind::Single,
        cluster,
        spread,
        &group("single", spread),
        Work::Spin(spin),
        Options::of(sizes),
        sizes.run_budget,
    )
    .await?;
    let partitioned = runner_rate(
        Kind::Partitioned,
        cluster,
        spread,
        &group("partitioned", spread),
        Work::Spin(spin),
        Options::of(sizes),
        sizes.run_budget,
    )
    .await?;
    table.row(Row::ratio_at_least(
        format!(
            "2 cpu {} µs/rec, {} partitions: Partitioned vs SingleThreaded",
            SPIN.as_micros(),
            spread.partitions
        ),
        per_second(partitioned.per_second),
        per_second(single.per_second),
        ratio(partitioned.per_second, single.per_second),
        SPEEDUP_GOAL,
    ));
    let one_partitioned = runner_rate(
        Kind::Partitioned,
        cluster,
        one,
        &group("partitioned", one),
        Work::Spin(spin),
        Options::of(sizes),
        sizes.run_budget,
    )
    .await?;
    let keyed = runner_rate(
        Kind::Keyed,
        cluster,
        one,
        &group("keyed", one),
        Work::SpinBlocking(spin),
        Options::of(sizes),
        sizes.run_budget,
    )
    .await?;
    let keyed_inline = runner_rate(
        Kind::Keyed,
        cluster,
        one,
        &group("keyed-inline", one),
        Work::Spin(spin),
        Options::of(sizes),
        sizes.run_budget,
    )
    .await?;
    table.row(Row::ratio_at_least(
        format!("2 cpu, 1 partition, {KEYS} keys: Keyed (spawn_blocking) vs Partitioned"),
        per_second(keyed.per_second),
        per_second(one_partitioned.per_second),
        ratio(keyed.per_second, one_partitioned.per_second),
        SPEEDUP_GOAL,
    ));
    table.row(Row::context(
        "2 cpu, 1 partition: Keyed (spin inline) vs Partitioned".to_owned(),
        per_second(keyed_inline.per_second),
        per_second(one_partitioned.per_second),
        Some(ratio(keyed_inline.per_second, one_partitioned.per_second)),
    ));
    table.note(format!(
        "2 cpu: {} records on {} partitions, {} on 1; one run each, cut at {} s from its first \
         record; read: SingleThreaded {}, Partitioned {}, on 1 partition Partitioned {}, Keyed {}, \
         Keyed inline {}; the loop is {spin} iterations (calibrated to {} µs); one thread's \
         ceiling is {}",
        spread.records,
        spread.partitions,
        one.records,
        sizes.run_budget.as_secs(),
        single.read,
        partitioned.read,
        one_partitioned.read,
        keyed.read,
        keyed_inline.read,
        SPIN.as_micros(),
        per_second((1e6 / SPIN.as_micros() as f64) as u64),
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// scenario 3: memory under a slow processor, one child process per side

/// What a memory child measured.
#[derive(Debug, Clone, Copy)]
struct Rss {
    idle: u64,
    peak: u64,
    end: u64,
    processed: u64,
}

impl Rss {
    fn above_idle(self) -> u64 {
        self.peak.saturating_sub(self.idle)
    }
}

async fn memory(cluster: &Cluster, backlog: &Backlog, sizes: Sizes, table: &mut Table) -> Res<()> {
    let mut measured = Vec::new();
    for side in [
        "raw",
        Kind::Single.name(),
        Kind::Partitioned.name(),
        Kind::Keyed.name(),
    ] {
        let args = vec![
            "--rss".to_owned(),
            side.to_owned(),
            cluster.bootstrap().to_owned(),
            backlog.topic.clone(),
            format!("{}-rss-{side}", backlog.topic),
            sizes.rss_seconds.to_string(),
        ];
        let rss = tokio::task::spawn_blocking(move || rss_parent(&args).map_err(|e| e.to_string()))
            .await??;
        measured.push((side, rss));
    }
    let raw = measured[0].1;
    for &(side, rss) in &measured[1..] {
        table.row(Row::at_most(
            format!(
                "3 peak RSS above idle, slow {} ms/rec: {side}",
                SLOW.as_millis()
            ),
            rss.above_idle(),
            raw.above_idle(),
            RSS_GOAL,
        ));
    }
    table.note(format!(
        "3 memory: {} s per side in a child process, facing {} records; idle / peak / end MiB and \
         records processed: {}",
        sizes.rss_seconds,
        backlog.records,
        measured
            .iter()
            .map(|(side, rss)| format!(
                "{side} {:.1} / {:.1} / {:.1}, {}",
                mib(rss.idle),
                mib(rss.peak),
                mib(rss.end),
                rss.processed
            ))
            .collect::<Vec<_>>()
            .join("; ")
    ));
    Ok(())
}

/// Runs this binary as a memory child with `args` and reads what it measured.
fn rss_parent(args: &[String]) -> Res<Rss> {
    let output = Command::new(std::env::current_exe()?)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("memory child {args:?} failed ({}): {stdout}", output.status).into());
    }
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("rss "))
        .ok_or_else(|| format!("memory child {args:?} printed no result: {stdout}"))?;
    let field = |name: &str| -> Res<u64> {
        Ok(line
            .split(' ')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            .ok_or_else(|| format!("no {name} in {line:?}"))?
            .parse()?)
    };
    Ok(Rss {
        idle: field("idle")?,
        peak: field("peak")?,
        end: field("end")?,
        processed: field("processed")?,
    })
}

/// A memory child: `--rss SIDE BOOTSTRAP TOPIC GROUP SECONDS`. Prints
/// `rss idle=B peak=B end=B processed=N`.
fn rss_child(args: &[String]) -> Res<()> {
    let [side, bootstrap, topic, group, seconds] = args else {
        return Err(format!("--rss needs SIDE BOOTSTRAP TOPIC GROUP SECONDS, not {args:?}").into());
    };
    let seconds = Duration::from_secs(seconds.parse()?);
    let runtime = runtime()?;
    let probe = Arc::new(Probe::default());
    // Idle: the process with its runtime, before any consumer exists.
    let idle = resident_bytes()?;
    let started = Instant::now();
    let peak_sampled = if side == "raw" {
        runtime.block_on(async {
            let (consumed, peak) = tokio::join!(
                raw_slow(bootstrap, group, topic, &probe, started + seconds),
                sample_rss(started + seconds)
            );
            consumed?;
            peak
        })?
    } else {
        let kind = Kind::from_name(side).ok_or_else(|| format!("no runner {side:?}"))?;
        runtime.block_on(async {
            let config = runner_config(bootstrap, group);
            let runner = AnyRunner::build(
                kind,
                config,
                topic,
                &probe,
                Work::Sleep(SLOW),
                Options::of(Sizes::from_env()?),
            )?;
            runner.start().await?;
            let peak = sample_rss(started + seconds).await?;
            runner.stop().await;
            Ok::<_, BoxError>(peak)
        })?
    };
    let peak = peak_resident_bytes()?.max(peak_sampled);
    // `end`: after the stop (runners) or the close (raw).
    let end = resident_bytes()?;
    println!(
        "rss idle={idle} peak={peak} end={end} processed={}",
        probe.count()
    );
    Ok(())
}

/// The largest resident set seen, sampled every 50 ms until `until`.
async fn sample_rss(until: Instant) -> Res<u64> {
    let mut peak = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    while Instant::now() < until {
        tick.tick().await;
        peak = peak.max(resident_bytes()?);
    }
    Ok(peak)
}

/// The raw side of the memory scenario: a `BaseConsumer` polled without blocking on the
/// runtime, each record dropped at once, then [`SLOW`] of `tokio::time::sleep` (as the runners'
/// slow processor), until `until`.
async fn raw_slow(
    bootstrap: &str,
    group: &str,
    topic: &str,
    probe: &Probe,
    until: Instant,
) -> Res<()> {
    let consumer: BaseConsumer = raw_config(bootstrap, group)?.create()?;
    consumer.subscribe(&[topic])?;
    while Instant::now() < until {
        // Nothing yet, or a transient error (a runner retries those too): wait a little.
        let got = matches!(consumer.poll(Duration::ZERO), Some(Ok(_)));
        tokio::time::sleep(SLOW).await;
        if got {
            probe.record();
        }
    }
    close_raw(consumer);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// scenario 4: commits and rebalances

/// A member of the rebalance scenario's group.
struct Member {
    runner: AnyRunner,
    probe: Arc<Probe>,
}

impl Member {
    fn new(cluster: &Cluster, topic: &str, group: &str) -> Res<Self> {
        let config = runner_config(cluster.bootstrap(), group)
            .set_consumer("session.timeout.ms", "6000")
            .set_consumer("heartbeat.interval.ms", "500");
        let probe = Arc::new(Probe::default());
        let runner = AnyRunner::build(
            Kind::Partitioned,
            config,
            topic,
            &probe,
            Work::Nothing,
            Options {
                commit_interval: Some(REBALANCE_COMMIT_INTERVAL),
                channel_buffer: None,
            },
        )?;
        Ok(Member { runner, probe })
    }
}

/// Each commit's latency, read from the members' metrics.
#[derive(Default)]
struct Commits {
    seen: std::collections::HashMap<&'static str, u64>,
    latencies: Vec<u64>,
    max: Duration,
}

impl Commits {
    fn sample(&mut self, member: &'static str, metrics: &MetricsSnapshot) {
        let seen = self.seen.entry(member).or_default();
        if metrics.commits > *seen {
            *seen = metrics.commits;
            self.latencies
                .push(u64::try_from(metrics.last_commit_latency.as_nanos()).unwrap_or(u64::MAX));
        }
        self.max = self.max.max(metrics.max_commit_latency);
    }
}

/// Streams [`STREAM_RATE`] records per second to `topic` until `stop`; how many it sent.
async fn stream(
    bootstrap: String,
    topic: String,
    partitions: u64,
    stop: Arc<AtomicBool>,
) -> Res<u64> {
    let producer = producer(&bootstrap)?;
    let mut value = vec![b'v'; 100];
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = STREAM_RATE / 100;
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        for _ in 0..per_tick {
            send(&producer, &topic, partitions, n, &mut value)?;
            n += 1;
        }
        producer.poll(Duration::ZERO);
    }
    tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(10)))
        .await?
        .map_err(|error| error.to_string())?;
    Ok(n)
}

async fn rebalances(cluster: &Cluster, topic: &str, sizes: Sizes, table: &mut Table) -> Res<()> {
    let stop_stream = Arc::new(AtomicBool::new(false));
    let streaming = tokio::spawn(stream(
        cluster.bootstrap().to_owned(),
        topic.to_owned(),
        sizes.partitions,
        Arc::clone(&stop_stream),
    ));
    let result = rebalance_cycles(cluster, topic, sizes).await;
    stop_stream.store(true, Ordering::Relaxed);
    let streamed = streaming.await??;
    let (commits, join_to_revoke, revoke_to_resumed) = result?;

    let (mut latencies, n) = (commits.latencies.clone(), commits.latencies.len());
    table.row(Row::context(
        format!(
            "4 commit latency p50 (n={n}, every {} ms)",
            REBALANCE_COMMIT_INTERVAL.as_millis()
        ),
        ms(percentile(&mut latencies, 50)),
        "-".to_owned(),
        None,
    ));
    table.row(Row::context(
        "4 commit latency p99".to_owned(),
        ms(percentile(&mut latencies, 99)),
        "-".to_owned(),
        None,
    ));
    table.row(Row::context(
        "4 commit latency max (max_commit_latency)".to_owned(),
        ms(u64::try_from(commits.max.as_nanos()).unwrap_or(u64::MAX)),
        "-".to_owned(),
        None,
    ));
    for (what, mut values) in [
        ("2nd member start -> 1st revoked", join_to_revoke),
        ("revoke -> both processing", revoke_to_resumed),
    ] {
        let n = values.len();
        table.row(Row::context(
            format!("4 rebalance p50 (n={n}): {what}"),
            ms(percentile(&mut values, 50)),
            "-".to_owned(),
            None,
        ));
        table.row(Row::context(
            format!("4 rebalance p99 (n={n}): {what}"),
            ms(percentile(&mut values, 99)),
            "-".to_owned(),
            None,
        ));
    }
    table.note(format!(
        "4 rebalances: PartitionedRunner members, classic eager protocol, session.timeout.ms=6000, \
         heartbeat.interval.ms=500; {streamed} records streamed at {STREAM_RATE}/s"
    ));
    Ok(())
}

type Cycles = (Commits, Vec<u64>, Vec<u64>);

/// The first member runs throughout; a second joins and leaves `sizes.rebalances` times.
async fn rebalance_cycles(cluster: &Cluster, topic: &str, sizes: Sizes) -> Res<Cycles> {
    let group = format!("{topic}-group");
    let first = Member::new(cluster, topic, &group)?;
    first.runner.start().await?;
    let result = cycles_with(cluster, topic, &group, &first, sizes).await;
    first.runner.stop().await;
    result
}

async fn cycles_with(
    cluster: &Cluster,
    topic: &str,
    group: &str,
    first: &Member,
    sizes: Sizes,
) -> Res<Cycles> {
    let mut commits = Commits::default();
    let (mut join_to_revoke, mut revoke_to_resumed) = (Vec::new(), Vec::new());
    let tick = Duration::from_millis(1);
    for cycle in 0..sizes.rebalances {
        // Settled: the first member owns every partition and processes.
        let since = now_ns();
        let started = Instant::now();
        loop {
            let metrics = first.runner.metrics();
            commits.sample("first", &metrics);
            if metrics.partitions.len() == usize::try_from(sizes.partitions)?
                && first.probe.last_ns() > since
            {
                break;
            }
            if started.elapsed() > REBALANCE_TIMEOUT {
                return Err(format!("rebalance {cycle}: the first member did not settle").into());
            }
            tokio::time::sleep(tick).await;
        }

        let before = first.runner.metrics().rebalances;
        let second = Arc::new(Member::new(cluster, topic, group)?);
        let joined = now_ns();
        let starting = tokio::spawn({
            let second = Arc::clone(&second);
            async move {
                second
                    .runner
                    .start()
                    .await
                    .map_err(|error| error.to_string())
            }
        });
        let (mut revoked, mut assigned, mut first_resumed, mut second_resumed) =
            (None, None, None, None);
        let started = Instant::now();
        loop {
            let metrics = first.runner.metrics();
            commits.sample("first", &metrics);
            commits.sample("second", &second.runner.metrics());
            let now = now_ns();
            if revoked.is_none() && metrics.rebalances > before {
                revoked = Some(now);
            }
            // Eager: a revoke of everything, then the new assignment.
            if assigned.is_none() && metrics.rebalances >= before + 2 {
                assigned = Some(now);
            }
            if let Some(assigned) = assigned {
                let last = first.probe.last_ns();
                if first_resumed.is_none() && last > assigned {
                    first_resumed = Some(last);
                }
            }
            if second_resumed.is_none() && second.probe.count() > 0 {
                second_resumed = Some(second.probe.first_ns());
            }
            if let (Some(revoked), Some(first_resumed), Some(second_resumed)) =
                (revoked, first_resumed, second_resumed)
            {
                join_to_revoke.push(revoked - joined);
                revoke_to_resumed.push(first_resumed.max(second_resumed).saturating_sub(revoked));
                break;
            }
            if started.elapsed() > REBALANCE_TIMEOUT {
                return Err(format!(
                    "rebalance {cycle}: not done in {REBALANCE_TIMEOUT:?} (revoked {}, first \
                     resumed {}, second resumed {})",
                    revoked.is_some(),
                    first_resumed.is_some(),
                    second_resumed.is_some()
                )
                .into());
            }
            tokio::time::sleep(tick).await;
        }
        starting.await??;

        // The second member leaves (another rebalance of the first; not timed).
        let stopping = tokio::spawn({
            let second = Arc::clone(&second);
            async move { second.runner.stop().await }
        });
        while !stopping.is_finished() {
            commits.sample("first", &first.runner.metrics());
            commits.sample("second", &second.runner.metrics());
            tokio::time::sleep(tick).await;
        }
        stopping.await?;
        commits.sample("second", &second.runner.metrics());
        // The next second member is a new runner: its commits count from 0.
        commits.seen.remove("second");
    }
    Ok((commits, join_to_revoke, revoke_to_resumed))
}

// ---------------------------------------------------------------------------------------------
// the table

/// The `p`th percentile (0..=100) of `values`, sorting them; 0 for none.
fn percentile(values: &mut [u64], p: usize) -> u64 {
    values.sort_unstable();
    let at = (values.len() * p / 100).min(values.len().saturating_sub(1));
    values.get(at).copied().unwrap_or(0)
}

fn per_second(rate: u64) -> String {
    if rate < 10_000 {
        format!("{:.2}k rec/s", rate as f64 / 1000.0)
    } else {
        format!("{}k rec/s", rate / 1000)
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

/// A row of the table.
struct Row {
    metric: String,
    ours: String,
    baseline: String,
    ratio: Option<f64>,
    goal: String,
    /// `None`: no goal.
    met: Option<bool>,
}

impl Row {
    /// Goal: ours / baseline at least `goal` (compared as printed, to two decimals).
    fn ratio_at_least(
        metric: String,
        ours: String,
        baseline: String,
        ratio: f64,
        goal: f64,
    ) -> Self {
        let ratio = (ratio * 100.0).round() / 100.0;
        Row {
            metric,
            ours,
            baseline,
            ratio: Some(ratio),
            goal: format!(">= {goal:.2}x"),
            met: Some(ratio >= goal),
        }
    }

    /// Goal: ours at most `limit` bytes.
    fn at_most(metric: String, ours: u64, baseline: u64, limit: u64) -> Self {
        Row {
            metric,
            ours: format!("{:.1} MiB", mib(ours)),
            baseline: format!("{:.1} MiB", mib(baseline)),
            ratio: Some(ratio(ours, baseline)),
            goal: format!("<= {:.0} MiB", mib(limit)),
            met: Some(ours <= limit),
        }
    }

    /// No goal.
    fn context(metric: String, ours: String, baseline: String, ratio: Option<f64>) -> Self {
        Row {
            metric,
            ours,
            baseline,
            ratio,
            goal: "-".to_owned(),
            met: None,
        }
    }
}

/// One cluster's rows and the notes printed below them.
#[derive(Default)]
struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Table {
    fn row(&mut self, row: Row) {
        self.rows.push(row);
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn print(&self, cluster: &str, sizes: Sizes, spin: u64, took: Duration) {
        println!();
        println!(
            "runner-kafka benchmark on {cluster}: runners vs a raw rdkafka BaseConsumer ({} \
             records x {} B on {} partitions asked for; took {:.0} s)",
            sizes.records,
            sizes.record_bytes,
            sizes.partitions,
            took.as_secs_f64()
        );
        println!("{}", environment(spin));
        println!(
            "{:<62} {:<14} {:<14} {:<7} {:<11} verdict",
            "metric", "ours", "baseline", "ratio", "goal"
        );
        let mut missed = Vec::new();
        for row in &self.rows {
            let verdict = match row.met {
                None => "-",
                Some(true) => "met",
                Some(false) => {
                    missed.push(row.metric.as_str());
                    "MISSED"
                }
            };
            let ratio = row
                .ratio
                .map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
            println!(
                "{:<62} {:<14} {:<14} {ratio:<7} {:<11} {verdict}",
                row.metric, row.ours, row.baseline, row.goal
            );
        }
        for note in &self.notes {
            println!("{note}");
        }
        if missed.is_empty() {
            println!("goals: all met");
        } else {
            println!(
                "goals: MISSED: {} (reported, not enforced)",
                missed.join(", ")
            );
        }
    }
}

/// The machine, as a line of the table's header.
fn environment(spin: u64) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    format!(
        "env: {cpus} CPUs ({model}); tokio multi-thread runtime, {WORKER_THREADS} workers; \
         librdkafka {librdkafka}; {} µs of work = {spin} spin iterations",
        SPIN.as_micros()
    )
}
