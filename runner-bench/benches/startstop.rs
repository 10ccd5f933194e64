//! Lifecycle benchmark of [`StartStop`] against the raw tokio code it wraps.
//!
//! Run it with `cargo xtask bench startstop` (or `cargo bench -p runner-bench --bench
//! startstop`). It is built with the production feature set (no tokio `test-util`; see
//! `runner-bench/Cargo.toml`). It measures, in one run and on a current-thread runtime:
//!
//! - **start -> Running**: how long `start().await` takes (it returns once the state is
//!   `Running`), against the baseline's `CancellationToken::new()` plus `tokio::spawn` of a task
//!   that awaits the token;
//! - **stop -> Stopped**: how long `stop().await` takes, against the baseline's
//!   `token.cancel(); handle.await`;
//! - **memory per idle runner**: the growth of the resident set when 10,000 runners are started
//!   and parked in `run.cancelled()`, against 10,000 baseline tasks parked on their tokens (with
//!   the tokens and join handles kept in a `Vec`). Each side is measured in a child process (this
//!   binary, re-run with `--mem ours` or `--mem raw`), three times, alternately; the median
//!   counts.
//!
//! Latencies are measured per cycle with [`Instant`], in blocks that alternate between our runner
//! and the baseline so that drift (frequency scaling, other load) hits both alike; the table
//! shows the median and the 99th percentile. One `StartStop` is started and stopped for all its
//! cycles, as a service would be; the baseline makes a fresh token and task per cycle, as raw
//! tokio code must. `BENCH_CYCLES` sets the number of cycles (default 20,000, at least 10,000).
//!
//! The goals (ours / baseline) are printed, not enforced: a missed goal still exits 0; a panic
//! or an error exits non-zero.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use runner_bench::{BoxResult, Side, median, ratio, resident_bytes};
use runner_core::{Runner, State, Status};
use runner_startstop::{RunContext, StartStop};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Cycles per side when `BENCH_CYCLES` is not set.
const DEFAULT_CYCLES: usize = 20_000;
/// The fewest cycles per side that give a meaningful p99.
const MIN_CYCLES: usize = 10_000;
/// Unrecorded cycles per side before measuring.
const WARMUP_CYCLES: usize = 1_000;
/// Cycles in one block; blocks alternate between the two sides.
const BLOCK: usize = 500;
/// Idle runners per side in the memory measurement.
const MEM_RUNNERS: usize = 10_000;
/// Child processes per side in the memory measurement.
const MEM_RUNS: usize = 3;
/// Runners created between two waits for them all to park, in the memory measurement: keeps the
/// scheduler's run queue short, so its growth is not counted as runner memory.
const MEM_BATCH: usize = 100;
/// Latency goal: ours / baseline at the median.
const LATENCY_GOAL: f64 = 1.5;
/// Memory goal: ours / baseline per idle runner.
const MEMORY_GOAL: f64 = 2.0;

fn main() -> BoxResult<()> {
    // `cargo bench` passes `--bench`; the only argument of our own is `--mem SIDE`.
    let args = std::env::args().skip(1).collect::<Vec<_>>();
    if let Some(at) = args.iter().position(|arg| arg == "--mem") {
        let side = args
            .get(at + 1)
            .and_then(|name| Side::from_name(name))
            .ok_or("--mem needs `ours` or `raw`")?;
        return memory_child(side);
    }

    let cycles = cycles()?;
    let latency = runtime()?.block_on(latencies(cycles))?;
    let memory = memory()?;
    print_table(cycles, &latency, &memory);
    Ok(())
}

/// The number of measured cycles per side: `BENCH_CYCLES`, else [`DEFAULT_CYCLES`].
fn cycles() -> BoxResult<usize> {
    let Ok(text) = std::env::var("BENCH_CYCLES") else {
        return Ok(DEFAULT_CYCLES);
    };
    let cycles = text
        .trim()
        .parse::<usize>()
        .map_err(|err| format!("BENCH_CYCLES={text:?}: {err}"))?;
    if cycles < MIN_CYCLES {
        return Err(format!("BENCH_CYCLES={cycles}: use at least {MIN_CYCLES}").into());
    }
    Ok(cycles)
}

/// The runtime everything runs on: current-thread, with the time and I/O drivers (the runner's
/// stop path uses a timer).
fn runtime() -> BoxResult<Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The runner under test: parks in `run.cancelled()`, and has a stop function with nothing to
/// do.
fn idle_runner() -> StartStop {
    StartStop::new(
        |run: RunContext| async move {
            run.cancelled().await;
            Ok::<(), std::io::Error>(())
        },
        || async { Ok::<(), std::io::Error>(()) },
    )
}

/// The baseline: a task parked on a token, as raw tokio code would run the same work.
fn spawn_raw(token: &CancellationToken) -> JoinHandle<Result<(), std::io::Error>> {
    let token = token.clone();
    tokio::spawn(async move {
        token.cancelled().await;
        Ok::<(), std::io::Error>(())
    })
}

/// Lets the tasks just spawned run until they park. One task is queued at a time here, and the
/// current-thread scheduler runs queued tasks before it polls the yielding future again.
async fn settle() {
    tokio::task::yield_now().await;
}

/// Per-cycle latencies in nanoseconds, one side.
#[derive(Debug, Default)]
struct Samples {
    start: Vec<u64>,
    stop: Vec<u64>,
}

impl Samples {
    fn with_capacity(cycles: usize) -> Self {
        Samples {
            start: Vec::with_capacity(cycles),
            stop: Vec::with_capacity(cycles),
        }
    }
}

/// The latency samples of both sides.
#[derive(Debug)]
struct Latency {
    ours: Samples,
    raw: Samples,
}

fn nanos(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// One start/stop cycle of the reused runner; records into `samples` if given.
async fn ours_cycle(runner: &StartStop, samples: Option<&mut Samples>) -> BoxResult<()> {
    let begin = Instant::now();
    runner.start().await?;
    let start = nanos(begin);
    if runner.state() != State::Running {
        return Err(format!("start returned in state {:?}", runner.state()).into());
    }
    settle().await;

    let begin = Instant::now();
    runner.stop().await?;
    let stop = nanos(begin);
    if runner.state() != State::Stopped {
        return Err(format!("stop returned in state {:?}", runner.state()).into());
    }
    if let Some(samples) = samples {
        samples.start.push(start);
        samples.stop.push(stop);
    }
    Ok(())
}

/// One cycle of the baseline: a fresh token and task; records into `samples` if given.
async fn raw_cycle(samples: Option<&mut Samples>) -> BoxResult<()> {
    let begin = Instant::now();
    let token = CancellationToken::new();
    let handle = spawn_raw(&token);
    let start = nanos(begin);
    settle().await;

    let begin = Instant::now();
    token.cancel();
    handle.await??;
    let stop = nanos(begin);
    if let Some(samples) = samples {
        samples.start.push(start);
        samples.stop.push(stop);
    }
    Ok(())
}

/// Warms up, then measures `cycles` cycles per side in alternating blocks.
async fn latencies(cycles: usize) -> BoxResult<Latency> {
    let runner = idle_runner();
    for _ in 0..WARMUP_CYCLES {
        ours_cycle(&runner, None).await?;
        raw_cycle(None).await?;
    }
    let mut ours = Samples::with_capacity(cycles);
    let mut raw = Samples::with_capacity(cycles);
    let mut block = 0;
    while ours.start.len() < cycles {
        let n = BLOCK.min(cycles - ours.start.len());
        // Alternate which side goes first, too, so neither always follows the other.
        for side in if block % 2 == 0 {
            [Side::Ours, Side::Raw]
        } else {
            [Side::Raw, Side::Ours]
        } {
            for _ in 0..n {
                match side {
                    Side::Ours => ours_cycle(black_box(&runner), Some(&mut ours)).await?,
                    Side::Raw => raw_cycle(Some(&mut raw)).await?,
                }
            }
        }
        block += 1;
    }
    Ok(Latency { ours, raw })
}

/// The memory medians, in bytes for all [`MEM_RUNNERS`] runners.
#[derive(Debug)]
struct Memory {
    ours: u64,
    raw: u64,
}

/// Runs the memory child [`MEM_RUNS`] times per side, alternately, and takes the medians.
fn memory() -> BoxResult<Memory> {
    let exe = std::env::current_exe()?;
    let mut ours = Vec::with_capacity(MEM_RUNS);
    let mut raw = Vec::with_capacity(MEM_RUNS);
    for _ in 0..MEM_RUNS {
        for side in [Side::Ours, Side::Raw] {
            let output = Command::new(&exe)
                .args(["--mem", side.name()])
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()?;
            if !output.status.success() {
                return Err(
                    format!("memory child `--mem {}` {}", side.name(), output.status).into(),
                );
            }
            let stdout = String::from_utf8(output.stdout)?;
            let delta = stdout.trim().parse::<u64>().map_err(|err| {
                format!(
                    "memory child `--mem {}` printed {stdout:?}: {err}",
                    side.name()
                )
            })?;
            match side {
                Side::Ours => ours.push(delta),
                Side::Raw => raw.push(delta),
            }
        }
    }
    Ok(Memory {
        ours: median(&mut ours),
        raw: median(&mut raw),
    })
}

/// Yields until `parked` reaches `target`: every task spawned so far sits in its token's
/// `cancelled()`.
async fn wait_parked(parked: &AtomicUsize, target: usize) {
    while parked.load(Ordering::Relaxed) < target {
        tokio::task::yield_now().await;
    }
}

/// The child process of the memory measurement: prints by how many bytes the resident set grew
/// for [`MEM_RUNNERS`] started, idle runners of `side`, then stops them all.
fn memory_child(side: Side) -> BoxResult<()> {
    runtime()?.block_on(async {
        // Warm both sides up the same way, whichever is measured, so that lazily initialised
        // state (tracing call sites, the timer, thread-locals) is not counted.
        let runner = idle_runner();
        for _ in 0..100 {
            ours_cycle(&runner, None).await?;
            raw_cycle(None).await?;
        }
        drop(runner);

        // Both sides count how many of their tasks have parked, so we know when all are idle.
        let parked = Arc::new(AtomicUsize::new(0));
        let before = resident_bytes()?;
        match side {
            Side::Ours => {
                let mut runners = Vec::with_capacity(MEM_RUNNERS);
                for i in 1..=MEM_RUNNERS {
                    let counter = Arc::clone(&parked);
                    let runner = StartStop::new(
                        move |run: RunContext| {
                            let counter = Arc::clone(&counter);
                            async move {
                                let cancelled = run.cancelled();
                                counter.fetch_add(1, Ordering::Relaxed);
                                cancelled.await;
                                Ok::<(), std::io::Error>(())
                            }
                        },
                        || async { Ok::<(), std::io::Error>(()) },
                    );
                    runner.start().await?;
                    runners.push(runner);
                    if i % MEM_BATCH == 0 {
                        wait_parked(&parked, i).await;
                    }
                }
                wait_parked(&parked, MEM_RUNNERS).await;
                let after = resident_bytes()?;
                println!("{}", after.saturating_sub(before));
                for runner in &runners {
                    runner.stop().await?;
                }
            }
            Side::Raw => {
                let mut tasks = Vec::with_capacity(MEM_RUNNERS);
                for i in 1..=MEM_RUNNERS {
                    let token = CancellationToken::new();
                    let child = token.clone();
                    let counter = Arc::clone(&parked);
                    let handle = tokio::spawn(async move {
                        let cancelled = child.cancelled();
                        counter.fetch_add(1, Ordering::Relaxed);
                        cancelled.await;
                        Ok::<(), std::io::Error>(())
                    });
                    tasks.push((token, handle));
                    if i % MEM_BATCH == 0 {
                        wait_parked(&parked, i).await;
                    }
                }
                wait_parked(&parked, MEM_RUNNERS).await;
                let after = resident_bytes()?;
                println!("{}", after.saturating_sub(before));
                for (token, handle) in tasks {
                    token.cancel();
                    handle.await??;
                }
            }
        }
        Ok(())
    })
}

/// The `p`th percentile (0..=100) of `values`, sorting them.
fn percentile(values: &mut [u64], p: usize) -> u64 {
    values.sort_unstable();
    let at = (values.len() * p / 100).min(values.len() - 1);
    values[at]
}

fn print_table(cycles: usize, latency: &Latency, memory: &Memory) {
    let Latency { ours, raw } = latency;
    let (mut ours_start, mut ours_stop) = (ours.start.clone(), ours.stop.clone());
    let (mut raw_start, mut raw_stop) = (raw.start.clone(), raw.stop.clone());
    let per_runner = |bytes: u64| bytes / MEM_RUNNERS as u64;

    println!("runner-startstop lifecycle benchmark ({cycles} cycles, current-thread runtime)");
    println!(
        "{:<26} {:<11} {:<11} {:<7} goal",
        "metric", "ours", "baseline", "ratio"
    );
    let rows: [(&str, u64, u64, &str, Option<f64>); 5] = [
        (
            "start -> Running p50",
            percentile(&mut ours_start, 50),
            percentile(&mut raw_start, 50),
            "ns",
            Some(LATENCY_GOAL),
        ),
        (
            "start -> Running p99",
            percentile(&mut ours_start, 99),
            percentile(&mut raw_start, 99),
            "ns",
            None,
        ),
        (
            "stop -> Stopped p50",
            percentile(&mut ours_stop, 50),
            percentile(&mut raw_stop, 50),
            "ns",
            Some(LATENCY_GOAL),
        ),
        (
            "stop -> Stopped p99",
            percentile(&mut ours_stop, 99),
            percentile(&mut raw_stop, 99),
            "ns",
            None,
        ),
        (
            "memory per idle runner",
            per_runner(memory.ours),
            per_runner(memory.raw),
            "B",
            Some(MEMORY_GOAL),
        ),
    ];
    let mut missed = Vec::new();
    for (metric, ours, baseline, unit, goal) in rows {
        let ratio = ratio(ours, baseline);
        let goal = match goal {
            Some(goal) if ratio <= goal => format!("<= {goal}  met"),
            Some(goal) => {
                missed.push(metric);
                format!("<= {goal}  MISSED")
            }
            None => "-".to_owned(),
        };
        println!(
            "{metric:<26} {:<11} {:<11} {ratio:<7.2} {goal}",
            format!("{ours} {unit}"),
            format!("{baseline} {unit}"),
        );
    }
    println!(
        "memory: median of {MEM_RUNS} child processes per side, resident-set growth for {MEM_RUNNERS} \
         idle runners: ours {} B, baseline {} B",
        memory.ours, memory.raw
    );
    if missed.is_empty() {
        println!("goals: all met");
    } else {
        println!(
            "goals: MISSED: {} (reported, not enforced)",
            missed.join(", ")
        );
    }
}
