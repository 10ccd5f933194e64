//! [`MemoryCluster`]: the handle to an in-memory cluster: topics and their logs, groups, the
//! scripted rebalances and faults, and inspection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::client::ClientError;
use crate::record::{OutRecord, Record, TopicPartition};

use super::builder::MemoryClientBuilder;
use super::client::MemoryClient;
use super::error::MemoryError;
use super::options::Options;
use super::producer::MemoryProducer;
use super::rebalance;
use super::state::{MemberId, Shared};
use super::topic::Topic;

/// An in-memory Kafka cluster for deterministic tests, on tokio's clock. Clones are handles to
/// the same cluster. See the [module docs](super) for the rules it follows.
///
/// # Examples
///
/// ```
/// use runner_kafka::TopicPartition;
/// use runner_kafka::memory::MemoryCluster;
///
/// let cluster = MemoryCluster::new();
/// cluster.create_topic("orders", 2)?;
/// let tp = TopicPartition::new("orders", 1);
/// assert_eq!(cluster.append(&tp, "o-1", "first")?, 0);
/// assert_eq!(cluster.append(&tp, "o-2", "second")?, 1);
/// assert_eq!(cluster.records(&tp).len(), 2);
/// # Ok::<(), runner_kafka::memory::MemoryError>(())
/// ```
#[derive(Clone)]
pub struct MemoryCluster {
    shared: Arc<Shared>,
}

impl fmt::Debug for MemoryCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared.read(|state| {
            f.debug_struct("MemoryCluster")
                .field(
                    "topics",
                    &state
                        .topics
                        .iter()
                        .map(|(name, topic)| (name, topic.partitions().count()))
                        .collect::<Vec<_>>(),
                )
                .field(
                    "groups",
                    &state
                        .groups
                        .values()
                        .map(|group| (&group.name, &group.members))
                        .collect::<Vec<_>>(),
                )
                .finish_non_exhaustive()
        })
    }
}

impl Default for MemoryCluster {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryCluster {
    /// An empty cluster: no topics, no groups, no faults, acks without delay.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::TopicPartition;
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// assert_eq!(cluster.records(&TopicPartition::new("orders", 0)), []);
    /// ```
    #[must_use]
    pub fn new() -> Self {
        MemoryCluster {
            shared: Arc::new(Shared::new()),
        }
    }

    /// Creates `name` with `partitions` partitions, numbered from 0. The groups with a member
    /// subscribed to it rebalance to take it in.
    ///
    /// # Errors
    ///
    /// [`MemoryError::EmptyTopicName`], [`MemoryError::NoPartitions`] for fewer than one
    /// partition, [`MemoryError::TopicExists`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::{MemoryCluster, MemoryError};
    ///
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 6)?;
    /// assert_eq!(cluster.create_topic("orders", 6), Err(MemoryError::TopicExists("orders".into())));
    /// assert_eq!(cluster.create_topic("", 1), Err(MemoryError::EmptyTopicName));
    /// # Ok::<(), MemoryError>(())
    /// ```
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<(), MemoryError> {
        if name.is_empty() {
            return Err(MemoryError::EmptyTopicName);
        }
        let count = usize::try_from(partitions)
            .ok()
            .filter(|&count| count > 0)
            .ok_or_else(|| MemoryError::NoPartitions {
                topic: name.to_owned(),
                partitions,
            })?;
        self.shared.update(|state| {
            if state.topics.contains_key(name) {
                return Err(MemoryError::TopicExists(name.to_owned()));
            }
            let name: Arc<str> = Arc::from(name);
            state
                .topics
                .insert(Arc::clone(&name), Topic::new(Arc::clone(&name), count));
            rebalance::topic_created(state, &name);
            Ok(())
        })
    }

    /// Appends a record with `key` and `value` to partition `tp`; returns its offset (offsets
    /// count from 0, one by one).
    ///
    /// # Errors
    ///
    /// [`MemoryError::UnknownTopic`], [`MemoryError::UnknownPartition`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::TopicPartition;
    /// use runner_kafka::memory::{MemoryCluster, MemoryError};
    ///
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// assert_eq!(cluster.append(&TopicPartition::new("orders", 0), "o-1", "x")?, 0);
    /// let missing = TopicPartition::new("orders", 1);
    /// assert_eq!(cluster.append(&missing, "o-1", "x"), Err(MemoryError::UnknownPartition(missing.clone())));
    /// # Ok::<(), MemoryError>(())
    /// ```
    pub fn append(
        &self,
        tp: &TopicPartition,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> Result<i64, MemoryError> {
        let record = OutRecord::new(tp.topic.as_ref())
            .with_partition(tp.partition)
            .with_key(key)
            .with_value(value);
        self.produce(record).map(|record| record.offset)
    }

    /// Appends `record` to its partition; without one, to the partition of its key's hash
    /// (CRC-32 modulo the partition count, as librdkafka's default partitioner for keyed
    /// records), and without a key, round-robin. Returns the record as stored.
    ///
    /// # Errors
    ///
    /// [`MemoryError::UnknownTopic`], [`MemoryError::UnknownPartition`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::OutRecord;
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 4)?;
    /// let first = cluster.produce(OutRecord::new("orders").with_key("o-1"))?;
    /// let again = cluster.produce(OutRecord::new("orders").with_key("o-1"))?;
    /// assert_eq!((again.partition, again.offset), (first.partition, first.offset + 1));
    /// # Ok::<(), runner_kafka::memory::MemoryError>(())
    /// ```
    pub fn produce(&self, record: OutRecord) -> Result<Record, MemoryError> {
        self.shared
            .update(|state| match state.topics.get_mut(record.topic.as_str()) {
                Some(topic) => topic.append(record),
                None => Err(MemoryError::UnknownTopic(record.topic)),
            })
    }

    /// The log of partition `tp`, from offset 0 (empty for a partition that does not exist).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::TopicPartition;
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// let tp = TopicPartition::new("orders", 0);
    /// cluster.append(&tp, "o-1", "x")?;
    /// let offsets: Vec<i64> = cluster.records(&tp).iter().map(|r| r.offset).collect();
    /// assert_eq!(offsets, [0]);
    /// # Ok::<(), runner_kafka::memory::MemoryError>(())
    /// ```
    #[must_use]
    pub fn records(&self, tp: &TopicPartition) -> Vec<Record> {
        self.shared.read(|state| {
            state
                .topics
                .get(&tp.topic)
                .and_then(|topic| topic.log(tp.partition))
                .map(<[Record]>::to_vec)
                .unwrap_or_default()
        })
    }

    /// The offset `group` committed for `tp` (of the next record to read), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::TopicPartition;
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// assert_eq!(cluster.committed("billing", &TopicPartition::new("orders", 0)), None);
    /// ```
    #[must_use]
    pub fn committed(&self, group: &str, tp: &TopicPartition) -> Option<i64> {
        self.shared.read(|state| {
            state
                .groups
                .get(group)
                .and_then(|group| group.committed.get(tp).copied())
        })
    }

    /// Every commit `group` stored, in order (one entry per partition of each commit).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// assert_eq!(cluster.commits("billing"), []);
    /// ```
    #[must_use]
    pub fn commits(&self, group: &str) -> Vec<(TopicPartition, i64)> {
        self.shared.read(|state| {
            state
                .groups
                .get(group)
                .map(|group| group.commits.clone())
                .unwrap_or_default()
        })
    }

    /// A new member of `group`, with the default options (see [`client_builder`](Self::client_builder)).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// let client = cluster.client("billing");
    /// assert_eq!(client.group(), "billing");
    /// ```
    #[must_use]
    pub fn client(&self, group: &str) -> MemoryClient {
        MemoryClient::new(Arc::clone(&self.shared), group, Options::default())
    }

    /// A builder for a member of `group` with options (records per poll, protocol, offset
    /// reset).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::{MemoryCluster, OffsetReset};
    ///
    /// let cluster = MemoryCluster::new();
    /// let client = cluster.client_builder("billing").offset_reset(OffsetReset::Latest).build()?;
    /// # let _ = client;
    /// # Ok::<(), runner_kafka::memory::MemoryError>(())
    /// ```
    pub fn client_builder(&self, group: &str) -> MemoryClientBuilder {
        MemoryClientBuilder::new(Arc::clone(&self.shared), group)
    }

    /// A producer of its own (its [`flush`](crate::Producer::flush) waits for its own sends),
    /// to feed topics from a test as an application would.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{OutRecord, Producer, TopicPartition};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1).unwrap();
    /// cluster.producer().send(OutRecord::new("orders").with_value("x")).await.unwrap();
    /// assert_eq!(cluster.records(&TopicPartition::new("orders", 0)).len(), 1);
    /// # }
    /// ```
    #[must_use]
    pub fn producer(&self) -> MemoryProducer {
        MemoryProducer::new(Arc::clone(&self.shared))
    }

    /// `group` rebalances now, with its members and subscriptions as they are: eager, every
    /// member is revoked and reassigned; cooperative, only what the assignor moves. (Joins,
    /// leaves, evictions and new subscribed topics rebalance by themselves.)
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{Client, Event};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// let mut client = cluster.client("billing");
    /// client.subscribe(&["orders".to_owned()])?;
    /// assert!(matches!(client.poll().await?, Event::Assigned(_)));
    ///
    /// cluster.rebalance("billing"); // eager: a full revoke, then the assignment again
    /// let Event::Revoked { barrier, .. } = client.poll().await? else { panic!("revoked") };
    /// barrier.done();
    /// assert!(matches!(client.poll().await?, Event::Assigned(_)));
    /// # Ok(()) }
    /// ```
    pub fn rebalance(&self, group: &str) {
        self.shared.update(|state| rebalance::trigger(state, group));
    }

    /// Evicts `member` from its group (as a session timeout would): its next poll delivers
    /// `Revoked { lost: true }` with what it had, and its partitions go to the others at once,
    /// without waiting for any barrier of it. It stays out of the group (its commits refused)
    /// until it subscribes again.
    ///
    /// # Errors
    ///
    /// [`MemoryError::UnknownMember`], [`MemoryError::NotInGroup`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{Client, Event};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// let mut client = cluster.client("billing");
    /// client.subscribe(&["orders".to_owned()])?;
    /// client.poll().await?; // assigned
    ///
    /// cluster.lose(client.member_id())?;
    /// assert!(matches!(client.poll().await?, Event::Revoked { lost: true, .. }));
    /// assert_eq!(cluster.assignment(client.member_id()), []);
    /// # Ok(()) }
    /// ```
    pub fn lose(&self, member: MemberId) -> Result<(), MemoryError> {
        self.shared.update(|state| rebalance::lose(state, member))
    }

    /// The next `n` polls of `member` fail with `error` (replacing any failures scripted
    /// before for it). A poll waiting for records wakes up to fail.
    ///
    /// # Errors
    ///
    /// [`MemoryError::UnknownMember`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{Client, ClientError, ClientErrorKind};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// let mut client = cluster.client("billing");
    /// let down = ClientError::new(ClientErrorKind::Transient, "broker transport failure");
    /// cluster.fail_polls(client.member_id(), 1, down.clone())?;
    /// assert_eq!(client.poll().await.unwrap_err(), down);
    /// # Ok(()) }
    /// ```
    pub fn fail_polls(
        &self,
        member: MemberId,
        n: u32,
        error: ClientError,
    ) -> Result<(), MemoryError> {
        self.shared.update(|state| {
            let member = state
                .members
                .get_mut(&member)
                .ok_or(MemoryError::UnknownMember(member))?;
            member.poll_failures.set(n, error);
            Ok(())
        })
    }

    /// The next `n` commits of `group` (of any member) fail with `error`, storing nothing
    /// (replacing any failures scripted before for it). The group need not have members yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{Client, ClientError, ClientErrorKind, TopicPartition};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// let mut client = cluster.client("billing");
    /// client.subscribe(&["orders".to_owned()])?;
    /// client.poll().await?; // assigned
    /// let error = ClientError::new(ClientErrorKind::Rebalancing, "REBALANCE_IN_PROGRESS");
    /// cluster.fail_commits("billing", 1, error.clone());
    /// let tp = TopicPartition::new("orders", 0);
    /// assert_eq!(client.commit(vec![(tp.clone(), 0)]).await, Err(error));
    /// assert_eq!(client.commit(vec![(tp.clone(), 0)]).await, Ok(()));
    /// # Ok(()) }
    /// ```
    pub fn fail_commits(&self, group: &str, n: u32, error: ClientError) {
        self.shared
            .update(|state| state.group_mut(group).commit_failures.set(n, error));
    }

    /// While `hang` is set, the commits of `group` get no answer (as when its coordinator is
    /// down): a commit waits, and the caller's timeout is what ends it (nothing is stored). When
    /// it is cleared, the commits still waiting are answered and stored.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::{Client, TopicPartition};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// let mut client = cluster.client("billing");
    /// client.subscribe(&["orders".to_owned()])?;
    /// client.poll().await?; // assigned
    /// cluster.hang_commits("billing", true);
    /// let commit = client.commit(vec![(TopicPartition::new("orders", 0), 0)]);
    /// assert!(tokio::time::timeout(Duration::from_secs(5), commit).await.is_err());
    /// assert_eq!(cluster.commits("billing"), []);
    /// # Ok(()) }
    /// ```
    pub fn hang_commits(&self, group: &str, hang: bool) {
        self.shared
            .update(|state| state.group_mut(group).commits_hang = hang);
    }

    /// The next `n` sends (of any producer) fail with `error`, appending nothing (replacing any
    /// failures scripted before). The failure is reported after the delivery delay, like an
    /// ack.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{ClientError, ClientErrorKind, OutRecord, Producer, TopicPartition};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("totals", 1).unwrap();
    /// let error = ClientError::new(ClientErrorKind::Transient, "message timed out");
    /// cluster.fail_sends(1, error.clone());
    /// let producer = cluster.producer();
    /// assert_eq!(producer.send(OutRecord::new("totals")).await, Err(error));
    /// assert_eq!(producer.send(OutRecord::new("totals")).await, Ok(()));
    /// assert_eq!(cluster.records(&TopicPartition::new("totals", 0)).len(), 1);
    /// # }
    /// ```
    pub fn fail_sends(&self, n: u32, error: ClientError) {
        self.shared
            .update(|state| state.sends.failures.set(n, error));
    }

    /// How long sends made from now on wait for their ack (or failure), on tokio's clock.
    /// Default: none. `Duration::MAX` (or any huge delay): never, in practice.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::{OutRecord, Producer};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("totals", 1).unwrap();
    /// cluster.delivery_delay(Duration::from_millis(20));
    /// let started = tokio::time::Instant::now();
    /// cluster.producer().send(OutRecord::new("totals")).await.unwrap();
    /// assert_eq!(started.elapsed(), Duration::from_millis(20));
    /// # }
    /// ```
    pub fn delivery_delay(&self, delay: Duration) {
        self.shared.update(|state| state.sends.delay = delay);
    }

    /// The partitions `member` paused, sorted. They may include partitions it no longer has:
    /// a pause outlives a revoke, as in librdkafka, and holds again if the partition comes
    /// back. Empty for an unknown member.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{Client, TopicPartition};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// let mut client = cluster.client("billing");
    /// client.subscribe(&["orders".to_owned()])?;
    /// client.poll().await?; // assigned
    /// client.pause(&[TopicPartition::new("orders", 0)])?;
    /// assert_eq!(cluster.paused(client.member_id()), [TopicPartition::new("orders", 0)]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn paused(&self, member: MemberId) -> Vec<TopicPartition> {
        self.shared.read(|state| {
            state
                .members
                .get(&member)
                .map(|member| member.paused.iter().cloned().collect())
                .unwrap_or_default()
        })
    }

    /// The partitions the group counts as `member`'s, sorted: assigned to it (polled or not
    /// yet) and not released (a revoke whose barrier is not done still holds them). Empty for
    /// an unknown member.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{Client, Event, TopicPartition};
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let cluster = MemoryCluster::new();
    /// cluster.create_topic("orders", 1)?;
    /// let mut client = cluster.client("billing");
    /// client.subscribe(&["orders".to_owned()])?;
    /// let mine = [TopicPartition::new("orders", 0)];
    /// assert_eq!(cluster.assignment(client.member_id()), mine); // before the poll
    ///
    /// client.poll().await?; // assigned
    /// cluster.rebalance("billing");
    /// let Event::Revoked { barrier, .. } = client.poll().await? else { panic!("revoked") };
    /// assert_eq!(cluster.assignment(client.member_id()), mine); // held by the barrier
    /// drop(barrier);
    /// assert_eq!(cluster.assignment(client.member_id()), mine); // assigned again, not polled yet
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn assignment(&self, member: MemberId) -> Vec<TopicPartition> {
        self.shared.read(|state| {
            let Some(group) = state
                .members
                .get(&member)
                .and_then(|m| state.groups.get(&m.group))
            else {
                return Vec::new();
            };
            group
                .owners
                .iter()
                .filter(|(_, owner)| owner.member == member)
                .map(|(partition, _)| partition.clone())
                .collect()
        })
    }

    /// The members in `group` (subscribed, not evicted, not closed), sorted.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::Client;
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// let mut client = cluster.client("billing");
    /// assert_eq!(cluster.members("billing"), []);
    /// client.subscribe(&["orders".to_owned()])?;
    /// assert_eq!(cluster.members("billing"), [client.member_id()]);
    /// # Ok::<(), runner_kafka::ClientError>(())
    /// ```
    #[must_use]
    pub fn members(&self, group: &str) -> Vec<MemberId> {
        self.shared.read(|state| {
            state
                .groups
                .get(group)
                .map(|group| group.members.iter().copied().collect())
                .unwrap_or_default()
        })
    }
}
