//! What one poll delivers to a member: a scripted failure, else its next queued event (revokes
//! and assignments, in the order the group made them), else records of its assigned,
//! non-paused partitions from its positions.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::client::ClientError;
use crate::record::{Record, TopicPartition};

use super::offsets::start_position;
use super::rebalance::closed;
use super::state::{Hold, Member, MemberId, Pending, State, Token};
use super::topic::Topic;

/// What a poll delivers, before the barrier of a revoke is made.
#[derive(Debug)]
pub(crate) enum Polled {
    Records(Vec<Record>),
    Assigned(Vec<TopicPartition>),
    Revoked {
        partitions: Vec<TopicPartition>,
        token: Token,
    },
    Lost(Vec<TopicPartition>),
}

/// One poll of `id`. `None`: nothing to deliver yet (and nothing changed).
pub(crate) fn poll(state: &mut State, id: MemberId) -> Option<Result<Polled, ClientError>> {
    let Some(member) = state.members.get_mut(&id) else {
        return Some(Err(closed(id)));
    };
    if let Some(error) = member.poll_failures.take() {
        return Some(Err(error));
    }
    if let Some(event) = member.events.pop_front() {
        let polled = match event {
            Pending::Assigned(partitions) => {
                member.greeted = true;
                if let Some(group) = state.groups.get_mut(&member.group) {
                    for partition in &partitions {
                        if let Some(owner) = group.owners.get_mut(partition) {
                            owner.hold = Hold::Owned;
                        }
                        let position = start_position(
                            group,
                            &state.topics,
                            partition,
                            member.options.offset_reset,
                        );
                        member.positions.insert(partition.clone(), position);
                        member.assigned.insert(partition.clone());
                    }
                }
                Polled::Assigned(partitions)
            }
            Pending::Revoked { partitions, token } => {
                for partition in &partitions {
                    member.assigned.remove(partition);
                    member.positions.remove(partition);
                }
                Polled::Revoked { partitions, token }
            }
            Pending::Lost(partitions) => Polled::Lost(partitions),
        };
        return Some(Ok(polled));
    }
    let records = fetch(member, &state.topics);
    (!records.is_empty()).then_some(Ok(Polled::Records(records)))
}

/// Up to the member's maximum of records from its readable partitions, from its positions,
/// which move past them. The round starts at a partition after the one that gave the first
/// records last time, so that no partition starves the others.
fn fetch(member: &mut Member, topics: &BTreeMap<Arc<str>, Topic>) -> Vec<Record> {
    let readable = member
        .assigned
        .iter()
        .filter(|partition| !member.paused.contains(*partition))
        .cloned()
        .collect::<Vec<_>>();
    let mut records = Vec::new();
    let mut first = None;
    let mut budget = member.options.max_records;
    for step in 0..readable.len() {
        if budget == 0 {
            break;
        }
        let index = (member.cursor + step) % readable.len();
        let partition = &readable[index];
        let Some(log) = topics
            .get(&partition.topic)
            .and_then(|topic| topic.log(partition.partition))
        else {
            continue;
        };
        let position = member.positions.get(partition).copied().unwrap_or(0);
        let from = usize::try_from(position).unwrap_or(0).min(log.len());
        let batch = &log[from..log.len().min(from.saturating_add(budget))];
        let Some(last) = batch.last() else {
            continue;
        };
        member.positions.insert(partition.clone(), last.offset + 1);
        budget -= batch.len();
        records.extend_from_slice(batch);
        first.get_or_insert(index);
    }
    if let Some(first) = first {
        member.cursor = first + 1;
    }
    records
}
