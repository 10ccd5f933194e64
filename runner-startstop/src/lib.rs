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
//! The semantics table is on [`StartStop`]; the builder's defaults on [`Builder`].
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod builder;
mod catch_unwind;
mod context;
mod control;
mod driver;
mod error;
mod lifecycle;
mod shared;
mod start_stop;
mod sync;

#[cfg(all(test, runner_loom))]
mod tests;

// The crate README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

pub use builder::{Builder, DEFAULT_EXIT_TIMEOUT, DEFAULT_STOP_TIMEOUT};
pub use context::{Cancelled, RunContext};
pub use error::{BoxError, BuildError, Error};
pub use lifecycle::ReadyWhen;
pub use start_stop::StartStop;
