//! A [`Runner`](runner_core::Runner) made of a long-running **start function** and a graceful
//! **stop function**: [`StartStop`].
//!
//! Use it for a service that runs until told to stop: an HTTP server's serve loop, a queue
//! consumer, a listener. For a function to run *every period*, use `runner-ticker` instead.
//!
//! ```
//! use runner_core::{Runner, Status};
//! use runner_startstop::{RunContext, StartStop};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), runner_startstop::Error> {
//! let consumer = StartStop::new(
//!     |run: RunContext| async move {
//!         while !run.is_cancelled() {
//!             tokio::select! {
//!                 () = run.cancelled() => break,
//!                 _ = tokio::task::yield_now() => { /* take one message */ }
//!             }
//!         }
//!         Ok::<_, std::io::Error>(())
//!     },
//!     || async { Ok::<_, std::io::Error>(()) },
//! );
//! consumer.start().await?;
//! assert!(consumer.is_running());
//! consumer.stop().await?;
//! # Ok(()) }
//! ```
//!
//! The semantics table is on [`StartStop`]; the builder's defaults on [`Builder`]. The engine
//! underneath is runner-lifecycle's; the types re-exported from there ([`RunContext`],
//! [`Cancelled`], [`ReadyWhen`], [`Error`], [`BuildError`]) are the ones you use with this crate.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod builder;
mod functions;
mod start_stop;

// The crate README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

pub use builder::Builder;
pub use runner_lifecycle::{
    BoxError, BuildError, Cancelled, DEFAULT_EXIT_TIMEOUT, Error, ReadyWhen, RunContext,
};

/// The default [`Builder::stop_fn_timeout`]: 5 s.
pub const DEFAULT_STOP_FN_TIMEOUT: std::time::Duration =
    runner_lifecycle::DEFAULT_STOP_HOOK_TIMEOUT;
pub use start_stop::StartStop;
