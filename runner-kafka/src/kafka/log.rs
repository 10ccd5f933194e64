//! librdkafka's log lines and client errors as `tracing` events (rdkafka's default writes them
//! to the `log` crate), and the producer's context that does only that.

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;

/// The `tracing` target of everything librdkafka says.
const TARGET: &str = "runner::kafka::librdkafka";

/// Forwards one librdkafka log line.
pub(super) fn log(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: TARGET, facility, "{message}");
        }
        RDKafkaLogLevel::Warning => {
            tracing::warn!(target: TARGET, facility, "{message}");
        }
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: TARGET, facility, "{message}");
        }
        RDKafkaLogLevel::Debug => {
            tracing::debug!(target: TARGET, facility, "{message}");
        }
    }
}

/// Forwards a client error librdkafka reports on its own (a broker down, for example). The
/// calls that fail because of it report it too: this is for the record only.
pub(super) fn client_error(error: &KafkaError, reason: &str) {
    tracing::debug!(target: TARGET, %error, "{reason}");
}

/// The producer's context: logs only.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct LogContext;

impl ClientContext for LogContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        client_error(&error, reason);
    }
}
