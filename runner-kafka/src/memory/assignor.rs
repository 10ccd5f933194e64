//! The assignor: which member of a group gets which partition. Deterministic, the same under
//! both protocols: the partitions of the subscribed topics, sorted, dealt round-robin to the
//! members, sorted, each to the next member subscribed to its topic (Kafka's `RoundRobinAssignor`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::record::TopicPartition;

use super::state::MemberId;

/// Deals `partitions` (sorted) to `members` (sorted, with their subscriptions).
pub(crate) fn round_robin(
    members: &[(MemberId, &BTreeSet<Arc<str>>)],
    partitions: &[TopicPartition],
) -> BTreeMap<TopicPartition, MemberId> {
    let mut assignment = BTreeMap::new();
    let mut next = 0;
    for partition in partitions {
        let subscriber = (0..members.len())
            .map(|step| (next + step) % members.len())
            .find(|&index| members[index].1.contains(&partition.topic));
        if let Some(index) = subscriber {
            assignment.insert(partition.clone(), members[index].0);
            next = index + 1;
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(names: &[&str]) -> BTreeSet<Arc<str>> {
        names.iter().map(|&name| Arc::from(name)).collect()
    }

    fn partitions(topic: &str, count: i32) -> Vec<TopicPartition> {
        (0..count).map(|p| TopicPartition::new(topic, p)).collect()
    }

    fn owners(assignment: &BTreeMap<TopicPartition, MemberId>) -> Vec<MemberId> {
        assignment.values().copied().collect()
    }

    #[test]
    fn partitions_are_dealt_in_turn() {
        let both = topics(&["t"]);
        let (a, b) = (MemberId::for_test(1), MemberId::for_test(2));
        let assignment = round_robin(&[(a, &both), (b, &both)], &partitions("t", 5));
        assert_eq!(owners(&assignment), [a, b, a, b, a]);
    }

    #[test]
    fn only_subscribers_get_a_topic() {
        let only_t = topics(&["t"]);
        let t_and_u = topics(&["t", "u"]);
        let (a, b) = (MemberId::for_test(1), MemberId::for_test(2));
        let mut all = partitions("t", 2);
        all.extend(partitions("u", 2));
        let assignment = round_robin(&[(a, &only_t), (b, &t_and_u)], &all);
        assert_eq!(owners(&assignment), [a, b, b, b]);
    }

    #[test]
    fn no_members_no_assignment() {
        assert!(round_robin(&[], &partitions("t", 3)).is_empty());
    }
}
