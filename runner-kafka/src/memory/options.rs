//! A member's options: [`Protocol`], [`OffsetReset`] and [`DEFAULT_MAX_RECORDS_PER_POLL`], set
//! through [`MemoryClientBuilder`](super::MemoryClientBuilder).

use std::fmt;

/// [`MemoryClientBuilder::max_records_per_poll`](super::MemoryClientBuilder::max_records_per_poll)'s
/// default: 100.
///
/// # Examples
///
/// ```
/// use runner_kafka::memory::DEFAULT_MAX_RECORDS_PER_POLL;
/// assert_eq!(DEFAULT_MAX_RECORDS_PER_POLL, 100);
/// ```
pub const DEFAULT_MAX_RECORDS_PER_POLL: usize = 100;

/// How a group hands partitions over in a rebalance. The assignment itself (sorted members,
/// round-robin over sorted partitions) is the same under both; only the handover differs.
///
/// | protocol | who is revoked | when the new owners get their partitions |
/// |----------|----------------|------------------------------------------|
/// | [`Eager`](Protocol::Eager) (default) | every member, all its partitions | once every member's barrier is done |
/// | [`Cooperative`](Protocol::Cooperative) | only the owners of partitions that move, only those | each partition once its old owner's barrier is done |
///
/// Eager is librdkafka's default (`partition.assignment.strategy=range,roundrobin`, classic
/// protocol); cooperative is `cooperative-sticky`. The members of one group use one protocol:
/// subscribing with the other is refused, as Kafka refuses an inconsistent group protocol.
///
/// # Examples
///
/// ```
/// use runner_kafka::memory::Protocol;
///
/// assert_eq!(Protocol::default(), Protocol::Eager);
/// assert_eq!(Protocol::Cooperative.to_string(), "cooperative");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// Stop the world: every member gives everything back, then the group is assigned anew.
    #[default]
    Eager,
    /// Incremental: only what moves is revoked, and handed to its new owner once released.
    Cooperative,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Eager => "eager",
            Protocol::Cooperative => "cooperative",
        })
    }
}

/// Where a member starts reading a newly assigned partition for which its group has no
/// committed offset (`auto.offset.reset`). With a committed offset, it starts there.
///
/// # Examples
///
/// ```
/// use runner_kafka::memory::OffsetReset;
///
/// assert_eq!(OffsetReset::default(), OffsetReset::Earliest);
/// assert_eq!(OffsetReset::Latest.to_string(), "latest");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OffsetReset {
    /// From the first record of the log (offset 0: the in-memory log keeps everything).
    #[default]
    Earliest,
    /// From the end of the log at the time of the assignment: only new records.
    Latest,
}

impl fmt::Display for OffsetReset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OffsetReset::Earliest => "earliest",
            OffsetReset::Latest => "latest",
        })
    }
}

/// A member's options, as the builder validated them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    /// At most this many records per poll; at least 1.
    pub(crate) max_records: usize,
    /// The handover it speaks.
    pub(crate) protocol: Protocol,
    /// Where it starts without a committed offset.
    pub(crate) offset_reset: OffsetReset,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_records: DEFAULT_MAX_RECORDS_PER_POLL,
            protocol: Protocol::default(),
            offset_reset: OffsetReset::default(),
        }
    }
}
