//! [`MockKafka`]: librdkafka's in-process mock cluster, for the demo and the tests.

use std::fmt;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};

/// How long dropping a [`MockKafka`] waits for its cluster to stop.
const STOP_WAIT: Duration = Duration::from_secs(5);

/// An embedded Kafka cluster, nothing to install: librdkafka's mock cluster, in this process,
/// on loopback ports of its own. For demos and tests (with fault injection), not for data that
/// matters.
///
/// What it is not (kafka-notes §2):
/// - It has no CreateTopics API: create topics with [`create_topic`](Self::create_topic)
///   (producing to an unknown topic creates it with 4 partitions).
/// - A consumer group's first join takes about 3 s (the mock's initial rebalance delay, which
///   only an `unsafe` call could lower, and this workspace forbids `unsafe`); each later join
///   round of a non-empty classic group takes about `session.timeout.ms` − 1 s, so tests set
///   that to a few seconds.
/// - Each partition keeps at most 5 MiB or 100,000 message sets (older ones silently go).
/// - Transactions only partly work.
///
/// # Ownership
///
/// rdkafka's `MockCluster` is neither `Send` nor `Sync` (it holds librdkafka's raw handle, and
/// a lifetime tying it to the client that owns it). `MockKafka` creates it, with its own owning
/// client (`MockCluster::new`), on a thread of its own, which keeps it until the `MockKafka` is
/// dropped and does every operation on it: a `MockKafka` is `Send + Sync`, and its methods
/// block the caller for the few microseconds an operation takes. Dropping it stops the cluster
/// (waiting up to 5 s): clients still connected then see their brokers go away.
///
/// # Examples
///
/// ```
/// use runner_kafka::{InjectedError, KafkaConfig, MockKafka, MockRequest};
///
/// let kafka = MockKafka::new(3)?;
/// kafka.create_topic("orders", 6)?;
/// let config = KafkaConfig::new(kafka.bootstrap_servers()).group_id("totals");
/// assert!(config.bootstrap_servers().starts_with("127.0.0.1:"));
///
/// kafka.inject_errors(MockRequest::OffsetCommit, &[InjectedError::RebalanceInProgress])?;
/// kafka.broker_down(2)?;
/// kafka.broker_up(2)?;
/// # Ok::<(), runner_kafka::MockKafkaError>(())
/// ```
pub struct MockKafka {
    /// Operations for the cluster's thread.
    operations: mpsc::Sender<Operation>,
    /// The brokers' addresses.
    bootstrap_servers: String,
    /// The number of brokers.
    brokers: i32,
}

/// One operation for the cluster's thread, with where its answer goes.
enum Operation {
    CreateTopic {
        name: String,
        partitions: i32,
        reply: mpsc::SyncSender<Result<(), String>>,
    },
    BrokerDown {
        broker: i32,
        reply: mpsc::SyncSender<Result<(), String>>,
    },
    BrokerUp {
        broker: i32,
        reply: mpsc::SyncSender<Result<(), String>>,
    },
    InjectErrors {
        request: MockRequest,
        errors: Vec<InjectedError>,
        reply: mpsc::SyncSender<Result<(), String>>,
    },
    ClearErrors {
        request: MockRequest,
        reply: mpsc::SyncSender<Result<(), String>>,
    },
    Stop {
        reply: mpsc::SyncSender<Result<(), String>>,
    },
}

/// The requests whose answers [`MockKafka::inject_errors`] can replace with errors.
///
/// # Examples
///
/// ```
/// use runner_kafka::MockRequest;
///
/// assert_ne!(MockRequest::Produce, MockRequest::Fetch);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MockRequest {
    /// A producer's Produce request.
    Produce,
    /// A consumer's Fetch request.
    Fetch,
    /// A consumer's OffsetCommit request.
    OffsetCommit,
}

impl MockRequest {
    fn api_key(self) -> RDKafkaApiKey {
        match self {
            MockRequest::Produce => RDKafkaApiKey::Produce,
            MockRequest::Fetch => RDKafkaApiKey::Fetch,
            MockRequest::OffsetCommit => RDKafkaApiKey::OffsetCommit,
        }
    }
}

/// The errors [`MockKafka::inject_errors`] can answer a request with (Kafka's error codes).
/// What the clients make of them, measured (kafka-notes §2): on OffsetCommit,
/// `NotCoordinator` and `CoordinatorLoadInProgress` are retried by librdkafka (the commit
/// succeeds later); `RebalanceInProgress`, `IllegalGeneration` and `UnknownMemberId` fail
/// the commit (the last also makes the member rejoin). On Produce, `NotLeaderForPartition` and
/// `RequestTimedOut` are retried.
///
/// # Examples
///
/// ```
/// use runner_kafka::InjectedError;
///
/// assert_eq!(InjectedError::RebalanceInProgress.to_string(), "REBALANCE_IN_PROGRESS");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InjectedError {
    /// `REBALANCE_IN_PROGRESS` (27).
    RebalanceInProgress,
    /// `ILLEGAL_GENERATION` (22).
    IllegalGeneration,
    /// `UNKNOWN_MEMBER_ID` (25).
    UnknownMemberId,
    /// `NOT_COORDINATOR` (16).
    NotCoordinator,
    /// `COORDINATOR_LOAD_IN_PROGRESS` (14).
    CoordinatorLoadInProgress,
    /// `NOT_LEADER_OR_FOLLOWER` (6).
    NotLeaderForPartition,
    /// `REQUEST_TIMED_OUT` (7).
    RequestTimedOut,
    /// `GROUP_AUTHORIZATION_FAILED` (30).
    GroupAuthorizationFailed,
}

impl InjectedError {
    fn code(self) -> RDKafkaRespErr {
        match self {
            InjectedError::RebalanceInProgress => {
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS
            }
            InjectedError::IllegalGeneration => {
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION
            }
            InjectedError::UnknownMemberId => RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID,
            InjectedError::NotCoordinator => RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            InjectedError::CoordinatorLoadInProgress => {
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS
            }
            InjectedError::NotLeaderForPartition => {
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION
            }
            InjectedError::RequestTimedOut => RDKafkaRespErr::RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
            InjectedError::GroupAuthorizationFailed => {
                RDKafkaRespErr::RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED
            }
        }
    }
}

impl fmt::Display for InjectedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InjectedError::RebalanceInProgress => "REBALANCE_IN_PROGRESS",
            InjectedError::IllegalGeneration => "ILLEGAL_GENERATION",
            InjectedError::UnknownMemberId => "UNKNOWN_MEMBER_ID",
            InjectedError::NotCoordinator => "NOT_COORDINATOR",
            InjectedError::CoordinatorLoadInProgress => "COORDINATOR_LOAD_IN_PROGRESS",
            InjectedError::NotLeaderForPartition => "NOT_LEADER_OR_FOLLOWER",
            InjectedError::RequestTimedOut => "REQUEST_TIMED_OUT",
            InjectedError::GroupAuthorizationFailed => "GROUP_AUTHORIZATION_FAILED",
        })
    }
}

/// Error returned by [`MockKafka`]'s methods: the mock cluster refused an operation, or its
/// thread is gone.
///
/// # Examples
///
/// ```
/// use runner_kafka::MockKafka;
///
/// let error = MockKafka::new(0).unwrap_err();
/// assert_eq!(error.to_string(), "mock cluster: new: at least one broker is needed, not 0");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("mock cluster: {operation}: {message}")]
pub struct MockKafkaError {
    operation: &'static str,
    message: String,
}

impl MockKafkaError {
    fn new(operation: &'static str, message: impl Into<String>) -> Self {
        MockKafkaError {
            operation,
            message: message.into(),
        }
    }
}

impl MockKafka {
    /// A cluster of `brokers` brokers (ids `1..=brokers`) on loopback.
    ///
    /// # Errors
    ///
    /// Fewer than one broker, no thread for the cluster, or librdkafka failing to create it.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::MockKafka;
    ///
    /// let kafka = MockKafka::new(1)?;
    /// assert_eq!(kafka.brokers(), 1);
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    pub fn new(brokers: i32) -> Result<Self, MockKafkaError> {
        if brokers < 1 {
            return Err(MockKafkaError::new(
                "new",
                format!("at least one broker is needed, not {brokers}"),
            ));
        }
        let (operations, requests) = mpsc::channel();
        let (ready, started) = mpsc::sync_channel(1);
        thread::Builder::new()
            .name("runner-kafka-mock".to_owned())
            .spawn(move || own(brokers, &ready, &requests))
            .map_err(|error| {
                MockKafkaError::new("new", format!("cannot start a thread: {error}"))
            })?;
        let bootstrap_servers = started
            .recv()
            .map_err(|_| MockKafkaError::new("new", "the cluster's thread died"))?
            .map_err(|message| MockKafkaError::new("new", message))?;
        Ok(MockKafka {
            operations,
            bootstrap_servers,
            brokers,
        })
    }

    /// The brokers' addresses, for [`KafkaConfig::new`](super::KafkaConfig::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::MockKafka;
    ///
    /// let kafka = MockKafka::new(2)?;
    /// assert_eq!(kafka.bootstrap_servers().split(',').count(), 2);
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    #[must_use]
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// The number of brokers.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::MockKafka;
    ///
    /// assert_eq!(MockKafka::new(3)?.brokers(), 3);
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    #[must_use]
    pub fn brokers(&self) -> i32 {
        self.brokers
    }

    /// Creates topic `name` with `partitions` partitions (replication factor 1, leaders spread
    /// over the brokers).
    ///
    /// # Errors
    ///
    /// An invalid name or partition count, or a topic that exists.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::MockKafka;
    ///
    /// let kafka = MockKafka::new(1)?;
    /// kafka.create_topic("orders", 6)?;
    /// assert!(kafka.create_topic("bad", 0).is_err());
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), MockKafkaError> {
        if name.is_empty() || partitions < 1 {
            return Err(MockKafkaError::new(
                "create topic",
                format!("invalid topic {name:?} with {partitions} partitions"),
            ));
        }
        self.call("create topic", |reply| Operation::CreateTopic {
            name: name.to_owned(),
            partitions,
            reply,
        })
    }

    /// Takes broker `broker` down: its connections close and the partitions it leads stop,
    /// until [`broker_up`](Self::broker_up).
    ///
    /// # Errors
    ///
    /// An unknown broker id.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::MockKafka;
    ///
    /// let kafka = MockKafka::new(2)?;
    /// kafka.broker_down(2)?;
    /// kafka.broker_up(2)?;
    /// assert!(kafka.broker_down(7).is_err());
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    pub fn broker_down(&self, broker: i32) -> Result<(), MockKafkaError> {
        self.check_broker("broker down", broker)?;
        self.call("broker down", |reply| Operation::BrokerDown {
            broker,
            reply,
        })
    }

    /// Brings broker `broker` back up.
    ///
    /// # Errors
    ///
    /// An unknown broker id.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::MockKafka;
    ///
    /// let kafka = MockKafka::new(1)?;
    /// kafka.broker_down(1)?;
    /// kafka.broker_up(1)?;
    /// assert!(kafka.broker_up(0).is_err());
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    pub fn broker_up(&self, broker: i32) -> Result<(), MockKafkaError> {
        self.check_broker("broker up", broker)?;
        self.call("broker up", |reply| Operation::BrokerUp { broker, reply })
    }

    /// Answers the next `errors.len()` requests of kind `request` (from any client, to any
    /// broker) with these errors, one each, in order; later requests are served normally.
    ///
    /// # Errors
    ///
    /// Only if the cluster's thread is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{InjectedError, MockKafka, MockRequest};
    ///
    /// let kafka = MockKafka::new(1)?;
    /// kafka.inject_errors(
    ///     MockRequest::Produce,
    ///     &[InjectedError::NotLeaderForPartition, InjectedError::RequestTimedOut],
    /// )?;
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    pub fn inject_errors(
        &self,
        request: MockRequest,
        errors: &[InjectedError],
    ) -> Result<(), MockKafkaError> {
        self.call("inject errors", |reply| Operation::InjectErrors {
            request,
            errors: errors.to_vec(),
            reply,
        })
    }

    /// Forgets the errors injected for `request` and not yet used.
    ///
    /// # Errors
    ///
    /// Only if the cluster's thread is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{InjectedError, MockKafka, MockRequest};
    ///
    /// let kafka = MockKafka::new(1)?;
    /// kafka.inject_errors(MockRequest::Fetch, &[InjectedError::NotLeaderForPartition])?;
    /// kafka.clear_errors(MockRequest::Fetch)?;
    /// # Ok::<(), runner_kafka::MockKafkaError>(())
    /// ```
    pub fn clear_errors(&self, request: MockRequest) -> Result<(), MockKafkaError> {
        self.call("clear errors", |reply| Operation::ClearErrors {
            request,
            reply,
        })
    }

    /// Refuses broker ids the cluster does not have.
    fn check_broker(&self, operation: &'static str, broker: i32) -> Result<(), MockKafkaError> {
        if (1..=self.brokers).contains(&broker) {
            Ok(())
        } else {
            Err(MockKafkaError::new(
                operation,
                format!("no broker {broker}: the ids are 1 to {}", self.brokers),
            ))
        }
    }

    /// Sends the operation `make` builds and waits for its answer.
    fn call(
        &self,
        operation: &'static str,
        make: impl FnOnce(mpsc::SyncSender<Result<(), String>>) -> Operation,
    ) -> Result<(), MockKafkaError> {
        let gone = || MockKafkaError::new(operation, "the cluster's thread is gone");
        let (reply, answer) = mpsc::sync_channel(1);
        self.operations.send(make(reply)).map_err(|_| gone())?;
        answer
            .recv()
            .map_err(|_| gone())?
            .map_err(|message| MockKafkaError::new(operation, message))
    }
}

/// The cluster's thread: creates the cluster, says where it is, serves operations until told
/// to stop (or the `MockKafka` is gone), then destroys it.
fn own(
    brokers: i32,
    ready: &mpsc::SyncSender<Result<String, String>>,
    requests: &mpsc::Receiver<Operation>,
) {
    let cluster = match MockCluster::new(brokers) {
        Ok(cluster) => cluster,
        Err(error) => {
            let _ = ready.send(Err(error.to_string()));
            return;
        }
    };
    if ready.send(Ok(cluster.bootstrap_servers())).is_err() {
        return;
    }
    let mut stopped = None;
    while let Ok(operation) = requests.recv() {
        if let Operation::Stop { reply } = operation {
            stopped = Some(reply);
            break;
        }
        apply(&cluster, operation);
    }
    drop(cluster);
    if let Some(reply) = stopped {
        let _ = reply.send(Ok(()));
    }
}

/// Applies one operation (other than `Stop`) to `cluster` and answers it.
fn apply(cluster: &MockCluster<'static, DefaultProducerContext>, operation: Operation) {
    let text = |result: rdkafka::error::KafkaResult<()>| result.map_err(|error| error.to_string());
    let (result, reply) = match operation {
        Operation::CreateTopic {
            name,
            partitions,
            reply,
        } => (text(cluster.create_topic(&name, partitions, 1)), reply),
        Operation::BrokerDown { broker, reply } => (text(cluster.broker_down(broker)), reply),
        Operation::BrokerUp { broker, reply } => (text(cluster.broker_up(broker)), reply),
        Operation::InjectErrors {
            request,
            errors,
            reply,
        } => {
            let codes: Vec<RDKafkaRespErr> = errors.iter().map(|error| error.code()).collect();
            cluster.request_errors(request.api_key(), &codes);
            (Ok(()), reply)
        }
        Operation::ClearErrors { request, reply } => {
            cluster.clear_request_errors(request.api_key());
            (Ok(()), reply)
        }
        Operation::Stop { reply } => (Ok(()), reply),
    };
    let _ = reply.send(result);
}

impl Drop for MockKafka {
    fn drop(&mut self) {
        let (reply, answer) = mpsc::sync_channel(1);
        if self.operations.send(Operation::Stop { reply }).is_ok() {
            // Bounded: a cluster that does not stop in time is left to its thread.
            let _ = answer.recv_timeout(STOP_WAIT);
        }
    }
}

impl fmt::Debug for MockKafka {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockKafka")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .field("brokers", &self.brokers)
            .finish()
    }
}
