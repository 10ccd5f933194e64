//! Repo-policy checks that would otherwise live in reviewers' memory.
//!
//! Every `*.rs` file and `Cargo.toml` under the root (except `target/` and
//! hidden directories) is checked line by line with plain text matching; a
//! Rust line whose trimmed text starts with `//` is a comment and is skipped.
//! The rules are the variants of [`Rule`].
//!
//! The patterns are built with `concat!` so that the literal text they match
//! appears nowhere in xtask's own sources, which tidy checks too.

use std::{
    fmt, fs,
    path::{Component, Path, PathBuf},
};

use anyhow::{Context as _, Result};

/// The attribute that marks a test as ignored, without its closing bracket.
const IGNORE: &str = concat!("#[", "ignore");
/// The debugging macro, as called.
const DBG: &str = concat!("dbg", "!(");
/// The stub macros, as called.
const STUBS: [&str; 2] = [concat!("todo", "!("), concat!("unimplemented", "!(")];
/// Blocking sleeps.
const SLEEPS: [&str; 2] = [
    concat!("std::thread::", "sleep"),
    concat!("thread::", "sleep("),
];
/// The attributes that silence lints.
const ALLOWS: [&str; 4] = [
    concat!("#[", "allow("),
    concat!("#![", "allow("),
    concat!("#[", "expect("),
    concat!("#![", "expect("),
];
/// The line after which the rest of a source file is test code.
const CFG_TEST: &str = concat!("#[", "cfg(test)]");

/// A repo-policy rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// No ignored tests: assert today's behaviour and add a FIXME instead.
    NoIgnore,
    /// No debugging macro calls left in.
    NoDbg,
    /// No stub macros outside test code.
    NoTodo,
    /// No blocking sleeps in test code.
    NoSleepInTests,
    /// Every lint `allow`/`expect` attribute says why.
    AllowNeedsReason,
    /// Every lint set to `"allow"` in a `Cargo.toml` says why in a comment.
    CargoAllowNeedsComment,
}

impl Rule {
    /// The rule's name in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::NoIgnore => "no-ignore",
            Self::NoDbg => "no-dbg",
            Self::NoTodo => "no-todo",
            Self::NoSleepInTests => "no-sleep-in-tests",
            Self::AllowNeedsReason => "allow-needs-reason",
            Self::CargoAllowNeedsComment => "cargo-allow-needs-comment",
        }
    }

    /// What is wrong and what to do instead.
    fn message(self) -> &'static str {
        match self {
            Self::NoIgnore => {
                "ignored test; make it pass, or assert today's wrong behaviour and add a FIXME"
            }
            Self::NoDbg => "leftover debugging macro; remove it or use tracing",
            Self::NoTodo => "stub outside tests; finish the code or return an error",
            Self::NoSleepInTests => {
                "blocking sleep in a test; use tokio's paused clock \
                 (`start_paused = true`, `time::advance`) or wait on an event"
            }
            Self::AllowNeedsReason => {
                "lint allowed without a reason; add `reason = \"...\"` or a `//` comment \
                 on the line or the line above"
            }
            Self::CargoAllowNeedsComment => {
                "lint allowed without a reason; add a `#` comment on the line or the line above"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A broken rule, shown as `path:line: rule: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The file, relative to the root, with `/` separators.
    pub(crate) path: String,
    /// The 1-based line number.
    pub(crate) line: usize,
    /// The rule broken.
    pub(crate) rule: Rule,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self { path, line, rule } = self;
        write!(f, "{path}:{line}: {rule}: {}", rule.message())
    }
}

/// The result of checking a tree.
#[derive(Debug)]
pub(crate) struct Report {
    /// How many files were read.
    pub(crate) files_checked: usize,
    /// Every violation found, by path then line.
    pub(crate) violations: Vec<Violation>,
}

/// Checks every `*.rs` and `Cargo.toml` file under `root`.
///
/// # Errors
///
/// Fails when a directory or file cannot be read.
pub(crate) fn check_tree(root: &Path) -> Result<Report> {
    let mut files = Vec::new();
    collect_files(root, root, &mut files)?;
    let mut violations = Vec::new();
    for file in &files {
        let text =
            fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let relative = file.strip_prefix(root).unwrap_or(file);
        let path = relative
            .components()
            .map(|component| component.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if relative.extension().is_some_and(|ext| ext == "rs") {
            violations.extend(check_rust(&path, &text, is_test_file(relative)));
        } else {
            violations.extend(check_cargo_toml(&path, &text));
        }
    }
    Ok(Report {
        files_checked: files.len(),
        violations,
    })
}

/// Appends the files to check under `dir` to `files`, sorted.
fn collect_files(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // `file_type` does not follow symlinks, so they are skipped.
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if !name.starts_with('.') && !is_target_dir(root, &path) {
                collect_files(root, &path, files)?;
            }
        } else if file_type.is_file() && (name.ends_with(".rs") || name == "Cargo.toml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Whether `dir` holds build output: the root's `target/`, or any `target/`
/// that cargo tagged with a `CACHEDIR.TAG`.
fn is_target_dir(root: &Path, dir: &Path) -> bool {
    dir.file_name().is_some_and(|name| name == "target")
        && (dir.parent() == Some(root) || dir.join("CACHEDIR.TAG").is_file())
}

/// Whether a file, by its path relative to the root, is test code: it is
/// under a `tests/` or `benches/` directory.
fn is_test_file(relative: &Path) -> bool {
    relative.parent().is_some_and(|dir| {
        dir.components().any(|c| {
            c == Component::Normal("tests".as_ref()) || c == Component::Normal("benches".as_ref())
        })
    })
}

/// Checks one Rust source file; `test_file` says whether all of it is test
/// code (else only the lines after a `#[cfg(test)]` line are).
pub(crate) fn check_rust(path: &str, text: &str, test_file: bool) -> Vec<Violation> {
    let lines = text.lines().collect::<Vec<_>>();
    let mut violations = Vec::new();
    let mut in_test = test_file;
    for (index, line) in lines.iter().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("//") {
            continue;
        }
        let mut report = |rule| {
            violations.push(Violation {
                path: path.to_owned(),
                line: index + 1,
                rule,
            });
        };
        if has_ignore_attribute(line) {
            report(Rule::NoIgnore);
        }
        if has_macro_call(line, DBG) {
            report(Rule::NoDbg);
        }
        if !in_test && STUBS.iter().any(|stub| has_macro_call(line, stub)) {
            report(Rule::NoTodo);
        }
        if in_test && SLEEPS.iter().any(|sleep| line.contains(sleep)) {
            report(Rule::NoSleepInTests);
        }
        if let Some(start) = ALLOWS.iter().filter_map(|allow| line.find(allow)).min() {
            if !allow_has_reason(&lines, index, start) {
                report(Rule::AllowNeedsReason);
            }
        }
        if trimmed == CFG_TEST {
            in_test = true;
        }
    }
    violations
}

/// Whether `line` has the ignore attribute, bare or with a reason, and not
/// some longer attribute name that starts with the same word.
fn has_ignore_attribute(line: &str) -> bool {
    line.match_indices(IGNORE).any(|(at, _)| {
        line[at + IGNORE.len()..]
            .chars()
            .next()
            .is_some_and(|next| matches!(next, ']' | '=' | '(' | ' '))
    })
}

/// Whether `line` calls the macro `call` (`name!(`), not a macro whose name
/// merely ends with the same word.
fn has_macro_call(line: &str, call: &str) -> bool {
    line.match_indices(call).any(|(at, _)| {
        !line[..at]
            .chars()
            .next_back()
            .is_some_and(|before| before.is_alphanumeric() || before == '_')
    })
}

/// Whether the lint attribute starting at byte `start` of `lines[index]`
/// gives a reason: `reason = ` before its closing `)]` (which may be lines
/// later), or a `//` comment on its lines or on the line above. A doc comment
/// above does not count: it documents the item, not the attribute.
fn allow_has_reason(lines: &[&str], index: usize, start: usize) -> bool {
    let above = index
        .checked_sub(1)
        .map(|above| lines[above].trim_start())
        .is_some_and(|above| {
            above.starts_with("//") && !above.starts_with("///") && !above.starts_with("//!")
        });
    if above {
        return true;
    }
    let mut rest = &lines[index][start..];
    for line in &lines[index + 1..] {
        if has_reason(rest) {
            return true;
        }
        if rest.contains(")]") {
            return false;
        }
        rest = line;
    }
    has_reason(rest)
}

/// Whether one line of a lint attribute gives its reason.
fn has_reason(attribute_line: &str) -> bool {
    let attribute = attribute_line.split(")]").next().unwrap_or_default();
    let reason_key = attribute.match_indices("reason").any(|(at, _)| {
        attribute[at + "reason".len()..]
            .trim_start()
            .starts_with('=')
    });
    reason_key || attribute_line.contains("//")
}

/// Checks one `Cargo.toml`: every lint set to `"allow"` needs a `#` comment
/// on its line or the line above.
pub(crate) fn check_cargo_toml(path: &str, text: &str) -> Vec<Violation> {
    let lines = text.lines().collect::<Vec<_>>();
    lines
        .iter()
        .enumerate()
        .filter(|&(index, line)| {
            let commented_above = index
                .checked_sub(1)
                .is_some_and(|above| lines[above].trim_start().starts_with('#'));
            sets_allow(line) && !line.contains('#') && !commented_above
        })
        .map(|(index, _)| Violation {
            path: path.to_owned(),
            line: index + 1,
            rule: Rule::CargoAllowNeedsComment,
        })
        .collect()
}

/// Whether a manifest line sets something to `"allow"`: `lint = "allow"` or
/// `lint = { level = "allow", ... }`.
fn sets_allow(line: &str) -> bool {
    let code = line.split('#').next().unwrap_or_default();
    ["\"allow\"", "'allow'"].iter().any(|allow| {
        code.match_indices(allow)
            .any(|(at, _)| code[..at].trim_end().ends_with('='))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(violations: &[Violation]) -> Vec<(usize, Rule)> {
        violations.iter().map(|v| (v.line, v.rule)).collect()
    }

    fn rust(text: &str) -> Vec<(usize, Rule)> {
        rules(&check_rust("src/lib.rs", text, false))
    }

    fn test_file(text: &str) -> Vec<(usize, Rule)> {
        rules(&check_rust("tests/it.rs", text, true))
    }

    fn cargo(text: &str) -> Vec<(usize, Rule)> {
        rules(&check_cargo_toml("Cargo.toml", text))
    }

    #[test]
    fn ignore_attribute_is_reported() {
        let bare = format!("#[test]\n{IGNORE}]\nfn later() {{}}\n");
        assert_eq!(test_file(&bare), [(2, Rule::NoIgnore)]);
        let with_reason = format!("#[test]\n    {IGNORE} = \"slow\"]\nfn later() {{}}\n");
        assert_eq!(test_file(&with_reason), [(2, Rule::NoIgnore)]);
    }

    #[test]
    fn ignore_in_comments_and_other_words_is_fine() {
        let text =
            format!("// {IGNORE}] would hide it\n#[test]\nfn ignore_me() {{}}\n{IGNORE}_not]\n");
        assert_eq!(test_file(&text), []);
    }

    #[test]
    fn dbg_is_reported_everywhere() {
        let text =
            format!("fn f() -> u8 {{\n    {DBG}1)\n}}\n#[cfg(test)]\nfn g() {{ {DBG}2); }}\n");
        assert_eq!(rust(&text), [(2, Rule::NoDbg), (5, Rule::NoDbg)]);
    }

    #[test]
    fn dbg_lookalikes_are_fine() {
        let text = format!("fn f() {{ my_{DBG}1); }}\n// {DBG}1)\n");
        assert_eq!(rust(&text), []);
    }

    #[test]
    fn stubs_outside_tests_are_reported() {
        let [todo, unimplemented] = STUBS;
        let text = format!("fn f() {{\n    {todo})\n}}\nfn g() {{ {unimplemented}) }}\n");
        assert_eq!(rust(&text), [(2, Rule::NoTodo), (4, Rule::NoTodo)]);
    }

    #[test]
    fn stubs_in_tests_are_fine() {
        let [todo, unimplemented] = STUBS;
        let in_module =
            format!("fn f() {{}}\n{CFG_TEST}\nmod tests {{\n    fn g() {{ {todo}) }}\n}}\n");
        assert_eq!(rust(&in_module), []);
        assert_eq!(test_file(&format!("fn g() {{ {unimplemented}) }}\n")), []);
    }

    #[test]
    fn sleeps_in_tests_are_reported() {
        let [std_sleep, sleep] = SLEEPS;
        let text = format!("#[test]\nfn t() {{\n    {std_sleep}(d);\n}}\n");
        assert_eq!(test_file(&text), [(3, Rule::NoSleepInTests)]);
        let in_module =
            format!("fn f() {{}}\n{CFG_TEST}\nmod tests {{\n    fn t() {{ {sleep}d); }}\n}}\n");
        assert_eq!(rust(&in_module), [(4, Rule::NoSleepInTests)]);
    }

    #[test]
    fn sleeps_outside_tests_and_tokio_sleeps_are_fine() {
        let [std_sleep, _] = SLEEPS;
        assert_eq!(rust(&format!("fn backoff() {{ {std_sleep}(d); }}\n")), []);
        assert_eq!(
            test_file("async fn t() { tokio::time::sleep(d).await; }\n"),
            []
        );
    }

    #[test]
    fn allow_without_reason_is_reported() {
        for allow in ALLOWS {
            let text = format!("{allow}dead_code)]\nfn f() {{}}\n");
            assert_eq!(rust(&text), [(1, Rule::AllowNeedsReason)], "{allow}");
        }
        let multi_line = format!("{}\n    dead_code,\n    unused,\n)]\n", ALLOWS[0]);
        assert_eq!(rust(&multi_line), [(1, Rule::AllowNeedsReason)]);
        let doc_above = format!("/// Docs.\n{}dead_code)]\nfn f() {{}}\n", ALLOWS[0]);
        assert_eq!(rust(&doc_above), [(2, Rule::AllowNeedsReason)]);
        let reason_of_next_attribute = format!(
            "{}dead_code)]\n{}unused, reason = \"x\")]\nfn f() {{}}\n",
            ALLOWS[0], ALLOWS[2]
        );
        assert_eq!(
            rust(&reason_of_next_attribute),
            [(1, Rule::AllowNeedsReason)]
        );
    }

    #[test]
    fn allow_with_reason_is_fine() {
        let [allow, inner_allow, expect, _] = ALLOWS;
        let reason = format!("{allow}dead_code, reason = \"used on unix only\")]\n");
        let comment_above = format!("// Used on unix only.\n{expect}dead_code)]\n");
        let comment_after = format!("{inner_allow}dead_code)] // generated code\n");
        let multi_line =
            format!("{expect}\n    clippy::large_enum_variant,\n    reason = \"rare\"\n)]\n");
        let comment_inside = format!("{expect}\n    dead_code, // kept for the next release\n)]\n");
        for text in [
            reason,
            comment_above,
            comment_after,
            multi_line,
            comment_inside,
        ] {
            assert_eq!(rust(&text), [], "{text}");
        }
    }

    #[test]
    fn cargo_allow_without_comment_is_reported() {
        let text = "\
[workspace.lints.clippy]
module_name_repetitions = \"allow\"
too_many_lines = { level = \"allow\", priority = 1 }
";
        assert_eq!(
            cargo(text),
            [
                (2, Rule::CargoAllowNeedsComment),
                (3, Rule::CargoAllowNeedsComment)
            ]
        );
    }

    #[test]
    fn cargo_allow_with_comment_is_fine() {
        let text = "\
[lints.clippy]
# Names repeat the module on purpose: they are re-exported flat.
module_name_repetitions = \"allow\"
too_many_lines = { level = \"allow\" } # state machines are long
dbg_macro = \"warn\"
# old = \"allow\"
";
        assert_eq!(cargo(text), []);
    }

    #[test]
    fn violations_read_as_path_line_rule_message() {
        let violation = Violation {
            path: "src/lib.rs".to_owned(),
            line: 7,
            rule: Rule::NoDbg,
        };
        assert_eq!(
            violation.to_string(),
            "src/lib.rs:7: no-dbg: leftover debugging macro; remove it or use tracing"
        );
    }

    #[test]
    fn test_files_are_found_by_directory() {
        assert!(is_test_file(Path::new("runner-core/tests/status.rs")));
        assert!(is_test_file(Path::new(
            "runner-core/src/sync/tests/loom_x.rs"
        )));
        assert!(is_test_file(Path::new("runner-core/benches/tick.rs")));
        assert!(!is_test_file(Path::new("runner-core/src/lib.rs")));
        assert!(!is_test_file(Path::new("tests.rs")));
    }

    #[test]
    fn xtask_itself_is_tidy() {
        let report = check_tree(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(report.files_checked >= 5, "{report:?}");
        assert_eq!(report.violations, [], "{report:?}");
    }
}
