//! `cargo xtask ci tidy` end to end: the built binary, run on a small tree
//! made in the temp dir, fails on a policy violation and passes without it.
//!
//! The ignore attribute is built with `concat!` so that this file does not
//! trip tidy itself.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::{Command, Output},
};

/// The attribute tidy rejects, as it would appear in a test file.
const IGNORE_ATTRIBUTE: &str = concat!("#[", "ignore", "]");

/// A directory in the temp dir, removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    /// A workspace with no members whose `src/lib.rs` is `lib_rs`; `name`
    /// keeps trees of concurrent tests apart, the process id those of
    /// concurrent runs.
    fn new(name: &str, lib_rs: &str) -> Self {
        let dir = env::temp_dir().join(format!("xtask-ci-tidy-{}-{name}", std::process::id()));
        // Left over from an earlier run whose process id was the same.
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(dir.join("Cargo.toml"), "[workspace]\nmembers = []\n").unwrap();
        fs::write(dir.join("src/lib.rs"), lib_rs).unwrap();
        Self(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Runs `cargo xtask <args>` on `root`; returns the output and stdout and
/// stderr together.
fn xtask(root: &Path, args: &[&str]) -> (Output, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("XTASK_ROOT", root)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

fn lib_rs(attribute: &str) -> String {
    format!(
        "//! A crate.\n\n#[cfg(test)]\nmod tests {{\n    #[test]\n    {attribute}\n    fn later() {{}}\n}}\n"
    )
}

#[test]
fn ignored_test_fails_tidy() {
    let tree = TempTree::new("ignored", &lib_rs(IGNORE_ATTRIBUTE));
    let (output, text) = xtask(tree.path(), &["ci", "tidy"]);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("src/lib.rs:6: no-ignore:"), "{text}");
    assert!(text.contains("==> ci tidy:"), "{text}");
    assert!(text.contains("  tidy     FAILED"), "{text}");
}

#[test]
fn tree_without_the_attribute_passes_tidy() {
    let tree = TempTree::new("clean", &lib_rs("// Runs in every build."));
    let (output, text) = xtask(tree.path(), &["ci", "tidy"]);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("  tidy     ok"), "{text}");
    assert!(!text.contains("no-ignore"), "{text}");
}

#[test]
fn unknown_step_is_a_usage_error() {
    let tree = TempTree::new("unknown-step", "");
    let (output, text) = xtask(tree.path(), &["ci", "tidy", "lint"]);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(
            "unknown ci step `lint`; valid steps: fmt, clippy, test, kafka, doc, loom, tidy"
        ),
        "{text}"
    );
    // Nothing ran.
    assert!(!text.contains("==> ci"), "{text}");
}

#[test]
fn no_arguments_print_usage() {
    let tree = TempTree::new("usage", "");
    let (output, text) = xtask(tree.path(), &[]);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("Usage: cargo xtask <COMMAND>"), "{text}");
    assert!(text.contains("--keep-going"), "{text}");
}
