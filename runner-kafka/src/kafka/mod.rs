//! The rdkafka adapter: [`KafkaClient`] (a [`Client`](crate::Client)) and [`KafkaProducer`]
//! (a [`Producer`](crate::Producer)) over librdkafka, made from a [`KafkaConfig`], and
//! [`MockKafka`], librdkafka's embedded mock cluster, for demos and fault-injection tests.
//!
//! No rdkafka type appears in this module's public API: records, partitions and errors are the
//! crate's own ([`Record`](crate::Record), [`TopicPartition`](crate::TopicPartition),
//! [`ClientError`](crate::ClientError)).
//!
//! # Threads
//!
//! - Each [`KafkaClient`] owns one thread, `runner-kafka-consumer`, which owns the librdkafka
//!   consumer from creation to drop and serves the client's requests in order (see
//!   [`KafkaClient`]). librdkafka's own threads (one per broker, plus a few) come on top.
//! - A [`KafkaProducer`] is rdkafka's `FutureProducer` (with its polling thread); flushes and
//!   the final close run on short-lived threads of their own.
//! - [`MockKafka`] keeps its cluster on a thread of its own.
//!
//! Nothing here blocks a tokio worker thread on librdkafka, apart from [`MockKafka`]'s
//! microsecond-long operations.

mod client;
mod command;
mod config;
mod context;
mod convert;
mod errors;
mod log;
mod mock;
mod producer;
mod worker;

pub use client::KafkaClient;
pub use config::{KafkaConfig, KafkaConfigError};
pub use mock::{InjectedError, MockKafka, MockKafkaError, MockRequest};
pub use producer::KafkaProducer;
