//! [`MemoryError`]: what the in-memory cluster's own calls (topics, records, scripted faults and
//! rebalances, the client builder) refuse. The client and producer calls themselves answer with
//! a [`ClientError`](crate::ClientError), as the rdkafka client does.

use crate::record::TopicPartition;

use super::state::MemberId;

/// Error returned by the calls of [`MemoryCluster`](super::MemoryCluster) and
/// [`MemoryClientBuilder::build`](super::MemoryClientBuilder::build) for input that cannot work.
///
/// # Examples
///
/// ```
/// use runner_kafka::memory::{MemoryCluster, MemoryError};
///
/// let cluster = MemoryCluster::new();
/// cluster.create_topic("orders", 3)?;
/// assert_eq!(
///     cluster.create_topic("orders", 3),
///     Err(MemoryError::TopicExists("orders".into()))
/// );
/// assert_eq!(
///     cluster.create_topic("totals", 0).unwrap_err().to_string(),
///     "topic `totals` needs at least one partition, not 0"
/// );
/// # Ok::<(), MemoryError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    /// A topic name must not be empty.
    #[error("a topic name must not be empty")]
    EmptyTopicName,
    /// [`create_topic`](super::MemoryCluster::create_topic): the topic exists already.
    #[error("topic `{0}` already exists")]
    TopicExists(String),
    /// [`create_topic`](super::MemoryCluster::create_topic): a topic has at least one partition.
    #[error("topic `{topic}` needs at least one partition, not {partitions}")]
    NoPartitions {
        /// The topic.
        topic: String,
        /// The partition count asked for.
        partitions: i32,
    },
    /// No topic has that name.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// The topic has no such partition.
    #[error("unknown partition {0}")]
    UnknownPartition(TopicPartition),
    /// No member has that id (it never existed, or its client was closed).
    #[error("unknown member {0}")]
    UnknownMember(MemberId),
    /// The member is not in its group (it has not subscribed, or it was evicted).
    #[error("{0} is not in its group")]
    NotInGroup(MemberId),
    /// [`MemoryClientBuilder::max_records_per_poll`](super::MemoryClientBuilder::max_records_per_poll)
    /// of zero would never deliver a record.
    #[error("max records per poll must be greater than zero")]
    ZeroMaxRecords,
}
