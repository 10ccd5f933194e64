//! rdkafka's errors as [`ClientError`]s: which failures a runner retries, which mean a
//! rebalance, which end it.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

use crate::client::{ClientError, ClientErrorKind};

/// The kind of a failure librdkafka reported with `code`.
///
/// - The group moved on (a commit from an old generation): [`ClientErrorKind::Rebalancing`].
/// - Time ran out: [`ClientErrorKind::Timeout`].
/// - The network, a broker, a coordinator or a leader is away for now:
///   [`ClientErrorKind::Transient`].
/// - Anything else (authorization, invalid requests, fatal client states):
///   [`ClientErrorKind::Fatal`].
pub(super) fn kind_of(code: RDKafkaErrorCode) -> ClientErrorKind {
    use RDKafkaErrorCode as C;
    match code {
        C::RebalanceInProgress
        | C::IllegalGeneration
        | C::UnknownMemberId
        | C::FencedMemberEpoch
        | C::StaleMemberEpoch
        | C::AssignmentLost => ClientErrorKind::Rebalancing,
        C::RequestTimedOut | C::OperationTimedOut | C::MessageTimedOut | C::TimedOutQueue => {
            ClientErrorKind::Timeout
        }
        C::BrokerTransportFailure
        | C::AllBrokersDown
        | C::Resolve
        | C::NetworkException
        | C::BrokerNotAvailable
        | C::LeaderNotAvailable
        | C::NotLeaderForPartition
        | C::FencedLeaderEpoch
        | C::UnknownLeaderEpoch
        | C::ReplicaNotAvailable
        | C::NotEnoughReplicas
        | C::NotEnoughReplicasAfterAppend
        | C::CoordinatorLoadInProgress
        | C::CoordinatorNotAvailable
        | C::NotCoordinator
        | C::WaitingForCoordinator
        | C::UnknownGroup
        | C::UnknownTopicOrPartition
        | C::UnknownTopic
        | C::UnknownPartition
        | C::OffsetNotAvailable
        | C::KafkaStorageError
        | C::ThrottlingQuotaExceeded
        | C::QueueFull
        | C::Retry
        | C::InProgress
        | C::PreviousInProgress
        | C::WaitCache
        | C::Interrupted => ClientErrorKind::Transient,
        _ => ClientErrorKind::Fatal,
    }
}

/// `error`, from the call `what`, as a [`ClientError`].
pub(super) fn client_error(what: &str, error: &KafkaError) -> ClientError {
    let kind = match error {
        KafkaError::MessageConsumptionFatal(_) => ClientErrorKind::Fatal,
        KafkaError::ClientConfig(..) | KafkaError::Subscription(_) | KafkaError::Nul(_) => {
            ClientErrorKind::Config
        }
        KafkaError::Canceled => ClientErrorKind::Fatal,
        other => other
            .rdkafka_error_code()
            .map_or(ClientErrorKind::Fatal, kind_of),
    };
    ClientError::new(kind, format!("{what}: {error}"))
}

/// The client's thread has ended: every later call fails with this.
pub(super) fn thread_ended() -> ClientError {
    ClientError::new(ClientErrorKind::Fatal, "the consumer thread has ended")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_refusals_during_a_rebalance_are_rebalancing() {
        for code in [
            RDKafkaErrorCode::RebalanceInProgress,
            RDKafkaErrorCode::IllegalGeneration,
            RDKafkaErrorCode::UnknownMemberId,
        ] {
            let error = client_error("commit", &KafkaError::ConsumerCommit(code));
            assert_eq!(error.kind(), ClientErrorKind::Rebalancing, "{code:?}");
            assert!(error.is_transient());
        }
    }

    #[test]
    fn transport_and_timeouts_are_retried() {
        let error = client_error(
            "poll",
            &KafkaError::MessageConsumption(RDKafkaErrorCode::BrokerTransportFailure),
        );
        assert_eq!(error.kind(), ClientErrorKind::Transient);
        let error = client_error(
            "commit",
            &KafkaError::ConsumerCommit(RDKafkaErrorCode::RequestTimedOut),
        );
        assert_eq!(error.kind(), ClientErrorKind::Timeout);
    }

    #[test]
    fn authorization_and_fatal_errors_end_the_client() {
        let error = client_error(
            "commit",
            &KafkaError::ConsumerCommit(RDKafkaErrorCode::GroupAuthorizationFailed),
        );
        assert_eq!(error.kind(), ClientErrorKind::Fatal);
        let error = client_error(
            "poll",
            &KafkaError::MessageConsumptionFatal(RDKafkaErrorCode::BrokerTransportFailure),
        );
        assert_eq!(error.kind(), ClientErrorKind::Fatal);
        assert!(error.to_string().starts_with("fatal: poll: "), "{error}");
    }
}
