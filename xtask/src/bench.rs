//! `cargo xtask bench`: the workspace's benchmarks, by name.
//!
//! Each benchmark is a `harness = false` bench target that prints its own
//! table; xtask only knows which `cargo bench` command runs it. Timing claims
//! live in these benchmarks, never in tests.

use std::process::Command;

use crate::{UsageError, broker, ci::display, workspace::Workspace};

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
    /// `runner-bench`'s `kafka` bench: the Kafka runners' throughput,
    /// parallel speed-ups, memory under a slow processor, commit latency
    /// and rebalance pauses, against a raw rdkafka consumer, on librdkafka's
    /// mock cluster and on a real broker (started for it).
    Kafka,
}

impl Bench {
    /// Every benchmark, in the order `cargo xtask bench` runs them.
    pub(crate) const ALL: [Self; 4] =
        [Self::StartStop, Self::Ticker, Self::Supervisor, Self::Kafka];

    /// The benchmark's name on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::StartStop => "startstop",
            Self::Ticker => "ticker",
            Self::Supervisor => "supervisor",
            Self::Kafka => "kafka",
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
            Self::Kafka => ("runner-bench", "kafka"),
        }
    }

    /// The command that builds the benchmark in release mode (cargo's
    /// `bench` profile) and runs it.
    fn command(self, workspace: &Workspace) -> Command {
        let (package, target) = self.target();
        workspace.cargo(&["bench", "-p", package, "--bench", target])
    }

    /// Whether the benchmark measures a real Kafka broker, which xtask
    /// starts for it and names in [`broker::BROKERS_ENV`].
    fn needs_broker(self) -> bool {
        self == Self::Kafka
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
///
/// A benchmark that needs a broker gets one: the one running, or one
/// started for it and stopped after it (even when it fails).
pub(crate) fn run(workspace: &Workspace, benches: &[Bench]) -> anyhow::Result<bool> {
    for &bench in benches {
        let mut command = bench.command(workspace);
        let ran = if bench.needs_broker() {
            broker::with_broker(workspace, |started| {
                println!("==> bench {}: broker {started}", bench.name());
                command.env(broker::BROKERS_ENV, &started.bootstrap);
                Ok(run_one(bench, &mut command))
            })?
        } else {
            run_one(bench, &mut command)
        };
        if !ran {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Runs one benchmark's `command`; whether it ran to the end.
fn run_one(bench: Bench, command: &mut Command) -> bool {
    let shown = display(command);
    println!("==> bench {}: {shown}", bench.name());
    match command.status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            eprintln!("error: bench {}: `{shown}` failed ({status})", bench.name());
            false
        }
        Err(err) => {
            eprintln!(
                "error: bench {}: could not start `{shown}`: {err}",
                bench.name()
            );
            false
        }
    }
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
        let args = parse(&["kafka"]).unwrap().unwrap();
        assert_eq!(args.benches, [Bench::Kafka]);
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
        let err = parse(&["startstop", "lifecycle"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown benchmark `lifecycle`; valid benchmarks: startstop, ticker, supervisor, kafka"
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
    fn kafka_runs_the_kafka_bench_of_runner_bench_with_a_broker() {
        assert_eq!(Bench::Kafka.target(), ("runner-bench", "kafka"));
        assert!(Bench::Kafka.needs_broker());
        for bench in [Bench::StartStop, Bench::Ticker, Bench::Supervisor] {
            assert!(!bench.needs_broker(), "{}", bench.name());
        }
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
