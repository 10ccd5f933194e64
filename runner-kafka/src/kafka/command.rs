//! What the async side asks of the consumer thread.

use tokio::sync::oneshot;

use crate::client::ClientError;
use crate::record::TopicPartition;

/// One request to the consumer thread. Requests are served in order, between two short polls
/// of librdkafka, or while a revoke waits for its barrier.
#[derive(Debug)]
pub(super) enum Command {
    /// Subscribe to these topics (replacing any subscription). A refusal comes back as the
    /// next poll's error.
    Subscribe(Vec<String>),
    /// The async side waits for an event: fetch one batch of records.
    Poll,
    /// Stop fetching these partitions.
    Pause(Vec<TopicPartition>),
    /// Fetch these partitions again.
    Resume(Vec<TopicPartition>),
    /// Commit these offsets (each the next one to read), synchronously, and answer.
    Commit {
        /// The offsets.
        offsets: Vec<(TopicPartition, i64)>,
        /// Where the coordinator's answer goes.
        reply: oneshot::Sender<Result<(), ClientError>>,
    },
    /// The barrier of revoke number `.0` is done.
    Release(u64),
    /// Leave the group, drop the consumer, then answer.
    Close {
        /// Answered once the consumer is dropped.
        reply: oneshot::Sender<()>,
    },
}
