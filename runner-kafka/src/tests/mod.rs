//! loom models of the ledger (`--cfg runner_loom`; run by `cargo xtask ci loom`).

mod loom_ledger;
