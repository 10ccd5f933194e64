//! loom models of the control plane (`--cfg runner_loom`; run by `cargo xtask ci loom`).
//!
//! Each model drives the real [`Control`](crate::Control) from loom threads: callers of `start`
//! and `stop`, and the task of each run, played by a thread that waits for the stop request (or
//! ends by itself) and reports the run finished. loom explores their interleavings and fails on a
//! deadlock, a lost wake-up or a broken assertion.

mod loom_control;
