//! A [`Runner`](runner_core::Runner) that runs an async function on a schedule: [`Ticker`].
//!
//! Use it for periodic work: cleanup, cache warming, health checks, metrics collection. For a
//! service that runs until told to stop, use `runner-startstop` instead.
//!
//! Every policy is explicit: when the first run happens ([`FirstRun`]), what happens to ticks
//! that came due during a slow run ([`MissedTicks`]), how long a run may take, how much jitter to
//! add, and when the ticker counts as unhealthy. Runs never overlap, and a failing or panicking run
//! is recorded and the ticker goes on. See the table on [`Ticker`].
//!
//! Also here, the reference utilities with their edge cases fixed: [`retry_n`] (check, act, up
//! to N times) and [`poll_until`] (check every interval until true or a deadline).
//!
//! # Crate features
//!
//! - `cron`: schedules from cron expressions with time zones (the `cron` module).
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod builder;
mod config;
mod context;
#[cfg(feature = "cron")]
pub mod cron;
mod driver;
mod engine;
mod error;
mod ledger;
mod poll_until;
mod retry;
mod schedule;
mod shared;
mod state;
mod stats;
mod ticker;

#[cfg(all(test, runner_loom))]
mod tests;

// The crate README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

pub use builder::{Builder, DEFAULT_HEALTHY_AFTER, DEFAULT_STOP_GRACE, DEFAULT_UNHEALTHY_AFTER};
pub use context::TickContext;
pub use error::{BoxError, BuildError, Error, MIN_PERIOD};
pub use poll_until::{PollUntilError, poll_until};
pub use retry::{RetryError, retry_n};
pub use runner_lifecycle::Cancelled;
pub use schedule::{FirstRun, MissedTicks};
pub use stats::{DurationSummary, Stats};
pub use ticker::{Ticker, UntilRuns};
