//! loom models of the control plane; run with `cargo xtask ci loom`.
