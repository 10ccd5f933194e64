//! Kafka consumer runners, at-least-once by construction: a record's offset is committed only
//! after the record was processed (its outputs acknowledged by the broker), skipped on purpose,
//! or dead-lettered.
//!
//! The runners are written against a small client abstraction ([`Client`], [`Producer`]) with
//! two implementations: rdkafka ([`KafkaClient`], [`KafkaProducer`], made from a
//! [`KafkaConfig`]; [`MockKafka`] is an embedded cluster for demos and fault injection), and an
//! in-memory cluster for deterministic tests.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod client;
mod kafka;
mod record;

pub use client::{Barrier, Client, ClientError, ClientErrorKind, Event, Producer};
pub use kafka::{
    InjectedError, KafkaClient, KafkaConfig, KafkaConfigError, KafkaProducer, MockKafka,
    MockKafkaError, MockRequest,
};
pub use record::{OutRecord, Record, TopicPartition};
