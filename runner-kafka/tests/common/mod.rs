//! Helpers shared by the runner tests: a cluster with a topic of records, the clients a runner
//! makes (with their member ids), a journal of what the processors did and when, scripted
//! processors, the three kinds of runner behind one type, and bounded waits on the paused clock.
#![allow(
    dead_code,
    unused_imports,
    unused_macros,
    reason = "each test binary uses a different part of this module"
)]

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Health, Readiness, Runner, Snapshot, Status, Version};
use runner_kafka::memory::{MemberId, MemoryClient, MemoryCluster, Protocol};
use runner_kafka::{
    Backoff, BoxError, Builder, ClientError, DEFAULT_CHANNEL_BUFFER_SIZE, DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_COMMIT_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_CONCURRENCY, DEFAULT_STUCK_AFTER,
    DEFAULT_WORKER_SHUTDOWN_TIMEOUT, Error, KeyedRunner, LifecycleError, MakeClient, Message,
    MetricsSnapshot, OutRecord, PartitionedRunner, Phase, PhaseHandlers, ProcessorFactory,
    SingleThreadedRunner, TopicPartition,
};
use tokio::sync::watch;
use tokio::time::Instant;

/// The topic the runners read.
pub(crate) const TOPIC: &str = "orders";
/// The topic processors write to.
pub(crate) const SINK: &str = "totals";
/// The dead-letter topic.
pub(crate) const DLQ: &str = "orders.dlq";
/// The runners' consumer group.
pub(crate) const GROUP: &str = "billing";

/// Long enough for anything that is coming to come: the clock is paused, so waiting costs
/// nothing, and running out of it means it was never coming.
pub(crate) const WAIT: Duration = Duration::from_secs(600);

/// Partition `p` of [`TOPIC`].
pub(crate) fn tp(p: i32) -> TopicPartition {
    TopicPartition::new(TOPIC, p)
}

/// Partition 0 of `topic`.
pub(crate) fn tp0(topic: &str) -> TopicPartition {
    TopicPartition::new(topic, 0)
}

/// A cluster with topic `topic` of `partitions` partitions, `per_partition` records in each:
/// key `k{p}-{i}`, value `i` (as text).
pub(crate) fn cluster(topic: &str, partitions: i32, per_partition: usize) -> MemoryCluster {
    let cluster = MemoryCluster::new();
    cluster.create_topic(topic, partitions).unwrap();
    fill(&cluster, topic, partitions, 0..per_partition);
    cluster
}

/// Appends records `indexes` (key `k{p}-{i}`, value `i`) to each of the `partitions` partitions
/// of `topic`.
pub(crate) fn fill(
    cluster: &MemoryCluster,
    topic: &str,
    partitions: i32,
    indexes: std::ops::Range<usize>,
) {
    for p in 0..partitions {
        let tp = TopicPartition::new(topic, p);
        for i in indexes.clone() {
            cluster
                .append(&tp, format!("k{p}-{i}"), i.to_string())
                .unwrap();
        }
    }
}

/// The committed offset of `tp` in [`GROUP`].
pub(crate) fn committed(cluster: &MemoryCluster, tp: &TopicPartition) -> Option<i64> {
    cluster.committed(GROUP, tp)
}

/// The commits of [`GROUP`] for `tp`, in order.
pub(crate) fn commits_of(cluster: &MemoryCluster, tp: &TopicPartition) -> Vec<i64> {
    cluster
        .commits(GROUP)
        .into_iter()
        .filter(|(partition, _)| partition == tp)
        .map(|(_, offset)| offset)
        .collect()
}

/// The values of the records in partition 0 of `topic`, as text.
pub(crate) fn values(cluster: &MemoryCluster, topic: &str) -> Vec<String> {
    cluster
        .records(&tp0(topic))
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

/// The clients a runner makes, one per run, in [`GROUP`], remembering their member ids.
#[derive(Clone, Debug)]
pub(crate) struct Clients {
    cluster: MemoryCluster,
    protocol: Protocol,
    max_records: usize,
    made: Arc<Mutex<Vec<MemberId>>>,
}

impl Clients {
    /// Eager members with the cluster's default records per poll.
    pub(crate) fn new(cluster: &MemoryCluster) -> Self {
        Clients {
            cluster: cluster.clone(),
            protocol: Protocol::Eager,
            max_records: runner_kafka::memory::DEFAULT_MAX_RECORDS_PER_POLL,
            made: Arc::default(),
        }
    }

    /// Members speaking `protocol`.
    pub(crate) fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Members reading at most `max` records per poll.
    pub(crate) fn max_records(mut self, max: usize) -> Self {
        self.max_records = max;
        self
    }

    /// The runner's `make_client`.
    pub(crate) fn make(
        &self,
    ) -> impl Fn() -> Result<MemoryClient, ClientError> + Send + Sync + 'static {
        let clients = self.clone();
        move || {
            let client = clients
                .cluster
                .client_builder(GROUP)
                .protocol(clients.protocol)
                .max_records_per_poll(clients.max_records)
                .build()
                .expect("valid client options");
            lock(&clients.made).push(client.member_id());
            Ok(client)
        }
    }

    /// Every client made so far, in order.
    pub(crate) fn made(&self) -> Vec<MemberId> {
        lock(&self.made).clone()
    }

    /// The client of the current (last) run.
    pub(crate) fn member(&self) -> MemberId {
        *lock(&self.made).last().expect("a client was made")
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What a processor did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The processor of the partition was made.
    Created,
    /// It began the record.
    Began,
    /// It finished the record and returned its outputs.
    Done,
    /// It returned an error for the record.
    Failed,
}

/// One thing a processor did.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Which runner's processor (see [`processors`]).
    pub(crate) who: &'static str,
    pub(crate) partition: i32,
    /// -1 for [`Step::Created`].
    pub(crate) offset: i64,
    pub(crate) step: Step,
    /// When, on the paused clock.
    pub(crate) at: Instant,
}

/// What the processors did, in order, with the time of each step; waited on without polling.
#[derive(Clone, Debug)]
pub(crate) struct Journal {
    entries: Arc<watch::Sender<Vec<Entry>>>,
}

impl Default for Journal {
    fn default() -> Self {
        Self::new()
    }
}

impl Journal {
    pub(crate) fn new() -> Self {
        Journal {
            entries: Arc::new(watch::Sender::new(Vec::new())),
        }
    }

    fn push(&self, who: &'static str, partition: i32, offset: i64, step: Step) {
        let at = Instant::now();
        self.entries.send_modify(|entries| {
            entries.push(Entry {
                who,
                partition,
                offset,
                step,
                at,
            });
        });
    }

    /// Everything so far.
    pub(crate) fn entries(&self) -> Vec<Entry> {
        self.entries.borrow().clone()
    }

    /// The offsets of `partition` that reached `step`, in order, by anyone.
    pub(crate) fn offsets(&self, partition: i32, step: Step) -> Vec<i64> {
        self.of(None, partition, step)
    }

    /// The offsets of `partition` that reached `step` by `who` (or anyone), in order.
    pub(crate) fn of(&self, who: Option<&str>, partition: i32, step: Step) -> Vec<i64> {
        self.entries
            .borrow()
            .iter()
            .filter(|e| e.partition == partition && e.step == step)
            .filter(|e| who.is_none_or(|who| e.who == who))
            .map(|e| e.offset)
            .collect()
    }

    /// The times `who` reached `step` with record `offset` of `partition`.
    pub(crate) fn times(&self, who: &str, partition: i32, offset: i64, step: Step) -> Vec<Instant> {
        self.entries
            .borrow()
            .iter()
            .filter(|e| e.who == who && e.partition == partition && e.offset == offset)
            .filter(|e| e.step == step)
            .map(|e| e.at)
            .collect()
    }

    /// How many times `step` was reached, by anyone, with anything.
    pub(crate) fn count(&self, step: Step) -> usize {
        self.entries
            .borrow()
            .iter()
            .filter(|e| e.step == step)
            .count()
    }

    /// Waits (on the paused clock, at most [`WAIT`]) until `done` holds of the entries; panics
    /// with `what` otherwise. Woken by each new entry: nothing polls.
    pub(crate) async fn wait(&self, what: &str, mut done: impl FnMut(&[Entry]) -> bool) {
        let mut seen = self.entries.subscribe();
        let waited = tokio::time::timeout(WAIT, seen.wait_for(|entries| done(entries))).await;
        assert!(
            matches!(waited, Ok(Ok(_))),
            "{what}: not reached within {WAIT:?}; the journal: {:#?}",
            self.entries()
        );
    }

    /// Waits until `who` reached `step` with record `offset` of `partition`.
    pub(crate) async fn reached(&self, who: &'static str, partition: i32, offset: i64, step: Step) {
        self.wait(
            &format!("{who}: {step:?} {partition}@{offset}"),
            |entries| {
                entries.iter().any(|e| {
                    e.who == who && e.partition == partition && e.offset == offset && e.step == step
                })
            },
        )
        .await;
    }
}

/// What a scripted processor does with one record: waits `sleep` (on the clock), then acts.
#[derive(Clone, Debug)]
pub(crate) struct Script {
    pub(crate) sleep: Duration,
    pub(crate) act: Act,
}

/// How a scripted processor ends a record.
#[derive(Clone, Debug)]
pub(crate) enum Act {
    /// Returns these outputs.
    Ok(Vec<OutRecord>),
    /// Returns an error with this message.
    Err(String),
    /// Panics with this message.
    Panic(String),
    /// Never ends.
    Hang,
}

impl Script {
    /// Done at once, no outputs.
    pub(crate) fn ok() -> Self {
        Script {
            sleep: Duration::ZERO,
            act: Act::Ok(Vec::new()),
        }
    }

    /// Done at once, with these outputs.
    pub(crate) fn outputs(outputs: Vec<OutRecord>) -> Self {
        Script {
            sleep: Duration::ZERO,
            act: Act::Ok(outputs),
        }
    }

    /// An error at once.
    pub(crate) fn err(message: &str) -> Self {
        Script {
            sleep: Duration::ZERO,
            act: Act::Err(message.to_owned()),
        }
    }

    /// Never done.
    pub(crate) fn hang() -> Self {
        Script {
            sleep: Duration::ZERO,
            act: Act::Hang,
        }
    }

    /// The same, after `sleep` on the clock.
    pub(crate) fn after(mut self, sleep: Duration) -> Self {
        self.sleep = sleep;
        self
    }
}

/// The output a forwarding processor sends for `message`: to [`SINK`], partition 0, the same
/// key, the value `{partition}:{offset}`.
pub(crate) fn forward(message: &Message<String, String>) -> OutRecord {
    OutRecord::new(SINK)
        .with_partition(0)
        .with_key(message.key.clone())
        .with_value(format!("{}:{}", message.partition, message.offset))
}

/// The processors of runner `who`: each logs to `journal` when it is made and when it begins,
/// finishes or fails a record, and does what `script` says for the record (given which attempt
/// of `who` at that record this is, from 1).
pub(crate) fn processors<S>(
    journal: &Journal,
    who: &'static str,
    script: S,
) -> impl ProcessorFactory<String, String>
where
    S: Fn(&Message<String, String>, usize) -> Script + Send + Sync + 'static,
{
    let journal = journal.clone();
    let script = Arc::new(script);
    move |partition: &TopicPartition| {
        journal.push(who, partition.partition, -1, Step::Created);
        let journal = journal.clone();
        let script = Arc::clone(&script);
        move |message: Message<String, String>| {
            let (partition, offset) = (message.partition, message.offset);
            let attempt = journal.times(who, partition, offset, Step::Began).len() + 1;
            journal.push(who, partition, offset, Step::Began);
            let Script { sleep, act } = script(&message, attempt);
            let journal = journal.clone();
            async move {
                if !sleep.is_zero() {
                    tokio::time::sleep(sleep).await;
                }
                match act {
                    Act::Ok(outputs) => {
                        journal.push(who, partition, offset, Step::Done);
                        Ok::<_, BoxError>(outputs)
                    }
                    Act::Err(message) => {
                        journal.push(who, partition, offset, Step::Failed);
                        Err(message.into())
                    }
                    Act::Panic(message) => panic!("{message}"),
                    Act::Hang => std::future::pending().await,
                }
            }
        }
    }
}

/// Which runner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Single,
    Partitioned,
    Keyed,
}

/// The settings of a test's runner (every kind; the channel size and the worker shutdown
/// timeout only for the partitioned and keyed ones, the max concurrency only for the keyed).
#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) name: &'static str,
    pub(crate) handlers: PhaseHandlers,
    pub(crate) commit_interval: Duration,
    pub(crate) commit_timeout: Duration,
    pub(crate) stuck_after: Duration,
    pub(crate) close_timeout: Duration,
    pub(crate) poll_error_backoff: Backoff,
    pub(crate) channel_buffer_size: usize,
    pub(crate) max_held_bytes: usize,
    pub(crate) worker_shutdown_timeout: Duration,
    pub(crate) drain_timeout: Duration,
    pub(crate) max_concurrency: usize,
}

impl Default for Setup {
    /// The crate's defaults, but a commit interval of 1 s.
    fn default() -> Self {
        Setup {
            name: "runner",
            handlers: PhaseHandlers::new(),
            commit_interval: Duration::from_secs(1),
            commit_timeout: DEFAULT_COMMIT_TIMEOUT,
            stuck_after: DEFAULT_STUCK_AFTER,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            poll_error_backoff: Backoff::default(),
            channel_buffer_size: DEFAULT_CHANNEL_BUFFER_SIZE,
            max_held_bytes: runner_kafka::DEFAULT_MAX_HELD_BYTES,
            worker_shutdown_timeout: DEFAULT_WORKER_SHUTDOWN_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
        }
    }
}

impl Setup {
    /// The defaults with these error handlers.
    pub(crate) fn handlers(handlers: PhaseHandlers) -> Self {
        Setup {
            handlers,
            ..Setup::default()
        }
    }
}

fn configure<S, M, F>(
    builder: Builder<S, M, F, String, String>,
    setup: &Setup,
) -> Builder<S, M, F, String, String>
where
    M: MakeClient,
    F: ProcessorFactory<String, String>,
{
    builder
        .name(setup.name)
        .error_handler(setup.handlers.clone())
        .commit_interval(setup.commit_interval)
        .commit_timeout(setup.commit_timeout)
        .stuck_after(setup.stuck_after)
        .close_timeout(setup.close_timeout)
        .poll_error_backoff(setup.poll_error_backoff.clone())
        .drain_timeout(setup.drain_timeout)
        .error_capacity(16)
}

/// A runner of `kind` on [`TOPIC`], with clients from `make` and processors from `factory`.
pub(crate) fn runner<M, F>(kind: Kind, make: M, factory: F, setup: &Setup) -> AnyRunner
where
    M: MakeClient,
    F: ProcessorFactory<String, String>,
{
    match kind {
        Kind::Single => AnyRunner::Single(
            configure(SingleThreadedRunner::builder(make, [TOPIC], factory), setup)
                .build()
                .expect("valid settings"),
        ),
        Kind::Partitioned => AnyRunner::Partitioned(
            configure(PartitionedRunner::builder(make, [TOPIC], factory), setup)
                .channel_buffer_size(setup.channel_buffer_size)
                .max_held_bytes(setup.max_held_bytes)
                .worker_shutdown_timeout(setup.worker_shutdown_timeout)
                .build()
                .expect("valid settings"),
        ),
        Kind::Keyed => AnyRunner::Keyed(
            configure(KeyedRunner::builder(make, [TOPIC], factory), setup)
                .channel_buffer_size(setup.channel_buffer_size)
                .max_held_bytes(setup.max_held_bytes)
                .worker_shutdown_timeout(setup.worker_shutdown_timeout)
                .max_concurrency(setup.max_concurrency)
                .build()
                .expect("valid settings"),
        ),
    }
}

/// Any runner, as one type, so one test body checks each.
#[derive(Debug)]
pub(crate) enum AnyRunner {
    Single(SingleThreadedRunner),
    Partitioned(PartitionedRunner),
    Keyed(KeyedRunner),
}

macro_rules! each {
    ($self:expr, $runner:ident => $body:expr) => {
        match $self {
            AnyRunner::Single($runner) => $body,
            AnyRunner::Partitioned($runner) => $body,
            AnyRunner::Keyed($runner) => $body,
        }
    };
}

impl AnyRunner {
    /// Its metrics.
    pub(crate) fn metrics(&self) -> MetricsSnapshot {
        each!(self, r => r.metrics())
    }

    /// Its `run_until`.
    pub(crate) async fn run_until(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), LifecycleError> {
        each!(self, r => r.run_until(shutdown).await)
    }

    /// The run's failure, as this crate's [`Error`] (panics if the last error is not one).
    pub(crate) fn failure(&self) -> Error {
        let last = self.last_error().expect("an error was recorded");
        run_error(&last).unwrap_or_else(|| panic!("not a run error: {last}"))
    }
}

/// The crate's [`Error`] inside a lifecycle error of a failed run.
pub(crate) fn run_error(error: &LifecycleError) -> Option<Error> {
    match error {
        LifecycleError::Run(source) => source.downcast_ref::<Error>().cloned(),
        _ => None,
    }
}

/// The partition, offset and phase of an [`Error::RecordFailed`], and its source's message.
pub(crate) fn record_failed(error: &Error) -> (TopicPartition, i64, Phase, String) {
    match error {
        Error::RecordFailed {
            partition,
            offset,
            phase,
            source,
        } => (partition.clone(), *offset, *phase, source.to_string()),
        other => panic!("expected a record failure, got {other}"),
    }
}

impl Runner for AnyRunner {
    type Error = LifecycleError;

    async fn start(&self) -> Result<(), LifecycleError> {
        each!(self, r => r.start().await)
    }

    async fn stop(&self) -> Result<(), LifecycleError> {
        each!(self, r => r.stop().await)
    }
}

impl Status for AnyRunner {
    fn snapshot(&self) -> Snapshot {
        each!(self, r => r.snapshot())
    }

    async fn changed(&self, since: Version) -> Snapshot {
        each!(self, r => r.changed(since).await)
    }

    fn uptime(&self) -> Option<Duration> {
        each!(self, r => r.uptime())
    }

    fn last_exit(&self) -> Option<Exit> {
        each!(self, r => r.last_exit())
    }

    fn health(&self) -> Health {
        each!(self, r => r.health())
    }

    fn readiness(&self) -> Readiness {
        each!(self, r => r.readiness())
    }
}

impl ErrorHistory for AnyRunner {
    type Recorded = LifecycleError;

    fn errors(&self) -> Vec<Arc<LifecycleError>> {
        each!(self, r => r.errors())
    }

    fn error_count(&self) -> u64 {
        each!(self, r => r.error_count())
    }

    fn error_capacity(&self) -> usize {
        each!(self, r => r.error_capacity())
    }
}

/// Waits (on tokio's clock, paused in these tests) until `done` holds of the runner's metrics;
/// panics after 600 s of that clock.
pub(crate) async fn until(
    metrics: impl Fn() -> MetricsSnapshot,
    done: impl Fn(&MetricsSnapshot) -> bool,
) -> MetricsSnapshot {
    for _ in 0..60_000 {
        let seen = metrics();
        if done(&seen) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached within 600 s: {:?}", metrics());
}

/// Looks at `check` every 10 ms of the paused clock until it holds; panics with `what` after
/// [`WAIT`]. For what nothing notifies of (the cluster's committed offsets, a runner's health).
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let step = Duration::from_millis(10);
    for _ in 0..WAIT.as_millis() / step.as_millis() {
        if check() {
            return;
        }
        tokio::time::sleep(step).await;
    }
    panic!("{what}: not reached within {WAIT:?}");
}

/// Generates `mod $name { single, partitioned }`: the test `$name(kind)` for each runner.
macro_rules! both {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use super::common::Kind;

            #[tokio::test(start_paused = true)]
            async fn single() {
                super::$name(Kind::Single).await;
            }

            #[tokio::test(start_paused = true)]
            async fn partitioned() {
                super::$name(Kind::Partitioned).await;
            }
        }
    )+};
}
pub(crate) use both;

/// Generates `mod $name { single, partitioned, keyed }`: the test `$name(kind)` for each runner.
macro_rules! three {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            use super::common::Kind;

            #[tokio::test(start_paused = true)]
            async fn single() {
                super::$name(Kind::Single).await;
            }

            #[tokio::test(start_paused = true)]
            async fn partitioned() {
                super::$name(Kind::Partitioned).await;
            }

            #[tokio::test(start_paused = true)]
            async fn keyed() {
                super::$name(Kind::Keyed).await;
            }
        }
    )+};
}
pub(crate) use three;
