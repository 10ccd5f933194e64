//! The lifecycle engine under every runner: the state machine, the control plane, cancellation,
//! readiness, panics caught at the task boundary, and the loom models of all of it, written once.
//!
//! # Two levels
//!
//! **For library authors: [`Managed`] and [`Work`].** Implement [`Work`] for your type (a run
//! function that *is* the service, and an optional stop hook) and [`Managed::new`] gives you a
//! runner that keeps the whole runner-core contract: idempotent, cancel-safe `start` and `stop`,
//! an awaitable [`Status`](runner_core::Status), a bounded
//! [`ErrorHistory`](runner_core::ErrorHistory), panics caught and recorded, a run that ends by
//! itself published with its exit, a runtime shutting down under it reported instead of hanging.
//!
//! ```
//! use std::sync::Arc;
//! use runner_core::{Runner, Status};
//! use runner_lifecycle::{Managed, RunContext, Work};
//!
//! struct Beacon;
//!
//! impl Work for Beacon {
//!     type Error = std::io::Error;
//!
//!     async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
//!         run.cancelled().await;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), runner_lifecycle::Error> {
//! let beacon = Managed::new(Beacon);
//! beacon.start().await?;
//! assert!(beacon.is_running());
//! beacon.stop().await?;
//! # Ok(()) }
//! ```
//!
//! **For pattern crates: the pieces.** A runner with its own fast driver (a ticker's per-tick
//! loop) builds on the same parts [`Managed`] is made of:
//!
//! | piece | what it is |
//! |-------|------------|
//! | [`machine::Machine`] | the state machine: a plain value, transitions return `#[must_use]` outcomes |
//! | [`Control`] | the control plane: the machine, run bookkeeping, error log, token and waiters under one lock, with room for the runner's own state; the `start`/`stop` protocols |
//! | [`task::spawn`], [`task::runtime`] | a run's task, guarded so a panic or a dropped runtime still ends the run; the check that `start` runs inside a runtime |
//! | [`Cancelled`] | the future of a run's cancellation, on the control plane (no token unless asked) |
//! | [`CatchUnwind`], [`catch_unwind::call`] | panics into values, at the task boundary |
//! | [`deadline`] | deadlines that saturate: `Duration::MAX` means no limit |
//! | [`WaitList`] | the wakers waiting for the next change |
//! | [`sync`] | the loom facade all of the above is built on |
//! | [`Fault`] | the failures of the machinery itself, which every runner records |
//!
//! # Crate features
//!
//! - `conformance`: `Probed`, which runs any [`Work`] under runner-core's conformance kit.
//!
//! # Loom
//!
//! Under `RUSTFLAGS="--cfg runner_loom"` the [`sync`] facade is loom's, and the models in
//! `src/tests/` check the control plane: concurrent start and stop, restart racing stop, an exit
//! racing a stop, a dropped stop, readiness racing a stop, a token asked for while stopping, a
//! fault racing a stop, and a back-off timer racing a stop.
#![forbid(unsafe_code)]
#![warn(
    missing_docs,
    missing_debug_implementations,
    unreachable_pub,
    rust_2018_idioms
)]

mod cancelled;
pub mod catch_unwind;
pub mod control;
pub mod deadline;
mod fault;
pub mod machine;
mod managed;
#[cfg(feature = "conformance")]
mod probed;
pub mod sync;
pub mod task;
mod wait_list;

#[cfg(all(test, runner_loom))]
mod tests;

pub use cancelled::Cancelled;
pub use catch_unwind::CatchUnwind;
pub use control::Control;
pub use fault::Fault;
pub use machine::ReadyWhen;
pub use wait_list::{WaitList, WakeList};

pub use managed::{
    BoxError, BuildError, Builder, DEFAULT_EXIT_TIMEOUT, DEFAULT_STOP_HOOK_TIMEOUT, Error, Managed,
    RunContext, Work,
};
#[cfg(feature = "conformance")]
pub use probed::{Probed, ProbedError};

/// Now, on tokio's clock (which tests may pause), as a `std` instant: the one clock every runner
/// reads, so paused-clock tests see the same time everywhere.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let before = runner_lifecycle::now();
/// tokio::time::advance(std::time::Duration::from_secs(5)).await;
/// assert_eq!(runner_lifecycle::now() - before, std::time::Duration::from_secs(5));
/// # }
/// ```
#[must_use]
pub fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

// The crate README's and the workspace README's examples are compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct Readme;

#[cfg(all(doctest, feature = "conformance"))]
#[doc = include_str!("../../README.md")]
struct WorkspaceReadme;
