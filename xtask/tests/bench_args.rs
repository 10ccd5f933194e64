//! `cargo xtask bench` end to end, for what needs no build: an unknown
//! benchmark is a usage error (exit status 2) that lists the known ones, and
//! nothing runs.

use std::{env, fs, path::PathBuf, process::Command};

/// An empty workspace in the temp dir, removed on drop: should a benchmark
/// run by mistake, it runs there, not in this repository.
struct EmptyWorkspace(PathBuf);

impl EmptyWorkspace {
    fn new(name: &str) -> Self {
        let dir = env::temp_dir().join(format!("xtask-bench-{}-{name}", std::process::id()));
        // Left over from an earlier run whose process id was the same.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        Self(dir)
    }
}

impl Drop for EmptyWorkspace {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn unknown_benchmark_is_a_usage_error() {
    let root = EmptyWorkspace::new("unknown");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "startstop", "lifecycle"])
        .env("XTASK_ROOT", &root.0)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "unknown benchmark `lifecycle`; valid benchmarks: startstop, ticker, supervisor, kafka"
        ),
        "{text}"
    );
    // Nothing ran.
    assert!(!text.contains("==> bench"), "{text}");
}

#[test]
fn usage_lists_the_bench_command() {
    let root = EmptyWorkspace::new("usage");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--help"])
        .env("XTASK_ROOT", &root.0)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("bench [NAME...]"), "{stdout}");
    assert!(
        stdout.contains("Benchmarks: startstop, ticker, supervisor, kafka."),
        "{stdout}"
    );
}
