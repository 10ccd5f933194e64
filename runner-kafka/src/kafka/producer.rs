//! [`KafkaProducer`]: the [`Producer`] over rdkafka's `FutureProducer`.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::config::FromClientConfigAndContext as _;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _};
use rdkafka::util::Timeout;
use tokio::sync::oneshot;

use super::config::{KafkaConfig, KafkaConfigError};
use super::errors::client_error;
use super::log::LogContext;
use crate::client::{ClientError, ClientErrorKind, Producer};
use crate::record::OutRecord;

/// How long a send waits for room in librdkafka's queue (`queue.buffering.max.messages`) before
/// it fails with [`ClientErrorKind::Timeout`]: Kafka's `max.block.ms` default.
const QUEUE_FULL_BUDGET: Duration = Duration::from_secs(60);

/// The longest wait between two tries to queue a record while the queue is full.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_millis(100);

/// A producer over librdkafka, for sink topics and dead-letter queues. Cheap to clone: clones
/// share one librdkafka producer, which is closed when the last clone is dropped (on a thread
/// of its own: librdkafka's close waits for in-flight requests, up to 500 ms, and records not
/// yet sent are then purged: [`flush`](Producer::flush) first).
///
/// [`send`](Producer::send) queues the record in librdkafka *when it is called*, so records
/// sent one after another keep their order, even when their futures are awaited later
/// together; the future resolves once the broker acknowledged the record (per `acks`).
///
/// # Examples
///
/// ```
/// use runner_kafka::{KafkaConfig, KafkaProducer, MockKafka, OutRecord, Producer};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let kafka = MockKafka::new(1)?;
/// kafka.create_topic("totals", 2)?;
/// let producer = KafkaProducer::new(&KafkaConfig::new(kafka.bootstrap_servers()))?;
/// let acks: Vec<_> = (0..3)
///     .map(|n| producer.send(OutRecord::new("totals").with_key("k").with_value(n.to_string())))
///     .collect();
/// for ack in acks {
///     ack.await?;
/// }
/// producer.flush(Duration::from_secs(5)).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct KafkaProducer {
    inner: Arc<Owned>,
}

/// The librdkafka producer, closed on a thread of its own.
struct Owned(Option<FutureProducer<LogContext>>);

impl Owned {
    fn get(&self) -> &FutureProducer<LogContext> {
        // Only `drop` takes it out.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("producer taken before drop"))
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(producer) = self.0.take() {
            // Should the thread not start, the producer is dropped here, with the closure.
            let _ = thread::Builder::new()
                .name("runner-kafka-producer-close".to_owned())
                .spawn(move || drop(producer));
        }
    }
}

/// Why a record could not be queued.
enum Refused {
    /// librdkafka's queue is full: try again soon.
    QueueFull,
    /// Anything else.
    Failed(ClientError),
}

impl KafkaProducer {
    /// A producer for `config`'s brokers, with its common and producer properties (the group
    /// and the consumer's properties are not used). Needs no tokio runtime.
    ///
    /// # Errors
    ///
    /// [`KafkaConfigError`]: no bootstrap servers, or a property librdkafka refuses.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{KafkaConfig, KafkaConfigError, KafkaProducer};
    ///
    /// assert!(KafkaProducer::new(&KafkaConfig::new("127.0.0.1:9092").set_producer("acks", "all")).is_ok());
    /// assert!(matches!(
    ///     KafkaProducer::new(&KafkaConfig::new("")),
    ///     Err(KafkaConfigError::NoBootstrapServers)
    /// ));
    /// ```
    pub fn new(config: &KafkaConfig) -> Result<Self, KafkaConfigError> {
        let producer =
            FutureProducer::from_config_and_context(&config.producer_config()?, LogContext)?;
        Ok(KafkaProducer {
            inner: Arc::new(Owned(Some(producer))),
        })
    }

    /// Queues `record` in librdkafka.
    fn enqueue(&self, record: &OutRecord) -> Result<DeliveryFuture, Refused> {
        let mut out: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&record.topic);
        if let Some(partition) = record.partition {
            out = out.partition(partition);
        }
        if let Some(key) = &record.key {
            out = out.key(key.as_slice());
        }
        if let Some(value) = &record.value {
            out = out.payload(value.as_slice());
        }
        if !record.headers.is_empty() {
            let headers = record.headers.iter().fold(
                OwnedHeaders::new_with_capacity(record.headers.len()),
                |headers, (key, value)| {
                    headers.insert(Header {
                        key,
                        value: Some(value.as_slice()),
                    })
                },
            );
            out = out.headers(headers);
        }
        self.inner
            .get()
            .send_result(out)
            .map_err(|(error, _)| match error {
                KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => Refused::QueueFull,
                other => Refused::Failed(client_error("send", &other)),
            })
    }
}

impl Producer for KafkaProducer {
    /// Queues `record` now, and resolves once the broker acknowledged it.
    ///
    /// Errors: [`ClientErrorKind::Timeout`] (not delivered within `message.timeout.ms`, or no
    /// room in the queue within 60 s), [`ClientErrorKind::Transient`] (a broker or leader
    /// unreachable after librdkafka's retries), [`ClientErrorKind::Fatal`] (the record was
    /// refused: too large, unknown partition, not authorized…).
    ///
    /// # Panics
    ///
    /// Only when librdkafka's queue is full, and then outside a tokio runtime with a time
    /// driver (the retries wait on tokio's clock).
    fn send(&self, record: OutRecord) -> impl Future<Output = Result<(), ClientError>> + Send {
        let first = self.enqueue(&record);
        let producer = self.clone();
        async move {
            let delivery = match first {
                Ok(delivery) => delivery,
                Err(Refused::Failed(error)) => return Err(error),
                Err(Refused::QueueFull) => producer.enqueue_when_room(&record).await?,
            };
            match delivery.await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err((error, _))) => Err(client_error("send", &error)),
                Err(_) => Err(ClientError::new(
                    ClientErrorKind::Fatal,
                    "send: the producer closed before the broker answered",
                )),
            }
        }
    }

    /// Waits until every record queued so far is acknowledged (or failed), for up to `timeout`
    /// (`Duration::MAX`: no limit), on a thread of its own.
    ///
    /// Errors: [`ClientErrorKind::Timeout`] if records are still in flight after `timeout`.
    fn flush(&self, timeout: Duration) -> impl Future<Output = Result<(), ClientError>> + Send {
        let inner = Arc::clone(&self.inner);
        async move {
            let (reply, answer) = oneshot::channel();
            thread::Builder::new()
                .name("runner-kafka-producer-flush".to_owned())
                .spawn(move || {
                    let _ = reply.send(inner.get().flush(rd_timeout(timeout)));
                })
                .map_err(|error| {
                    ClientError::new(
                        ClientErrorKind::Fatal,
                        format!("flush: cannot start a thread: {error}"),
                    )
                })?;
            match answer.await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(error)) => Err(client_error("flush", &error)),
                Err(_) => Err(ClientError::new(
                    ClientErrorKind::Fatal,
                    "flush: the flushing thread died",
                )),
            }
        }
    }
}

impl KafkaProducer {
    /// Queues `record` once librdkafka's queue has room, trying again with a growing backoff,
    /// for up to [`QUEUE_FULL_BUDGET`].
    async fn enqueue_when_room(&self, record: &OutRecord) -> Result<DeliveryFuture, ClientError> {
        let deadline = Instant::now() + QUEUE_FULL_BUDGET;
        let mut backoff = Duration::from_millis(1);
        loop {
            tokio::time::sleep(backoff).await;
            match self.enqueue(record) {
                Ok(delivery) => return Ok(delivery),
                Err(Refused::Failed(error)) => return Err(error),
                Err(Refused::QueueFull) if Instant::now() >= deadline => {
                    return Err(ClientError::new(
                        ClientErrorKind::Timeout,
                        format!("send: librdkafka's queue stayed full for {QUEUE_FULL_BUDGET:?}"),
                    ));
                }
                Err(Refused::QueueFull) => backoff = (backoff * 2).min(QUEUE_FULL_BACKOFF),
            }
        }
    }
}

/// `timeout` for librdkafka, whose deadlines overflow past `i32::MAX` milliseconds: longer is
/// no limit.
fn rd_timeout(timeout: Duration) -> Timeout {
    if timeout.as_millis() >= i32::MAX as u128 {
        Timeout::Never
    } else {
        Timeout::After(timeout)
    }
}

impl fmt::Debug for KafkaProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaProducer")
            .field("in_flight", &self.inner.get().in_flight_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_timeouts_mean_no_limit() {
        assert!(matches!(rd_timeout(Duration::MAX), Timeout::Never));
        assert!(matches!(
            rd_timeout(Duration::from_secs(1)),
            Timeout::After(d) if d == Duration::from_secs(1)
        ));
    }
}
