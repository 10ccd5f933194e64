//! The workspace xtask works on: where its root is, which cargo to run, and
//! which member crates it has.
//!
//! Manifests are read with plain text parsing, which is enough for the
//! `members = [...]` array and `[package] name`, so xtask needs no TOML crate.

use std::{
    env,
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result, bail};

/// The workspace root and the cargo binary to run in it.
#[derive(Debug)]
pub(crate) struct Workspace {
    root: PathBuf,
    cargo: OsString,
}

impl Workspace {
    /// Finds the root (`XTASK_ROOT`, else the parent of the xtask crate) and
    /// the cargo to run (`CARGO`, which cargo sets, else `cargo`).
    ///
    /// # Errors
    ///
    /// Fails when the root has no `Cargo.toml`.
    pub(crate) fn from_env() -> Result<Self> {
        let root = match env::var_os("XTASK_ROOT") {
            Some(root) if !root.is_empty() => PathBuf::from(root),
            _ => Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .context("the xtask crate has no parent directory")?
                .to_path_buf(),
        };
        if !root.join("Cargo.toml").is_file() {
            bail!("{} has no Cargo.toml", root.display());
        }
        let cargo = env::var_os("CARGO")
            .filter(|cargo| !cargo.is_empty())
            .unwrap_or_else(|| "cargo".into());
        Ok(Self { root, cargo })
    }

    /// The workspace root directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// A `cargo` command with `args`, to run in the workspace root.
    pub(crate) fn cargo(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.cargo);
        cmd.args(args).current_dir(&self.root);
        cmd
    }

    /// Whether `cargo <subcommand> --version` runs, that is whether the
    /// subcommand (`fmt`, `clippy`, `nextest`) is installed.
    pub(crate) fn has_subcommand(&self, subcommand: &str) -> bool {
        self.cargo(&[subcommand, "--version"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The member crates listed in the root manifest, in the listed order.
    ///
    /// # Errors
    ///
    /// Fails when a manifest cannot be read or a member has no package name.
    pub(crate) fn members(&self) -> Result<Vec<Member>> {
        let manifest = read(&self.root.join("Cargo.toml"))?;
        let mut dirs = Vec::new();
        for entry in parse_members(&manifest) {
            // The one glob form in common use: `crates/*`.
            if let Some(parent) = entry.strip_suffix("/*") {
                let mut found = fs::read_dir(self.root.join(parent))
                    .with_context(|| format!("reading workspace member glob `{entry}`"))?
                    .map(|entry| entry.map(|entry| entry.path()))
                    .collect::<Result<Vec<_>, _>>()?;
                found.retain(|dir| dir.join("Cargo.toml").is_file());
                found.sort();
                dirs.extend(found);
            } else {
                dirs.push(self.root.join(entry));
            }
        }
        dirs.into_iter()
            .map(|dir| {
                let manifest = read(&dir.join("Cargo.toml"))?;
                let name = package_name(&manifest).with_context(|| {
                    format!("{} has no [package] name", dir.join("Cargo.toml").display())
                })?;
                Ok(Member {
                    name,
                    dir,
                    manifest,
                })
            })
            .collect()
    }
}

/// A member crate of the workspace.
#[derive(Debug)]
pub(crate) struct Member {
    /// The package name, as passed to `cargo -p`.
    pub(crate) name: String,
    /// The crate's directory.
    pub(crate) dir: PathBuf,
    /// The text of the crate's `Cargo.toml`.
    pub(crate) manifest: String,
}

impl Member {
    /// Whether the crate has loom models: its manifest mentions the
    /// `runner_loom` cfg (for the `loom` dependency it gates).
    pub(crate) fn has_loom_models(&self) -> bool {
        self.manifest.contains("runner_loom")
    }

    /// The names of the crate's examples, sorted: `examples/NAME.rs` files
    /// and `examples/NAME/main.rs` directories, as cargo discovers them.
    ///
    /// # Errors
    ///
    /// Fails when `examples/` exists but cannot be read.
    pub(crate) fn examples(&self) -> Result<Vec<String>> {
        let dir = self.dir.join("examples");
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = entry?.path();
            let is_example = if path.is_dir() {
                path.join("main.rs").is_file()
            } else {
                path.extension().is_some_and(|ext| ext == "rs")
            };
            let name = path.file_stem().and_then(|name| name.to_str());
            if let (true, Some(name)) = (is_example, name) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

impl Member {
    /// The arguments CI runs example `name` with: its source's `//! ci-args: ...` line (an
    /// example that would otherwise run until interrupted bounds itself this way), split on
    /// whitespace; none without such a line.
    ///
    /// # Errors
    ///
    /// Fails when the example's source cannot be read.
    pub(crate) fn example_ci_args(&self, name: &str) -> Result<Vec<String>> {
        let dir = self.dir.join("examples");
        let file = dir.join(format!("{name}.rs"));
        let path = if file.is_file() {
            file
        } else {
            dir.join(name).join("main.rs")
        };
        Ok(ci_args(&read(&path)?))
    }
}

/// The arguments of a source's `//! ci-args: ...` line.
fn ci_args(source: &str) -> Vec<String> {
    source
        .lines()
        .find_map(|line| line.trim().strip_prefix("//! ci-args:"))
        .map(|args| args.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Reads a text file, naming it in the error.
fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

/// The entries of the `members = [...]` array of a manifest's `[workspace]`
/// table, which may span several lines.
fn parse_members(manifest: &str) -> Vec<String> {
    let mut section = "";
    let mut array: Option<String> = None;
    for line in manifest.lines() {
        let code = line.split('#').next().unwrap_or_default().trim();
        if let Some(text) = array.as_mut() {
            text.push_str(code);
            if code.contains(']') {
                break;
            }
            continue;
        }
        if code.starts_with('[') {
            section = code;
            continue;
        }
        let value = code
            .strip_prefix("members")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='));
        if let (Some(value), "[workspace]") = (value, section) {
            let value = value.trim_start();
            array = Some(value.to_owned());
            if value.contains(']') {
                break;
            }
        }
    }
    array.map(|text| quoted_strings(&text)).unwrap_or_default()
}

/// The `name` in a manifest's `[package]` table.
fn package_name(manifest: &str) -> Option<String> {
    let mut section = "";
    for line in manifest.lines() {
        let code = line.split('#').next().unwrap_or_default().trim();
        if code.starts_with('[') {
            section = code;
            continue;
        }
        let value = code
            .strip_prefix("name")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='));
        if let (Some(value), "[package]") = (value, section) {
            return quoted_strings(value).into_iter().next();
        }
    }
    None
}

/// The contents of the `"..."` and `'...'` strings in `text`, in order.
fn quoted_strings(text: &str) -> Vec<String> {
    let mut strings = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(['"', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let after = &rest[start + 1..];
        let Some(len) = after.find(quote) else { break };
        strings.push(after[..len].to_owned());
        rest = &after[len + 1..];
    }
    strings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_on_one_line() {
        let manifest = "[workspace]\nresolver = \"3\"\nmembers = [\"runner-core\", \"xtask\"]\n";
        assert_eq!(parse_members(manifest), ["runner-core", "xtask"]);
    }

    #[test]
    fn members_over_several_lines_with_comments() {
        let manifest = "\
[package]
members = [\"not-this\"]

[workspace]
members = [
    \"runner-core\", # the contract
    # \"commented-out\",
    'xtask',
]
exclude = [\"nope\"]
";
        assert_eq!(parse_members(manifest), ["runner-core", "xtask"]);
    }

    #[test]
    fn an_example_may_name_the_arguments_ci_runs_it_with() {
        let source =
            "//! A demo.\n//!\n//! ci-args: --records 20000  --partitions 6\nfn main() {}\n";
        assert_eq!(ci_args(source), ["--records", "20000", "--partitions", "6"]);
        assert!(ci_args("//! A demo.\nfn main() {}\n").is_empty());
    }

    #[test]
    fn no_members() {
        assert!(parse_members("[workspace]\nmembers = []\n").is_empty());
        assert!(parse_members("[package]\nname = \"solo\"\n").is_empty());
    }

    #[test]
    fn package_name_comes_from_the_package_table() {
        let manifest = "\
# name = \"comment\"
[package]
description = \"x\"
name = \"runner-core\"

[dependencies]
name = \"dependency-table-key\"
";
        assert_eq!(package_name(manifest).as_deref(), Some("runner-core"));
        assert_eq!(package_name("[dependencies]\nname = \"x\"\n"), None);
    }

    #[test]
    fn loom_models_are_found_from_the_cfg_in_the_manifest() {
        let member = |manifest: &str| Member {
            name: "m".to_owned(),
            dir: PathBuf::new(),
            manifest: manifest.to_owned(),
        };
        assert!(
            member("[target.'cfg(runner_loom)'.dependencies]\nloom = { workspace = true }\n")
                .has_loom_models()
        );
        assert!(!member("[dependencies]\n").has_loom_models());
    }
}
