//! Kafka consumer runners, at-least-once by construction: a record's offset is committed only
//! after the record was processed (its outputs acknowledged by the broker), skipped on purpose,
//! or dead-lettered.
//!
//! Three runners: [`SingleThreadedRunner`] (every record on one task), [`PartitionedRunner`]
//! (a worker per partition) and [`KeyedRunner`] (a worker per partition, and within it the
//! records of different keys at once, each key's in order).
//!
//! The runners are written against a small client abstraction ([`Client`], [`Producer`]) with
//! two implementations: rdkafka ([`KafkaClient`], [`KafkaProducer`], made from a
//! [`KafkaConfig`]; [`MockKafka`] is librdkafka's embedded cluster, for demos and fault
//! injection), and an in-memory cluster for deterministic tests ([`memory`]).
//!
//! A record that fails, in decoding ([`Decode`]), processing or production, goes to an
//! [`ErrorHandler`] (one per [`Phase`], see [`PhaseHandlers`]), which decides an
//! [`ErrorAction`]: skip it, retry it after a [`Backoff`], fail the runner, or send it to a
//! dead-letter topic ([`dead_letter`]).
//!
//! # Features
//!
//! - `json`: `Json<T>`, keys and values in JSON through serde.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod backoff;
mod client;
mod decode;
mod dlq;
mod engine;
mod error;
mod gate;
mod handler;
mod health;
mod in_flight;
mod kafka;
mod keyed;
mod ledger;
pub mod memory;
mod metrics;
mod pipeline;
mod processor;
mod record;
mod runner;
mod settings;
mod worker;

#[cfg(all(test, runner_loom))]
mod tests;

// The crate README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

pub use backoff::{Backoff, BackoffError, DEFAULT_POLL_ERROR_BACKOFF};
pub use client::{Barrier, Client, ClientError, ClientErrorKind, Event, Producer};
pub use decode::{Decode, DecodeError};
#[cfg(feature = "json")]
pub use decode::{EncodeError, Json};
pub use dlq::{
    X_ERROR_ATTEMPT, X_ERROR_MESSAGE, X_ERROR_NODE, X_ERROR_PHASE, X_ERROR_TIMESTAMP,
    X_ORIGINAL_OFFSET, X_ORIGINAL_PARTITION, X_ORIGINAL_TOPIC, dead_letter,
};
pub use error::{BuildError, Error};
pub use handler::{
    ActionLogger, ErrorAction, ErrorContext, ErrorHandler, LogAndContinue, LogAndFail, Phase,
    PhaseHandlers, SilentFail, WithDlq, WithMaxAttempts,
};
pub use kafka::{
    InjectedError, KafkaClient, KafkaConfig, KafkaConfigError, KafkaProducer, MockKafka,
    MockKafkaError, MockRequest,
};
pub use metrics::{MetricsSnapshot, PartitionMetrics};
pub use processor::{BoxError, Message, Processor, ProcessorFactory};
pub use record::{OutRecord, Record, TopicPartition};
pub use runner::{
    Builder, DEFAULT_CHANNEL_BUFFER_SIZE, DEFAULT_CLOSE_TIMEOUT, DEFAULT_COMMIT_INTERVAL,
    DEFAULT_COMMIT_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_CONCURRENCY, DEFAULT_MAX_HELD_BYTES,
    DEFAULT_STUCK_AFTER, DEFAULT_WORKER_SHUTDOWN_TIMEOUT, Keyed, KeyedRunner, LifecycleError,
    MakeClient, Partitioned, PartitionedRunner, SingleThreaded, SingleThreadedRunner, WithWorkers,
};
