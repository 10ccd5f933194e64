//! Committed offsets and positions: what a commit stores or refuses, and where a member starts
//! reading a partition it was just assigned.
//!
//! The rules, mirroring librdkafka against a Kafka broker (see the [module docs](super)):
//! - a member in its group may commit any partition, its own or not (the broker does not fence
//!   by ownership; the runner does);
//! - under the eager protocol, a member that has released its revokes and waits for its new
//!   assignment is rejoining: its commits are refused with
//!   [`ClientErrorKind::Rebalancing`], as the broker answers `REBALANCE_IN_PROGRESS` (then
//!   `ILLEGAL_GENERATION`) until the member has its new assignment. Inside a revoke's barrier,
//!   commits are accepted: that is where the runner commits what it processed;
//! - a member not in its group (never subscribed, or evicted) is refused, as the broker answers
//!   `UNKNOWN_MEMBER_ID`;
//! - a newly assigned partition is read from the group's committed offset, else from the
//!   [`OffsetReset`] point: what was not committed is delivered again.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::client::{ClientError, ClientErrorKind};
use crate::record::TopicPartition;

use super::options::{OffsetReset, Protocol};
use super::rebalance::closed;
use super::state::{Group, Hold, MemberId, Phase, State};
use super::topic::Topic;

/// Where a member starts reading `partition`, newly assigned in `group`.
pub(crate) fn start_position(
    group: &Group,
    topics: &BTreeMap<Arc<str>, Topic>,
    partition: &TopicPartition,
    reset: OffsetReset,
) -> i64 {
    match group.committed.get(partition) {
        Some(&offset) => offset,
        None => match reset {
            OffsetReset::Earliest => 0,
            OffsetReset::Latest => topics
                .get(&partition.topic)
                .and_then(|topic| topic.log(partition.partition))
                .map_or(0, |log| i64::try_from(log.len()).unwrap_or(i64::MAX)),
        },
    }
}

/// `id` commits `offsets`. `None`: the group's commits hang, no answer yet.
pub(crate) fn commit(
    state: &mut State,
    id: MemberId,
    offsets: &[(TopicPartition, i64)],
) -> Option<Result<(), ClientError>> {
    let Some(group) = state
        .members
        .get(&id)
        .and_then(|member| state.groups.get_mut(&member.group))
    else {
        return Some(Err(closed(id)));
    };
    if group.commits_hang {
        return None;
    }
    if let Some(error) = group.commit_failures.take() {
        return Some(Err(error));
    }
    Some(store(group, &state.topics, id, offsets))
}

/// Stores `offsets` for `id`, or refuses them all.
fn store(
    group: &mut Group,
    topics: &BTreeMap<Arc<str>, Topic>,
    id: MemberId,
    offsets: &[(TopicPartition, i64)],
) -> Result<(), ClientError> {
    if !group.members.contains(&id) {
        return Err(ClientError::new(
            ClientErrorKind::Rebalancing,
            format!("{id} is not a member of group `{}`", group.name),
        ));
    }
    if group.protocol() == Protocol::Eager && rejoining(group, id) {
        return Err(ClientError::new(
            ClientErrorKind::Rebalancing,
            format!(
                "group `{}` is rebalancing: {id} waits for its assignment",
                group.name
            ),
        ));
    }
    for (partition, offset) in offsets {
        let known = topics
            .get(&partition.topic)
            .and_then(|topic| topic.log(partition.partition))
            .is_some();
        if !known {
            return Err(ClientError::new(
                ClientErrorKind::Config,
                format!("unknown partition {partition}"),
            ));
        }
        if *offset < 0 {
            return Err(ClientError::new(
                ClientErrorKind::Config,
                format!("offset {offset} for {partition} must not be negative"),
            ));
        }
    }
    for (partition, offset) in offsets {
        group.committed.insert(partition.clone(), *offset);
        group.commits.push((partition.clone(), *offset));
    }
    Ok(())
}

/// Eager: `id` released its revokes (or had none) while the group rebalances, or has an
/// assignment it has not polled yet.
fn rejoining(group: &Group, id: MemberId) -> bool {
    let mut revoking = false;
    let mut assigning = false;
    for owner in group.owners.values().filter(|owner| owner.member == id) {
        match owner.hold {
            Hold::Revoking(_) => revoking = true,
            Hold::Assigning => assigning = true,
            Hold::Owned => {}
        }
    }
    assigning || (group.phase == Phase::Revoking && !revoking)
}
