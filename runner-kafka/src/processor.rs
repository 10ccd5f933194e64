//! The processing model: a [`Processor`] per assigned partition (Kafka Streams' task), made by
//! a [`ProcessorFactory`] when the partition is assigned and dropped when it is revoked. It
//! gets each record decoded ([`Message`]) and returns the records to send to sink topics; the
//! source record counts as processed (its offset may be committed) only once every one of
//! them is acknowledged by the broker.

use std::future::Future;
use std::sync::Arc;

use crate::record::{OutRecord, TopicPartition};

/// The error a processor returns: anything.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A record, its key and value decoded.
///
/// # Examples
///
/// ```
/// use runner_kafka::{Message, Record};
///
/// let record = Record::new("orders", 2, 7).with_key("o-1").with_value("3");
/// let message = Message::new("o-1".to_owned(), 3_u32, &record);
/// assert_eq!((message.partition, message.offset, message.value), (2, 7, 3));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message<K, V> {
    /// Its key, decoded.
    pub key: K,
    /// Its value, decoded.
    pub value: V,
    /// Its topic.
    pub topic: Arc<str>,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Its timestamp (ms since the Unix epoch), if it has one.
    pub timestamp: Option<i64>,
    /// Its headers.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl<K, V> Message<K, V> {
    /// The message of `record`, with its key and value decoded as `key` and `value`.
    pub fn new(key: K, value: V, record: &crate::Record) -> Self {
        Message {
            key,
            value,
            topic: Arc::clone(&record.topic),
            partition: record.partition,
            offset: record.offset,
            timestamp: record.timestamp,
            headers: record.headers.clone(),
        }
    }

    /// Its topic and partition.
    #[must_use]
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(Arc::clone(&self.topic), self.partition)
    }
}

/// Processes the records of one partition, in offset order.
///
/// Implemented for closures `FnMut(Message<K, V>) -> impl Future<Output = Result<Vec<OutRecord>,
/// E>>`. A processor that returns an error, or panics, has failed the record: the runner's
/// processing error handler decides what happens (retry it, skip it, dead-letter it, or stop).
///
/// # Examples
///
/// ```
/// use runner_kafka::{BoxError, Message, OutRecord, Processor};
///
/// /// Sums the quantities of each partition's orders; forwards the running total.
/// struct Totals(u64);
///
/// impl Processor<String, u64> for Totals {
///     async fn process(&mut self, order: Message<String, u64>) -> Result<Vec<OutRecord>, BoxError> {
///         self.0 += order.value;
///         Ok(vec![OutRecord::new("totals").with_key(order.key).with_value(self.0.to_string())])
///     }
/// }
/// ```
pub trait Processor<K, V>: Send + 'static {
    /// Processes one record; returns the records to send.
    fn process(
        &mut self,
        message: Message<K, V>,
    ) -> impl Future<Output = Result<Vec<OutRecord>, BoxError>> + Send;
}

impl<K, V, F, Fut, E> Processor<K, V> for F
where
    F: FnMut(Message<K, V>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Vec<OutRecord>, E>> + Send,
    E: Into<BoxError>,
{
    fn process(
        &mut self,
        message: Message<K, V>,
    ) -> impl Future<Output = Result<Vec<OutRecord>, BoxError>> + Send {
        let future = self(message);
        async move { future.await.map_err(Into::into) }
    }
}

/// Makes the processor of each assigned partition.
///
/// Implemented for closures `Fn(&TopicPartition) -> P`.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use runner_kafka::{Message, OutRecord, ProcessorFactory, TopicPartition};
///
/// let factory = |partition: &TopicPartition| {
///     let name = partition.to_string();
///     move |message: Message<(), String>| {
///         let seen = format!("{name}: {}", message.value);
///         async move { Ok::<_, Infallible>(vec![OutRecord::new("seen").with_value(seen)]) }
///     }
/// };
/// let _processor = factory.create(&TopicPartition::new("orders", 0));
/// ```
pub trait ProcessorFactory<K, V>: Send + Sync + 'static {
    /// The processors it makes.
    type Processor: Processor<K, V>;

    /// The processor of `partition`, just assigned.
    fn create(&self, partition: &TopicPartition) -> Self::Processor;
}

impl<K, V, F, P> ProcessorFactory<K, V> for F
where
    F: Fn(&TopicPartition) -> P + Send + Sync + 'static,
    P: Processor<K, V>,
{
    type Processor = P;

    fn create(&self, partition: &TopicPartition) -> P {
        self(partition)
    }
}
