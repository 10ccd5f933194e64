//! Kafka consumer runners, at-least-once by construction: a record's offset is committed only
//! after the record was processed (its outputs acknowledged by the broker), skipped on purpose,
//! or dead-lettered.
//!
//! The runners are written against a small client abstraction ([`Client`], [`Producer`]) with
//! two implementations: rdkafka, and an in-memory cluster for deterministic tests
//! ([`memory`]).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod client;
#[cfg_attr(
    any(not(test), runner_loom),
    allow(dead_code, reason = "the runners that use it land next")
)]
mod ledger;
pub mod memory;
mod processor;
mod record;

#[cfg(all(test, runner_loom))]
mod tests;

pub use client::{Barrier, Client, ClientError, ClientErrorKind, Event, Producer};
pub use processor::{BoxError, Message, Processor, ProcessorFactory};
pub use record::{OutRecord, Record, TopicPartition};
