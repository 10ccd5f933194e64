//! `cargo xtask`: this workspace's automation, written in Rust so that it
//! runs the same on every machine.
//!
//! Run it through the alias in `.cargo/config.toml`: `cargo xtask ci` runs
//! every CI step, `cargo xtask ci clippy` runs one, `cargo xtask bench`
//! runs the benchmarks. See [`USAGE`] for the full command line.
#![forbid(unsafe_code)]

mod bench;
mod broker;
mod chaos;
mod ci;
mod prereq;
mod tidy;
mod workspace;

use std::{env, fmt, process::ExitCode};

use crate::{bench::BenchArgs, broker::BrokerCommand, ci::Step, workspace::Workspace};

/// The text printed by `cargo xtask --help`.
const USAGE: &str = "\
Usage: cargo xtask <COMMAND>

Commands:
  ci [STEP...] [--keep-going]
                 Run CI steps: all of them in this order when none is named,
                 else the named ones in the given order.
                 Steps: fmt, clippy, test, kafka, doc, loom, tidy.
                 (kafka starts a real Apache Kafka, runs the real-broker tests
                 against it and stops it, even when they fail.)
                 --keep-going  run the remaining steps after one fails
  bench [NAME...]
                 Build the named benchmarks in release mode and run them,
                 each printing its table; all of them when none is named.
                 Benchmarks: startstop, ticker, supervisor, kafka. Not part of
                 `ci`. (kafka starts a real Apache Kafka as `broker start` does,
                 unless one runs, measures it and librdkafka's mock cluster, and
                 stops the broker it started.)
  broker start|stop|status
                 A real single-node Apache Kafka (KRaft) on 127.0.0.1 for the
                 tests: `start` fetches its jars with Maven once (Java 17 and
                 Maven are installed with apt-get when missing), starts it on
                 free ports in a temporary directory and prints its bootstrap
                 address; `stop` ends it and removes its directory.
  chaos kafka    The long chaos run of runner-kafka (not part of `ci`, which runs
                 a short one): 200,000 records through consumer processes
                 killed, added and stopped on a real Apache Kafka (started as
                 by `broker start`, stopped after), then 50,000 on the mock
                 cluster with broker faults; prints lost and duplicates.
  help           Print this message (also -h, --help).

Environment:
  XTASK_ROOT     workspace root to work on (default: the parent of xtask/)
  CARGO          cargo to run (cargo sets it; default: `cargo` from PATH)
  BENCH_CYCLES   cycles per side in the startstop benchmark (default 20000)
  BENCH_TICKERS, BENCH_SECONDS
                 tickers and seconds of the ticker benchmark's load phase
                 (default 1000 and 3)
  BENCH_IDLE_TICKERS, BENCH_IDLE_SECONDS
                 tickers and seconds of its idle phase (default 10000 and 5)
  BENCH_REPS     repetitions per side of the supervisor benchmark's start-all
                 and stop-all (default 5)
  BENCH_RESTARTS restarts per side in its restart reaction (default 1000)
  BENCH_KAFKA_RECORDS, BENCH_KAFKA_RECORD_BYTES, BENCH_KAFKA_PARTITIONS
                 the kafka benchmark's backlog (default 1000000 records of
                 100 B on 6 partitions; the mock cluster keeps 5 MiB per
                 partition, so it reads fewer)
  BENCH_KAFKA_REPS
                 repetitions of its no-op throughput runs (default 3)
  BENCH_KAFKA_RUN_SECONDS
                 the most each throughput run reads from its first record
                 (default 15; a run cut there is measured on what it read)
  BENCH_KAFKA_CPU_RECORDS
                 records of its CPU-bound runs (default 200000)
  BENCH_KAFKA_RSS_SECONDS
                 seconds of each memory measurement (default 10)
  BENCH_KAFKA_REBALANCES
                 second members joining in its rebalance runs (default 3)
  BENCH_KAFKA_SCENARIOS, BENCH_KAFKA_CHANNEL_BUFFER
                 for investigations: the scenarios to run (digits, default
                 1234) and the runners' channel_buffer_size (default theirs)
  RUNNER_KAFKA_BROKERS
                 set by the kafka step for the real-broker tests and by
                 `bench kafka` (the bootstrap address); without it the kafka
                 benchmark measures the mock cluster only. Run the tests by
                 hand with
                 RUNNER_KAFKA_BROKERS=$(cargo xtask broker start) \
                   cargo test -p runner-kafka --test broker

Exit status: 0 when everything passed, 1 when a step or benchmark failed
(a benchmark missing its goals still passes), 2 on a usage error.";

/// A mistake on the command line: reported with exit status 2, unlike a
/// failing step (status 1).
#[derive(Debug)]
pub(crate) struct UsageError(String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.is::<UsageError>() {
                eprintln!("run `cargo xtask --help` for usage");
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Parses the command line and runs the command it names.
fn run() -> anyhow::Result<ExitCode> {
    let args = env::args_os()
        .skip(1)
        .map(|arg| {
            arg.into_string()
                .map_err(|arg| UsageError(format!("argument {arg:?} is not valid UTF-8")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some((command, rest)) = args.split_first() else {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };
    match command.as_str() {
        "help" | "-h" | "--help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        "ci" => {
            let Some(args) = CiArgs::parse(rest)? else {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            };
            let workspace = Workspace::from_env()?;
            // librdkafka is built from source: a C toolchain first, on a fresh machine.
            if args.steps.iter().any(|step| step.compiles()) {
                prereq::ensure(&prereq::BUILD_TOOLS)?;
            }
            let passed = ci::run(&workspace, &args.steps, args.keep_going);
            Ok(if passed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "broker" => {
            let Some(command) = BrokerCommand::parse(rest)? else {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            };
            command.run(&Workspace::from_env()?)?;
            Ok(ExitCode::SUCCESS)
        }
        "chaos" => {
            match rest {
                [what] if what == "kafka" => {}
                [what] if what == "-h" || what == "--help" => {
                    println!("{USAGE}");
                    return Ok(ExitCode::SUCCESS);
                }
                _ => return Err(UsageError("`chaos` takes one target: kafka".to_owned()).into()),
            }
            let workspace = Workspace::from_env()?;
            prereq::ensure(&prereq::BUILD_TOOLS)?;
            Ok(if chaos::kafka(&workspace)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        "bench" => {
            let Some(args) = BenchArgs::parse(rest)? else {
                println!("{USAGE}");
                return Ok(ExitCode::SUCCESS);
            };
            let workspace = Workspace::from_env()?;
            Ok(if bench::run(&workspace, &args.benches)? {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        other => Err(UsageError(format!("unknown command `{other}`")).into()),
    }
}

/// The arguments of `cargo xtask ci`.
#[derive(Debug, PartialEq, Eq)]
struct CiArgs {
    /// The steps to run, in order.
    steps: Vec<Step>,
    /// Whether to run the remaining steps after one fails.
    keep_going: bool,
}

impl CiArgs {
    /// Parses the arguments after `ci`; `None` means help was asked for.
    fn parse(args: &[String]) -> Result<Option<Self>, UsageError> {
        let mut steps = Vec::new();
        let mut keep_going = false;
        for arg in args {
            match arg.as_str() {
                "--keep-going" => keep_going = true,
                "-h" | "--help" => return Ok(None),
                option if option.starts_with('-') => {
                    return Err(UsageError(format!("unknown option `{option}` for `ci`")));
                }
                name => steps.push(Step::from_name(name).ok_or_else(|| {
                    UsageError(format!(
                        "unknown ci step `{name}`; valid steps: {}",
                        Step::ALL.map(Step::name).join(", ")
                    ))
                })?),
            }
        }
        if steps.is_empty() {
            steps = Step::ALL.to_vec();
        }
        Ok(Some(Self { steps, keep_going }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<CiArgs>, UsageError> {
        CiArgs::parse(&args.iter().map(ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn no_step_means_all_steps_in_order() {
        let args = parse(&[]).unwrap().unwrap();
        assert_eq!(args.steps, Step::ALL);
        assert!(!args.keep_going);
    }

    #[test]
    fn named_steps_keep_the_given_order() {
        let args = parse(&["tidy", "--keep-going", "fmt"]).unwrap().unwrap();
        assert_eq!(args.steps, [Step::Tidy, Step::Fmt]);
        assert!(args.keep_going);
    }

    #[test]
    fn unknown_step_lists_the_valid_ones() {
        let err = parse(&["fmt", "lint"]).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown ci step `lint`; valid steps: fmt, clippy, test, kafka, doc, loom, tidy"
        );
    }

    #[test]
    fn unknown_option_is_a_usage_error() {
        let err = parse(&["--fast"]).unwrap_err().to_string();
        assert!(err.contains("--fast"), "{err}");
    }

    #[test]
    fn help_wins() {
        assert_eq!(parse(&["fmt", "--help"]).unwrap(), None);
    }
}
