//! The runners, [`SingleThreadedRunner`], [`PartitionedRunner`] and [`KeyedRunner`], and
//! their [`Builder`]. All are runner-core runners built on runner-lifecycle: `start` resolves once the consumer
//! joined its group and received its first assignment; `stop` drains, commits, flushes and
//! closes; a record that fails for good (an error handler's `Fail`) ends the run `Failed`.

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use runner_core::{
    ErrorHistory, Exit, Health, Readiness, Runner, Snapshot, State, Status, Version,
};
use runner_lifecycle::{Managed, ReadyWhen, RunContext, Work};

use crate::backoff::Backoff;
use crate::client::{Client, ClientError};
use crate::decode::Decode;
use crate::engine::Engine;
use crate::error::{BuildError, Error};
use crate::handler::{ErrorHandler, PhaseHandlers};
use crate::ledger::Ledger;
use crate::metrics::{Metrics, MetricsSnapshot};
use crate::processor::ProcessorFactory;
use crate::settings::{Mode, Settings};

/// The error of a runner's `start`, `stop` and history: runner-lifecycle's, whose
/// [`Run`](runner_lifecycle::Error::Run) variant carries this crate's [`Error`].
pub use runner_lifecycle::Error as LifecycleError;

/// Commit interval default: 5 s.
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_secs(5);
/// Commit timeout default: 10 s (a commit while the group coordinator is down can hang for
/// minutes; this bounds it).
pub const DEFAULT_COMMIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Channel buffer size default: 100 records per partition (the reference's).
pub const DEFAULT_CHANNEL_BUFFER_SIZE: usize = 100;

/// The default of `max_held_bytes`: 1 MiB of records per partition held beyond its queue before
/// the partition is paused.
pub const DEFAULT_MAX_HELD_BYTES: usize = 1 << 20;
/// Worker shutdown timeout default: 30 s (the reference's).
pub const DEFAULT_WORKER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Drain timeout default: 60 s (the reference's).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Stuck-partition default: 5 minutes without progress while records wait.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(300);
/// Max concurrency default (a [`KeyedRunner`]'s): at most 16 records of each partition
/// processed at once.
///
/// # Examples
///
/// ```
/// // Tens of keys in flight per partition keep a slow downstream busy without a thread each.
/// assert_eq!(runner_kafka::DEFAULT_MAX_CONCURRENCY, 16);
/// ```
pub const DEFAULT_MAX_CONCURRENCY: usize = 16;
/// Close timeout default: 10 s, for the producer's flush and the client's close each.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// Makes the runner's client, once per run (a stopped runner can be started again).
///
/// Implemented for closures `Fn() -> Result<C, ClientError>`.
///
/// # Examples
///
/// ```
/// use runner_kafka::MakeClient;
/// use runner_kafka::memory::MemoryCluster;
///
/// let cluster = MemoryCluster::new();
/// let make = move || Ok(cluster.client("billing"));
/// let client = make.make().unwrap();
/// # let _ = client;
/// ```
pub trait MakeClient: Send + Sync + 'static {
    /// The client it makes.
    type Client: Client;

    /// A new client.
    ///
    /// # Errors
    ///
    /// A client that cannot be created (bad configuration).
    fn make(&self) -> Result<Self::Client, ClientError>;
}

impl<F, C> MakeClient for F
where
    F: Fn() -> Result<C, ClientError> + Send + Sync + 'static,
    C: Client,
{
    type Client = C;

    fn make(&self) -> Result<C, ClientError> {
        self()
    }
}

/// Marker of a [`Builder`] for a [`SingleThreadedRunner`].
#[derive(Debug)]
pub struct SingleThreaded;

/// Marker of a [`Builder`] for a [`PartitionedRunner`].
#[derive(Debug)]
pub struct Partitioned;

/// Marker of a [`Builder`] for a [`KeyedRunner`].
#[derive(Debug)]
pub struct Keyed;

/// Builds a [`SingleThreadedRunner`], a [`PartitionedRunner`] or a [`KeyedRunner`]; made by
/// their `builder`.
///
/// | option | default | the reference |
/// |--------|---------|---------------|
/// | [`name`](Builder::name) | `"kafka"` | — |
/// | [`error_handler`](Builder::error_handler) | `SilentFail` | `WithErrorHandler` (`SilentFail`) |
/// | [`serde_error_handler`](Builder::serde_error_handler) | the general one | `WithSerdeErrorHandler` (nil: the general one) |
/// | [`processing_error_handler`](Builder::processing_error_handler) | the general one | `WithProcessingErrorHandler` |
/// | [`production_error_handler`](Builder::production_error_handler) | the general one | `WithProductionErrorHandler` |
/// | [`poll_error_backoff`](Builder::poll_error_backoff) | 1 s fixed | `WithPollErrorBackoff` (1 s fixed) |
/// | [`commit_interval`](Builder::commit_interval) | 5 s | (Kafka's auto-commit interval: 5 s) |
/// | [`commit_timeout`](Builder::commit_timeout) | 10 s | — (a commit could hang) |
/// | [`stuck_after`](Builder::stuck_after) | 5 min | — |
/// | [`close_timeout`](Builder::close_timeout) | 10 s | — |
/// | [`drain_timeout`](Builder::drain_timeout) | 60 s | `WithDrainTimeout` (60 s, partitioned only) |
/// | `channel_buffer_size` (partitioned, keyed) | 100 | `WithChannelBufferSize` (100) |
/// | `max_held_bytes` (partitioned, keyed) | 1 MiB | — (the reference pauses as soon as the queue is full) |
/// | `worker_shutdown_timeout` (partitioned, keyed) | 30 s | `WithWorkerShutdownTimeout` (30 s) |
/// | `max_concurrency` (keyed) | 16 | — (Confluent's Parallel Consumer: `maxConcurrency`, 16) |
///
/// The reference's `WithLogger` is `tracing`: every event is under the `runner::kafka` target.
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder<S, M, F, K, V> {
    make_client: M,
    factory: F,
    topics: Vec<String>,
    name: Cow<'static, str>,
    handlers: PhaseHandlers,
    poll_error_backoff: Backoff,
    commit_interval: Duration,
    commit_timeout: Duration,
    stuck_after: Duration,
    close_timeout: Duration,
    error_capacity: usize,
    channel_buffer_size: usize,
    max_held_bytes: usize,
    worker_shutdown_timeout: Duration,
    drain_timeout: Duration,
    max_concurrency: usize,
    _kind: PhantomData<Kind<S, K, V>>,
}

/// The builder's kind of runner and the processors' key and value types.
type Kind<S, K, V> = fn() -> (S, K, V);

impl<S, M, F, K, V> std::fmt::Debug for Builder<S, M, F, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("topics", &self.topics)
            .field("handlers", &self.handlers)
            .finish_non_exhaustive()
    }
}

impl<S, M, F, K, V> Builder<S, M, F, K, V>
where
    M: MakeClient,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    fn new(make_client: M, topics: Vec<String>, factory: F) -> Self {
        Builder {
            make_client,
            factory,
            topics,
            name: Cow::Borrowed("kafka"),
            handlers: PhaseHandlers::new(),
            poll_error_backoff: Backoff::default(),
            commit_interval: DEFAULT_COMMIT_INTERVAL,
            commit_timeout: DEFAULT_COMMIT_TIMEOUT,
            stuck_after: DEFAULT_STUCK_AFTER,
            close_timeout: DEFAULT_CLOSE_TIMEOUT,
            error_capacity: runner_core::DEFAULT_ERROR_CAPACITY,
            channel_buffer_size: DEFAULT_CHANNEL_BUFFER_SIZE,
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            worker_shutdown_timeout: DEFAULT_WORKER_SHUTDOWN_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            _kind: PhantomData,
        }
    }

    /// The runner's name, in tracing events and dead-letter records (`x-error-node`).
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// The error handler of every phase without its own.
    pub fn error_handler(mut self, handler: impl ErrorHandler) -> Self {
        self.handlers = self.handlers.general(handler);
        self
    }

    /// The error handler of decoding failures.
    pub fn serde_error_handler(mut self, handler: impl ErrorHandler) -> Self {
        self.handlers = self.handlers.serde(handler);
        self
    }

    /// The error handler of processors' errors and panics.
    pub fn processing_error_handler(mut self, handler: impl ErrorHandler) -> Self {
        self.handlers = self.handlers.processing(handler);
        self
    }

    /// The error handler of outputs the broker refused.
    pub fn production_error_handler(mut self, handler: impl ErrorHandler) -> Self {
        self.handlers = self.handlers.production(handler);
        self
    }

    /// How long to wait after a failed poll before the next one.
    pub fn poll_error_backoff(mut self, backoff: Backoff) -> Self {
        self.poll_error_backoff = backoff;
        self
    }

    /// How often what was settled is committed (it is also committed on revoke and stop).
    pub fn commit_interval(mut self, interval: Duration) -> Self {
        self.commit_interval = interval;
        self
    }

    /// How long a commit may take.
    pub fn commit_timeout(mut self, timeout: Duration) -> Self {
        self.commit_timeout = timeout;
        self
    }

    /// A partition whose records wait while its watermark has not moved for this long makes
    /// the runner unhealthy.
    pub fn stuck_after(mut self, after: Duration) -> Self {
        self.stuck_after = after;
        self
    }

    /// How long the producer's flush and the client's close may each take on stop.
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// How many errors the runner's history keeps.
    pub fn error_capacity(mut self, capacity: usize) -> Self {
        self.error_capacity = capacity;
        self
    }

    /// How long the work in flight may take to finish on stop before it is cancelled (and
    /// not committed: the next owner reads it again): the single-threaded runner's record in
    /// flight, or all the partitioned (or keyed) runner's workers draining their queues; and the
    /// deliveries of outputs under way.
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    fn settings(&self, mode: Mode) -> Result<Settings, BuildError> {
        if self.name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        if self.topics.is_empty() || self.topics.iter().any(String::is_empty) {
            return Err(BuildError::NoTopics);
        }
        for (what, value) in [
            ("commit interval", self.commit_interval),
            ("commit timeout", self.commit_timeout),
            ("stuck timeout", self.stuck_after),
            ("close timeout", self.close_timeout),
            ("drain timeout", self.drain_timeout),
        ] {
            if value.is_zero() {
                return Err(BuildError::Zero(what));
            }
        }
        Ok(Settings {
            name: self.name.clone(),
            node: Arc::from(&*self.name),
            topics: self.topics.clone(),
            handlers: Arc::new(self.handlers.clone()),
            poll_error_backoff: self.poll_error_backoff.clone(),
            max_held_bytes: self.max_held_bytes,
            commit_interval: self.commit_interval,
            commit_timeout: self.commit_timeout,
            stuck_after: self.stuck_after,
            close_timeout: self.close_timeout,
            drain_timeout: self.drain_timeout,
            mode,
        })
    }

    fn managed(self, settings: Settings) -> Result<(Managed, Arc<Shared>), BuildError> {
        let settings = Arc::new(settings);
        let shared = Arc::new(Shared::default());
        let work = Consume {
            make_client: self.make_client,
            factory: Arc::new(self.factory),
            settings: Arc::clone(&settings),
            shared: Arc::clone(&shared),
            _kv: PhantomData,
        };
        let managed = Managed::builder(work)
            .name(self.name)
            .ready_when(ReadyWhen::Signalled)
            .exit_timeout(settings.exit_timeout())
            .error_capacity(self.error_capacity)
            .build()
            .map_err(|_| BuildError::EmptyName)?;
        Ok((managed, shared))
    }
}

/// The markers of the runners with a worker per partition, [`Partitioned`] and [`Keyed`]: their
/// builders share the workers' options. Sealed: implemented by those two only.
pub trait WithWorkers: sealed::Sealed {}

impl WithWorkers for Partitioned {}
impl WithWorkers for Keyed {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Partitioned {}
    impl Sealed for super::Keyed {}
}

impl<S, M, F, K, V> Builder<S, M, F, K, V>
where
    S: WithWorkers,
    M: MakeClient,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    /// How many records each partition's queue holds (default 100); beyond it they are held
    /// (see [`max_held_bytes`](Builder::max_held_bytes)). A keyed worker also takes up to this
    /// many records more off its queue to wait for their key or a free slot, so that one busy
    /// key does not hold the others back.
    pub fn channel_buffer_size(mut self, size: usize) -> Self {
        self.channel_buffer_size = size;
        self
    }

    /// How many bytes of a partition's records (keys, values, headers) are held beyond its
    /// queue before the partition is paused at the consumer (default
    /// [`DEFAULT_MAX_HELD_BYTES`], 1 MiB; 0 pauses as soon as the queue is full). A pause
    /// makes librdkafka drop what it fetched ahead for the partition and fetch it again on
    /// resume; holding a little first spares that round trip when the queue drains fast.
    /// Memory per partition stays bounded: the queue, this many bytes, and one poll's batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use runner_kafka::memory::MemoryCluster;
    /// use runner_kafka::{Message, OutRecord, PartitionedRunner, TopicPartition};
    ///
    /// let cluster = MemoryCluster::new();
    /// let processors = |_: &TopicPartition| |_: Message<String, String>| async {
    ///     Ok::<Vec<OutRecord>, Infallible>(Vec::new())
    /// };
    /// let make = move || Ok(cluster.client("archiver"));
    /// let runner = PartitionedRunner::builder(make, ["events"], processors)
    ///     .max_held_bytes(256 * 1024)
    ///     .build();
    /// assert!(runner.is_ok());
    /// ```
    pub fn max_held_bytes(mut self, bytes: usize) -> Self {
        self.max_held_bytes = bytes;
        self
    }

    /// How long a partition's worker may take to finish after a revoke (its records in flight
    /// are cancelled), or to drain its queue on stop (default 30 s).
    pub fn worker_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.worker_shutdown_timeout = timeout;
        self
    }

    /// The workers' queue size and shutdown timeout, checked.
    fn workers(&self) -> Result<(usize, Duration), BuildError> {
        if self.channel_buffer_size == 0 {
            return Err(BuildError::Zero("channel buffer size"));
        }
        if self.worker_shutdown_timeout.is_zero() {
            return Err(BuildError::Zero("worker shutdown timeout"));
        }
        Ok((self.channel_buffer_size, self.worker_shutdown_timeout))
    }
}

impl<M, F, K, V> Builder<Partitioned, M, F, K, V>
where
    M: MakeClient,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    /// Builds the runner.
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: an empty name, no topic, a zero duration or buffer size.
    pub fn build(self) -> Result<PartitionedRunner, BuildError> {
        let (channel_buffer_size, worker_shutdown_timeout) = self.workers()?;
        let settings = self.settings(Mode::Partitioned {
            channel_buffer_size,
            worker_shutdown_timeout,
        })?;
        let (managed, shared) = self.managed(settings)?;
        Ok(PartitionedRunner(Inner { managed, shared }))
    }
}

impl<M, F, K, V> Builder<Keyed, M, F, K, V>
where
    M: MakeClient,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    /// At most this many records of each partition are processed at once (default
    /// [`DEFAULT_MAX_CONCURRENCY`], 16): records of different keys, each by a processor of
    /// its own. The factory makes a partition's first processor when the partition is
    /// assigned and another whenever a record may start and every processor of the partition
    /// is busy: at most `max` per partition, each reused for later records (of any key) and
    /// dropped on revoke. So a processor's state is not per key; keep per-key state in a
    /// shared map (or a store) if you need it. Zero is a [`BuildError`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use runner_kafka::memory::MemoryCluster;
    /// use runner_kafka::{BuildError, KeyedRunner, Message, OutRecord, TopicPartition};
    ///
    /// let cluster = MemoryCluster::new();
    /// let processors = |_: &TopicPartition| |_: Message<String, String>| async {
    ///     Ok::<Vec<OutRecord>, Infallible>(Vec::new())
    /// };
    /// let make = { let cluster = cluster.clone(); move || Ok(cluster.client("mailer")) };
    /// let runner = KeyedRunner::builder(make, ["emails"], processors).max_concurrency(64).build();
    /// assert!(runner.is_ok());
    ///
    /// let make = move || Ok(cluster.client("mailer"));
    /// let zero = KeyedRunner::builder(make, ["emails"], processors).max_concurrency(0).build();
    /// assert_eq!(zero.unwrap_err(), BuildError::Zero("max concurrency"));
    /// ```
    pub fn max_concurrency(mut self, max: usize) -> Self {
        self.max_concurrency = max;
        self
    }

    /// Builds the runner.
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: an empty name, no topic, a zero duration, buffer size or max
    /// concurrency.
    pub fn build(self) -> Result<KeyedRunner, BuildError> {
        let (channel_buffer_size, worker_shutdown_timeout) = self.workers()?;
        if self.max_concurrency == 0 {
            return Err(BuildError::Zero("max concurrency"));
        }
        let settings = self.settings(Mode::Keyed {
            channel_buffer_size,
            worker_shutdown_timeout,
            max_concurrency: self.max_concurrency,
        })?;
        let (managed, shared) = self.managed(settings)?;
        Ok(KeyedRunner(Inner { managed, shared }))
    }
}

impl<M, F, K, V> Builder<SingleThreaded, M, F, K, V>
where
    M: MakeClient,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    /// Builds the runner.
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: an empty name, no topic, a zero duration.
    pub fn build(self) -> Result<SingleThreadedRunner, BuildError> {
        let settings = self.settings(Mode::Single)?;
        let (managed, shared) = self.managed(settings)?;
        Ok(SingleThreadedRunner(Inner { managed, shared }))
    }
}

/// What a runner and its runs share.
#[derive(Debug, Default)]
struct Shared {
    metrics: Arc<Metrics>,
    /// The current run's ledger.
    ledger: Mutex<Option<Arc<Ledger>>>,
}

/// The work of a run: the engine over a new client.
struct Consume<M, F, K, V> {
    make_client: M,
    factory: Arc<F>,
    settings: Arc<Settings>,
    shared: Arc<Shared>,
    _kv: PhantomData<fn() -> (K, V)>,
}

impl<M, F, K, V> std::fmt::Debug for Consume<M, F, K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consume")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<M, F, K, V> Work for Consume<M, F, K, V>
where
    M: MakeClient,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    type Error = Error;

    async fn run(self: Arc<Self>, run: RunContext) -> Result<(), Error> {
        let client = self.make_client.make().map_err(Error::Client)?;
        let ledger = Arc::new(Ledger::new());
        *self
            .shared
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&ledger));
        Engine::new(
            client,
            Arc::clone(&self.settings),
            Arc::clone(&self.shared.metrics),
            ledger,
            Arc::clone(&self.factory),
        )
        .run(run)
        .await
    }
}

/// A runner's insides, the same for every kind.
#[derive(Debug)]
struct Inner {
    managed: Managed,
    shared: Arc<Shared>,
}

impl Inner {
    fn metrics(&self) -> MetricsSnapshot {
        let ledger = self
            .shared
            .ledger
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let partitions = ledger.map(|l| l.metrics()).unwrap_or_default();
        self.shared.metrics.snapshot(partitions)
    }

    async fn run_until(&self, shutdown: impl Future<Output = ()>) -> Result<(), LifecycleError> {
        self.managed.start().await?;
        tokio::select! {
            () = shutdown => {}
            _ = self.managed.wait_for(State::is_idle) => {}
        }
        self.managed.stop().await?;
        match self.managed.last_exit() {
            Some(Exit::Failed(_) | Exit::Panicked(_)) => Err(self
                .managed
                .last_error()
                .map_or(LifecycleError::Abandoned, |e| (*e).clone())),
            _ => Ok(()),
        }
    }
}

macro_rules! runner {
    ($(#[$doc:meta])* $name:ident, $kind:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(Inner);

        impl $name {
            /// A [`Builder`]: the runner makes its client with `make_client` (once per run),
            /// subscribes to `topics`, and processes each assigned partition with a processor
            /// from `factory`.
            pub fn builder<M, F, K, V>(
                make_client: M,
                topics: impl IntoIterator<Item = impl Into<String>>,
                factory: F,
            ) -> Builder<$kind, M, F, K, V>
            where
                M: MakeClient,
                F: ProcessorFactory<K, V>,
                K: Decode,
                V: Decode,
            {
                Builder::new(make_client, topics.into_iter().map(Into::into).collect(), factory)
            }

            /// What the runner did so far, and where each assigned partition stands.
            #[must_use]
            pub fn metrics(&self) -> MetricsSnapshot {
                self.0.metrics()
            }

            /// The reference's `Run(ctx)`: starts, runs until `shutdown` resolves (or the run
            /// fails), then stops.
            ///
            /// # Errors
            ///
            /// The start failed, the stop failed, or the run failed (a record's `Fail`, a
            /// client that failed for good).
            pub async fn run_until(
                &self,
                shutdown: impl Future<Output = ()>,
            ) -> Result<(), LifecycleError> {
                self.0.run_until(shutdown).await
            }
        }

        impl Runner for $name {
            type Error = LifecycleError;

            /// Starts the run; resolves once the consumer joined its group and received its
            /// first assignment (possibly empty: more members than partitions).
            async fn start(&self) -> Result<(), LifecycleError> {
                self.0.managed.start().await
            }

            /// Stops fetching, drains, commits, flushes the producer and closes the client.
            async fn stop(&self) -> Result<(), LifecycleError> {
                self.0.managed.stop().await
            }
        }

        impl Status for $name {
            fn snapshot(&self) -> Snapshot {
                self.0.managed.snapshot()
            }

            fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
                self.0.managed.changed(since)
            }

            fn uptime(&self) -> Option<Duration> {
                self.0.managed.uptime()
            }

            fn last_exit(&self) -> Option<Exit> {
                self.0.managed.last_exit()
            }

            fn health(&self) -> Health {
                self.0.managed.health()
            }

            fn readiness(&self) -> Readiness {
                self.0.managed.readiness()
            }
        }

        impl ErrorHistory for $name {
            type Recorded = LifecycleError;

            fn errors(&self) -> Vec<Arc<LifecycleError>> {
                self.0.managed.errors()
            }

            fn last_error(&self) -> Option<Arc<LifecycleError>> {
                self.0.managed.last_error()
            }

            fn error_count(&self) -> u64 {
                self.0.managed.error_count()
            }

            fn error_capacity(&self) -> usize {
                self.0.managed.error_capacity()
            }
        }
    };
}

runner!(
    /// Processes every assigned partition's records one after the other, on one task: the
    /// simplest runner, in order across partitions. The reference's default runner.
    SingleThreadedRunner,
    SingleThreaded
);

runner!(
    /// Processes each assigned partition on a worker of its own, in parallel, with
    /// backpressure: a partition whose queue is full is paused at the consumer and its records
    /// held in order until the queue drains below half.
    PartitionedRunner,
    Partitioned
);

runner!(
    /// Processes each assigned partition on a worker of its own, and within a partition the
    /// records of different keys at once (Confluent's Parallel Consumer's key ordering): at
    /// most [`max_concurrency`](Builder::max_concurrency) records of a partition at a time,
    /// those of one key (its raw bytes) one at a time, in offset order. Records without a key
    /// share one key, the null key: they are processed one at a time, in offset order.
    ///
    /// Everything else is the [`PartitionedRunner`]'s: the error handling, the backpressure
    /// (a bounded queue per partition, paused when full), the rebalance barrier (a revoke
    /// cancels the partition's records in flight, none of them committed) and the drain on
    /// stop. Records end out of order, so a partition's commit is the end of its unbroken run
    /// of settled records: a slow record holds its partition's commit back (not its other
    /// keys' processing) until it ends, and after a revoke or a crash the records after it are
    /// read again (at least once, as always).
    ///
    /// The records of a partition are processed concurrently on its worker's task (as
    /// `join!` would), not on threads of their own: made for processors that wait (on a
    /// database, an HTTP service); a processor that computes for long should do so in
    /// `spawn_blocking`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::time::Duration;
    /// use runner_core::Runner;
    /// use runner_kafka::memory::MemoryCluster;
    /// use runner_kafka::{KeyedRunner, Message, OutRecord, TopicPartition};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("payments", 1)?;
    /// for (customer, amount) in [("ann", "5"), ("bob", "7"), ("ann", "3"), ("cid", "1")] {
    ///     cluster.append(&TopicPartition::new("payments", 0), customer, amount)?;
    /// }
    ///
    /// let runner = KeyedRunner::builder(
    ///     { let cluster = cluster.clone(); move || Ok(cluster.client("ledger")) },
    ///     ["payments"],
    ///     // Called once per record processed at the same time (at most `max_concurrency`).
    ///     |_: &TopicPartition| |payment: Message<String, String>| async move {
    ///         tokio::time::sleep(Duration::from_secs(1)).await; // a slow service call
    ///         Ok::<Vec<OutRecord>, Infallible>(Vec::new())
    ///     },
    /// )
    /// .max_concurrency(8)
    /// .build()?;
    ///
    /// let started = tokio::time::Instant::now();
    /// runner.start().await?;
    /// // ann's two payments one after the other, bob's and cid's meanwhile: about 2 s, not 4.
    /// while runner.metrics().processed < 4 {
    ///     tokio::time::sleep(Duration::from_millis(100)).await;
    /// }
    /// assert!(started.elapsed() < Duration::from_secs(3));
    /// runner.stop().await?;
    /// assert_eq!(cluster.committed("ledger", &TopicPartition::new("payments", 0)), Some(4));
    /// # Ok(()) }
    /// ```
    KeyedRunner,
    Keyed
);
