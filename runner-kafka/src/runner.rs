//! The runners, [`SingleThreadedRunner`] and [`PartitionedRunner`], and their [`Builder`].
//! Both are runner-core runners built on runner-lifecycle: `start` resolves once the consumer
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
/// Worker shutdown timeout default: 30 s (the reference's).
pub const DEFAULT_WORKER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Drain timeout default: 60 s (the reference's).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);
/// Stuck-partition default: 5 minutes without progress while records wait.
pub const DEFAULT_STUCK_AFTER: Duration = Duration::from_secs(300);
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

/// Builds a [`SingleThreadedRunner`] or a [`PartitionedRunner`]; made by their `builder`.
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
/// | [`channel_buffer_size`](Builder::channel_buffer_size) (partitioned) | 100 | `WithChannelBufferSize` (100) |
/// | [`worker_shutdown_timeout`](Builder::worker_shutdown_timeout) (partitioned) | 30 s | `WithWorkerShutdownTimeout` (30 s) |
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
    worker_shutdown_timeout: Duration,
    drain_timeout: Duration,
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
            worker_shutdown_timeout: DEFAULT_WORKER_SHUTDOWN_TIMEOUT,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
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
    /// flight, or all the partitioned runner's workers draining their queues; and the
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

impl<M, F, K, V> Builder<Partitioned, M, F, K, V>
where
    M: MakeClient,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    /// How many records each partition's queue holds before the partition is paused.
    pub fn channel_buffer_size(mut self, size: usize) -> Self {
        self.channel_buffer_size = size;
        self
    }

    /// How long a partition's worker may take to finish after a revoke (its record in flight
    /// is cancelled), or to drain its queue on stop.
    pub fn worker_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.worker_shutdown_timeout = timeout;
        self
    }

    /// Builds the runner.
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: an empty name, no topic, a zero duration or buffer size.
    pub fn build(self) -> Result<PartitionedRunner, BuildError> {
        if self.channel_buffer_size == 0 {
            return Err(BuildError::Zero("channel buffer size"));
        }
        if self.worker_shutdown_timeout.is_zero() {
            return Err(BuildError::Zero("worker shutdown timeout"));
        }
        let settings = self.settings(Mode::Partitioned {
            channel_buffer_size: self.channel_buffer_size,
            worker_shutdown_timeout: self.worker_shutdown_timeout,
        })?;
        let (managed, shared) = self.managed(settings)?;
        Ok(PartitionedRunner(Inner { managed, shared }))
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

/// A runner's insides, the same for both kinds.
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
