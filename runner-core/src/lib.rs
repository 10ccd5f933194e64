//! The contract every `runner` crate is built on: traits and vocabulary types only, no runtime,
//! no dependencies.
//!
//! A *runner* is a long-lived part of a service that can be started and stopped: a server's
//! accept loop, a queue consumer, a periodic job, or a supervisor of other runners. This crate
//! says what starting and stopping *mean*, so that code which controls runners (your `main`,
//! a supervisor) can rely on every implementation in the same way.
//!
//! | item | what it is |
//! |------|------------|
//! | [`Runner`] | `start`, `stop` and `restart`, with their rules written out |
//! | [`Status`] | [`State`], uptime, the last [`Exit`], [`Health`] and [`Readiness`], and an awaitable [`changed`](Status::changed) so nobody polls |
//! | [`ErrorHistory`] | the bounded list of errors a runner recorded, with a total count that survives eviction; [`ErrorLog`] is a ready-made buffer for implementations |
//! | [`DynRunner`] | the object-safe twin of `Runner + Status + ErrorHistory`, so different runners fit in one collection |
//! | [`conformance`] | (feature `conformance`) checks that any implementation can run against itself |
//!
//! # Implementing a runner
//!
//! The usual shape is a spawned task that owns the work, a cancellation signal, and a state
//! cell that the task itself updates when the work ends. `start` spawns and publishes `Running`;
//! `stop` signals and then *waits for the task to say the run is over*, which makes it
//! cancel-safe for free: a dropped `stop` leaves the task to finish on its own, and the next
//! `stop` waits again. The task must also report an end nobody asked for (the work returned,
//! failed or panicked, its runtime shut down), or every later `stop` waits for ever.
//!
//! That bookkeeping is easy to get subtly wrong, so it is written once, in the `runner-lifecycle`
//! crate: implement its `Work` trait (a run function and an optional stop hook) and it gives you
//! a runner that keeps every rule here. Reach for it before writing your own.
//!
//! Either way, run the [`conformance`] kit against your type in a test.
//!
//! # Crate features
//!
//! - `conformance`: the [`conformance`] module. Off by default; enable it in `[dev-dependencies]`.
//!
#![cfg_attr(feature = "conformance", doc = "[`conformance`]: crate::conformance")]
#![cfg_attr(
    not(feature = "conformance"),
    doc = "[`conformance`]: crate#crate-features"
)]
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod dynamic;
mod error;
mod exit;
mod health;
mod history;
mod runner;
mod status;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use dynamic::{BoxFuture, DynRunner};
pub use error::{Panicked, SharedError};
pub use exit::Exit;
pub use health::{Health, Readiness, Reason};
pub use history::{DEFAULT_ERROR_CAPACITY, ErrorHistory, ErrorLog};
pub use runner::Runner;
pub use status::{Snapshot, State, Status, Version};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadme;
