//! loom models of the supervision state machine (`--cfg runner_loom`; run by
//! `cargo xtask ci loom`).

mod loom_core;
