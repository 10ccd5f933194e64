//! `cargo xtask ci`: the CI steps, each runnable on its own so that CI can
//! run them as parallel jobs and a contributor can rerun the one that failed.

use std::{
    env,
    ffi::OsStr,
    fmt,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{Result, bail};

use crate::{
    broker, chaos, tidy,
    workspace::{Member, Workspace},
};

/// One CI step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// `cargo fmt --check`.
    Fmt,
    /// `cargo clippy` with warnings denied.
    Clippy,
    /// The tests, doc tests and examples of every member crate.
    Test,
    /// The real-broker tests, against an Apache Kafka started for them.
    Kafka,
    /// `cargo doc` with rustdoc warnings denied.
    Doc,
    /// The loom models of the crates that have some.
    Loom,
    /// The repo-policy checks of [`tidy`].
    Tidy,
}

impl Step {
    /// Every step, in the order `cargo xtask ci` runs them.
    pub(crate) const ALL: [Self; 7] = [
        Self::Fmt,
        Self::Clippy,
        Self::Test,
        Self::Kafka,
        Self::Doc,
        Self::Loom,
        Self::Tidy,
    ];

    /// The step's name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Fmt => "fmt",
            Self::Clippy => "clippy",
            Self::Test => "test",
            Self::Kafka => "kafka",
            Self::Doc => "doc",
            Self::Loom => "loom",
            Self::Tidy => "tidy",
        }
    }

    /// Whether the step builds the crates (and so needs the C toolchain librdkafka's build
    /// uses).
    pub(crate) fn compiles(self) -> bool {
        !matches!(self, Self::Fmt | Self::Tidy)
    }

    /// The step called `name` on the command line, if any.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|step| step.name() == name)
    }

    /// What to do when the step's commands failed.
    fn hint(self) -> &'static str {
        match self {
            Self::Fmt => "run `cargo fmt --all`",
            Self::Clippy => "fix the warnings above; run `cargo xtask ci clippy`",
            Self::Test => "fix the failing tests or examples above; run `cargo xtask ci test`",
            Self::Kafka => {
                "fix the failing real-broker tests above; run `cargo xtask ci kafka` (the \
                 broker's log is kept in target/xtask/broker-last.log)"
            }
            Self::Doc => {
                "fix the rustdoc warnings above (broken intra-doc links, bad code blocks); \
                 run `cargo xtask ci doc`"
            }
            Self::Loom => {
                "a loom model failed above; run `cargo xtask ci loom`, with \
                 LOOM_LOG=trace LOOM_LOCATION=1 to trace the failing interleaving"
            }
            Self::Tidy => {
                "fix each violation listed above (path:line: rule: message); \
                 run `cargo xtask ci tidy`"
            }
        }
    }

    /// Works out what the step will run.
    fn plan(self, workspace: &Workspace) -> Result<Plan> {
        let cargo = |args: &[&str]| workspace.cargo(args);
        Ok(match self {
            Self::Fmt => {
                require(workspace, "fmt", "rustup component add rustfmt")?;
                Plan::Commands(vec![cargo(&["fmt", "--all", "--check"])])
            }
            Self::Clippy => {
                require(workspace, "clippy", "rustup component add clippy")?;
                Plan::Commands(vec![cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--all-features",
                    "--",
                    "-D",
                    "warnings",
                ])])
            }
            Self::Test => {
                let mut commands = if workspace.has_subcommand("nextest") {
                    vec![
                        cargo(&[
                            "nextest",
                            "run",
                            "--workspace",
                            "--all-features",
                            "--no-tests=warn",
                        ]),
                        // nextest does not run doc tests.
                        cargo(&["test", "--workspace", "--all-features", "--doc"]),
                    ]
                } else {
                    vec![cargo(&["test", "--workspace", "--all-features"])]
                };
                for member in workspace.members()? {
                    for example in member.examples()? {
                        let mut run = cargo(&[
                            "run",
                            "--quiet",
                            "-p",
                            &member.name,
                            "--example",
                            &example,
                            "--all-features",
                        ]);
                        let args = member.example_ci_args(&example)?;
                        if !args.is_empty() {
                            run.arg("--").args(args);
                        }
                        commands.push(run);
                    }
                }
                Plan::Commands(commands)
            }
            Self::Kafka => {
                let mut test = cargo(&[
                    "test",
                    "-p",
                    "runner-kafka",
                    "--all-features",
                    "--test",
                    "broker",
                ]);
                // The broker's tests share one broker: a few at a time.
                test.args(["--", "--test-threads", "2"]);
                // The short chaos run: consumer processes killed, added and stopped (at least
                // ten rebalances) while records stream in; it fails if one is lost. It is
                // given the broker's address when the broker is there.
                let mut chaos = chaos::example(workspace, false);
                chaos.args([
                    "--records",
                    "20000",
                    "--actions",
                    "10",
                    "--interval-ms",
                    "1500",
                ]);
                Plan::Broker {
                    with_env: vec![test],
                    with_address: vec![chaos],
                }
            }
            Self::Doc => {
                let mut doc = cargo(&["doc", "--workspace", "--no-deps", "--all-features"]);
                doc.env("RUSTDOCFLAGS", "-D warnings")
                    // Cargo prefers this one to RUSTDOCFLAGS when it is set.
                    .env_remove("CARGO_ENCODED_RUSTDOCFLAGS");
                Plan::Commands(vec![doc])
            }
            Self::Loom => {
                let crates = workspace
                    .members()?
                    .into_iter()
                    .filter(Member::has_loom_models)
                    .collect::<Vec<_>>();
                if crates.is_empty() {
                    Plan::Nothing("loom: no crate has loom models yet")
                } else {
                    let target_dir = workspace.root().join("target").join("loom");
                    let commands = crates
                        .iter()
                        .map(|member| loom_command(workspace, member, &target_dir))
                        .collect();
                    Plan::Commands(commands)
                }
            }
            Self::Tidy => Plan::Tidy,
        })
    }
}

/// The command that runs `member`'s loom models (tests named `loom_*`).
fn loom_command(workspace: &Workspace, member: &Member, target_dir: &Path) -> Command {
    let mut cmd = workspace.cargo(&[
        "test",
        "-p",
        &member.name,
        "--release",
        "--lib",
        "--",
        "loom_",
    ]);
    cmd.env("RUSTFLAGS", "--cfg runner_loom")
        // Cargo prefers this one to RUSTFLAGS when it is set.
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("LOOM_MAX_BRANCHES", "10000")
        // Its own target dir, so the changed RUSTFLAGS do not invalidate the
        // normal build cache.
        .env("CARGO_TARGET_DIR", target_dir);
    // A value from the environment wins: it lets CI explore more
    // interleavings on main than on pull requests.
    if env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        cmd.env("LOOM_MAX_PREEMPTIONS", "2");
    }
    cmd
}

/// Fails with an install hint when `cargo <subcommand>` is not installed.
fn require(workspace: &Workspace, subcommand: &str, install: &str) -> Result<()> {
    if !workspace.has_subcommand(subcommand) {
        bail!("`cargo {subcommand}` is not installed; install it with `{install}`");
    }
    Ok(())
}

/// What a step runs.
#[derive(Debug)]
enum Plan {
    /// These commands, in order, stopping at the first that fails.
    Commands(Vec<Command>),
    /// The in-process checks of [`tidy`].
    Tidy,
    /// These commands, in order, with a broker started before them and stopped after them,
    /// whatever they did: those of `with_env` get its address in [`broker::BROKERS_ENV`],
    /// then those of `with_address` as `--brokers ADDRESS`.
    Broker {
        with_env: Vec<Command>,
        with_address: Vec<Command>,
    },
    /// Nothing: print the message and pass.
    Nothing(&'static str),
}

impl Plan {
    /// One line saying what the plan runs, for the step's header.
    fn summary(&self) -> String {
        match self {
            Self::Commands(commands) => summarize(commands),
            Self::Broker {
                with_env,
                with_address,
            } => format!(
                "cargo xtask broker start; {}; {}; cargo xtask broker stop",
                summarize(with_env),
                summarize(with_address)
            ),
            Self::Tidy => {
                "repo-policy checks of xtask/src/tidy.rs on *.rs and Cargo.toml".to_owned()
            }
            Self::Nothing(_) => "nothing to run".to_owned(),
        }
    }

    /// Runs the plan, printing each command before it runs.
    fn run(self, workspace: &Workspace) -> Result<()> {
        match self {
            Self::Commands(commands) => run_all(commands)?,
            Self::Broker {
                mut with_env,
                mut with_address,
            } => broker::with_broker(workspace, |started| {
                for command in &mut with_env {
                    command.env(broker::BROKERS_ENV, &started.bootstrap);
                }
                for command in &mut with_address {
                    command.args(["--brokers", &started.bootstrap]);
                }
                let ran = run_all(with_env.into_iter().chain(with_address).collect());
                // Keep the broker's log for a failure's diagnosis.
                let _ = std::fs::copy(
                    started.dir.join("server.log"),
                    workspace.root().join("target/xtask/broker-last.log"),
                );
                ran
            })?,
            Self::Tidy => {
                let report = tidy::check_tree(workspace.root())?;
                for violation in &report.violations {
                    println!("{violation}");
                }
                match report.violations.len() {
                    0 => println!(
                        "tidy: {} files checked, no violations",
                        report.files_checked
                    ),
                    1 => bail!("1 tidy violation"),
                    n => bail!("{n} tidy violations"),
                }
            }
            Self::Nothing(message) => println!("{message}"),
        }
        Ok(())
    }
}

/// Runs `commands` in order, printing each, stopping at the first that fails.
fn run_all(commands: Vec<Command>) -> Result<()> {
    for mut command in commands {
        let shown = display(&command);
        println!("$ {shown}");
        let status = command
            .status()
            .map_err(|err| anyhow::anyhow!("could not start `{shown}`: {err}"))?;
        if !status.success() {
            bail!("`{shown}` failed ({status})");
        }
    }
    Ok(())
}

/// One line for `commands`: the first, and how many more.
fn summarize(commands: &[Command]) -> String {
    match commands {
        [] => "nothing to run".to_owned(),
        [only] => display(only),
        [first, rest @ ..] => format!("{} (+{} more)", display(first), rest.len()),
    }
}

/// How `command` reads in a shell: environment changes, program, arguments.
pub(crate) fn display(command: &Command) -> String {
    let program = Path::new(command.get_program())
        .file_name()
        .unwrap_or_else(|| command.get_program());
    let envs = command
        .get_envs()
        .filter_map(|(key, value)| Some(format!("{}={}", key.to_string_lossy(), quote(value?))));
    let words = std::iter::once(program)
        .chain(command.get_args())
        .map(quote);
    envs.chain(words).collect::<Vec<_>>().join(" ")
}

/// `word`, in double quotes if it is empty or has whitespace.
fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    if word.is_empty() || word.contains(char::is_whitespace) {
        format!("\"{word}\"")
    } else {
        word.into_owned()
    }
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It ran and passed.
    Ok,
    /// It ran and failed.
    Failed,
    /// It did not run because an earlier step failed.
    Skipped,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Ok => "ok",
            Self::Failed => "FAILED",
            Self::Skipped => "skipped",
        })
    }
}

/// Runs `steps` in order, stopping at the first failure unless `keep_going`,
/// then prints a summary table. Returns whether every step passed.
pub(crate) fn run(workspace: &Workspace, steps: &[Step], keep_going: bool) -> bool {
    let mut results = Vec::with_capacity(steps.len());
    let mut failed = false;
    for &step in steps {
        if failed && !keep_going {
            results.push((step, Outcome::Skipped, None));
            continue;
        }
        let start = Instant::now();
        let outcome = if run_step(workspace, step) {
            Outcome::Ok
        } else {
            failed = true;
            Outcome::Failed
        };
        results.push((step, outcome, Some(start.elapsed())));
    }
    println!();
    println!("ci summary:");
    for (step, outcome, elapsed) in &results {
        println!("{}", summary_row(*step, *outcome, *elapsed));
    }
    let failures = results
        .iter()
        .filter(|(_, outcome, _)| *outcome == Outcome::Failed)
        .map(|(step, _, _)| step.name())
        .collect::<Vec<_>>();
    if failures.is_empty() {
        println!("ci: ok");
    } else {
        println!("ci: FAILED: {}", failures.join(", "));
    }
    !failed
}

/// Runs one step with its header, and its fix-it hint if it fails. Returns
/// whether it passed.
fn run_step(workspace: &Workspace, step: Step) -> bool {
    let name = step.name();
    let plan = match step.plan(workspace) {
        Ok(plan) => plan,
        Err(err) => {
            // The error says what to do (e.g. which tool to install).
            println!("==> ci {name}: not run");
            eprintln!("error: ci {name}: {err:#}");
            return false;
        }
    };
    println!("==> ci {name}: {}", plan.summary());
    match plan.run(workspace) {
        Ok(()) => true,
        Err(err) => {
            eprintln!("error: ci {name}: {err:#}");
            eprintln!("hint: {}", step.hint());
            false
        }
    }
}

/// One row of the summary table, e.g. `  fmt      ok        0.4s`.
fn summary_row(step: Step, outcome: Outcome, elapsed: Option<Duration>) -> String {
    let elapsed = elapsed.map_or_else(
        || "-".to_owned(),
        |elapsed| format!("{:.1}s", elapsed.as_secs_f64()),
    );
    format!("  {:<9}{outcome:<7}{elapsed:>7}", step.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_round_trip() {
        for step in Step::ALL {
            assert_eq!(Step::from_name(step.name()), Some(step));
        }
        assert_eq!(Step::from_name("lint"), None);
    }

    #[test]
    fn summary_rows_line_up() {
        let row = |step, outcome, millis: Option<u64>| {
            summary_row(step, outcome, millis.map(Duration::from_millis))
        };
        assert_eq!(
            row(Step::Fmt, Outcome::Ok, Some(400)),
            "  fmt      ok        0.4s"
        );
        assert_eq!(
            row(Step::Clippy, Outcome::Failed, Some(12_345)),
            "  clippy   FAILED   12.3s"
        );
        assert_eq!(
            row(Step::Tidy, Outcome::Skipped, None),
            "  tidy     skipped      -"
        );
    }

    #[test]
    fn commands_display_like_a_shell_line() {
        let mut command = Command::new("/usr/local/bin/cargo");
        command
            .args(["doc", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings")
            .env_remove("CARGO_ENCODED_RUSTDOCFLAGS");
        assert_eq!(
            display(&command),
            "RUSTDOCFLAGS=\"-D warnings\" cargo doc --no-deps"
        );
    }
}
