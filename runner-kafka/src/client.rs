//! The small client abstraction the runners are written against: a [`Client`] (subscribe, poll
//! events, pause, resume, commit, close) and its [`Producer`] (send, flush). Two
//! implementations: `KafkaClient` over rdkafka, and `MemoryClient`, an in-memory cluster for
//! deterministic tests with scripted rebalances and faults on tokio's clock.
//!
//! Rebalances are events with a barrier: a [`Event::Revoked`] partition is released to the group
//! only once its [`Barrier`] is done, so the runner finishes, or cancels, the partition's work and
//! commits it first.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::record::{OutRecord, Record, TopicPartition};

/// What a client reports, from [`Client::poll`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// Records fetched, in offset order within each partition.
    Records(Vec<Record>),
    /// Partitions assigned to this member, in addition to what it has (under an eager protocol a
    /// full revoke always comes first, so this is then its whole assignment).
    Assigned(Vec<TopicPartition>),
    /// Partitions taken from this member. The client hands them to the group only once
    /// `barrier` is done (completed or dropped): commit what was processed before that.
    /// `lost`: the member was evicted and they may already be someone else's: never commit them.
    Revoked {
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// Lost (not revoked in order): do not commit.
        lost: bool,
        /// Done when the runner has let go of them.
        barrier: Barrier,
    },
}

/// The end of a runner's work on revoked partitions: the client releases them when it is
/// [`done`](Barrier::done) or dropped.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use runner_kafka::Barrier;
///
/// let released = Arc::new(AtomicBool::new(false));
/// let barrier = Barrier::new({
///     let released = Arc::clone(&released);
///     move || released.store(true, Ordering::SeqCst)
/// });
/// assert!(!released.load(Ordering::SeqCst));
/// barrier.done();
/// assert!(released.load(Ordering::SeqCst));
/// ```
pub struct Barrier(Option<Box<dyn FnOnce() + Send>>);

impl Barrier {
    /// A barrier that calls `release` once, when done or dropped.
    pub fn new(release: impl FnOnce() + Send + 'static) -> Self {
        Barrier(Some(Box::new(release)))
    }

    /// The runner is done with the partitions.
    pub fn done(mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

impl Drop for Barrier {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Barrier").field(&self.0.is_some()).finish()
    }
}

/// What went wrong in a client call.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ClientError, ClientErrorKind};
///
/// let error = ClientError::new(ClientErrorKind::Transient, "broker transport failure");
/// assert!(error.is_transient());
/// assert_eq!(error.to_string(), "transient: broker transport failure");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ClientError {
    kind: ClientErrorKind,
    message: Arc<str>,
}

impl ClientError {
    /// An error of `kind`, described by `message`.
    pub fn new(kind: ClientErrorKind, message: impl Into<Arc<str>>) -> Self {
        ClientError {
            kind,
            message: message.into(),
        }
    }

    /// Its kind.
    #[must_use]
    pub fn kind(&self) -> ClientErrorKind {
        self.kind
    }

    /// Whether retrying may succeed (a broker down, a timeout, a rebalance in progress).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        !matches!(self.kind, ClientErrorKind::Fatal | ClientErrorKind::Config)
    }
}

/// The kinds of [`ClientError`].
///
/// # Examples
///
/// ```
/// use runner_kafka::ClientErrorKind;
///
/// assert_eq!(ClientErrorKind::Rebalancing.to_string(), "rebalancing");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClientErrorKind {
    /// A transient failure: the broker is unreachable, a request failed; retry.
    Transient,
    /// The call did not finish in time.
    Timeout,
    /// The group is rebalancing: a commit was refused; the partitions' fate comes as events.
    Rebalancing,
    /// The configuration is invalid.
    Config,
    /// The client cannot go on.
    Fatal,
}

impl fmt::Display for ClientErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ClientErrorKind::Transient => "transient",
            ClientErrorKind::Timeout => "timeout",
            ClientErrorKind::Rebalancing => "rebalancing",
            ClientErrorKind::Config => "config",
            ClientErrorKind::Fatal => "fatal",
        })
    }
}

/// A consumer in a group, as the runners use it. See the module docs.
///
/// Implementations never block the calling thread for long: a call that waits on the network
/// is async (the rdkafka one runs librdkafka on a thread of its own).
pub trait Client: Send + 'static {
    /// Its producer.
    type Producer: Producer;

    /// Joins the group and subscribes to `topics`; assignments come as events.
    ///
    /// # Errors
    ///
    /// An invalid topic or a client that cannot subscribe.
    fn subscribe(&mut self, topics: &[String]) -> Result<(), ClientError>;

    /// The next event. Waits for one (records, an assignment, a revoke); an `Err` is a poll
    /// failure (transient ones are retried by the runner after its poll-error backoff).
    ///
    /// Cancel-safe: a future dropped before it resolved has taken no event (the runner races
    /// it with its commit interval and its workers' reports).
    fn poll(&mut self) -> impl Future<Output = Result<Event, ClientError>> + Send;

    /// Stops fetching `partitions` (records already fetched may still come).
    ///
    /// # Errors
    ///
    /// A partition not assigned, or a client that is closed.
    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), ClientError>;

    /// Fetches `partitions` again.
    ///
    /// # Errors
    ///
    /// As for [`pause`](Client::pause).
    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), ClientError>;

    /// Commits these offsets (each the offset of the next record to read) and waits for the
    /// group coordinator's answer. The caller bounds it with a timeout.
    fn commit(
        &mut self,
        offsets: Vec<(TopicPartition, i64)>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// Its producer, for sink topics and dead-letter queues.
    fn producer(&self) -> Self::Producer;

    /// Leaves the group and closes the client, within `timeout`.
    fn close(self, timeout: Duration) -> impl Future<Output = Result<(), ClientError>> + Send;
}

/// A producer, shared by the runner's workers.
pub trait Producer: Clone + Send + Sync + 'static {
    /// Sends `record`; resolves once the broker acknowledged it.
    fn send(&self, record: OutRecord) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// Waits until every record sent so far is acknowledged, within `timeout`.
    fn flush(&self, timeout: Duration) -> impl Future<Output = Result<(), ClientError>> + Send;
}
