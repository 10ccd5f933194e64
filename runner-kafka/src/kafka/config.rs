//! [`KafkaConfig`]: what [`KafkaClient`](super::KafkaClient) and
//! [`KafkaProducer`](super::KafkaProducer) are created from, and [`KafkaConfigError`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::error::KafkaError;

/// The librdkafka property naming the brokers.
const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
/// The librdkafka property naming the consumer group.
const GROUP_ID: &str = "group.id";

/// What a runner's consumer is given unless the configuration says otherwise.
///
/// - Offsets are committed by the runner alone, explicitly, once records are processed
///   (at-least-once): no auto-commit, no offset store.
/// - A group with no committed offset starts at the beginning of each partition.
/// - `fetch.queue.backoff.ms`: librdkafka's default (1000 ms, applied whenever a partition's
///   local queue is full) halved a raw consumer's throughput on the mock cluster; 10 ms keeps
///   the fetcher busy without spinning.
///
/// The partition assignment strategy is the user's choice (`set`): librdkafka's default is
/// eager (`range,roundrobin`); `cooperative-sticky` works as well.
const CONSUMER_DEFAULTS: [(&str, &str); 4] = [
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("auto.offset.reset", "earliest"),
    ("fetch.queue.backoff.ms", "10"),
];

/// The configuration of a [`KafkaClient`](super::KafkaClient) (a consumer in a group, with its
/// producer) or of a [`KafkaProducer`] alone: the brokers, the group, any librdkafka property,
/// and the few knobs of the adapter itself.
///
/// Setters never fail: the configuration is checked when a client is created from it
/// ([`KafkaClient::new`](super::KafkaClient::new), [`KafkaProducer::new`]), which returns a
/// [`KafkaConfigError`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::KafkaConfig;
///
/// let config = KafkaConfig::new("127.0.0.1:9092")
///     .group_id("orders-totals")
///     .set_consumer("partition.assignment.strategy", "cooperative-sticky")
///     .set_producer("linger.ms", "5")
///     .revoke_budget(Duration::from_secs(30));
/// assert_eq!(config.bootstrap_servers(), "127.0.0.1:9092");
/// assert_eq!(config.get_group_id(), Some("orders-totals"));
/// assert_eq!(config.get("partition.assignment.strategy"), Some("cooperative-sticky"));
/// ```
///
/// [`KafkaProducer`]: super::KafkaProducer
/// [`KafkaProducer::new`]: super::KafkaProducer::new
#[derive(Clone)]
#[must_use = "a configuration does nothing until a client is created from it"]
pub struct KafkaConfig {
    /// Properties for both clients.
    common: BTreeMap<String, String>,
    /// Properties for the consumer only.
    consumer: BTreeMap<String, String>,
    /// Properties for the producer only.
    producer: BTreeMap<String, String>,
    revoke_budget: Duration,
    max_batch: usize,
}

impl KafkaConfig {
    /// A configuration for the brokers `bootstrap_servers` (`host:port`, comma-separated), with
    /// the runner defaults: no auto-commit, no offset store, `auto.offset.reset=earliest`,
    /// `fetch.queue.backoff.ms=10`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("10.0.0.1:9092,10.0.0.2:9092");
    /// assert_eq!(config.bootstrap_servers(), "10.0.0.1:9092,10.0.0.2:9092");
    /// assert_eq!(config.get_group_id(), None);
    /// ```
    pub fn new(bootstrap_servers: impl Into<String>) -> Self {
        let mut common = BTreeMap::new();
        common.insert(BOOTSTRAP_SERVERS.to_owned(), bootstrap_servers.into());
        KafkaConfig {
            common,
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
            revoke_budget: Duration::from_secs(60),
            max_batch: 500,
        }
    }

    /// The consumer group (`group.id`). No default: a consumer needs one; a producer ignores it.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").group_id("billing");
    /// assert_eq!(config.get_group_id(), Some("billing"));
    /// ```
    pub fn group_id(mut self, group_id: impl Into<String>) -> Self {
        self.consumer.insert(GROUP_ID.to_owned(), group_id.into());
        self
    }

    /// Sets the librdkafka property `key` for both the consumer and the producer (for example
    /// `security.protocol`, `client.id`). See librdkafka's `CONFIGURATION.md`. A property one
    /// kind of client does not know is ignored by it, with a warning in the logs: use
    /// [`set_consumer`](Self::set_consumer) or [`set_producer`](Self::set_producer) for those.
    /// A later call for the same key wins.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").set("client.id", "totals-7");
    /// assert_eq!(config.get("client.id"), Some("totals-7"));
    /// ```
    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.consumer.remove(&key);
        self.producer.remove(&key);
        self.common.insert(key, value.into());
        self
    }

    /// Sets the librdkafka property `key` for the consumer only (for example
    /// `session.timeout.ms`, `partition.assignment.strategy`, `max.poll.interval.ms`). This
    /// overrides a runner default and a [`set`](Self::set) value of the same name, for the
    /// consumer.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").set_consumer("session.timeout.ms", "6000");
    /// assert_eq!(config.get("session.timeout.ms"), Some("6000"));
    /// ```
    pub fn set_consumer(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.consumer.insert(key.into(), value.into());
        self
    }

    /// Sets the librdkafka property `key` for the producer only (for example `acks`,
    /// `linger.ms`, `enable.idempotence`). This overrides a [`set`](Self::set) value of the same
    /// name, for the producer.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").set_producer("enable.idempotence", "true");
    /// assert_eq!(config.get("enable.idempotence"), Some("true"));
    /// ```
    pub fn set_producer(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.producer.insert(key.into(), value.into());
        self
    }

    /// How long a revoke waits for the runner's [`Barrier`](crate::Barrier) before the
    /// partitions are handed to the group anyway. Default: 60 s. `Duration::MAX` waits for ever.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092");
    /// assert_eq!(config.get_revoke_budget(), Duration::from_secs(60));
    /// let config = config.revoke_budget(Duration::from_secs(5));
    /// assert_eq!(config.get_revoke_budget(), Duration::from_secs(5));
    /// ```
    pub fn revoke_budget(mut self, budget: Duration) -> Self {
        self.revoke_budget = budget;
        self
    }

    /// The most records one [`Event::Records`](crate::Event::Records) carries. Default: 500
    /// (Kafka's `max.poll.records`). Zero is refused by
    /// [`KafkaClient::new`](super::KafkaClient::new).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").max_batch(100);
    /// assert_eq!(config.get_max_batch(), 100);
    /// ```
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch;
        self
    }

    /// The brokers.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// assert_eq!(KafkaConfig::new("127.0.0.1:9092").bootstrap_servers(), "127.0.0.1:9092");
    /// ```
    #[must_use]
    pub fn bootstrap_servers(&self) -> &str {
        self.get(BOOTSTRAP_SERVERS).unwrap_or_default()
    }

    /// The consumer group, if one was set.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// assert_eq!(KafkaConfig::new("127.0.0.1:9092").get_group_id(), None);
    /// ```
    #[must_use]
    pub fn get_group_id(&self) -> Option<&str> {
        self.get(GROUP_ID)
    }

    /// The value set for the librdkafka property `key`: the consumer's own if it has one, else
    /// the common one, else the producer's own (the runner defaults are not listed).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").set("client.id", "a");
    /// assert_eq!(config.get("client.id"), Some("a"));
    /// assert_eq!(config.get("enable.auto.commit"), None);
    /// ```
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.consumer
            .get(key)
            .or_else(|| self.common.get(key))
            .or_else(|| self.producer.get(key))
            .map(String::as_str)
    }

    /// The revoke budget.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::KafkaConfig;
    ///
    /// assert_eq!(KafkaConfig::new("b:9092").get_revoke_budget(), Duration::from_secs(60));
    /// ```
    #[must_use]
    pub fn get_revoke_budget(&self) -> Duration {
        self.revoke_budget
    }

    /// The most records in one batch.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// assert_eq!(KafkaConfig::new("b:9092").get_max_batch(), 500);
    /// ```
    #[must_use]
    pub fn get_max_batch(&self) -> usize {
        self.max_batch
    }

    /// Checks what every client needs: some bootstrap servers.
    fn check_servers(&self) -> Result<(), KafkaConfigError> {
        if self.bootstrap_servers().trim().is_empty() {
            return Err(KafkaConfigError::NoBootstrapServers);
        }
        Ok(())
    }

    /// The librdkafka configuration a [`KafkaClient`](super::KafkaClient)'s consumer is made
    /// with: the runner defaults, then the common properties, then the consumer's own. For a
    /// consumer of your own (a tool, a benchmark's baseline) tuned as the runners' are.
    ///
    /// # Errors
    ///
    /// No bootstrap servers, no group id, or a zero `max_batch`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::KafkaConfig;
    ///
    /// let config = KafkaConfig::new("127.0.0.1:9092").group_id("billing").consumer_config()?;
    /// assert_eq!(config.get("enable.auto.commit"), Some("false"));
    /// assert_eq!(config.get("group.id"), Some("billing"));
    /// # Ok::<(), runner_kafka::KafkaConfigError>(())
    /// ```
    pub fn consumer_config(&self) -> Result<ClientConfig, KafkaConfigError> {
        self.check_servers()?;
        if self
            .get_group_id()
            .is_none_or(|group| group.trim().is_empty())
        {
            return Err(KafkaConfigError::NoGroupId);
        }
        if self.max_batch == 0 {
            return Err(KafkaConfigError::ZeroMaxBatch);
        }
        let mut config = ClientConfig::new();
        for (key, value) in CONSUMER_DEFAULTS {
            config.set(key, value);
        }
        for (key, value) in self.common.iter().chain(&self.consumer) {
            config.set(key, value);
        }
        Ok(config)
    }

    /// The librdkafka configuration of the producer: the common properties, then its own.
    pub(super) fn producer_config(&self) -> Result<ClientConfig, KafkaConfigError> {
        self.check_servers()?;
        let mut config = ClientConfig::new();
        for (key, value) in self.common.iter().chain(&self.producer) {
            config.set(key, value);
        }
        Ok(config)
    }
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// Values of properties whose name says they are secret are not printed.
        struct Redacted<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(key, value)| {
                        let secret = ["password", "secret", "key"]
                            .iter()
                            .any(|word| key.contains(word));
                        (key, if secret { "<redacted>" } else { value.as_str() })
                    }))
                    .finish()
            }
        }
        f.debug_struct("KafkaConfig")
            .field("common", &Redacted(&self.common))
            .field("consumer", &Redacted(&self.consumer))
            .field("producer", &Redacted(&self.producer))
            .field("revoke_budget", &self.revoke_budget)
            .field("max_batch", &self.max_batch)
            .finish()
    }
}

/// Error returned by [`KafkaClient::new`](super::KafkaClient::new) and
/// [`KafkaProducer::new`](super::KafkaProducer::new): the configuration cannot make a client.
///
/// # Examples
///
/// ```
/// use runner_kafka::{KafkaClient, KafkaConfig, KafkaConfigError};
///
/// let error = KafkaClient::new(&KafkaConfig::new("127.0.0.1:9092")).unwrap_err();
/// assert!(matches!(error, KafkaConfigError::NoGroupId));
/// assert_eq!(error.to_string(), "no consumer group: set `group_id`");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaConfigError {
    /// `bootstrap.servers` is empty.
    #[error("no bootstrap servers")]
    NoBootstrapServers,
    /// A consumer was asked for with no (or a blank) `group.id`.
    #[error("no consumer group: set `group_id`")]
    NoGroupId,
    /// [`KafkaConfig::max_batch`] is zero.
    #[error("the largest batch is zero records")]
    ZeroMaxBatch,
    /// librdkafka refused the configuration: an unknown property, an invalid value.
    #[error("librdkafka refused the configuration: {message}")]
    Rejected {
        /// What librdkafka said.
        message: String,
    },
    /// The thread the client runs on could not be started.
    #[error("cannot start the client's thread")]
    Thread(#[source] std::io::Error),
}

impl From<KafkaError> for KafkaConfigError {
    fn from(error: KafkaError) -> Self {
        KafkaConfigError::Rejected {
            message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_servers_are_refused() {
        let config = KafkaConfig::new("  ").group_id("g");
        assert!(matches!(
            config.consumer_config(),
            Err(KafkaConfigError::NoBootstrapServers)
        ));
        assert!(matches!(
            config.producer_config(),
            Err(KafkaConfigError::NoBootstrapServers)
        ));
    }

    #[test]
    fn a_consumer_needs_a_group_a_producer_does_not() {
        let config = KafkaConfig::new("b:9092");
        assert!(matches!(
            config.consumer_config(),
            Err(KafkaConfigError::NoGroupId)
        ));
        assert!(matches!(
            config.clone().group_id(" ").consumer_config(),
            Err(KafkaConfigError::NoGroupId)
        ));
        assert!(config.producer_config().is_ok());
    }

    #[test]
    fn zero_max_batch_is_refused() {
        let config = KafkaConfig::new("b:9092").group_id("g").max_batch(0);
        assert!(matches!(
            config.consumer_config(),
            Err(KafkaConfigError::ZeroMaxBatch)
        ));
    }

    #[test]
    fn runner_defaults_apply_to_the_consumer_and_can_be_overridden() {
        let config = KafkaConfig::new("b:9092")
            .group_id("g")
            .set_consumer("auto.offset.reset", "latest")
            .set_producer("linger.ms", "7")
            .set("client.id", "c");
        let consumer = config.consumer_config().unwrap();
        assert_eq!(consumer.get("enable.auto.commit"), Some("false"));
        assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(consumer.get("fetch.queue.backoff.ms"), Some("10"));
        assert_eq!(consumer.get("auto.offset.reset"), Some("latest"));
        assert_eq!(consumer.get("client.id"), Some("c"));
        assert_eq!(consumer.get("linger.ms"), None);
        let producer = config.producer_config().unwrap();
        assert_eq!(producer.get("linger.ms"), Some("7"));
        assert_eq!(producer.get("client.id"), Some("c"));
        assert_eq!(producer.get("group.id"), None);
        assert_eq!(producer.get("enable.auto.commit"), None);
    }

    #[test]
    fn own_values_override_common_ones_and_set_replaces_both() {
        let config = KafkaConfig::new("b:9092")
            .group_id("g")
            .set("client.id", "both")
            .set_producer("client.id", "producer");
        let client_id = |config: &KafkaConfig| {
            (
                config
                    .consumer_config()
                    .unwrap()
                    .get("client.id")
                    .map(str::to_owned),
                config
                    .producer_config()
                    .unwrap()
                    .get("client.id")
                    .map(str::to_owned),
            )
        };
        assert_eq!(
            client_id(&config),
            (Some("both".to_owned()), Some("producer".to_owned()))
        );
        let config = config.set("client.id", "again");
        assert_eq!(
            client_id(&config),
            (Some("again".to_owned()), Some("again".to_owned()))
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let config = KafkaConfig::new("b:9092").set("sasl.password", "hunter2");
        let debug = format!("{config:?}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
    }
}
