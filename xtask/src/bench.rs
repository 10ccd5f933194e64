//! `cargo xtask bench`: the workspace's benchmarks, by name.
//!
//! Each benchmark is a `harness = false` bench target that prints its own
//! table; xtask only knows which `cargo bench` command runs it. Timing claims
//! live in these benchmarks, never in tests.

use std::process::Command;

use crate::{UsageError, ci::display, workspace::Workspace};

/// A benchmark `cargo xtask bench` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bench {
    /// `runner-bench`'s `startstop` bench: start/stop latency and memory
    /// per idle runner, against raw tokio.
    StartStop,
    /// `runner-bench`'s `ticker` bench: run-start lateness and CPU time of
    /// 1,000 busy tickers, CPU time and memory of 10,000 idle ones, against
    /// raw tokio.
    Ticker,
    /// `runner-bench`'s `supervisor` bench: start-all and stop-all of
    /// 10,000 services in a dependency graph, restart reaction, memory per
    /// supervised idle service, against raw tokio.
    Supervisor,
}

impl Bench {
    /// Every benchmark, in the order `cargo xtask bench` runs them.
    pub(crate) const ALL: [Self; 3] = [Self::StartStop, Self::Ticker, Self::Supervisor];

    /// The benchmark's name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::StartStop => "startstop",
            Self::Ticker => "ticker",
            Self::Supervisor => "supervisor",
        }
    }

    /// The benchmark called `name` on the command line, if any.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|bench| bench.name() == name)
    }

    /// The package and bench target that hold the benchmark.
    fn target(self) -> (&'static str, &'static str) {
        match self {
            Self::StartStop => ("runner-bench", "startstop"),
            Self::Ticker => ("runner-bench", "ticker"),
            Self::Supervisor => ("runner-bench", "supervisor"),
        }
    }

    /// The command that builds the benchmark in release mode (cargo's
    /// `bench` profile) and runs it.
    fn command(self, workspace: &Workspace) -> Command {
        let (package, target) = self.target();
        workspace.cargo(&["bench", "-p", package, "--bench", target])
    }
}

/// The arguments of `cargo xtask bench`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BenchArgs {
    /// The benchmarks to run, in order.
    pub(crate) benches: Vec<Bench>,
}

impl BenchArgs {
    /// Parses the arguments after `bench`; `None` means help was asked for.
    pub(crate) fn parse(args: &[String]) -> Result<Option<Self>, UsageError> {
        let mut benches = Vec::new();
        for arg in args {
            match arg.as_str() {
                "-h" | "--help" => return Ok(None),
                option if option.starts_with('-') => {
                    return Err(UsageError(format!("unknown option `{option}` for `bench`")));
                }
                name => {
                    let bench = Bench::from_name(name).ok_or_else(|| {
                        UsageError(format!(
                            "unknown benchmark `{name}`; valid benchmarks: {}",
                            Bench::ALL.map(Bench::name).join(", ")
                        ))
                    })?;
                    if !benches.contains(&bench) {
                        benches.push(bench);
                    }
                }
            }
        }
        if benches.is_empty() {
            benches = Bench::ALL.to_vec();
        }
        Ok(Some(Self { benches }))
    }
}

/// Runs `benches` in order, each printing its own table, stopping at the
/// first that fails to build or run. Returns whether they all ran.
pub(crate) fn run(workspace: &Workspace, benches: &[Bench]) -> bool {
    for &bench in benches {
        let mut command = bench.command(workspace);
        let shown = display(&command);
        println!("==> bench {}: {shown}", bench.name());
        match command.status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                eprintln!("error: bench {}: `{shown}` failed ({status})", bench.name());
                return false;
            }
            Err(err) => {
                eprintln!(
                    "error: bench {}: could not start `{shown}`: {err}",
                    bench.name()
                );
                return false;
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<BenchArgs>, UsageError> {
        BenchArgs::parse(&args.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn bench_names_round_trip() {
        for bench in Bench::ALL {
            assert_eq!(Bench::from_name(bench.name()), Some(bench));
        }
        assert_eq!(Bench::from_name("lifecycle"), None);
    }

    #[test]
    fn no_name_means_every_bench() {
        let args = parse(&[]).unwrap().unwrap();
        assert_eq!(args.benches, Bench::ALL);
    }

    #[test]
    fn a_known_name_selects_that_bench() {
        let args = parse(&["startstop"]).unwrap().unwrap();
        assert_eq!(args.benches, [Bench::StartStop]);
        let args = parse(&["startstop", "startstop"]).unwrap().unwrap();
        assert_eq!(args.benches, [Bench::StartStop], "run once, not twice");
        let args = parse(&["ticker"]).unwrap().unwrap();
        assert_eq!(args.benches, [Bench::Ticker]);
        let args = parse(&["supervisor"]).unwrap().unwrap();
        assert_eq!(args.benches, [Bench::Supervisor]);
    }

    #[test]
    fn named_benches_run_in_the_given_order() {
        let args = parse(&["ticker", "startstop"]).unwrap().unwrap();
        assert_eq!(args.benches, [Bench::Ticker, Bench::StartStop]);
        let args = parse(&["supervisor", "ticker", "startstop"])
            .unwrap()
            .unwrap();
        assert_eq!(
            args.benches,
            [Bench::Supervisor, Bench::Ticker, Bench::StartStop]
        );
    }

    #[test]
    fn unknown_name_lists_the_known_ones() {
        let err = parse(&["startstop", "kafka"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown benchmark `kafka`; valid benchmarks: startstop, ticker, supervisor"
        );
    }

    #[test]
    fn unknown_option_is_a_usage_error() {
        let err = parse(&["--fast"]).unwrap_err().to_string();
        assert!(err.contains("--fast"), "{err}");
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse(&["startstop", "--help"]).unwrap(), None);
    }

    #[test]
    fn startstop_runs_the_startstop_bench_of_runner_bench() {
        assert_eq!(Bench::StartStop.target(), ("runner-bench", "startstop"));
    }

    #[test]
    fn ticker_runs_the_ticker_bench_of_runner_bench() {
        assert_eq!(Bench::Ticker.target(), ("runner-bench", "ticker"));
    }

    #[test]
    fn supervisor_runs_the_supervisor_bench_of_runner_bench() {
        assert_eq!(Bench::Supervisor.target(), ("runner-bench", "supervisor"));
    }

    #[test]
    fn usage_names_every_bench() {
        for bench in Bench::ALL {
            assert!(
                crate::USAGE.contains(bench.name()),
                "USAGE does not name `{}`",
                bench.name()
            );
        }
    }
}
