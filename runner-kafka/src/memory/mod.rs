//! An in-memory Kafka cluster for deterministic tests of the runners: [`MemoryCluster`], its
//! members ([`MemoryClient`], a [`Client`](crate::Client)) and producers ([`MemoryProducer`], a
//! [`Producer`](crate::Producer)), with scripted rebalances and faults.
//!
//! Everything waits through tokio's time and sync primitives (no threads, no real time), so
//! tests run under `#[tokio::test(start_paused = true)]` and give the same result every time.
//!
//! ```
//! use std::time::Duration;
//! use runner_kafka::memory::MemoryCluster;
//! use runner_kafka::{Client, Event, TopicPartition};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let cluster = MemoryCluster::new();
//! cluster.create_topic("orders", 2)?;
//! let topics = ["orders".to_owned()];
//!
//! let mut first = cluster.client("billing");
//! first.subscribe(&topics)?;
//! let Event::Assigned(all) = first.poll().await? else { panic!() };
//! assert_eq!(all.len(), 2);
//!
//! // A second member joins: eager, the first gives everything back...
//! let mut second = cluster.client("billing");
//! second.subscribe(&topics)?;
//! let Event::Revoked { partitions, lost: false, barrier } = first.poll().await? else { panic!() };
//! assert_eq!(partitions, all);
//! // ...and nobody gets anything until its barrier is done (commit in between).
//! assert!(tokio::time::timeout(Duration::from_secs(1), second.poll()).await.is_err());
//! barrier.done();
//! let Event::Assigned(mine) = first.poll().await? else { panic!() };
//! let Event::Assigned(yours) = second.poll().await? else { panic!() };
//! assert_eq!((mine, yours), (vec![TopicPartition::new("orders", 0)], vec![TopicPartition::new("orders", 1)]));
//! # Ok(()) }
//! ```
//!
//! # Rules
//!
//! Where librdkafka's behaviour is known (the team's kafka notes), the in-memory cluster
//! behaves the same.
//!
//! **Logs.** A topic has a fixed number of partitions, each a log with offsets from 0, one by
//! one, kept for ever. A record without a partition goes to the partition of its key's CRC-32
//! (librdkafka's default for keyed records), or round-robin without a key. Records carry no
//! timestamp.
//!
//! **Assignment.** The partitions of the topics a group's members subscribed to, sorted, are
//! dealt round-robin to its members, sorted by [`MemberId`] (creation order), each partition to
//! the next member subscribed to its topic. A rebalance happens when a member subscribes, is
//! closed or lost, when a subscribed topic is created, and on
//! [`MemoryCluster::rebalance`]. The handover depends on the group's [`Protocol`]:
//! - [`Eager`](Protocol::Eager) (the default): every member that has partitions gets `Revoked`
//!   with all of them; the new assignment is computed and handed out (`Assigned`, the whole
//!   assignment, only to members that get something) once every revoke's barrier is done.
//! - [`Cooperative`](Protocol::Cooperative): only partitions that move are revoked, from their
//!   owner; each goes to its new owner (`Assigned`, in addition) once that owner's barrier is
//!   done. Partitions nobody holds are assigned at once.
//!
//! An assignment a member has not polled yet is withdrawn silently if the partition moves
//! again: a member never sees a partition come and go unless it was told it came.
//!
//! **Positions.** A member reads a newly assigned partition from its group's committed offset,
//! else from the [`OffsetReset`] point (default: earliest, 0). Records delivered but not
//! committed are delivered again to whoever gets the partition next, the same member included
//! (at-least-once).
//!
//! **Commits.** A commit stores the offsets (each the offset of the next record to read) as
//! the group's committed offsets and logs them ([`MemoryCluster::commits`]). It is accepted for
//! any partition, owned by the member or not: librdkafka returns `Ok` for a partition the
//! member does not own, so fencing stale commits is the runner's job. It is refused, storing
//! nothing, with a [`ClientError`](crate::ClientError) of kind:
//! - [`Rebalancing`](crate::ClientErrorKind::Rebalancing) when the member is not in its group
//!   (never subscribed, or lost: Kafka's `UNKNOWN_MEMBER_ID`);
//! - [`Rebalancing`](crate::ClientErrorKind::Rebalancing), under the eager protocol, while the
//!   member is rejoining: from the moment its revokes are released (or, having none, the
//!   rebalance began) until it polls its new assignment (Kafka's `REBALANCE_IN_PROGRESS`,
//!   then `ILLEGAL_GENERATION`). Before it polled its revoke, and inside the revoke's barrier,
//!   commits are accepted: the barrier is where the runner commits. Cooperative members
//!   are never refused for a rebalance;
//! - [`Config`](crate::ClientErrorKind::Config) for an unknown partition or a negative offset;
//! - whatever [`MemoryCluster::fail_commits`] scripted. While
//!   [`MemoryCluster::hang_commits`] is set, commits get no answer at all.
//!
//! **Pause.** A member pauses and resumes only partitions it has (polled as assigned, not
//! polled as revoked). Its pause set is not cleared by revokes: a partition revoked and
//! assigned back is still paused, as librdkafka does under the eager protocol. The runner owns
//! its pause state and must re-apply or clear it on every assignment change.
//!
//! **Leaving.** [`close`](crate::Client::close) leaves the group at once, releasing the
//! member's partitions (no revoke: commit before closing). [`MemoryCluster::lose`] evicts a
//! member (session or poll timeout): it gets `Revoked { lost: true }`, its partitions go to the
//! others without waiting for its barriers, and it stays out until it subscribes again
//! (librdkafka would rejoin by itself; here the test decides when). A client dropped without
//! `close` keeps its partitions until it is lost, like a crashed process.
//!
//! **Faults.** [`MemoryCluster::fail_polls`], [`fail_commits`](MemoryCluster::fail_commits),
//! [`hang_commits`](MemoryCluster::hang_commits), [`fail_sends`](MemoryCluster::fail_sends),
//! [`delivery_delay`](MemoryCluster::delivery_delay); and inspection:
//! [`records`](MemoryCluster::records), [`committed`](MemoryCluster::committed),
//! [`commits`](MemoryCluster::commits), [`assignment`](MemoryCluster::assignment),
//! [`paused`](MemoryCluster::paused), [`members`](MemoryCluster::members).

mod assignor;
mod builder;
mod client;
mod cluster;
mod error;
mod fetch;
mod offsets;
mod options;
mod producer;
mod rebalance;
mod state;
mod topic;

pub use builder::MemoryClientBuilder;
pub use client::MemoryClient;
pub use cluster::MemoryCluster;
pub use error::MemoryError;
pub use options::{DEFAULT_MAX_RECORDS_PER_POLL, OffsetReset, Protocol};
pub use producer::MemoryProducer;
pub use state::MemberId;
