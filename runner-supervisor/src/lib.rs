//! A dependency graph of runners that starts, watches, restarts and stops them in order:
//! [`Supervisor`], itself a runner-core [`Runner`](runner_core::Runner), so supervisors nest.
//!
//! ```
//! use std::convert::Infallible;
//! use std::time::Duration;
//! use runner_core::{Runner, Status};
//! use runner_startstop::{RunContext, StartStop};
//! use runner_supervisor::{ServiceOptions, Supervisor};
//!
//! fn service() -> StartStop {
//!     StartStop::new(
//!         |run: RunContext| async move {
//!             run.cancelled().await; // serve until told to stop
//!             Ok::<_, Infallible>(())
//!         },
//!         || async { Ok::<_, Infallible>(()) },
//!     )
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), runner_supervisor::Error> {
//! let app = Supervisor::builder()
//!     .name("app")
//!     .service("database", service(), ServiceOptions::new())
//!     .service("api", service(), ServiceOptions::new().requires("database"))
//!     .service("metrics", service(), ServiceOptions::new().after("api").optional(true))
//!     .build()
//!     .expect("a valid graph");
//!
//! app.start().await?; // database, then api once the database is ready, then metrics
//! assert!(app.readiness().is_ready());
//! app.stop().await?; // metrics, then api, then database
//! # Ok(()) }
//! ```
//!
//! | what | how |
//! |------|-----|
//! | dependencies | [`ServiceOptions::requires`]: start after, follow its restarts (OTP `rest_for_one` on a graph); [`ServiceOptions::after`]: ordering only |
//! | restarts | [`RestartPolicy`] (Never, Always, OnFailure), [`Backoff`] (1 s to 60 s, ×2, ±25 %), `max_retries` (5), a counter reset after a stable period |
//! | liveness | a service unhealthy for its grace period (30 s) is restarted; learnt from its `changed`, never polled |
//! | intensity | more than [`Intensity`] restarts (10 in 60 s) and the supervisor gives up, for its own supervisor to decide |
//! | start and stop | concurrent over the graph, each under its timeouts, the stop under a global deadline; [`StopReport`] names what did not stop |
//! | watching | [`Supervisor::health_status`], [`Supervisor::subscribe`] ([`Event`]s, also `tracing` events) |
//! | `main` | [`Supervisor::run_until_signal`] |
//!
//! The decisions are made by a plain state machine (no tokio, no clock), driven by the
//! supervisor's one task; loom models check it against every order in which its inputs can
//! arrive, and proptest against random graphs.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod attempts;
mod core;
mod engine;
mod error;
mod events;
mod mailbox;
mod options;
mod signal;
mod status;
mod supervisor;

#[cfg(all(test, runner_loom))]
mod tests;

// The crate README's example is compiled and run as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

pub use error::{BuildError, Error, Failure, RemoveError, StartError, StopReport};
pub use events::{Event, Events, Lagged};
pub use options::{
    Backoff, DEFAULT_BACKOFF_INITIAL, DEFAULT_BACKOFF_MAX, DEFAULT_BACKOFF_MULTIPLIER,
    DEFAULT_LIVENESS_GRACE, DEFAULT_MAX_RETRIES, DEFAULT_START_TIMEOUT, DEFAULT_STOP_TIMEOUT,
    Intensity, RestartPolicy, ServiceOptions,
};
pub use status::{HealthStatus, ServiceStatus};
pub use supervisor::{Builder, DEFAULT_EVENT_CAPACITY, DEFAULT_STOP_DEADLINE, Supervisor};
