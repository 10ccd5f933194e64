//! The dead-letter record: what [`ErrorAction::SendToDlq`](crate::ErrorAction::SendToDlq)
//! produces, built by [`dead_letter`] with the eight headers below.

use std::error::Error;
use std::fmt::Write as _;

use crate::handler::ErrorContext;
use crate::record::OutRecord;

/// Header: the source record's topic.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ORIGINAL_TOPIC, "x-original-topic");
/// ```
pub const X_ORIGINAL_TOPIC: &str = "x-original-topic";

/// Header: the source record's partition, in decimal.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ORIGINAL_PARTITION, "x-original-partition");
/// ```
pub const X_ORIGINAL_PARTITION: &str = "x-original-partition";

/// Header: the source record's offset, in decimal.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ORIGINAL_OFFSET, "x-original-offset");
/// ```
pub const X_ORIGINAL_OFFSET: &str = "x-original-offset";

/// Header: when the record was dead-lettered, in milliseconds since the Unix epoch, in decimal.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ERROR_TIMESTAMP, "x-error-timestamp");
/// ```
pub const X_ERROR_TIMESTAMP: &str = "x-error-timestamp";

/// Header: the failure's attempt number ([`ErrorContext::attempt`]), in decimal.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ERROR_ATTEMPT, "x-error-attempt");
/// ```
pub const X_ERROR_ATTEMPT: &str = "x-error-attempt";

/// Header: the failure's [`Phase`](crate::Phase): `serde`, `processing` or `production`.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ERROR_PHASE, "x-error-phase");
/// ```
pub const X_ERROR_PHASE: &str = "x-error-phase";

/// Header: the error's message, followed by those of its sources, separated by `": "`.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ERROR_MESSAGE, "x-error-message");
/// ```
pub const X_ERROR_MESSAGE: &str = "x-error-message";

/// Header: the name of the processor that failed ([`ErrorContext::node`]).
///
/// # Examples
///
/// ```
/// assert_eq!(runner_kafka::X_ERROR_NODE, "x-error-node");
/// ```
pub const X_ERROR_NODE: &str = "x-error-node";

/// The dead letter of `ctx`'s record, for `topic`, dead-lettered at `now_ms` (milliseconds since
/// the Unix epoch).
///
/// It has the source record's key and value, no partition (the producer's partitioner picks it
/// by key), and the source's headers followed by the eight headers [`X_ORIGINAL_TOPIC`],
/// [`X_ORIGINAL_PARTITION`], [`X_ORIGINAL_OFFSET`], [`X_ERROR_TIMESTAMP`], [`X_ERROR_ATTEMPT`],
/// [`X_ERROR_PHASE`], [`X_ERROR_MESSAGE`] and [`X_ERROR_NODE`], in that order, every value UTF-8
/// text. All eight are always there (an empty node name gives an empty `x-error-node`), so a
/// reader can rely on them.
///
/// A record that is dead-lettered a second time (read back from a dead-letter topic and failed
/// again) keeps its first eight headers before the new ones; read the last of each name (as
/// Kafka's `Headers.lastHeader` does) for the newest failure.
///
/// # Examples
///
/// ```
/// use runner_kafka::{dead_letter, ErrorContext, Phase, Record, X_ERROR_PHASE, X_ORIGINAL_OFFSET};
///
/// let record = Record::new("orders", 3, 41).with_key("o-1").with_value("{oops");
/// let error = std::io::Error::other("expected `:` at line 1 column 6");
/// let ctx = ErrorContext::new(&record, Phase::Serde, &error, 1, "parse-order");
/// let dead = dead_letter(&ctx, "orders.dlq", 1_700_000_000_000);
/// assert_eq!(dead.topic, "orders.dlq");
/// assert_eq!((dead.key, dead.value), (record.key.clone(), record.value.clone()));
/// let header = |name| dead.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_slice());
/// assert_eq!(header(X_ORIGINAL_OFFSET), Some(&b"41"[..]));
/// assert_eq!(header(X_ERROR_PHASE), Some(&b"serde"[..]));
/// ```
#[must_use]
pub fn dead_letter(ctx: &ErrorContext<'_>, topic: &str, now_ms: i64) -> OutRecord {
    let record = ctx.record;
    let mut headers = Vec::with_capacity(record.headers.len() + 8);
    headers.extend(record.headers.iter().cloned());
    let ours = [
        (X_ORIGINAL_TOPIC, record.topic.to_string()),
        (X_ORIGINAL_PARTITION, record.partition.to_string()),
        (X_ORIGINAL_OFFSET, record.offset.to_string()),
        (X_ERROR_TIMESTAMP, now_ms.to_string()),
        (X_ERROR_ATTEMPT, ctx.attempt.to_string()),
        (X_ERROR_PHASE, ctx.phase.to_string()),
        (X_ERROR_MESSAGE, error_chain(ctx.error)),
        (X_ERROR_NODE, ctx.node.to_owned()),
    ];
    headers.extend(
        ours.into_iter()
            .map(|(name, value)| (name.to_owned(), value.into_bytes())),
    );
    OutRecord {
        topic: topic.to_owned(),
        partition: None,
        key: record.key.clone(),
        value: record.value.clone(),
        headers,
    }
}

/// `error`'s message and its sources', separated by `": "`.
fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        // Writing to a `String` cannot fail.
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Phase;
    use crate::record::Record;

    /// An error with a source.
    #[derive(Debug, thiserror::Error)]
    #[error("cannot produce to `totals`")]
    struct Outer(#[source] std::io::Error);

    fn text(value: &[u8]) -> &str {
        std::str::from_utf8(value).unwrap()
    }

    #[test]
    fn the_dead_letter_has_the_source_data_and_every_header() {
        let mut record = Record::new("orders", 7, 123_456)
            .with_key("k-1")
            .with_value(vec![0xff, 0x00, 0x10]);
        record.timestamp = Some(5);
        record.headers.push(("trace-id".into(), b"abc".to_vec()));
        record.headers.push(("trace-id".into(), b"def".to_vec()));
        let error = Outer(std::io::Error::other("broker down"));
        let ctx = ErrorContext::new(&record, Phase::Production, &error, 4, "sum-totals");

        let dead = dead_letter(&ctx, "orders.dlq", 1_712_345_678_901);

        assert_eq!(dead.topic, "orders.dlq");
        assert_eq!(dead.partition, None);
        assert_eq!(dead.key.as_deref(), Some(&b"k-1"[..]));
        assert_eq!(dead.value.as_deref(), Some(&[0xff, 0x00, 0x10][..]));
        let headers: Vec<(&str, &str)> = dead
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), text(value)))
            .collect();
        assert_eq!(
            headers,
            [
                ("trace-id", "abc"),
                ("trace-id", "def"),
                ("x-original-topic", "orders"),
                ("x-original-partition", "7"),
                ("x-original-offset", "123456"),
                ("x-error-timestamp", "1712345678901"),
                ("x-error-attempt", "4"),
                ("x-error-phase", "production"),
                ("x-error-message", "cannot produce to `totals`: broker down"),
                ("x-error-node", "sum-totals"),
            ]
        );
    }

    #[test]
    fn the_constants_are_the_header_names() {
        assert_eq!(
            [
                X_ORIGINAL_TOPIC,
                X_ORIGINAL_PARTITION,
                X_ORIGINAL_OFFSET,
                X_ERROR_TIMESTAMP,
                X_ERROR_ATTEMPT,
                X_ERROR_PHASE,
                X_ERROR_MESSAGE,
                X_ERROR_NODE,
            ],
            [
                "x-original-topic",
                "x-original-partition",
                "x-original-offset",
                "x-error-timestamp",
                "x-error-attempt",
                "x-error-phase",
                "x-error-message",
                "x-error-node",
            ]
        );
    }

    #[test]
    fn a_record_without_key_or_value_and_an_unnamed_node_still_gets_all_eight() {
        let record = Record::new("t", 0, 0);
        let error = std::io::Error::other("x");
        let ctx = ErrorContext::new(&record, Phase::Serde, &error, 1, "");
        let dead = dead_letter(&ctx, "t.dlq", -1);
        assert_eq!((dead.key, dead.value), (None, None));
        assert_eq!(dead.headers.len(), 8);
        assert_eq!(dead.headers[3], (X_ERROR_TIMESTAMP.into(), b"-1".to_vec()));
        assert_eq!(dead.headers[5], (X_ERROR_PHASE.into(), b"serde".to_vec()));
        assert_eq!(dead.headers[7], (X_ERROR_NODE.into(), Vec::new()));
    }

    #[test]
    fn a_second_dead_letter_keeps_the_first_headers_before_the_new_ones() {
        let record = Record::new("orders", 1, 10);
        let error = std::io::Error::other("first");
        let first = dead_letter(
            &ErrorContext::new(&record, Phase::Processing, &error, 1, "a"),
            "orders.dlq",
            1,
        );
        let mut again = Record::new("orders.dlq", 0, 99);
        again.headers = first.headers;
        let error = std::io::Error::other("second");
        let second = dead_letter(
            &ErrorContext::new(&again, Phase::Processing, &error, 2, "b"),
            "orders.dlq.dlq",
            2,
        );
        let topics: Vec<&str> = second
            .headers
            .iter()
            .filter(|(name, _)| name == X_ORIGINAL_TOPIC)
            .map(|(_, value)| text(value))
            .collect();
        assert_eq!(topics, ["orders", "orders.dlq"]);
    }
}
