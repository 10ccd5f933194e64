//! loom models of the ticker's own state (`--cfg runner_loom`; run by `cargo xtask ci loom`): a
//! tick recorded, and a period changed, while a stop races them. The control plane under them is
//! runner-lifecycle's, whose own models cover start, stop, restart, readiness and faults.

mod loom_state;
