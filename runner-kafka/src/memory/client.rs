//! [`MemoryClient`]: one member of a group of the in-memory cluster, as a [`Client`].

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Barrier, Client, ClientError, ClientErrorKind, Event};
use crate::record::TopicPartition;

use super::fetch::{self, Polled};
use super::offsets;
use super::options::Options;
use super::producer::MemoryProducer;
use super::rebalance::{self, closed};
use super::state::{MemberId, Shared};

/// A member of a consumer group of a [`MemoryCluster`](super::MemoryCluster), as a [`Client`].
/// Made by [`MemoryCluster::client`](super::MemoryCluster::client) or
/// [`MemoryCluster::client_builder`](super::MemoryCluster::client_builder); it is a member (with
/// its [`MemberId`]) from then on, and joins the group when it subscribes.
///
/// - [`subscribe`](Client::subscribe) joins (or changes the subscription) and rebalances the
///   group. Refused ([`ClientErrorKind::Config`]): no topics, an empty topic name, an empty
///   group id, or a protocol other than the group's members'.
/// - [`poll`](Client::poll) delivers, in this order: a scripted failure; the member's next
///   queued event (revokes and assignments, in the order the group made them); records of its
///   assigned, non-paused partitions from its positions, at most its maximum per poll, in
///   offset order within a partition, the round over the partitions starting one further each
///   time. Otherwise it waits for records, a rebalance or a fault. Cancel safe: nothing is lost
///   when its future is dropped.
/// - [`pause`](Client::pause) / [`resume`](Client::resume): refused
///   ([`ClientErrorKind::Config`], nothing changed) unless every partition is assigned to the
///   member (polled as assigned, not polled as revoked). The pause set survives revokes and
///   assignments, as librdkafka's does.
/// - [`commit`](Client::commit) stores the offsets as the group's committed offsets, for any
///   partition (librdkafka does not fence by ownership); see the [module docs](super) for
///   when it is refused. It waits while the group's commits hang.
/// - [`close`](Client::close) leaves the group at once: its partitions are released without a
///   revoke event (commit before closing) and the others rebalance. Dropping the client
///   without closing it is a crash: the member keeps its partitions until
///   [`lose`](super::MemoryCluster::lose) evicts it (Kafka's session timeout).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::memory::MemoryCluster;
/// use runner_kafka::{Client, Event, TopicPartition};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cluster = MemoryCluster::new();
/// cluster.create_topic("orders", 1)?;
/// cluster.append(&TopicPartition::new("orders", 0), "o-1", "2 apples")?;
///
/// let mut client = cluster.client("billing");
/// client.subscribe(&["orders".to_owned()])?;
/// let Event::Assigned(partitions) = client.poll().await? else { panic!("assigned first") };
/// assert_eq!(partitions, [TopicPartition::new("orders", 0)]);
/// let Event::Records(records) = client.poll().await? else { panic!("then records") };
/// assert_eq!(records[0].value.as_deref(), Some(&b"2 apples"[..]));
///
/// client.commit(vec![(TopicPartition::new("orders", 0), 1)]).await?;
/// assert_eq!(cluster.committed("billing", &TopicPartition::new("orders", 0)), Some(1));
/// client.close(Duration::from_secs(1)).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MemoryClient {
    shared: Arc<Shared>,
    id: MemberId,
    group: Arc<str>,
    producer: MemoryProducer,
}

impl MemoryClient {
    /// A new member of `group`, not subscribed yet.
    pub(crate) fn new(shared: Arc<Shared>, group: &str, options: Options) -> Self {
        let id = shared.update(|state| state.add_member(group, options));
        MemoryClient {
            producer: MemoryProducer::new(Arc::clone(&shared)),
            shared,
            id,
            group: Arc::from(group),
        }
    }

    /// Its member id, for the cluster's scripted faults and inspection.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// let client = cluster.client("billing");
    /// assert_eq!(cluster.assignment(client.member_id()), []);
    /// ```
    #[must_use]
    pub fn member_id(&self) -> MemberId {
        self.id
    }

    /// Its group's id.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// assert_eq!(cluster.client("billing").group(), "billing");
    /// ```
    #[must_use]
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Pauses (`pause`) or resumes `partitions`: all of them, or none if one is not assigned.
    fn set_paused(&self, partitions: &[TopicPartition], pause: bool) -> Result<(), ClientError> {
        let id = self.id;
        self.shared.update(|state| {
            let member = state.members.get_mut(&id).ok_or_else(|| closed(id))?;
            if let Some(partition) = partitions.iter().find(|p| !member.assigned.contains(*p)) {
                return Err(ClientError::new(
                    ClientErrorKind::Config,
                    format!("{partition} is not assigned to {id}"),
                ));
            }
            for partition in partitions {
                if pause {
                    member.paused.insert(partition.clone());
                } else {
                    member.paused.remove(partition);
                }
            }
            Ok(())
        })
    }
}

impl Client for MemoryClient {
    type Producer = MemoryProducer;

    fn subscribe(&mut self, topics: &[String]) -> Result<(), ClientError> {
        if topics.is_empty() {
            return Err(ClientError::new(
                ClientErrorKind::Config,
                "subscribe to at least one topic",
            ));
        }
        if topics.iter().any(String::is_empty) {
            return Err(ClientError::new(
                ClientErrorKind::Config,
                "a topic name must not be empty",
            ));
        }
        let topics = topics
            .iter()
            .map(|topic| Arc::from(topic.as_str()))
            .collect::<BTreeSet<_>>();
        let id = self.id;
        self.shared
            .update(|state| rebalance::join(state, id, topics))
    }

    fn poll(&mut self) -> impl Future<Output = Result<Event, ClientError>> + Send {
        let shared = Arc::clone(&self.shared);
        let id = self.id;
        async move {
            let polled = shared.wait_for(|state| fetch::poll(state, id)).await?;
            Ok(match polled {
                Polled::Records(records) => Event::Records(records),
                Polled::Assigned(partitions) => Event::Assigned(partitions),
                Polled::Revoked { partitions, token } => Event::Revoked {
                    partitions,
                    lost: false,
                    barrier: Barrier::new(move || {
                        shared.update(|state| rebalance::release(state, id, token));
                    }),
                },
                // Everything was released when the member was evicted: nothing to wait for.
                Polled::Lost(partitions) => Event::Revoked {
                    partitions,
                    lost: true,
                    barrier: Barrier::new(|| {}),
                },
            })
        }
    }

    fn pause(&mut self, partitions: &[TopicPartition]) -> Result<(), ClientError> {
        self.set_paused(partitions, true)
    }

    fn resume(&mut self, partitions: &[TopicPartition]) -> Result<(), ClientError> {
        self.set_paused(partitions, false)
    }

    fn commit(
        &mut self,
        offsets: Vec<(TopicPartition, i64)>,
    ) -> impl Future<Output = Result<(), ClientError>> + Send {
        let shared = Arc::clone(&self.shared);
        let id = self.id;
        async move {
            shared
                .wait_for(|state| offsets::commit(state, id, &offsets))
                .await
        }
    }

    fn producer(&self) -> Self::Producer {
        self.producer.clone()
    }

    fn close(self, _timeout: Duration) -> impl Future<Output = Result<(), ClientError>> + Send {
        // Leaving waits for nothing here: done at once, even if the future is never polled.
        let id = self.id;
        self.shared.update(|state| rebalance::leave(state, id));
        std::future::ready(Ok(()))
    }
}
