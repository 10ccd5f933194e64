//! The runners' errors: [`Error`] (what ended a run) and [`BuildError`] (a bad setting).

use std::sync::Arc;
use std::time::Duration;

use runner_core::Panicked;

use crate::client::ClientError;
use crate::handler::Phase;
use crate::processor::BoxError;
use crate::record::TopicPartition;

/// Why a runner's run failed. Recorded in its error history; the run's exit carries it.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ClientError, ClientErrorKind, Error};
///
/// let error = Error::Client(ClientError::new(ClientErrorKind::Fatal, "authentication failed"));
/// assert_eq!(error.to_string(), "the Kafka client failed: fatal: authentication failed");
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record failed and its error handler said `Fail`: the runner stopped, and the record
    /// was not committed (it is read again by whoever reads the partition next).
    #[error("record {partition}@{offset} failed in {phase}: {source}")]
    RecordFailed {
        /// Its partition.
        partition: TopicPartition,
        /// Its offset.
        offset: i64,
        /// Where it failed.
        phase: Phase,
        /// Why.
        source: Arc<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The client could not be created, or failed for good.
    #[error("the Kafka client failed: {0}")]
    Client(#[source] ClientError),
    /// A commit on revoke or shutdown failed; the offsets are read again by the next owner.
    #[error("commit failed: {0}")]
    Commit(#[source] ClientError),
    /// A commit on revoke or shutdown did not finish within the commit timeout.
    #[error("commit did not finish within {0:?}")]
    CommitTimedOut(Duration),
    /// The run's task panicked: a bug in this crate (processors' panics are processing errors).
    #[error("the runner's task {0}")]
    Internal(Panicked),
}

impl Error {
    pub(crate) fn record_failed(
        partition: TopicPartition,
        offset: i64,
        phase: Phase,
        source: BoxError,
    ) -> Self {
        Error::RecordFailed {
            partition,
            offset,
            phase,
            source: Arc::from(source),
        }
    }
}

/// Error returned when a runner's settings are invalid.
///
/// # Examples
///
/// ```
/// use runner_kafka::BuildError;
///
/// assert_eq!(BuildError::NoTopics.to_string(), "no topic to subscribe to");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The runner's name is empty.
    #[error("the runner's name is empty")]
    EmptyName,
    /// No topic to subscribe to, or an empty topic name.
    #[error("no topic to subscribe to")]
    NoTopics,
    /// A duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
}
