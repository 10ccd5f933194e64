//! Group membership and the handover of partitions: members join, leave or are lost, the group
//! rebalances, revokes are released by their barriers, and assignments follow, eager or
//! cooperative (see [`Protocol`]).
//!
//! A group records, for each partition someone holds, who holds it and how far the handover is
//! ([`Hold`]). A rebalance compares that with the assignor's target:
//! - eager: every partition held is revoked; once none is held any more (every barrier done),
//!   the target is computed and handed out;
//! - cooperative: a partition held by a member that is not its target is revoked from that
//!   member; a partition nobody holds is handed to its target at once.
//!
//! An assignment not yet polled is simply taken back (the member never saw it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::client::{ClientError, ClientErrorKind};
use crate::record::TopicPartition;

use super::assignor;
use super::error::MemoryError;
use super::options::Protocol;
use super::state::{Group, Hold, Member, MemberId, Owner, Pending, Phase, State, Token};
use super::topic::Topic;

/// The tracing target of the in-memory cluster's events.
const TARGET: &str = "runner::kafka::memory";

/// `id` joins its group subscribed to `topics` (or changes its subscription): the group
/// rebalances.
pub(crate) fn join(
    state: &mut State,
    id: MemberId,
    topics: BTreeSet<Arc<str>>,
) -> Result<(), ClientError> {
    let Some(member) = state.members.get_mut(&id) else {
        return Err(closed(id));
    };
    if member.group.is_empty() {
        return Err(ClientError::new(
            ClientErrorKind::Config,
            "a group id must not be empty",
        ));
    }
    let name = Arc::clone(&member.group);
    let protocol = member.options.protocol;
    let group = state.group_mut(&name);
    let others = group.members.iter().any(|&other| other != id);
    if others && group.protocol != Some(protocol) {
        return Err(ClientError::new(
            ClientErrorKind::Config,
            format!(
                "inconsistent group protocol: group `{name}` is {}, {id} is {protocol}",
                group.protocol()
            ),
        ));
    }
    let joined = group.members.insert(id);
    group.protocol = Some(protocol);
    if let Some(member) = state.members.get_mut(&id) {
        member.subscription = topics;
        if joined {
            member.greeted = false;
        }
    }
    tracing::trace!(target: TARGET, group = %name, member = %id, "kafka.memory.join");
    trigger(state, &name);
    Ok(())
}

/// `id`'s client is closed: it leaves its group at once, its partitions are released (its
/// barriers, if any are still out, release nothing any more), and the others rebalance.
pub(crate) fn leave(state: &mut State, id: MemberId) {
    let Some(member) = state.members.remove(&id) else {
        return;
    };
    let Some(group) = state.groups.get_mut(&member.group) else {
        return;
    };
    let was_in = group.members.remove(&id);
    group.owners.retain(|_, owner| owner.member != id);
    reset_if_empty(group);
    tracing::trace!(target: TARGET, group = %member.group, member = %id, "kafka.memory.leave");
    if was_in {
        trigger(state, &member.group);
    }
}

/// `id` is evicted from its group: it gets a lost revoke of what it had, its partitions are
/// released at once, and the others rebalance. It stays out until it subscribes again.
pub(crate) fn lose(state: &mut State, id: MemberId) -> Result<(), MemoryError> {
    let Some(member) = state.members.get_mut(&id) else {
        return Err(MemoryError::UnknownMember(id));
    };
    let name = Arc::clone(&member.group);
    let Some(group) = state.groups.get_mut(&name) else {
        return Err(MemoryError::NotInGroup(id));
    };
    if !group.members.remove(&id) {
        return Err(MemoryError::NotInGroup(id));
    }
    group.owners.retain(|_, owner| owner.member != id);
    reset_if_empty(group);
    let lost = std::mem::take(&mut member.assigned).into_iter().collect();
    member.positions.clear();
    member.events.clear();
    member.events.push_back(Pending::Lost(lost));
    tracing::trace!(target: TARGET, group = %name, member = %id, "kafka.memory.lost");
    trigger(state, &name);
    Ok(())
}

/// `topic` was created: the groups with a member subscribed to it rebalance.
pub(crate) fn topic_created(state: &mut State, topic: &str) {
    let groups = state
        .groups
        .values()
        .filter(|group| {
            group.members.iter().any(|id| {
                state
                    .members
                    .get(id)
                    .is_some_and(|member| member.subscription.contains(topic))
            })
        })
        .map(|group| Arc::clone(&group.name))
        .collect::<Vec<_>>();
    for group in groups {
        trigger(state, &group);
    }
}

/// The barrier of `id`'s revoke `token` is done: those partitions are released.
pub(crate) fn release(state: &mut State, id: MemberId, token: Token) {
    let Some(member) = state.members.get(&id) else {
        return;
    };
    let name = Arc::clone(&member.group);
    let Some(group) = state.groups.get_mut(&name) else {
        return;
    };
    let held = group.owners.len();
    group
        .owners
        .retain(|_, owner| !(owner.member == id && owner.hold == Hold::Revoking(token)));
    if group.owners.len() != held {
        tracing::trace!(target: TARGET, group = %name, member = %id, "kafka.memory.released");
        progress(state, &name);
    }
}

/// The group `name` rebalances: eager, everything held is revoked; cooperative, what moves.
pub(crate) fn trigger(state: &mut State, name: &str) {
    let Some(group) = state.groups.get_mut(name) else {
        return;
    };
    tracing::trace!(target: TARGET, group = %name, protocol = %group.protocol(), "kafka.memory.rebalance");
    if group.protocol() == Protocol::Eager {
        group.phase = Phase::Revoking;
        let everything = group
            .owners
            .iter()
            .map(|(partition, owner)| (partition.clone(), *owner))
            .collect::<Vec<_>>();
        take_back(group, &mut state.members, everything);
    }
    progress(state, name);
}

/// Moves the group `name` on as far as it can without waiting for a barrier.
fn progress(state: &mut State, name: &str) {
    let Some(group) = state.groups.get(name) else {
        return;
    };
    let ready = match group.protocol() {
        Protocol::Eager => group.phase == Phase::Revoking && group.owners.is_empty(),
        Protocol::Cooperative => true,
    };
    if !ready {
        return;
    }
    let target = target(state, group);
    let Some(group) = state.groups.get_mut(name) else {
        return;
    };
    group.phase = Phase::Stable;
    let moving = group
        .owners
        .iter()
        .filter(|(partition, owner)| target.get(*partition) != Some(&owner.member))
        .map(|(partition, owner)| (partition.clone(), *owner))
        .collect::<Vec<_>>();
    take_back(group, &mut state.members, moving);
    let mut assigned: BTreeMap<MemberId, Vec<TopicPartition>> = BTreeMap::new();
    for (partition, id) in target {
        if !group.owners.contains_key(&partition) {
            group.owners.insert(
                partition.clone(),
                Owner {
                    member: id,
                    hold: Hold::Assigning,
                },
            );
            assigned.entry(id).or_default().push(partition);
        }
    }
    for (id, partitions) in assigned {
        if let Some(member) = state.members.get_mut(&id) {
            member.events.push_back(Pending::Assigned(partitions));
        }
    }
    // A member that joined and gets nothing is still handed its (empty) assignment, as
    // librdkafka does: it has joined the generation.
    for id in &group.members {
        if let Some(member) = state.members.get_mut(id) {
            let queued = member
                .events
                .iter()
                .any(|event| matches!(event, Pending::Assigned(_)));
            if !member.greeted && !queued {
                member.events.push_back(Pending::Assigned(Vec::new()));
            }
        }
    }
}

/// Takes `partitions` back from their holders: an assignment not yet polled is withdrawn (the
/// partition is free at once); an owned partition is revoked (one revoke per member, held
/// until its barrier is done); a partition already being revoked stays as it is.
fn take_back(
    group: &mut Group,
    members: &mut BTreeMap<MemberId, Member>,
    partitions: Vec<(TopicPartition, Owner)>,
) {
    let mut revoked: BTreeMap<MemberId, Vec<TopicPartition>> = BTreeMap::new();
    for (partition, owner) in partitions {
        match owner.hold {
            Hold::Assigning => {
                group.owners.remove(&partition);
                if let Some(member) = members.get_mut(&owner.member) {
                    member.unqueue(&partition);
                }
            }
            Hold::Owned => revoked.entry(owner.member).or_default().push(partition),
            Hold::Revoking(_) => {}
        }
    }
    for (id, partitions) in revoked {
        let token = group.token();
        for partition in &partitions {
            if let Some(owner) = group.owners.get_mut(partition) {
                owner.hold = Hold::Revoking(token);
            }
        }
        if let Some(member) = members.get_mut(&id) {
            member
                .events
                .push_back(Pending::Revoked { partitions, token });
        }
    }
}

/// The assignor's target for `group`: its members, sorted, and the partitions of the topics
/// they subscribed to that exist, sorted.
fn target(state: &State, group: &Group) -> BTreeMap<TopicPartition, MemberId> {
    let members = group
        .members
        .iter()
        .filter_map(|id| {
            state
                .members
                .get(id)
                .map(|member| (*id, &member.subscription))
        })
        .collect::<Vec<_>>();
    let topics = members
        .iter()
        .flat_map(|(_, subscription)| subscription.iter())
        .collect::<BTreeSet<_>>();
    let partitions = topics
        .into_iter()
        .filter_map(|topic| state.topics.get(topic))
        .flat_map(Topic::partitions)
        .collect::<Vec<_>>();
    assignor::round_robin(&members, &partitions)
}

/// A group without members forgets its protocol and any rebalance in progress.
fn reset_if_empty(group: &mut Group) {
    if group.members.is_empty() {
        group.protocol = None;
        group.phase = Phase::Stable;
    }
}

/// The error for a member whose client was closed.
pub(crate) fn closed(id: MemberId) -> ClientError {
    ClientError::new(ClientErrorKind::Fatal, format!("{id} is closed"))
}
