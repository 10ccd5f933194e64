//! The cluster's state behind one lock, and the notification of its changes: [`Shared`], the
//! data the other modules work on ([`State`], [`Group`], [`Member`]), and [`MemberId`].
//!
//! Everything that waits (a poll with nothing to deliver, a hanging commit) waits on
//! [`Shared::wait_for`]: it re-checks the state after every change, so a change is never missed
//! and nothing polls on a timer. The lock is never held across an `.await`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use crate::client::ClientError;
use crate::record::TopicPartition;

use super::options::{Options, Protocol};
use super::topic::Topic;

/// A member of a group: one client. Members are ordered by creation, and the assignor spreads
/// partitions over them in that order.
///
/// # Examples
///
/// ```
/// use runner_kafka::memory::MemoryCluster;
///
/// let cluster = MemoryCluster::new();
/// let first = cluster.client("billing").member_id();
/// let second = cluster.client("billing").member_id();
/// assert!(first < second);
/// assert_eq!(first.to_string(), "member-1");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(u64);

#[cfg(test)]
impl MemberId {
    /// A member id for unit tests.
    pub(crate) fn for_test(id: u64) -> Self {
        MemberId(id)
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "member-{}", self.0)
    }
}

/// Names one revoke: its barrier releases exactly the partitions revoked with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token(u64);

/// The state and the notification of its changes, shared by the cluster handle, its clients,
/// their producers and their barriers.
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Notify,
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new() -> Self {
        Shared {
            state: Mutex::new(State::default()),
            changed: Notify::new(),
        }
    }

    /// The state, locked. A panic while it was locked (a bug in this module, or in a test
    /// thread) does not make every later call of the test panic too.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the state.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the state, then wakes everything that waits for a change.
    pub(crate) fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.changed.notify_waiters();
        result
    }

    /// Waits until `f` returns `Some`, calling it once now and again after every change. `f`
    /// changes nothing when it returns `None`. Cancel safe: dropped while waiting, it leaves
    /// the state as it was.
    pub(crate) async fn wait_for<R>(&self, mut f: impl FnMut(&mut State) -> Option<R>) -> R {
        loop {
            // Registered before the check, so a change made between the check and the await
            // still wakes this waiter.
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            let result = f(&mut self.lock());
            if let Some(result) = result {
                self.changed.notify_waiters();
                return result;
            }
            changed.await;
        }
    }
}

/// Everything the cluster knows.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The topics, by name.
    pub(crate) topics: BTreeMap<Arc<str>, Topic>,
    /// The groups, by id; a group exists once named.
    pub(crate) groups: BTreeMap<Arc<str>, Group>,
    /// The members, of every group, until their client is closed.
    pub(crate) members: BTreeMap<MemberId, Member>,
    /// Scripted producer faults, for every producer.
    pub(crate) sends: Sends,
    /// The last member id handed out.
    last_member: u64,
}

impl State {
    /// A new member of `group`, not subscribed yet.
    pub(crate) fn add_member(&mut self, group: &str, options: Options) -> MemberId {
        self.last_member += 1;
        let id = MemberId(self.last_member);
        let group = self.group_mut(group);
        let name = Arc::clone(&group.name);
        self.members.insert(id, Member::new(name, options));
        id
    }

    /// The group `name`, created if nobody named it before.
    pub(crate) fn group_mut(&mut self, name: &str) -> &mut Group {
        self.groups
            .entry(Arc::from(name))
            .or_insert_with_key(|name| Group::new(Arc::clone(name)))
    }
}

/// Where a group is in an eager rebalance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing to wait for.
    #[default]
    Stable,
    /// Eager only: revokes are out; the new assignment waits until every partition is
    /// released.
    Revoking,
}

/// A consumer group: its members, who holds which partition, its committed offsets.
#[derive(Debug)]
pub(crate) struct Group {
    /// Its id.
    pub(crate) name: Arc<str>,
    /// The members in the group (subscribed, not evicted, not closed).
    pub(crate) members: BTreeSet<MemberId>,
    /// The protocol its members speak; `None` while it has none.
    pub(crate) protocol: Option<Protocol>,
    /// Where an eager rebalance is.
    pub(crate) phase: Phase,
    /// Who holds each partition that someone holds.
    pub(crate) owners: BTreeMap<TopicPartition, Owner>,
    /// The committed offsets (of the next record to read).
    pub(crate) committed: BTreeMap<TopicPartition, i64>,
    /// Every commit stored, in order.
    pub(crate) commits: Vec<(TopicPartition, i64)>,
    /// Scripted commit failures.
    pub(crate) commit_failures: Faults,
    /// Commits get no answer while set.
    pub(crate) commits_hang: bool,
    /// The last revoke token handed out.
    last_token: u64,
}

impl Group {
    fn new(name: Arc<str>) -> Self {
        Group {
            name,
            members: BTreeSet::new(),
            protocol: None,
            phase: Phase::Stable,
            owners: BTreeMap::new(),
            committed: BTreeMap::new(),
            commits: Vec::new(),
            commit_failures: Faults::default(),
            commits_hang: false,
            last_token: 0,
        }
    }

    /// A fresh revoke token.
    pub(crate) fn token(&mut self) -> Token {
        self.last_token += 1;
        Token(self.last_token)
    }

    /// The protocol in force (eager while the group has no members).
    pub(crate) fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or_default()
    }
}

/// Who holds a partition, and how far the handover is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Owner {
    /// The member.
    pub(crate) member: MemberId,
    /// How far.
    pub(crate) hold: Hold,
}

/// How a member holds a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Its `Assigned` is queued, not yet polled.
    Assigning,
    /// Polled: the member reads it.
    Owned,
    /// Its `Revoked` is queued or polled; released when that revoke's barrier is done.
    Revoking(Token),
}

/// An event waiting in a member's queue; the [`Barrier`](crate::Barrier) of a revoke is made
/// only when it is polled, so the state never holds one (dropping one takes the lock).
#[derive(Debug)]
pub(crate) enum Pending {
    /// Partitions to add to the member's assignment.
    Assigned(Vec<TopicPartition>),
    /// Partitions revoked in order; released when the barrier of `token` is done.
    Revoked {
        partitions: Vec<TopicPartition>,
        token: Token,
    },
    /// The member was evicted: everything it had is gone already.
    Lost(Vec<TopicPartition>),
}

/// One client's membership.
#[derive(Debug)]
pub(crate) struct Member {
    /// Its group's id.
    pub(crate) group: Arc<str>,
    /// Its options.
    pub(crate) options: Options,
    /// The topics it subscribed to; empty before it subscribes.
    pub(crate) subscription: BTreeSet<Arc<str>>,
    /// Its own view of its assignment: partitions polled as assigned and not yet polled as
    /// revoked. Records come from these.
    pub(crate) assigned: BTreeSet<TopicPartition>,
    /// Its position (next offset to deliver) in each partition of `assigned`.
    pub(crate) positions: BTreeMap<TopicPartition, i64>,
    /// The partitions it paused; kept across revokes and assignments, as librdkafka keeps them.
    pub(crate) paused: BTreeSet<TopicPartition>,
    /// Its events, not yet polled, in order.
    pub(crate) events: VecDeque<Pending>,
    /// Scripted poll failures.
    pub(crate) poll_failures: Faults,
    /// Where the next poll starts its round over the partitions.
    pub(crate) cursor: usize,
    /// It has polled its first assignment since it joined (an empty one too, as librdkafka
    /// hands every member of a generation its assignment, even when it gets nothing).
    pub(crate) greeted: bool,
}

impl Member {
    fn new(group: Arc<str>, options: Options) -> Self {
        Member {
            group,
            options,
            subscription: BTreeSet::new(),
            assigned: BTreeSet::new(),
            positions: BTreeMap::new(),
            paused: BTreeSet::new(),
            events: VecDeque::new(),
            poll_failures: Faults::default(),
            cursor: 0,
            greeted: false,
        }
    }

    /// Takes `partition` out of the `Assigned` events not yet polled.
    pub(crate) fn unqueue(&mut self, partition: &TopicPartition) {
        for event in &mut self.events {
            if let Pending::Assigned(partitions) = event {
                partitions.retain(|p| p != partition);
            }
        }
        self.events.retain(
            |event| !matches!(event, Pending::Assigned(partitions) if partitions.is_empty()),
        );
    }
}

/// The next `n` calls fail with `error`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Faults {
    remaining: u32,
    error: Option<ClientError>,
}

impl Faults {
    /// The next `n` calls fail with `error` (replacing what was scripted before).
    pub(crate) fn set(&mut self, n: u32, error: ClientError) {
        self.remaining = n;
        self.error = Some(error);
    }

    /// The error for this call, if it is to fail.
    pub(crate) fn take(&mut self) -> Option<ClientError> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        self.error.clone()
    }
}

/// Scripted producer behaviour.
#[derive(Debug, Default)]
pub(crate) struct Sends {
    /// Sends that fail.
    pub(crate) failures: Faults,
    /// How long an ack (or a failure) takes.
    pub(crate) delay: Duration,
}
