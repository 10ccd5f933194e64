//! rdkafka's borrowed data as owned values, at once.
//!
//! A `BorrowedMessage` or a `TopicPartitionList` that outlives its moment can make dropping
//! the consumer hang for ever (kafka-notes §3.1): everything is copied out here and the
//! borrowed value dropped right after.

use std::collections::HashMap;
use std::sync::Arc;

use rdkafka::message::{BorrowedMessage, Headers as _};
use rdkafka::{Message as _, Offset, TopicPartitionList};

use crate::record::{Record, TopicPartition};

/// Topic names shared by every record of a topic (one allocation per topic, not per record).
#[derive(Debug, Default)]
pub(super) struct TopicNames(HashMap<String, Arc<str>>);

impl TopicNames {
    /// The shared name of `topic`.
    pub(super) fn get(&mut self, topic: &str) -> Arc<str> {
        if let Some(name) = self.0.get(topic) {
            return Arc::clone(name);
        }
        let name: Arc<str> = Arc::from(topic);
        self.0.insert(topic.to_owned(), Arc::clone(&name));
        name
    }
}

/// `message` as a [`Record`]. A header with no value becomes an empty value.
pub(super) fn record(message: &BorrowedMessage<'_>, topics: &mut TopicNames) -> Record {
    Record {
        topic: topics.get(message.topic()),
        partition: message.partition(),
        offset: message.offset(),
        timestamp: message.timestamp().to_millis(),
        key: message.key().map(<[u8]>::to_vec),
        value: message.payload().map(<[u8]>::to_vec),
        headers: message.headers().map_or_else(Vec::new, |headers| {
            headers
                .iter()
                .map(|header| {
                    (
                        header.key.to_owned(),
                        header.value.map(<[u8]>::to_vec).unwrap_or_default(),
                    )
                })
                .collect()
        }),
    }
}

/// The partitions of `list`.
pub(super) fn partitions(
    list: &TopicPartitionList,
    topics: &mut TopicNames,
) -> Vec<TopicPartition> {
    list.elements()
        .iter()
        .map(|element| TopicPartition {
            topic: topics.get(element.topic()),
            partition: element.partition(),
        })
        .collect()
}

/// `partitions` as a list, with no offsets.
pub(super) fn list(partitions: &[TopicPartition]) -> TopicPartitionList {
    let mut list = TopicPartitionList::with_capacity(partitions.len());
    for tp in partitions {
        list.add_partition(&tp.topic, tp.partition);
    }
    list
}

/// `offsets` as a list to commit (each offset the next one to read, as Kafka commits them).
///
/// # Errors
///
/// A negative offset, as the offending partition and offset.
pub(super) fn commit_list(
    offsets: &[(TopicPartition, i64)],
) -> Result<TopicPartitionList, (TopicPartition, i64)> {
    let mut list = TopicPartitionList::with_capacity(offsets.len());
    for (tp, offset) in offsets {
        if *offset < 0
            || list
                .add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*offset))
                .is_err()
        {
            return Err((tp.clone(), *offset));
        }
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_are_shared() {
        let mut topics = TopicNames::default();
        let a = topics.get("orders");
        let b = topics.get("orders");
        assert!(Arc::ptr_eq(&a, &b));
    }

    #[test]
    fn lists_round_trip() {
        let mut topics = TopicNames::default();
        let partitions_in = vec![TopicPartition::new("a", 0), TopicPartition::new("b", 3)];
        let list = list(&partitions_in);
        assert_eq!(partitions(&list, &mut topics), partitions_in);
    }

    #[test]
    fn commit_lists_carry_the_next_offset_as_given() {
        let list = commit_list(&[(TopicPartition::new("a", 1), 41)]).unwrap();
        let element = list.find_partition("a", 1).unwrap();
        assert_eq!(element.offset(), Offset::Offset(41));
        let refused = commit_list(&[(TopicPartition::new("a", 1), -1)]).unwrap_err();
        assert_eq!(refused, (TopicPartition::new("a", 1), -1));
    }
}
