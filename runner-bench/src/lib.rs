//! Benchmarks of the runner crates against raw tokio, in `benches/`; run them with
//! `cargo xtask bench`. This library is empty: the crate exists so the benchmarks build their
//! dependencies with the production feature set (see `Cargo.toml`).
#![forbid(unsafe_code)]
