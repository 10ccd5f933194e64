//! The system tools xtask needs beyond Rust: runner-kafka builds librdkafka from source
//! (rdkafka-sys runs its `configure` and `make`), which needs a C compiler, `make` and
//! `pkg-config`; `cargo xtask broker` needs Java and Maven. On a fresh machine they are
//! installed with apt-get when missing (as root, or through sudo); elsewhere xtask names what
//! to install.

use std::env;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

/// Each tool the build needs, with the Debian package that provides it.
pub(crate) const BUILD_TOOLS: [(&str, &str); 4] = [
    ("cc", "gcc"),
    ("make", "make"),
    ("pkg-config", "pkg-config"),
    ("python3", "python3"),
];

/// Whether `program` is on the `PATH`.
pub(crate) fn on_path(program: &str) -> bool {
    env::var_os("PATH").is_some_and(|path| {
        env::split_paths(&path).any(|dir| Path::new(&dir).join(program).is_file())
    })
}

/// The packages to install: those of `tools` not on the `PATH`.
fn missing(tools: &[(&str, &'static str)], present: impl Fn(&str) -> bool) -> Vec<&'static str> {
    tools
        .iter()
        .filter(|(tool, _)| !present(tool))
        .map(|&(_, package)| package)
        .collect()
}

/// Installs the missing `tools` (each with its Debian package) with apt-get, or fails naming
/// them.
pub(crate) fn ensure(tools: &[(&str, &'static str)]) -> Result<()> {
    let packages = missing(tools, on_path);
    if packages.is_empty() {
        return Ok(());
    }
    println!("==> installing missing tools: {}", packages.join(" "));
    if !on_path("apt-get") {
        bail!(
            "missing tools and no apt-get to install them: install {} and run again",
            packages.join(", ")
        );
    }
    let sudo = !is_root() && on_path("sudo");
    let apt = |args: &[&str]| {
        let mut command = if sudo {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        } else {
            Command::new("apt-get")
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    for mut command in [
        apt(&["update", "-q"]),
        apt(&[&["install", "-y", "-q"][..], &packages].concat()),
    ] {
        let status = command.status()?;
        if !status.success() {
            bail!(
                "apt-get failed ({status}): install {} and run again",
                packages.join(", ")
            );
        }
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.starts_with(b"0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_missing_tools_packages_are_installed() {
        assert_eq!(
            missing(&BUILD_TOOLS, |tool| tool != "make" && tool != "cc"),
            ["gcc", "make"]
        );
        assert!(missing(&BUILD_TOOLS, |_| true).is_empty());
    }

    #[test]
    fn this_machine_has_a_shell() {
        assert!(on_path("sh"));
        assert!(!on_path("surely-not-a-program-xyz"));
    }
}
