//! [`KafkaClient`]: the [`Client`] over rdkafka, its consumer on a thread of its own.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::FromClientConfigAndContext as _;
use tokio::sync::{mpsc as async_mpsc, oneshot};

use super::command::Command;
use super::config::{KafkaConfig, KafkaConfigError};
use super::context::{Assigned, Consumer, RunnerContext, lock};
use super::errors::thread_ended;
use super::producer::KafkaProducer;
use super::worker;
use crate::client::{Client, ClientError, ClientErrorKind, Event};
use crate::record::TopicPartition;

/// A consumer in a group, over librdkafka: the [`Client`] the runners use against a real
/// cluster (or [`MockKafka`](super::MockKafka)).
///
/// # How it runs
///
/// The librdkafka consumer lives on a thread of its own (`runner-kafka-consumer`), which owns
/// it from creation to drop. The methods send requests to that thread and await its answers:
/// no call blocks the calling thread (a tokio worker) on librdkafka.
///
/// - [`poll`](Client::poll) asks for records; the thread polls librdkafka in short slices
///   (20 ms), serving other requests in between, and answers with one batch (up to
///   [`KafkaConfig::max_batch`] records), an error, or a rebalance event. It fetches only while
///   a poll waits, so a runner that stops polling stops fetching (and is evicted from the group
///   after `max.poll.interval.ms`, as any Kafka consumer). Dropping a `poll` future loses
///   nothing: its answer waits for the next `poll`.
/// - A revoke (or a lost assignment) comes as [`Event::Revoked`] with a barrier. The thread
///   then waits, still serving [`commit`](Client::commit), [`pause`](Client::pause) and
///   [`resume`](Client::resume), until the barrier is done or dropped, or the
///   [revoke budget](KafkaConfig::revoke_budget) is spent, and only then lets librdkafka hand
///   the partitions to the group. Under an eager protocol (librdkafka's default) every
///   rebalance revokes everything; under `cooperative-sticky` only the partitions that move.
/// - [`Event::Assigned`] comes once librdkafka has assigned the partitions. An assigned
///   partition always starts fetching, even one that was paused before an eager revoke took it
///   away and gave it back (librdkafka would keep it paused).
/// - [`close`](Client::close) drops the pending events (their barriers with them), then the
///   thread drops the consumer, which leaves the group. That can hang (a librdkafka bug seen
///   on the mock cluster): `close` gives up after its timeout and leaves the thread behind.
///   Dropping a client without `close` closes it the same way, unwaited.
///
/// # Examples
///
/// An embedded cluster, a record, and a consumer that reads it (the group join takes about
/// 3 s on the mock cluster):
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::{Client, Event, KafkaClient, KafkaConfig, MockKafka, OutRecord, Producer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kafka = MockKafka::new(1)?;
/// kafka.create_topic("orders", 1)?;
/// let config = KafkaConfig::new(kafka.bootstrap_servers()).group_id("totals");
/// let mut client = KafkaClient::new(&config)?;
/// client.producer().send(OutRecord::new("orders").with_value("42")).await?;
///
/// client.subscribe(&["orders".to_owned()])?;
/// let records = tokio::time::timeout(Duration::from_secs(20), async {
///     loop {
///         if let Event::Records(records) = client.poll().await? {
///             return Ok::<_, runner_kafka::ClientError>(records);
///         }
///     }
/// })
/// .await??;
/// assert_eq!(records[0].value.as_deref(), Some(&b"42"[..]));
/// client.commit(vec![(records[0].topic_partition(), records[0].offset + 1)]).await?;
/// client.close(Duration::from_secs(10)).await?;
/// # Ok(())
/// # }
/// ```
pub struct KafkaClient {
    /// Requests to the consumer thread.
    commands: mpsc::Sender<Command>,
    /// Its events and poll answers.
    events: async_mpsc::UnboundedReceiver<Result<Event, ClientError>>,
    /// The member's assignment, as the thread last set it.
    assigned: Assigned,
    /// The producer handed out by [`Client::producer`].
    producer: KafkaProducer,
}

impl KafkaClient {
    /// A consumer of `config`'s group, and its producer. It joins the group on
    /// [`subscribe`](Client::subscribe). Creating one does not wait on the network (librdkafka
    /// connects in the background; brokers that cannot be reached show as poll errors), nor
    /// does it need a tokio runtime.
    ///
    /// # Errors
    ///
    /// [`KafkaConfigError`]: no bootstrap servers, no group, a zero batch size, a property
    /// librdkafka refuses, or no thread for the consumer.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{KafkaClient, KafkaConfig, KafkaConfigError};
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").group_id("totals");
    /// assert!(KafkaClient::new(&config).is_ok());
    ///
    /// let refused = KafkaClient::new(&config.set("no.such.property", "1")).unwrap_err();
    /// assert!(matches!(refused, KafkaConfigError::Rejected { .. }));
    /// ```
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaConfigError> {
        let consumer_config = config.consumer_config()?;
        let producer = KafkaProducer::new(config)?;
        let (commands, requests) = mpsc::channel();
        let (event_sender, events) = async_mpsc::unbounded_channel();
        let assigned: Assigned = Arc::new(Mutex::new(HashSet::new()));
        let context = RunnerContext::new(
            requests,
            commands.clone(),
            event_sender,
            Arc::clone(&assigned),
            config.get_revoke_budget(),
        );
        let consumer = Consumer::from_config_and_context(&consumer_config, context)?;
        worker::spawn(consumer, config.get_max_batch()).map_err(KafkaConfigError::Thread)?;
        Ok(KafkaClient {
            commands,
            events,
            assigned,
            producer,
        })
    }

    /// The partitions assigned to this member, as far as the events it delivered go (revoked
    /// ones leave once their barrier is done).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{KafkaClient, KafkaConfig};
    ///
    /// let client = KafkaClient::new(&KafkaConfig::new("127.0.0.1:9092").group_id("g"))?;
    /// assert!(client.assignment().is_empty());
    /// # Ok::<(), runner_kafka::KafkaConfigError>(())
    /// ```
    #[must_use]
    pub fn assignment(&self) -> Vec<TopicPartition> {
        let mut partitions: Vec<_> = lock(&self.assigned).iter().cloned().collect();
        partitions.sort();
        partitions
    }

    /// Sends `command` to the consumer thread.
    fn send(&self, command: Command) -> Result<(), ClientError> {
        self.commands.send(command).map_err(|_| thread_ended())
    }

    /// Checks that every one of `partitions` is assigned to this member.
    fn check_assigned(&self, what: &str, partitions: &[TopicPartition]) -> Result<(), ClientError> {
        let assigned = lock(&self.assigned);
        match partitions.iter().find(|tp| !assigned.contains(*tp)) {
            None => Ok(()),
            Some(tp) => Err(ClientError::new(
                ClientErrorKind::Rebalancing,
                format!("{what}: {tp} is not assigned to this member"),
            )),
        }
    }
}

impl Client for KafkaClient {
    type Producer = KafkaProducer;

    /// Subscribes to `topics`, replacing any earlier subscription. librdkafka's refusal of a
    /// topic comes as the next poll's error.
    ///
    /// # Errors
    ///
    /// [`ClientErrorKind::Config`] for no topics or an empty topic name;
    /// [`ClientErrorKind::Fatal`] if the consumer thread has ended.
    fn subscribe(&mut self, topics: &[String]) -> Result<(), ClientError> {
        if topics.is_empty() || topics.iter().any(|topic| topic.trim().is_empty()) {
            return Err(ClientError::new(
                ClientErrorKind::Config,
                format!("subscribe: no topics, or an empty topic name, in {topics:?}"),
            ));
        }
        self.send(Command::Subscribe(topics.to_vec()))
    }

    /// The next event: a batch of records, an assignment, a revoke, or a poll error
    /// ([`ClientErrorKind::Transient`] for a broker that cannot be reached, for example).
    /// Cancel safe: dropping the future loses no event.
    async fn poll(&mut self) -> Result<Event, ClientError> {
        if let Ok(event) = self.events.try_recv() {
            return event;
        }
        self.send(Command::Poll)?;
        self.events
            .recv()
            .await
            .unwrap_or_else(|| Err(thread_ended()))
    }

    /// Pauses `partitions` (records already fetched may still come).
    ///
    /// # Errors
    ///
    /// [`ClientErrorKind::Rebalancing`] for a partition that is not (or no longer) assigned;
    /// [`ClientErrorKind::Fatal`] if the consumer thread has ended.
    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), ClientError> {
        self.check_assigned("pause", partitions)?;
        self.send(Command::Pause(partitions.to_vec()))
    }

    /// Resumes `partitions`.
    ///
    /// # Errors
    ///
    /// As for [`pause`](Client::pause).
    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), ClientError> {
        self.check_assigned("resume", partitions)?;
        self.send(Command::Resume(partitions.to_vec()))
    }

    /// Commits `offsets` (each the next offset to read) synchronously on the consumer thread,
    /// in order with the other requests. Once the future has been polled, dropping it does not
    /// cancel the commit. While the group coordinator is unreachable a commit can block the
    /// consumer thread for long (kafka-notes §3.2): bound the wait.
    ///
    /// Errors: [`ClientErrorKind::Rebalancing`] (the group moved on: `REBALANCE_IN_PROGRESS`,
    /// `ILLEGAL_GENERATION`, `UNKNOWN_MEMBER_ID`), [`ClientErrorKind::Timeout`],
    /// [`ClientErrorKind::Transient`] (brokers or coordinator unreachable),
    /// [`ClientErrorKind::Config`] (a negative offset), [`ClientErrorKind::Fatal`] (anything
    /// else, such as an authorization failure).
    fn commit(
        &mut self,
        offsets: Vec<(TopicPartition, i64)>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send {
        let commands = self.commands.clone();
        async move {
            if offsets.is_empty() {
                return Ok(());
            }
            let (reply, answer) = oneshot::channel();
            commands
                .send(Command::Commit { offsets, reply })
                .map_err(|_| thread_ended())?;
            answer.await.unwrap_or_else(|_| Err(thread_ended()))
        }
    }

    fn producer(&self) -> KafkaProducer {
        self.producer.clone()
    }

    /// Leaves the group and closes the consumer, waiting up to `timeout` (`Duration::MAX`: no
    /// limit). Pending events are dropped first, their barriers released; a revoke during the
    /// close does not wait for a barrier (commit before closing).
    ///
    /// Errors: [`ClientErrorKind::Timeout`] if the consumer did not close in time (its thread
    /// goes on alone); [`ClientErrorKind::Fatal`] outside a tokio runtime, or if the consumer
    /// thread died.
    ///
    /// # Panics
    ///
    /// In a tokio runtime built without its time driver (`enable_time`).
    fn close(self, timeout: Duration) -> impl Future<Output = Result<(), ClientError>> + Send {
        let KafkaClient {
            commands, events, ..
        } = self;
        async move {
            drop(events);
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(ClientError::new(
                    ClientErrorKind::Fatal,
                    "close: not inside a tokio runtime; the consumer closes unwaited",
                ));
            }
            let (reply, closed) = oneshot::channel();
            if commands.send(Command::Close { reply }).is_err() {
                // The thread has ended: the consumer is closed already.
                return Ok(());
            }
            match tokio::time::timeout(timeout, closed).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(ClientError::new(
                    ClientErrorKind::Fatal,
                    "close: the consumer thread ended without closing",
                )),
                Err(_) => Err(ClientError::new(
                    ClientErrorKind::Timeout,
                    format!("close: the consumer did not close within {timeout:?}"),
                )),
            }
        }
    }
}

impl fmt::Debug for KafkaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaClient")
            .field("assignment", &self.assignment())
            .field("producer", &self.producer)
            .finish_non_exhaustive()
    }
}
