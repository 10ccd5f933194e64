//! [`MemoryProducer`]: sends append to the cluster's logs; acks come after the cluster's
//! delivery delay, on tokio's clock.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::{ClientError, ClientErrorKind, Producer};
use crate::record::OutRecord;

use super::error::MemoryError;
use super::state::Shared;

/// The producer of a [`MemoryClient`](super::MemoryClient) (or one made by
/// [`MemoryCluster::producer`](super::MemoryCluster::producer)); clones share it.
///
/// - [`send`](Producer::send) puts the record in the log at once, when it is called (the broker
///   has it; consumers may read it before the ack, as with Kafka), and its future resolves
///   with the ack after the cluster's [`delivery_delay`](super::MemoryCluster::delivery_delay).
///   Dropping the future does not take the record back, as with librdkafka. A send made to
///   fail by [`fail_sends`](super::MemoryCluster::fail_sends) appends nothing and resolves with
///   the error after the same delay; so does a send to an unknown topic or partition, with a
///   [`ClientErrorKind::Config`] error.
/// - [`flush`](Producer::flush) waits until every send made through this producer (or its
///   clones) so far has its answer, or fails with [`ClientErrorKind::Timeout`] after `timeout`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::memory::MemoryCluster;
/// use runner_kafka::{OutRecord, Producer, TopicPartition};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let cluster = MemoryCluster::new();
/// cluster.create_topic("totals", 1).unwrap();
/// cluster.delivery_delay(Duration::from_millis(5));
/// let producer = cluster.producer();
///
/// let ack = producer.send(OutRecord::new("totals").with_value("42"));
/// assert_eq!(cluster.records(&TopicPartition::new("totals", 0)).len(), 1); // in the log already
/// let started = tokio::time::Instant::now();
/// ack.await.unwrap();
/// assert_eq!(started.elapsed(), Duration::from_millis(5));
/// producer.flush(Duration::from_secs(1)).await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct MemoryProducer {
    shared: Arc<Shared>,
    /// When the last answer of a send through this producer is due.
    last_due: Arc<Mutex<Option<Instant>>>,
}

impl fmt::Debug for MemoryProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryProducer")
            .field("last_due", &self.last_due())
            .finish_non_exhaustive()
    }
}

impl MemoryProducer {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        MemoryProducer {
            shared,
            last_due: Arc::new(Mutex::new(None)),
        }
    }

    fn last_due(&self) -> Option<Instant> {
        *self.last_due.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Producer for MemoryProducer {
    fn send(&self, record: OutRecord) -> impl Future<Output = Result<(), ClientError>> + Send {
        let now = Instant::now();
        let (outcome, delay) = self.shared.update(|state| {
            let outcome = match state.sends.failures.take() {
                Some(error) => Err(error),
                None => match state.topics.get_mut(record.topic.as_str()) {
                    Some(topic) => topic.append(record).map(drop),
                    None => Err(MemoryError::UnknownTopic(record.topic)),
                }
                .map_err(|error| ClientError::new(ClientErrorKind::Config, error.to_string())),
            };
            (outcome, state.sends.delay)
        });
        let due = deadline(now, delay);
        {
            let mut last_due = self.last_due.lock().unwrap_or_else(PoisonError::into_inner);
            *last_due = Some(last_due.map_or(due, |last| last.max(due)));
        }
        async move {
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
            }
            outcome
        }
    }

    fn flush(&self, timeout: Duration) -> impl Future<Output = Result<(), ClientError>> + Send {
        let last_due = self.last_due();
        async move {
            let now = Instant::now();
            let Some(due) = last_due.filter(|&due| due > now) else {
                return Ok(());
            };
            let limit = deadline(now, timeout);
            if limit < due {
                tokio::time::sleep_until(limit).await;
                return Err(ClientError::new(
                    ClientErrorKind::Timeout,
                    format!("flush: sends still in flight after {timeout:?}"),
                ));
            }
            tokio::time::sleep_until(due).await;
            Ok(())
        }
    }
}

/// `now + after`, saturating at about 30 years (tokio's own "far future"): `Duration::MAX`
/// means never.
pub(crate) fn deadline(now: Instant, after: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    now.checked_add(after.min(FAR))
        .or_else(|| now.checked_add(FAR))
        .unwrap_or(now)
}
