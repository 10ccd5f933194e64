//! `cargo xtask chaos kafka`: runner-kafka's chaos run at full size (`examples/chaos.rs`), on
//! a real Apache Kafka and then on librdkafka's mock cluster with broker faults. `cargo xtask
//! ci` runs a short one in its `kafka` step.

use std::process::Command;

use anyhow::Result;

use crate::{broker, ci::display, workspace::Workspace};

/// The runs: what each is, the chaos example's arguments, and whether it runs on the real
/// broker (else on the mock cluster the example starts itself).
const RUNS: [(&str, &[&str], bool); 2] = [
    (
        "real broker",
        &[
            "--records",
            "200000",
            "--actions",
            "12",
            "--interval-ms",
            "3000",
        ],
        true,
    ),
    (
        "mock cluster with broker faults",
        &[
            "--records",
            "50000",
            "--actions",
            "10",
            "--interval-ms",
            "3000",
            "--faults",
        ],
        false,
    ),
];

/// Runs the chaos runs; `true` when every one lost nothing.
pub(crate) fn kafka(workspace: &Workspace) -> Result<bool> {
    broker::with_broker(workspace, |started| {
        let mut passed = true;
        for (what, args, on_broker) in RUNS {
            println!("==> chaos kafka: {what}");
            let mut run = example(workspace, true);
            run.args(args);
            if on_broker {
                run.args(["--brokers", &started.bootstrap]);
            }
            println!("$ {}", display(&run));
            let status = run.status()?;
            if !status.success() {
                println!("chaos kafka: {what}: FAILED ({status})");
                passed = false;
            }
        }
        Ok(passed)
    })
}

/// `cargo run` of the chaos example, in release mode or not, ready for its arguments.
pub(crate) fn example(workspace: &Workspace, release: bool) -> Command {
    let mut run = workspace.cargo(&["run", "--quiet", "-p", "runner-kafka", "--example", "chaos"]);
    if release {
        run.arg("--release");
    }
    run.arg("--");
    run
}
