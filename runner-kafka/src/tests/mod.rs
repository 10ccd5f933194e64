//! loom models of the ledger and the backpressure gate (`--cfg runner_loom`; run by `cargo xtask ci loom`).

mod loom_gate;
mod loom_ledger;
