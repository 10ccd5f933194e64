//! [`MemoryClientBuilder`]: a [`MemoryClient`] with options.

use std::fmt;
use std::sync::Arc;

use super::client::MemoryClient;
use super::error::MemoryError;
use super::options::{OffsetReset, Options, Protocol};
use super::state::Shared;

/// Builds a [`MemoryClient`] with options; from
/// [`MemoryCluster::client_builder`](super::MemoryCluster::client_builder).
///
/// # Examples
///
/// ```
/// use runner_kafka::memory::{MemoryCluster, Protocol};
///
/// let cluster = MemoryCluster::new();
/// let client = cluster
///     .client_builder("billing")
///     .max_records_per_poll(10)
///     .protocol(Protocol::Cooperative)
///     .build()?;
/// assert_eq!(client.group(), "billing");
/// # Ok::<(), runner_kafka::memory::MemoryError>(())
/// ```
#[must_use]
pub struct MemoryClientBuilder {
    shared: Arc<Shared>,
    group: String,
    options: Options,
}

impl fmt::Debug for MemoryClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryClientBuilder")
            .field("group", &self.group)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl MemoryClientBuilder {
    pub(crate) fn new(shared: Arc<Shared>, group: &str) -> Self {
        MemoryClientBuilder {
            shared,
            group: group.to_owned(),
            options: Options::default(),
        }
    }

    /// At most `max` records per poll. Default:
    /// [`DEFAULT_MAX_RECORDS_PER_POLL`](super::DEFAULT_MAX_RECORDS_PER_POLL) (100). Zero is
    /// refused by [`build`](Self::build).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::{MemoryCluster, MemoryError};
    ///
    /// let cluster = MemoryCluster::new();
    /// let error = cluster.client_builder("billing").max_records_per_poll(0).build().unwrap_err();
    /// assert_eq!(error, MemoryError::ZeroMaxRecords);
    /// ```
    pub fn max_records_per_poll(mut self, max: usize) -> Self {
        self.options.max_records = max;
        self
    }

    /// The group protocol the member speaks. Default: [`Protocol::Eager`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::{MemoryCluster, Protocol};
    ///
    /// let cluster = MemoryCluster::new();
    /// let cooperative = cluster.client_builder("billing").protocol(Protocol::Cooperative).build();
    /// assert!(cooperative.is_ok());
    /// ```
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.options.protocol = protocol;
        self
    }

    /// Where the member starts a partition its group has no committed offset for. Default:
    /// [`OffsetReset::Earliest`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::{MemoryCluster, OffsetReset};
    ///
    /// let cluster = MemoryCluster::new();
    /// let only_new = cluster.client_builder("billing").offset_reset(OffsetReset::Latest).build();
    /// assert!(only_new.is_ok());
    /// ```
    pub fn offset_reset(mut self, reset: OffsetReset) -> Self {
        self.options.offset_reset = reset;
        self
    }

    /// The client: a new member of the group, not subscribed yet.
    ///
    /// # Errors
    ///
    /// [`MemoryError::ZeroMaxRecords`] for a maximum of zero records per poll.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::memory::MemoryCluster;
    ///
    /// let cluster = MemoryCluster::new();
    /// let client = cluster.client_builder("billing").build()?;
    /// assert_eq!(cluster.members("billing"), []); // a member, not in the group before it subscribes
    /// # let _ = client;
    /// # Ok::<(), runner_kafka::memory::MemoryError>(())
    /// ```
    pub fn build(self) -> Result<MemoryClient, MemoryError> {
        if self.options.max_records == 0 {
            return Err(MemoryError::ZeroMaxRecords);
        }
        Ok(MemoryClient::new(self.shared, &self.group, self.options))
    }
}
