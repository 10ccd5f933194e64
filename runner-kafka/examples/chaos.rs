//! The chaos run: nothing is lost while consumer processes are killed, added and removed.
//!
//! Produces `--records N` keyed records carrying sequence numbers to a 12-partition topic, at a
//! steady rate, while `--members` consumer *processes* (this binary, `chaos member ...`) of one
//! group run a `PartitionedRunner` that writes each record's sequence number to a sink topic.
//! Meanwhile it performs `--actions` chaos actions, one every `--interval-ms`: SIGKILL a member
//! and start a new one, add a member, stop one (SIGTERM: a clean leave), and with `--faults`
//! (librdkafka's mock cluster only) take a broker down and up again and fail commits. The
//! members' queues are small and their processing slow enough for backpressure to pause
//! partitions. At the end it reads the whole sink and reports `lost` (sequence numbers never
//! written), `duplicates` (written more than once), the membership changes (each one a
//! rebalance of the group) and the bound on duplicates implied by the commit interval; it exits
//! 0 only if nothing was lost and (without `--faults`, whose failed commits void the bound) the
//! duplicates stay within the bound.
//!
//! By default on librdkafka's mock cluster in this process (the members connect to it over
//! 127.0.0.1); `--brokers host:port` for a real cluster (`cargo xtask chaos kafka` starts one).
//!
//! ```sh
//! cargo run --release -p runner-kafka --example chaos -- --records 200000 --actions 12
//! ```
//!
//! ci-args: --records 3000 --actions 4 --faults --interval-ms 2500

use std::collections::HashMap;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use runner_core::Runner;
use runner_kafka::{
    Client, ClientError, ClientErrorKind, Event, InjectedError, KafkaClient, KafkaConfig,
    KafkaProducer, Message, MockKafka, MockRequest, OutRecord, PartitionedRunner, Producer,
    TopicPartition,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const PARTITIONS: i32 = 12;
/// Each member's commit interval and queue per partition: the duplicate bound is made of them.
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
const CHANNEL_BUFFER: usize = 16;
const HELD_BYTES: usize = 2048;
/// The longest the run waits for the sink to hold every record after the last action.
const DRAIN_LIMIT: Duration = Duration::from_secs(300);

const USAGE: &str = "usage: chaos [--brokers HOST:PORT] [--records N] [--members M] [--actions A] [--interval-ms MS] [--faults]
       chaos member --brokers HOST:PORT --topic T --sink S --group G --name NAME";

/// The orchestrator's command line.
#[derive(Debug)]
struct Args {
    brokers: Option<String>,
    records: u64,
    members: usize,
    actions: u32,
    interval: Duration,
    faults: bool,
}

fn args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        brokers: None,
        records: 200_000,
        members: 3,
        actions: 12,
        interval: Duration::from_millis(3000),
        faults: false,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => args.brokers = Some(value()?),
            "--records" => {
                args.records = value()?.parse().map_err(|e| format!("--records: {e}"))?
            }
            "--members" => {
                args.members = value()?.parse().map_err(|e| format!("--members: {e}"))?
            }
            "--actions" => {
                args.actions = value()?.parse().map_err(|e| format!("--actions: {e}"))?
            }
            "--interval-ms" => {
                let ms: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--interval-ms: {e}"))?;
                args.interval = Duration::from_millis(ms);
            }
            "--faults" => args.faults = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if args.records == 0 || args.members < 2 || args.interval.is_zero() {
        return Err("--records and --interval-ms must be positive, --members at least 2".into());
    }
    if args.faults && args.brokers.is_some() {
        return Err("--faults injects them with the mock cluster: not with --brokers".into());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let mut argv = std::env::args().skip(1).peekable();
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if argv.peek().map(String::as_str) == Some("member") {
        argv.next();
        return match runtime.block_on(member(argv.collect())) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("chaos member: {error}");
                ExitCode::FAILURE
            }
        };
    }
    let args = match args(argv) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("chaos: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(orchestrate(args)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("chaos: {error}");
            ExitCode::FAILURE
        }
    }
}

// --- a member ----------------------------------------------------------------------------------

/// A consumer process: a `PartitionedRunner` writing each record's sequence number to the
/// sink, until SIGTERM (a clean stop) or SIGKILL.
async fn member(argv: Vec<String>) -> Result<(), BoxError> {
    let mut flags = HashMap::new();
    let mut it = argv.into_iter();
    while let (Some(flag), Some(value)) = (it.next(), it.next()) {
        flags.insert(flag, value);
    }
    let flag = |name: &str| {
        flags
            .get(name)
            .cloned()
            .ok_or_else(|| format!("member: {name} is required\n{USAGE}"))
    };
    let (brokers, topic, sink, group, name) = (
        flag("--brokers")?,
        flag("--topic")?,
        flag("--sink")?,
        flag("--group")?,
        flag("--name")?,
    );
    let config = consumer_config(&brokers, &group);
    let runner = PartitionedRunner::builder(
        move || {
            KafkaClient::new(&config)
                .map_err(|e| ClientError::new(ClientErrorKind::Config, e.to_string()))
        },
        [topic],
        move |_: &TopicPartition| {
            let sink = sink.clone();
            move |record: Message<String, String>| {
                let sink = sink.clone();
                async move {
                    // Slow enough for the queues to fill: backpressure pauses partitions.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    Ok::<_, std::convert::Infallible>(vec![
                        OutRecord::new(sink)
                            .with_key(record.key)
                            .with_value(record.value),
                    ])
                }
            }
        },
    )
    .name(name.clone())
    .commit_interval(COMMIT_INTERVAL)
    .channel_buffer_size(CHANNEL_BUFFER)
    // Little held beyond the queue: partitions are paused for backpressure often.
    .max_held_bytes(HELD_BYTES)
    .build()?;
    runner.start().await?;
    println!("member {name}: joined");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    terminate.recv().await;
    runner.stop().await?;
    let m = runner.metrics();
    println!(
        "member {name}: stopped cleanly: processed {}, commits {}, rebalances {}, pauses {}",
        m.processed, m.commits, m.rebalances, m.pauses
    );
    Ok(())
}

fn consumer_config(brokers: &str, group: &str) -> KafkaConfig {
    KafkaConfig::new(brokers)
        .group_id(group)
        // A killed member is noticed after the session timeout.
        .set_consumer("session.timeout.ms", "6000")
        .set_consumer("heartbeat.interval.ms", "500")
}

// --- the orchestrator ----------------------------------------------------------------------------

/// The members' processes.
struct Members {
    exe: std::path::PathBuf,
    argv: Vec<String>,
    running: Vec<(String, Child)>,
    started: u32,
}

impl Members {
    fn spawn(&mut self) -> Result<(), BoxError> {
        self.started += 1;
        let name = format!("m{}", self.started);
        let child = Command::new(&self.exe)
            .arg("member")
            .args(&self.argv)
            .args(["--name", &name])
            .stdin(Stdio::null())
            .spawn()?;
        self.running.push((name, child));
        Ok(())
    }

    /// SIGKILL the oldest member: no commit, no leave.
    fn kill(&mut self) -> Result<String, BoxError> {
        let (name, mut child) = self.running.remove(0);
        child.kill()?;
        child.wait()?;
        Ok(name)
    }

    /// SIGTERM the oldest member and wait for its clean stop (SIGKILL after a minute).
    fn stop_one(&mut self) -> Result<String, BoxError> {
        let (name, child) = self.running.remove(0);
        terminate(name.clone(), child)?;
        Ok(name)
    }

    fn stop_all(&mut self) -> Result<(), BoxError> {
        for (name, child) in self.running.drain(..) {
            terminate(name, child)?;
        }
        Ok(())
    }
}

/// A run that ends early (an error) leaves no member behind.
impl Drop for Members {
    fn drop(&mut self) {
        for (_, child) in &mut self.running {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn terminate(name: String, mut child: Child) -> Result<(), BoxError> {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    if !status.success() {
        return Err(format!("kill -TERM {name} failed").into());
    }
    let asked = Instant::now();
    while child.try_wait()?.is_none() {
        if asked.elapsed() > Duration::from_secs(60) {
            eprintln!("chaos: member {name} did not stop within 60 s: SIGKILL");
            child.kill()?;
            child.wait()?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// What the sink reader saw: how many times each sequence number was written.
#[derive(Default)]
struct Sink {
    seen: Mutex<HashMap<u64, u32>>,
    total: AtomicU64,
}

impl Sink {
    fn distinct(&self) -> u64 {
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len() as u64
    }
}

async fn orchestrate(args: Args) -> Result<bool, BoxError> {
    let suffix = std::process::id();
    let (topic, sink_topic, group) = (
        format!("chaos-{suffix}"),
        format!("chaos-sink-{suffix}"),
        format!("chaos-{suffix}"),
    );
    let mock = match &args.brokers {
        Some(_) => None,
        None => Some(MockKafka::new(3)?),
    };
    let brokers = match (&args.brokers, &mock) {
        (Some(brokers), _) => brokers.clone(),
        (None, Some(mock)) => mock.bootstrap_servers().to_owned(),
        (None, None) => return Err("neither brokers nor a mock cluster".into()),
    };
    match &mock {
        Some(mock) => {
            mock.create_topic(&topic, PARTITIONS)?;
            mock.create_topic(&sink_topic, PARTITIONS)?;
        }
        None => create_topics(&brokers, &[&topic, &sink_topic]).await?,
    }
    println!(
        "chaos: {} records to {topic} ({PARTITIONS} partitions) on {}; {} members, {} actions every {:?}{}",
        args.records,
        if mock.is_some() {
            "librdkafka's mock cluster"
        } else {
            &brokers
        },
        args.members,
        args.actions,
        args.interval,
        if args.faults {
            ", with broker faults"
        } else {
            ""
        },
    );

    // The sink reader: a group of its own, from the start.
    let sink = Arc::new(Sink::default());
    let reading = Arc::new(AtomicBool::new(true));
    let reader = tokio::spawn(read_sink(
        consumer_config(&brokers, &format!("{group}-reader")),
        sink_topic.clone(),
        Arc::clone(&sink),
        Arc::clone(&reading),
    ));

    let mut members = Members {
        exe: std::env::current_exe()?,
        argv: [
            "--brokers",
            &brokers,
            "--topic",
            &topic,
            "--sink",
            &sink_topic,
            "--group",
            &group,
        ]
        .map(str::to_owned)
        .to_vec(),
        running: Vec::new(),
        started: 0,
    };
    for _ in 0..args.members {
        members.spawn()?;
    }
    let mut changes = u32::try_from(args.members)?;
    let mut kills = 0_u32;

    // The producer: the records at a steady rate over the actions' span.
    let span = args.interval * (args.actions + 1);
    let producer = tokio::spawn(produce(
        KafkaProducer::new(&KafkaConfig::new(&brokers))?,
        topic.clone(),
        args.records,
        span,
    ));

    let started = Instant::now();
    let mut broker_down = false;
    for action in 0..args.actions {
        tokio::time::sleep(args.interval).await;
        let kinds = if args.faults { 5 } else { 3 };
        let what = match action % kinds {
            0 => {
                let name = members.kill()?;
                members.spawn()?;
                kills += 1;
                changes += 2;
                format!("SIGKILL {name}, started m{}", members.started)
            }
            1 if members.running.len() < 5 => {
                members.spawn()?;
                changes += 1;
                format!("added m{}", members.started)
            }
            1 | 2 if members.running.len() > 2 => {
                changes += 1;
                format!("stopped {} (SIGTERM)", members.stop_one()?)
            }
            1 | 2 => {
                members.spawn()?;
                changes += 1;
                format!("added m{}", members.started)
            }
            3 => {
                let mock = mock.as_ref().ok_or("faults need the mock cluster")?;
                if broker_down {
                    mock.broker_up(2)?;
                } else {
                    mock.broker_down(2)?;
                }
                broker_down = !broker_down;
                format!("broker 2 {}", if broker_down { "down" } else { "up" })
            }
            _ => {
                let mock = mock.as_ref().ok_or("faults need the mock cluster")?;
                mock.inject_errors(
                    MockRequest::OffsetCommit,
                    &[
                        InjectedError::RebalanceInProgress,
                        InjectedError::NotCoordinator,
                        InjectedError::IllegalGeneration,
                    ],
                )?;
                "three commits failed".to_owned()
            }
        };
        println!(
            "  {:>6.1}s  action {}: {what}; sink {} distinct of {}",
            started.elapsed().as_secs_f64(),
            action + 1,
            sink.distinct(),
            args.records
        );
    }
    if broker_down {
        if let Some(mock) = &mock {
            mock.broker_up(2)?;
        }
    }
    let produced = producer.await??;
    // Everything reaches the sink (within a bound), then the members stop cleanly.
    let drain_started = Instant::now();
    while sink.distinct() < produced && drain_started.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let elapsed = started.elapsed();
    members.stop_all()?;
    // The members' last outputs (sent before their stop commit) are read too.
    let written = sink_records(&brokers, &sink_topic)?;
    let read_started = Instant::now();
    while sink.total.load(Ordering::SeqCst) < written && read_started.elapsed() < DRAIN_LIMIT {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    reading.store(false, Ordering::SeqCst);
    reader.await??;

    let distinct = sink.distinct();
    let total = sink.total.load(Ordering::SeqCst);
    let lost = produced.saturating_sub(distinct);
    let duplicates = total - distinct;
    // A killed member redoes at most what it processed since its last commit (a commit
    // interval at the whole group's rate, a generous upper bound) plus its queues; every other
    // membership change cancels at most the queued and in-flight records of the partitions
    // that move.
    let rate = produced as f64 / elapsed.as_secs_f64().max(1.0);
    // What a partition may have processed and not yet settled when it is revoked (its
    // deliveries in flight), taken as a queue's worth.
    let queues = u64::try_from(PARTITIONS)? * CHANNEL_BUFFER as u64;
    let bound = u64::from(kills) * ((rate * COMMIT_INTERVAL.as_secs_f64()) as u64 + queues)
        + u64::from(changes) * queues;
    // Commits failed on purpose (and a coordinator down) void the bound: everything since the
    // last commit that went through is read again.
    let within = if args.faults {
        "not bounded: commits were failed on purpose".to_owned()
    } else {
        format!(
            "bound {bound}: {kills} kills x (commit interval {COMMIT_INTERVAL:?} x {rate:.0}/s + queues {queues}) + {changes} membership changes x queues"
        )
    };
    println!(
        "chaos: produced {produced}, sink {total} ({distinct} distinct), lost {lost}, duplicates {duplicates} ({within}), rebalances >= {changes}, in {:.1}s",
        elapsed.as_secs_f64()
    );
    Ok(lost == 0 && (args.faults || duplicates <= bound))
}

async fn create_topics(brokers: &str, topics: &[&str]) -> Result<(), BoxError> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|topic| NewTopic::new(topic, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await? {
        result.map_err(|(topic, error)| format!("creating {topic}: {error}"))?;
    }
    Ok(())
}

/// Produces `records` records (key `k{n % 1000}`, value `n`) evenly over `span`; returns how
/// many were acknowledged (all, or an error).
async fn produce(
    producer: KafkaProducer,
    topic: String,
    records: u64,
    span: Duration,
) -> Result<u64, BoxError> {
    let batches = (span.as_millis() / 20).max(1) as u64;
    let per_batch = records.div_ceil(batches);
    let mut acks = Vec::new();
    let mut next = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    while next < records {
        tick.tick().await;
        for n in next..(next + per_batch).min(records) {
            acks.push(
                producer.send(
                    OutRecord::new(topic.clone())
                        .with_key(format!("k{}", n % 1000))
                        .with_value(n.to_string()),
                ),
            );
        }
        next = (next + per_batch).min(records);
    }
    for ack in acks {
        ack.await?;
    }
    Ok(records)
}

/// Reads the sink from the start until told to stop, counting each sequence number.
async fn read_sink(
    config: KafkaConfig,
    topic: String,
    sink: Arc<Sink>,
    reading: Arc<AtomicBool>,
) -> Result<(), BoxError> {
    let mut client = KafkaClient::new(&config)?;
    client.subscribe(&[topic])?;
    while reading.load(Ordering::SeqCst) {
        let polled = tokio::time::timeout(Duration::from_millis(200), client.poll()).await;
        if let Ok(Ok(Event::Records(records))) = polled {
            let mut seen = sink
                .seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for record in records {
                let value = record.value.as_deref().unwrap_or_default();
                let n: u64 = std::str::from_utf8(value)?.parse()?;
                *seen.entry(n).or_default() += 1;
                sink.total.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    client.close(Duration::from_secs(10)).await?;
    Ok(())
}

/// How many records the sink holds: the sum of its partitions' high watermarks.
fn sink_records(brokers: &str, topic: &str) -> Result<u64, BoxError> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let mut total = 0;
    for partition in 0..PARTITIONS {
        let (low, high) = consumer.fetch_watermarks(topic, partition, Duration::from_secs(30))?;
        total += u64::try_from(high - low)?;
    }
    Ok(total)
}
