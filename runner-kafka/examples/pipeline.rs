//! The demo: a small order-totals service, under a supervisor.
//!
//! - `orders`: a ticker that produces synthetic orders (`id,amount`, keyed by customer);
//! - `totals`: a `PartitionedRunner` that reads them, keeps each customer's running total per
//!   partition, and sends it to a sink topic (an order counts as processed, and its offset may
//!   be committed, only once its total is acknowledged by the broker);
//! - `http`: a `StartStop` HTTP endpoint on 127.0.0.1 serving `/health` and `/metrics` as JSON.
//!
//! By default it runs on librdkafka's mock cluster, in this process: nothing to install (a
//! group's first join takes about 3 s there). `--brokers host:port` points it at a real
//! cluster (the topics get a fresh suffix each run). It prints a progress line every second and
//! ends on Ctrl-C, or once `--records N` orders were produced, processed and committed; then it
//! prints a summary and exits 0 only if no order was lost.
//!
//! ```sh
//! cargo run --release -p runner-kafka --example pipeline -- --records 100000
//! ```
//!
//! ci-args: --records 20000 --rate 10000

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use runner_core::{ErrorHistory, Runner, Status};
use runner_kafka::{
    Backoff, ClientError, ClientErrorKind, KafkaClient, KafkaConfig, KafkaProducer, LogAndFail,
    Message, MockKafka, OutRecord, PartitionedRunner, Producer, TopicPartition, WithMaxAttempts,
};
use runner_startstop::{ReadyWhen, RunContext, StartStop};
use runner_supervisor::{ServiceOptions, Supervisor};
use runner_ticker::{TickContext, Ticker};
use tokio::net::TcpListener;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The command line.
#[derive(Debug)]
struct Args {
    brokers: Option<String>,
    records: Option<u64>,
    partitions: i32,
    rate: u64,
}

const USAGE: &str = "usage: pipeline [--brokers HOST:PORT] [--records N] [--partitions P] [--rate ORDERS_PER_SECOND]";

fn args() -> Result<Args, String> {
    let mut args = Args {
        brokers: None,
        records: None,
        partitions: 6,
        rate: 5_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--brokers" => args.brokers = Some(value()?),
            "--records" => {
                args.records = Some(value()?.parse().map_err(|e| format!("--records: {e}"))?)
            }
            "--partitions" => {
                args.partitions = value()?.parse().map_err(|e| format!("--partitions: {e}"))?
            }
            "--rate" => args.rate = value()?.parse().map_err(|e| format!("--rate: {e}"))?,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if args.partitions < 1 || args.rate == 0 || args.records == Some(0) {
        return Err("--partitions, --rate and --records must be positive".into());
    }
    Ok(args)
}

/// What the services share with `main`, for the progress line and the summary.
#[derive(Default)]
struct Tally {
    produced: AtomicU64,
    /// Every order id the processors saw (an order may be processed twice: at-least-once).
    seen: Mutex<HashSet<u64>>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("pipeline: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("pipeline: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the service; `Ok(true)` if nothing was lost.
async fn run(args: Args) -> Result<bool, BoxError> {
    let suffix = std::process::id();
    let (orders, totals) = (format!("orders-{suffix}"), format!("order-totals-{suffix}"));
    let mock = match &args.brokers {
        Some(_) => None,
        None => {
            let mock = MockKafka::new(3)?;
            mock.create_topic(&orders, args.partitions)?;
            mock.create_topic(&totals, args.partitions)?;
            Some(mock)
        }
    };
    let servers = match (&args.brokers, &mock) {
        (Some(brokers), _) => brokers.clone(),
        (None, Some(mock)) => mock.bootstrap_servers().to_owned(),
        (None, None) => unreachable!("a mock cluster without brokers"),
    };
    println!(
        "cluster: {} ({servers}); topics {orders} -> {totals}, {} partitions",
        if mock.is_some() {
            "librdkafka's mock cluster, in this process"
        } else {
            "given"
        },
        args.partitions
    );
    let config = KafkaConfig::new(servers)
        .group_id(format!("order-totals-{suffix}"))
        .set_consumer("session.timeout.ms", "6000")
        .set_consumer("heartbeat.interval.ms", "500");
    let producer = KafkaProducer::new(&config)?;
    let tally = Arc::new(Tally::default());

    let totals_runner = Arc::new(aggregator(&config, &orders, &totals, &tally)?);
    let order_ticker = order_source(producer, &orders, &tally, args.rate, args.records)?;
    let (http, addr) = http_endpoint(Arc::clone(&totals_runner));
    let supervisor = Supervisor::builder()
        .name("pipeline")
        .service("totals", Arc::clone(&totals_runner), ServiceOptions::new())
        .service(
            "orders",
            order_ticker,
            ServiceOptions::new().after("totals"),
        )
        .service("http", http, ServiceOptions::new().requires("totals"))
        .build()?;

    let started = Instant::now();
    supervisor.start().await?;
    if let Some(addr) = *addr
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        println!(
            "ready in {:.1?}: http://{addr}/metrics, http://{addr}/health",
            started.elapsed()
        );
    }
    let outcome = watch(&args, &tally, &totals_runner).await;
    supervisor.stop().await?;

    let metrics = totals_runner.metrics();
    let produced = tally.produced.load(Ordering::SeqCst);
    let distinct = lock(&tally.seen).len() as u64;
    let committed: i64 = metrics.partitions.iter().filter_map(|p| p.committed).sum();
    let lost = produced.saturating_sub(distinct);
    println!(
        "summary: produced {produced}, consumed {}, processed {} ({distinct} distinct orders, {} processed twice), committed {committed}, errors {}, rebalances {}, pauses {}; lost {lost}",
        metrics.consumed,
        metrics.processed,
        metrics.processed.saturating_sub(distinct),
        totals_runner.error_count(),
        metrics.rebalances,
        metrics.pauses,
    );
    let all_committed = u64::try_from(committed).unwrap_or(0) >= produced;
    Ok(outcome.is_ok() && lost == 0 && all_committed && totals_runner.error_count() == 0)
}

/// The totals service: one processor per partition, a running total per customer.
fn aggregator(
    config: &KafkaConfig,
    orders: &str,
    totals: &str,
    tally: &Arc<Tally>,
) -> Result<PartitionedRunner, BoxError> {
    let config = config.clone();
    let (totals, tally) = (totals.to_owned(), Arc::clone(tally));
    Ok(PartitionedRunner::builder(
        move || {
            KafkaClient::new(&config)
                .map_err(|e| ClientError::new(ClientErrorKind::Config, e.to_string()))
        },
        [orders.to_owned()],
        move |_: &TopicPartition| {
            let (totals, tally) = (totals.clone(), Arc::clone(&tally));
            let mut sums: HashMap<String, u64> = HashMap::new();
            move |order: Message<String, String>| {
                let output = parse(&order.value).map(|(id, amount)| {
                    lock(&tally.seen).insert(id);
                    let sum = sums.entry(order.key.clone()).or_default();
                    *sum += amount;
                    OutRecord::new(totals.clone())
                        .with_key(order.key)
                        .with_value(sum.to_string())
                });
                async move { output.map(|o| vec![o]) }
            }
        },
    )
    .name("totals")
    .error_handler(WithMaxAttempts::new(
        3,
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(2), 2.0),
        LogAndFail,
    ))
    .commit_interval(Duration::from_secs(1))
    .build()?)
}

/// Parses an order's value, `id,amount`.
fn parse(value: &str) -> Result<(u64, u64), BoxError> {
    let (id, amount) = value.split_once(',').ok_or("an order is `id,amount`")?;
    Ok((id.parse()?, amount.parse()?))
}

/// The order source: a ticker producing `rate` orders a second, in batches every 10 ms, until
/// `limit` orders were produced.
fn order_source(
    producer: KafkaProducer,
    topic: &str,
    tally: &Arc<Tally>,
    rate: u64,
    limit: Option<u64>,
) -> Result<Ticker, BoxError> {
    let (topic, tally) = (topic.to_owned(), Arc::clone(tally));
    let per_tick = rate.div_ceil(100);
    Ok(
        Ticker::builder(Duration::from_millis(10), move |_: TickContext| {
            let (producer, topic, tally) = (producer.clone(), topic.clone(), Arc::clone(&tally));
            async move {
                let start = tally.produced.load(Ordering::SeqCst);
                let end = limit.map_or(start + per_tick, |limit| limit.min(start + per_tick));
                // Every send is queued at once; then each acknowledgement is awaited.
                let sends: Vec<_> = (start..end)
                    .map(|id| {
                        let customer = format!("customer-{}", id % 97);
                        let order = format!("{id},{}", 1 + id % 50);
                        producer.send(
                            OutRecord::new(topic.clone())
                                .with_key(customer)
                                .with_value(order),
                        )
                    })
                    .collect();
                for send in sends {
                    send.await?;
                }
                tally.produced.store(end, Ordering::SeqCst);
                Ok::<_, ClientError>(())
            }
        })
        .name("orders")
        .build()?,
    )
}

/// The HTTP endpoint: `/health` and `/metrics` of the totals runner, as JSON, on 127.0.0.1.
fn http_endpoint(runner: Arc<PartitionedRunner>) -> (StartStop, Arc<Mutex<Option<SocketAddr>>>) {
    let bound = Arc::new(Mutex::new(None));
    let service = StartStop::builder(
        {
            let bound = Arc::clone(&bound);
            move |run: RunContext| {
                let (runner, bound) = (Arc::clone(&runner), Arc::clone(&bound));
                async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await?;
                    *lock(&bound) = Some(listener.local_addr()?);
                    run.ready();
                    let health = {
                        let runner = Arc::clone(&runner);
                        move || {
                            let runner = Arc::clone(&runner);
                            async move {
                                format!(
                                    r#"{{"state":"{}","health":"{}"}}"#,
                                    runner.state(),
                                    runner.health()
                                )
                            }
                        }
                    };
                    let metrics = move || {
                        let runner = Arc::clone(&runner);
                        async move { metrics_json(&runner) }
                    };
                    let app = Router::new()
                        .route("/health", get(health))
                        .route("/metrics", get(metrics));
                    axum::serve(listener, app)
                        .with_graceful_shutdown(run.token().cancelled_owned())
                        .await
                }
            }
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name("http")
    .ready_when(ReadyWhen::Signalled)
    .build()
    .expect("valid settings");
    (service, bound)
}

fn metrics_json(runner: &PartitionedRunner) -> String {
    let m = runner.metrics();
    let partitions: Vec<String> = m
        .partitions
        .iter()
        .map(|p| {
            format!(
                r#"{{"partition":"{}","position":{},"committed":{},"in_flight":{}}}"#,
                p.partition,
                p.position.unwrap_or(0),
                p.committed.unwrap_or(0),
                p.in_flight
            )
        })
        .collect();
    format!(
        r#"{{"consumed":{},"processed":{},"dead_lettered":{},"failed":{},"commits":{},"rebalances":{},"paused":{},"partitions":[{}]}}"#,
        m.consumed,
        m.processed,
        m.dead_lettered,
        m.failed,
        m.commits,
        m.rebalances,
        m.paused.len(),
        partitions.join(",")
    )
}

/// Prints a progress line every second, until Ctrl-C or until `--records` orders were
/// produced, processed and committed (bounded: 10 minutes at the most).
async fn watch(args: &Args, tally: &Tally, runner: &PartitionedRunner) -> Result<(), BoxError> {
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.tick().await;
    let mut last = 0;
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    for _ in 0..600 {
        tokio::select! {
            _ = &mut ctrl_c => {
                println!("interrupted: stopping");
                return Ok(());
            }
            _ = ticks.tick() => {}
        }
        let m = runner.metrics();
        let produced = tally.produced.load(Ordering::SeqCst);
        let committed: i64 = m.partitions.iter().filter_map(|p| p.committed).sum();
        println!(
            "{:>8} orders/s processed, produced {produced}, processed {}, lag {}, committed {committed}, paused partitions {}",
            m.processed - last,
            m.processed,
            produced.saturating_sub(m.processed),
            m.paused.len()
        );
        last = m.processed;
        if let Some(records) = args.records {
            let seen = lock(&tally.seen).len() as u64;
            if produced >= records
                && seen >= records
                && u64::try_from(committed).unwrap_or(0) >= records
            {
                return Ok(());
            }
        }
        if !runner.is_running() {
            return Err(format!("the totals runner stopped: {:?}", runner.last_error()).into());
        }
    }
    Err("not done within 10 minutes".into())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
