//! loom models of the control plane (`--cfg runner_loom`; run by `cargo xtask ci loom`).
//!
//! Each model drives the real [`Control`](crate::control::Control) from loom threads: callers of
//! `start` and `stop`, and the ticker's task, played by a thread that runs ticks until it sees the
//! stop request and then reports the run finished. loom explores their interleavings and fails
//! on a deadlock, a lost wake-up or a broken assertion.

mod loom_control;
