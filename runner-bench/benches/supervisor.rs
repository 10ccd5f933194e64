//! Benchmark of [`Supervisor`] against the raw tokio code a service would write instead.
//!
//! Run it with `cargo xtask bench supervisor` (or `cargo bench -p runner-bench --bench
//! supervisor`). It is built with the production feature set (no tokio `test-util`; see
//! `runner-bench/Cargo.toml`). Everything runs in one process, on a multi-threaded tokio runtime
//! with 2 worker threads (the machine has 2 cores), both sides in the same process, alternately;
//! each measurement is driven from a spawned task, so that both sides spawn from a worker
//! thread. It measures:
//!
//! - **start-all and stop-all** of 10,000 services in a graph 1,000 wide and 10 deep: service
//!   `(layer, column)` of every layer but the first `requires` service `(layer - 1, column)`.
//!   Ours: a [`Supervisor`] of [`StartStop`] services, each parked in `run.cancelled()` (what a
//!   user would write for a service that serves until told to stop); the wall time of
//!   `supervisor.start().await` (it returns once every service is running and ready, which for
//!   a `StartStop` with the default `ReadyWhen::Spawned` means its run's task was spawned) and of
//!   `supervisor.stop().await` (every service stopped, dependents first). The supervisor is built
//!   before the clock starts (its build time is printed below the table). The baseline does the
//!   same ordering by hand with raw tokio, in topological waves: it spawns the 1,000 tasks of a
//!   layer, each with its own `CancellationToken`, waits until every one of them has signalled
//!   that it is ready (a per-layer countdown and a `Notify`, the cheapest way to learn that a
//!   whole layer is up), then spawns the next layer; it stops in reverse waves: it cancels the
//!   tokens of the last layer, awaits its join handles, then the layer before. That is the least
//!   a service needs to honour "start after what you require is up, stop before it", with no
//!   bookkeeping, no events, no restarts and no health; its readiness is stricter than ours
//!   (each task has run, not just been spawned), which can only make it slower. Several
//!   repetitions per side (`BENCH_REPS`, default 5, after one unrecorded of each), alternately,
//!   with the side that goes first alternating too, each once the memory freed by the one
//!   before stopped moving (aborted tasks are freed after the stop that aborted them returned);
//!   the medians count. Goals: start-all and stop-all under 100 ms each, and
//!   at most twice the baseline's.
//! - **restart reaction**: one service whose run, once told to, records the instant and returns
//!   `Err` by itself; the time from that instant to the start of its next run, measured inside
//!   the run function (`Instant::now()` as its first statement). Ours: a supervised
//!   [`StartStop`] with a zero backoff without jitter
//!   (`Backoff::new(Duration::ZERO, Duration::ZERO, 1.0).with_jitter(false)`; the options accept
//!   it), unlimited retries, and an [`Intensity`] of `u32::MAX` restarts per hour so that the
//!   supervisor never gives up. The baseline: a raw tokio loop that spawns the run, awaits its
//!   `JoinHandle`, and spawns it again at once when it failed. A driver task tells the run to
//!   exit at least 1 ms after it began, for ours once `health_status()` also shows the service
//!   running and ready (a running service that fails, not one still starting; the driver polls
//!   between pauses rather than subscribing to the events, which would wake it in the middle of
//!   the restart it measures); the pause lets the workers go idle, as they are when a real
//!   service fails. The driver then awaits the next run. `BENCH_RESTARTS` restarts per side
//!   (default 1,000, after 100 unrecorded), in blocks of 100 alternating between the sides; the
//!   supervisor's restart count is checked against them. Median and 99th percentile; goal: p99
//!   under 100 µs. The baseline is printed for context.
//! - **memory per idle service**: the bytes allocated and not freed, counted by the global
//!   allocator (`cap`'s counting wrapper around the system allocator: the requested sizes, not
//!   the allocator's own overhead), from before the supervisor is built to when its 10,000
//!   services of the graph above are started and parked (every run in `run.cancelled()`, 20 ms
//!   after the last one got there), divided by 10,000; against the baseline's 10,000 tasks parked
//!   on their tokens, with the tokens and join handles kept in `Vec`s. Measured in every
//!   repetition of the start-all; the medians count. Ours includes everything a supervised
//!   service costs: its name, its options and record in the supervisor, the `StartStop`, its
//!   run's task and the supervisor's watcher task. No goal: a supervised service is a runner
//!   plus its supervision, not a task (the startstop bench holds a runner to its 2× goal).
//!
//! The counting allocator counts on both sides alike (one atomic add per allocation and free,
//! in the timed parts too); the workspace forbids `unsafe`, hence a crate for it.
//!
//! The goals are printed, not enforced: a missed goal still exits 0; a panic or an error exits
//! non-zero.

use std::alloc::System;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use cap::Cap;
use runner_bench::{BoxResult, Side, median, ratio};
use runner_core::{Runner, State, Status};
use runner_startstop::{RunContext, StartStop};
use runner_supervisor::{Backoff, Intensity, ServiceOptions, Supervisor};
use tokio::runtime::Runtime;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Counts the bytes allocated and not yet freed, for the memory rows.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Services per layer of the graph.
const WIDTH: usize = 1_000;
/// Layers of the graph.
const DEPTH: usize = 10;
/// Services in the graph.
const SERVICES: usize = WIDTH * DEPTH;
/// Repetitions of the start-all and stop-all per side when `BENCH_REPS` is not set.
const DEFAULT_REPS: usize = 5;
/// Measured restarts per side when `BENCH_RESTARTS` is not set.
const DEFAULT_RESTARTS: usize = 1_000;
/// The fewest restarts per side that give a meaningful p99.
const MIN_RESTARTS: usize = 100;
/// Unrecorded restarts per side before measuring.
const WARMUP_RESTARTS: usize = 100;
/// Restarts in one block; blocks alternate between the two sides.
const BLOCK: usize = 100;
/// How long the driver waits after a run began before telling it to exit.
const PAUSE: Duration = Duration::from_millis(1);
/// Worker threads of the runtime.
const WORKER_THREADS: usize = 2;
/// How long to wait, once every run is parked, before reading the allocator: lets the other
/// tasks spawned for the services (ours: the supervisor's watchers) take their first poll.
const SETTLE: Duration = Duration::from_millis(20);
/// How long every run may take to park after the start returned.
const PARK_TIMEOUT: Duration = Duration::from_secs(10);
/// Goal: start-all and stop-all wall time, each.
const GRAPH_GOAL: Duration = Duration::from_millis(100);
/// Goal: ours / baseline for start-all and stop-all.
const GRAPH_RATIO_GOAL: f64 = 2.0;
/// Goal: the restart reaction's 99th percentile.
const RESTART_P99_GOAL: Duration = Duration::from_micros(100);

fn main() -> BoxResult<()> {
    let reps = env_number("BENCH_REPS", DEFAULT_REPS, 1)?;
    let restarts = env_number("BENCH_RESTARTS", DEFAULT_RESTARTS, MIN_RESTARTS)?;
    let runtime = runtime()?;
    let (graph, restart) = runtime.block_on(async move {
        // On a worker, like the tasks it spawns, on both sides.
        tokio::spawn(async move {
            let graph = graph_reps(reps).await?;
            let restart = restart_reaction(restarts).await?;
            Ok::<_, String>((graph, restart))
        })
        .await
    })??;
    print_table(reps, restarts, &graph, &restart);
    Ok(())
}

/// The number in the environment variable `name`, at least `min`; `default` if it is not set.
fn env_number(name: &str, default: usize, min: usize) -> BoxResult<usize> {
    let Ok(text) = std::env::var(name) else {
        return Ok(default);
    };
    let value = text
        .trim()
        .parse::<usize>()
        .map_err(|err| format!("{name}={text:?}: {err}"))?;
    if value < min {
        return Err(format!("{name}={value}: use at least {min}").into());
    }
    Ok(value)
}

/// The runtime: multi-threaded, [`WORKER_THREADS`] workers, the time and I/O drivers (the
/// runners' stop paths use timers).
fn runtime() -> BoxResult<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()?)
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The bytes allocated and not freed so far.
fn allocated() -> u64 {
    u64::try_from(ALLOCATOR.allocated()).unwrap_or(u64::MAX)
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// start-all and stop-all of the graph, and its memory

/// The name of service `column` of `layer`.
fn service_name(layer: usize, column: usize) -> String {
    format!("s{layer}.{column}")
}

/// One of our services: parks in `run.cancelled()` and counts itself in `parked` once there; a
/// stop function with nothing to do.
fn idle_service(parked: &Arc<AtomicUsize>) -> StartStop {
    let parked = Arc::clone(parked);
    StartStop::new(
        move |run: RunContext| {
            let parked = Arc::clone(&parked);
            async move {
                let cancelled = run.cancelled();
                parked.fetch_add(1, Ordering::Relaxed);
                cancelled.await;
                Ok::<(), std::io::Error>(())
            }
        },
        || async { Ok::<(), std::io::Error>(()) },
    )
}

/// Our side: a supervisor of `width × depth` idle services, each requiring the one of the same
/// column in the layer before.
fn our_graph(width: usize, depth: usize, parked: &Arc<AtomicUsize>) -> BoxResult<Supervisor> {
    let mut builder = Supervisor::builder().name("bench");
    for layer in 0..depth {
        for column in 0..width {
            let options = if layer == 0 {
                ServiceOptions::new()
            } else {
                ServiceOptions::new().requires(service_name(layer - 1, column))
            };
            builder = builder.service(service_name(layer, column), idle_service(parked), options);
        }
    }
    Ok(builder.build()?)
}

/// One layer of the baseline: how many of its tasks have yet to signal that they are ready, and
/// the notification of the last one.
#[derive(Debug)]
struct Wave {
    remaining: AtomicUsize,
    done: Notify,
}

impl Wave {
    /// A task of the layer is ready.
    fn arrive(&self) {
        if self.remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            // Stores a permit if the spawner is not waiting yet.
            self.done.notify_one();
        }
    }
}

/// The baseline's started graph: every layer's tokens and join handles.
type RawGraph = Vec<Vec<(CancellationToken, JoinHandle<()>)>>;

/// The baseline's start-all: `depth` waves of `width` tasks, each wave spawned once every task
/// of the one before signalled ready.
async fn raw_start(width: usize, depth: usize, parked: &Arc<AtomicUsize>) -> RawGraph {
    let mut layers = Vec::with_capacity(depth);
    for _ in 0..depth {
        let wave = Arc::new(Wave {
            remaining: AtomicUsize::new(width),
            done: Notify::new(),
        });
        let mut tasks = Vec::with_capacity(width);
        for _ in 0..width {
            let token = CancellationToken::new();
            let child = token.clone();
            let (wave, parked) = (Arc::clone(&wave), Arc::clone(parked));
            let handle = tokio::spawn(async move {
                let cancelled = child.cancelled();
                parked.fetch_add(1, Ordering::Relaxed);
                wave.arrive();
                drop(wave);
                cancelled.await;
            });
            tasks.push((token, handle));
        }
        wave.done.notified().await;
        layers.push(tasks);
    }
    layers
}

/// The baseline's stop-all: the layers in reverse, each cancelled, then awaited.
async fn raw_stop(layers: RawGraph) -> BoxResult<()> {
    for tasks in layers.into_iter().rev() {
        for (token, _) in &tasks {
            token.cancel();
        }
        for (_, handle) in tasks {
            handle.await?;
        }
    }
    Ok(())
}

/// Waits until the bytes allocated stay the same for [`SETTLE`] (at most [`PARK_TIMEOUT`]): the
/// tasks of the last repetition have been freed (an aborted task is freed when a worker next
/// polls it, after the stop that aborted it returned), so that they are neither counted against
/// the next repetition's memory nor freed during its timed parts.
async fn quiesce() {
    let deadline = Instant::now() + PARK_TIMEOUT;
    let mut last = allocated();
    while Instant::now() < deadline {
        tokio::time::sleep(SETTLE).await;
        let now = allocated();
        if now == last {
            return;
        }
        last = now;
    }
}

/// Waits until `n` runs are parked, then [`SETTLE`].
async fn settle(parked: &AtomicUsize, n: usize) -> BoxResult<()> {
    let deadline = Instant::now() + PARK_TIMEOUT;
    while parked.load(Ordering::Relaxed) < n {
        if Instant::now() > deadline {
            return Err(format!(
                "only {} of {n} runs parked within {PARK_TIMEOUT:?}",
                parked.load(Ordering::Relaxed)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(SETTLE).await;
    Ok(())
}

/// One repetition of one side, in ns and bytes.
#[derive(Debug, Clone, Copy)]
struct GraphRun {
    build_ns: u64,
    start_ns: u64,
    stop_ns: u64,
    bytes: u64,
}

/// Starts, measures and stops a graph of `width × depth` services of `side`.
async fn graph_run(side: Side, width: usize, depth: usize) -> BoxResult<GraphRun> {
    let n = width * depth;
    let parked = Arc::new(AtomicUsize::new(0));
    quiesce().await;
    let before = allocated();
    match side {
        Side::Ours => {
            let began = Instant::now();
            let supervisor = our_graph(width, depth, &parked)?;
            let build_ns = nanos(began.elapsed());

            let began = Instant::now();
            supervisor.start().await?;
            let start_ns = nanos(began.elapsed());
            if supervisor.state() != State::Running {
                return Err(format!("start returned in state {:?}", supervisor.state()).into());
            }
            settle(&parked, n).await?;
            let bytes = allocated().saturating_sub(before);

            let began = Instant::now();
            supervisor.stop().await?;
            let stop_ns = nanos(began.elapsed());
            if supervisor.state() != State::Stopped {
                return Err(format!("stop returned in state {:?}", supervisor.state()).into());
            }
            Ok(GraphRun {
                build_ns,
                start_ns,
                stop_ns,
                bytes,
            })
        }
        Side::Raw => {
            let began = Instant::now();
            let layers = raw_start(width, depth, &parked).await;
            let start_ns = nanos(began.elapsed());
            settle(&parked, n).await?;
            let bytes = allocated().saturating_sub(before);

            let began = Instant::now();
            raw_stop(layers).await?;
            let stop_ns = nanos(began.elapsed());
            Ok(GraphRun {
                build_ns: 0,
                start_ns,
                stop_ns,
                bytes,
            })
        }
    }
}

/// Every repetition of both sides.
#[derive(Debug)]
struct Graph {
    ours: Vec<GraphRun>,
    raw: Vec<GraphRun>,
}

impl Graph {
    /// The median of `field` over `side`'s repetitions.
    fn median(&self, side: Side, field: impl Fn(&GraphRun) -> u64) -> u64 {
        let runs = match side {
            Side::Ours => &self.ours,
            Side::Raw => &self.raw,
        };
        median(&mut runs.iter().map(field).collect::<Vec<_>>())
    }

    /// Every repetition's `field` of `side`, shown by `show`.
    fn each(
        &self,
        side: Side,
        field: impl Fn(&GraphRun) -> u64,
        show: impl Fn(u64) -> String,
    ) -> String {
        let runs = match side {
            Side::Ours => &self.ours,
            Side::Raw => &self.raw,
        };
        runs.iter()
            .map(|run| show(field(run)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A full-size warm-up of both sides, then `reps` repetitions per side, alternately.
async fn graph_reps(reps: usize) -> Result<Graph, String> {
    let text = |err: Box<dyn std::error::Error + Send + Sync>| err.to_string();
    for side in [Side::Ours, Side::Raw] {
        graph_run(side, WIDTH, DEPTH).await.map_err(text)?;
    }
    let mut graph = Graph {
        ours: Vec::with_capacity(reps),
        raw: Vec::with_capacity(reps),
    };
    for rep in 0..reps {
        let order = if rep % 2 == 0 {
            [Side::Ours, Side::Raw]
        } else {
            [Side::Raw, Side::Ours]
        };
        for side in order {
            let run = graph_run(side, WIDTH, DEPTH).await.map_err(text)?;
            match side {
                Side::Ours => graph.ours.push(run),
                Side::Raw => graph.raw.push(run),
            }
        }
    }
    Ok(graph)
}

// ---------------------------------------------------------------------------------------------
// restart reaction

/// The service of the restart measurement, shared by its runs: it records, at the start of each
/// run, how long ago the previous run exited.
#[derive(Debug, Default)]
struct Probe {
    /// A run began.
    began: Notify,
    /// The current run should exit (with an error).
    exit: Notify,
    /// When the last run exited.
    last_exit: Mutex<Option<Instant>>,
    /// From an exit to the start of the next run, in ns.
    samples: Mutex<Vec<u64>>,
}

impl Probe {
    /// One run: records its reaction time, then waits to be told to exit (returns `Err`) or
    /// for `cancelled` (returns `Ok`).
    async fn run(&self, cancelled: impl Future<Output = ()>) -> Result<(), std::io::Error> {
        let began = Instant::now();
        if let Some(exited) = lock(&self.last_exit).take() {
            lock(&self.samples).push(nanos(began.saturating_duration_since(exited)));
        }
        self.began.notify_one();
        tokio::select! {
            () = self.exit.notified() => {
                let error = std::io::Error::other("the probe's run fails");
                *lock(&self.last_exit) = Some(Instant::now());
                Err(error)
            }
            () = cancelled => Ok(()),
        }
    }
}

/// Our side of the restart measurement: a supervisor of the probe as a `StartStop`, restarted
/// at once, forever.
fn restart_supervisor(probe: &Arc<Probe>) -> BoxResult<Supervisor> {
    let probe = Arc::clone(probe);
    let service = StartStop::new(
        move |run: RunContext| {
            let probe = Arc::clone(&probe);
            async move { probe.run(run.cancelled()).await }
        },
        || async { Ok::<(), std::io::Error>(()) },
    );
    let options = ServiceOptions::new()
        .max_retries(0)
        .backoff(Backoff::new(Duration::ZERO, Duration::ZERO, 1.0).with_jitter(false));
    Ok(Supervisor::builder()
        .name("restart")
        .intensity(Intensity::new(u32::MAX, Duration::from_secs(3600)))
        .service("flaky", service, options)
        .build()?)
}

/// The baseline of the restart measurement: spawns the probe's run, awaits it, and spawns it
/// again at once when it failed; ends when it returns `Ok` (cancelled).
fn raw_restarter(probe: &Arc<Probe>, token: &CancellationToken) -> JoinHandle<()> {
    let (probe, token) = (Arc::clone(probe), token.clone());
    tokio::spawn(async move {
        loop {
            let (probe, token) = (Arc::clone(&probe), token.clone());
            let run = tokio::spawn(async move { probe.run(token.cancelled()).await });
            match run.await {
                Ok(Err(_)) => {}
                Ok(Ok(())) | Err(_) => return,
            }
        }
    })
}

/// Whether the supervisor sees its service running and ready.
fn running_and_ready(supervisor: &Supervisor) -> bool {
    supervisor
        .health_status()
        .services
        .iter()
        .any(|service| service.state == State::Running && service.ready)
}

/// Makes the probe's current run (it has begun) exit `n` times, each time waiting for the next
/// run to begin. Waits [`PAUSE`] before each exit; with a `supervisor`, also until it reports
/// the service running and ready (read between pauses, never while a restart is measured).
async fn drive(probe: &Probe, n: usize, supervisor: Option<&Supervisor>) -> BoxResult<()> {
    for _ in 0..n {
        let deadline = Instant::now() + PARK_TIMEOUT;
        loop {
            tokio::time::sleep(PAUSE).await;
            if supervisor.is_none_or(running_and_ready) {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("the service was not ready within {PARK_TIMEOUT:?}").into());
            }
        }
        probe.exit.notify_one();
        probe.began.notified().await;
    }
    Ok(())
}

/// The reaction times of both sides, in ns.
#[derive(Debug)]
struct Restart {
    ours: Vec<u64>,
    raw: Vec<u64>,
}

/// Measures `restarts` restarts per side, in alternating blocks, after a warm-up.
async fn restart_reaction(restarts: usize) -> Result<Restart, String> {
    restart_sides(restarts).await.map_err(|err| err.to_string())
}

/// [`restart_reaction`], with the benchmark's error type (not `Send`, so not out of the task).
async fn restart_sides(restarts: usize) -> BoxResult<Restart> {
    let ours = Arc::new(Probe::default());
    let supervisor = restart_supervisor(&ours)?;
    supervisor.start().await?;
    ours.began.notified().await;

    let raw = Arc::new(Probe::default());
    let token = CancellationToken::new();
    let restarter = raw_restarter(&raw, &token);
    raw.began.notified().await;

    drive(&ours, WARMUP_RESTARTS, Some(&supervisor)).await?;
    drive(&raw, WARMUP_RESTARTS, None).await?;
    lock(&ours.samples).clear();
    lock(&raw.samples).clear();

    let mut block = 0;
    while lock(&ours.samples).len() < restarts {
        let n = BLOCK.min(restarts - lock(&ours.samples).len());
        let order = if block % 2 == 0 {
            [Side::Ours, Side::Raw]
        } else {
            [Side::Raw, Side::Ours]
        };
        for side in order {
            match side {
                Side::Ours => drive(&ours, n, Some(&supervisor)).await?,
                Side::Raw => drive(&raw, n, None).await?,
            }
        }
        block += 1;
    }

    let restarted = supervisor
        .health_status()
        .services
        .iter()
        .map(|service| service.restarts)
        .sum::<u64>();
    let expected = u64::try_from(WARMUP_RESTARTS + restarts)?;
    if restarted != expected {
        return Err(format!("the supervisor counted {restarted} restarts, not {expected}").into());
    }
    supervisor.stop().await?;
    token.cancel();
    restarter.await?;
    let ours = std::mem::take(&mut *lock(&ours.samples));
    let raw = std::mem::take(&mut *lock(&raw.samples));
    Ok(Restart { ours, raw })
}

// ---------------------------------------------------------------------------------------------
// the table

/// The `p`th percentile (0..=100) of `values`, sorting them; 0 for none.
fn percentile(values: &mut [u64], p: usize) -> u64 {
    values.sort_unstable();
    let at = (values.len() * p / 100).min(values.len().saturating_sub(1));
    values.get(at).copied().unwrap_or(0)
}

/// How many of `values` (in ns) exceed `limit`.
fn over(values: &[u64], limit: Duration) -> usize {
    values.iter().filter(|&&ns| ns > nanos(limit)).count()
}

/// The machine, as a line of the table's header.
fn environment() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_owned(), |text| text.trim().to_owned());
    format!(
        "env: {cpus} CPUs ({model}), Linux {kernel}; tokio multi-thread runtime, {WORKER_THREADS} \
         workers; both sides in one process, counting allocator on both"
    )
}

/// A value in ns, shown in ms.
fn ms(ns: u64) -> String {
    format!("{:.1} ms", ns as f64 / 1e6)
}

/// A value in ns, shown in µs.
fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1e3)
}

/// A goal's limit: in ms from 1 ms, else in µs.
fn show_limit(limit: Duration) -> String {
    if limit >= Duration::from_millis(1) {
        format!("{} ms", limit.as_millis())
    } else {
        format!("{} µs", limit.as_micros())
    }
}

/// How a row is judged.
enum Goal {
    /// No goal: the ratio, for context.
    None,
    /// Ours under this, and ours / baseline at most that.
    UnderAndRatio(Duration, f64),
    /// Ours under this.
    Under(Duration),
}

fn print_table(reps: usize, restarts: usize, graph: &Graph, restart: &Restart) {
    let (mut ours_restart, mut raw_restart) = (restart.ours.clone(), restart.raw.clone());
    let start = |run: &GraphRun| run.start_ns;
    let stop = |run: &GraphRun| run.stop_ns;
    let per_service = |run: &GraphRun| run.bytes / SERVICES as u64;

    println!(
        "runner-supervisor benchmark: Supervisor of StartStop services vs raw tokio ({SERVICES} \
         services in a {WIDTH} × {DEPTH} graph, median of {reps} repetitions per side; \
         {restarts} restarts per side)"
    );
    println!("{}", environment());
    println!(
        "{:<44} {:<12} {:<12} {:<7} {:<24} verdict",
        "metric", "ours", "baseline", "ratio", "goal"
    );
    type Row = (String, u64, u64, fn(u64) -> String, Goal);
    let rows: [Row; 5] = [
        (
            format!("start-all, {SERVICES} services"),
            graph.median(Side::Ours, start),
            graph.median(Side::Raw, start),
            ms,
            Goal::UnderAndRatio(GRAPH_GOAL, GRAPH_RATIO_GOAL),
        ),
        (
            format!("stop-all, {SERVICES} services"),
            graph.median(Side::Ours, stop),
            graph.median(Side::Raw, stop),
            ms,
            Goal::UnderAndRatio(GRAPH_GOAL, GRAPH_RATIO_GOAL),
        ),
        (
            "restart reaction p50 (exit -> next run)".to_owned(),
            percentile(&mut ours_restart, 50),
            percentile(&mut raw_restart, 50),
            us,
            Goal::None,
        ),
        (
            "restart reaction p99 (exit -> next run)".to_owned(),
            percentile(&mut ours_restart, 99),
            percentile(&mut raw_restart, 99),
            us,
            Goal::Under(RESTART_P99_GOAL),
        ),
        (
            "memory per idle service".to_owned(),
            graph.median(Side::Ours, per_service),
            graph.median(Side::Raw, per_service),
            |value| format!("{value} B"),
            Goal::None,
        ),
    ];
    let mut missed = Vec::new();
    for (metric, ours, baseline, show, goal) in rows {
        // Compared as printed, to two decimals.
        let ratio = (ratio(ours, baseline) * 100.0).round() / 100.0;
        let (goal, verdict) = match goal {
            Goal::None => ("-".to_owned(), "-".to_owned()),
            Goal::Under(limit) => {
                let met = ours < nanos(limit);
                if !met {
                    missed.push(metric.clone());
                }
                (
                    format!("< {}", show_limit(limit)),
                    if met { "met" } else { "MISSED" }.to_owned(),
                )
            }
            Goal::UnderAndRatio(limit, most) => {
                let fast = ours < nanos(limit);
                let close = ratio <= most;
                let verdict = match (fast, close) {
                    (true, true) => "met".to_owned(),
                    (false, true) => "MISSED (time)".to_owned(),
                    (true, false) => "MISSED (ratio)".to_owned(),
                    (false, false) => "MISSED (time, ratio)".to_owned(),
                };
                if !(fast && close) {
                    missed.push(metric.clone());
                }
                (format!("< {}, ratio <= {most}", show_limit(limit)), verdict)
            }
        };
        println!(
            "{metric:<44} {:<12} {:<12} {ratio:<7.2} {goal:<24} {verdict}",
            show(ours),
            show(baseline)
        );
    }

    println!(
        "every repetition: start-all ms ours [{}], baseline [{}]; stop-all ms ours [{}], \
         baseline [{}]",
        graph.each(Side::Ours, start, |ns| format!("{:.1}", ns as f64 / 1e6)),
        graph.each(Side::Raw, start, |ns| format!("{:.1}", ns as f64 / 1e6)),
        graph.each(Side::Ours, stop, |ns| format!("{:.1}", ns as f64 / 1e6)),
        graph.each(Side::Raw, stop, |ns| format!("{:.1}", ns as f64 / 1e6)),
    );
    println!(
        "every repetition: B per idle service ours [{}], baseline [{}]; building the supervisor \
         (not timed above) took ms [{}]",
        graph.each(Side::Ours, per_service, |b| b.to_string()),
        graph.each(Side::Raw, per_service, |b| b.to_string()),
        graph.each(
            Side::Ours,
            |run| run.build_ns,
            |ns| format!("{:.1}", ns as f64 / 1e6)
        ),
    );
    println!(
        "restart reaction: p90 ours {}, baseline {}; max ours {}, baseline {}; over {}: ours {} \
         of {}, baseline {} of {} (the options accept a zero backoff)",
        us(percentile(&mut ours_restart, 90)),
        us(percentile(&mut raw_restart, 90)),
        us(percentile(&mut ours_restart, 100)),
        us(percentile(&mut raw_restart, 100)),
        show_limit(RESTART_P99_GOAL),
        over(&ours_restart, RESTART_P99_GOAL),
        ours_restart.len(),
        over(&raw_restart, RESTART_P99_GOAL),
        raw_restart.len(),
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
