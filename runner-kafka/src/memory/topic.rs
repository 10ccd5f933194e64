//! [`Topic`]: a topic's partitions, each an append-only log with offsets from 0, and the
//! partitioner that picks the partition of a record produced without one.

use std::sync::Arc;

use crate::record::{OutRecord, Record, TopicPartition};

use super::error::MemoryError;

/// A topic: its partitions' logs.
#[derive(Debug)]
pub(crate) struct Topic {
    name: Arc<str>,
    logs: Vec<Vec<Record>>,
    /// The partition the next record without key or partition goes to.
    next: usize,
}

impl Topic {
    /// A topic with `partitions` (at least one) empty partitions.
    pub(crate) fn new(name: Arc<str>, partitions: usize) -> Self {
        Topic {
            name,
            logs: vec![Vec::new(); partitions.max(1)],
            next: 0,
        }
    }

    /// Its partitions, sorted.
    pub(crate) fn partitions(&self) -> impl Iterator<Item = TopicPartition> + '_ {
        (0..self.logs.len()).map(|p| TopicPartition::new(Arc::clone(&self.name), as_i32(p)))
    }

    /// The log of `partition`, if the topic has it.
    pub(crate) fn log(&self, partition: i32) -> Option<&[Record]> {
        let index = usize::try_from(partition).ok()?;
        self.logs.get(index).map(Vec::as_slice)
    }

    /// Appends `record`: to its partition, else by the key's hash, else round-robin. Returns the
    /// record as stored, with its partition and offset.
    pub(crate) fn append(&mut self, record: OutRecord) -> Result<Record, MemoryError> {
        let count = self.logs.len();
        let index = match (record.partition, &record.key) {
            (Some(partition), _) => usize::try_from(partition)
                .ok()
                .filter(|&index| index < count)
                .ok_or_else(|| {
                    MemoryError::UnknownPartition(TopicPartition::new(
                        Arc::clone(&self.name),
                        partition,
                    ))
                })?,
            (None, Some(key)) => partition_for_key(key, count),
            (None, None) => {
                let index = self.next % count;
                self.next = (index + 1) % count;
                index
            }
        };
        let log = &mut self.logs[index];
        let offset = i64::try_from(log.len()).unwrap_or(i64::MAX);
        let stored = Record {
            topic: Arc::clone(&self.name),
            partition: as_i32(index),
            offset,
            timestamp: None,
            key: record.key,
            value: record.value,
            headers: record.headers,
        };
        log.push(stored.clone());
        Ok(stored)
    }
}

/// A partition index as Kafka numbers it. Topics are created with an `i32` count, so every
/// index fits.
fn as_i32(index: usize) -> i32 {
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// The partition of a keyed record among `count`: CRC-32 of the key modulo the count, as
/// librdkafka's default `consistent_random` partitioner does for a keyed record.
pub(crate) fn partition_for_key(key: &[u8], count: usize) -> usize {
    usize::try_from(crc32(key)).unwrap_or(0) % count.max(1)
}

/// CRC-32 (IEEE 802.3, reflected, as zlib computes it), bit by bit: keys are short.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn keys_stay_on_their_partition_and_spread() {
        let first = partition_for_key(b"order-1", 6);
        assert_eq!(first, partition_for_key(b"order-1", 6));
        let used = (0..60)
            .map(|n| partition_for_key(format!("order-{n}").as_bytes(), 6))
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(used.len(), 6, "{used:?}");
    }

    #[test]
    fn records_without_key_go_round_robin_and_offsets_count_from_zero() {
        let mut topic = Topic::new(Arc::from("t"), 3);
        let placed = (0..6)
            .map(|_| {
                let record = topic.append(OutRecord::new("t")).unwrap();
                (record.partition, record.offset)
            })
            .collect::<Vec<_>>();
        assert_eq!(placed, [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]);
        assert_eq!(
            topic.append(OutRecord::new("t").with_partition(3)),
            Err(MemoryError::UnknownPartition(TopicPartition::new("t", 3)))
        );
        assert_eq!(
            topic.append(OutRecord::new("t").with_partition(-1)),
            Err(MemoryError::UnknownPartition(TopicPartition::new("t", -1)))
        );
    }
}
