//! Load and idle benchmark of [`Ticker`] against the raw tokio loop it replaces, with
//! `tokio-cron-scheduler` as a peer.
//!
//! Run it with `cargo xtask bench ticker` (or `cargo bench -p runner-bench --bench ticker`). It
//! is built with the production feature set (no tokio `test-util`; see `runner-bench/Cargo.toml`).
//!
//! The baseline for one ticker is the loop a service would write by hand:
//!
//! ```text
//! let start = Instant::now();
//! tokio::spawn(async move {
//!     let mut interval = tokio::time::interval_at(start + period, period);
//!     interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
//!     loop {
//!         tokio::select! {
//!             scheduled = interval.tick() => lateness.record(scheduled),
//!             () = token.cancelled() => break,
//!         }
//!     }
//! })
//! ```
//!
//! with one `CancellationToken` per ticker. Ours is `Ticker::new(period, |tick| async move {
//! lateness.record(tick.scheduled()); Ok(()) })` with the default settings (first run one period
//! after `start`, missed ticks skipped), started with `Runner::start`. Both sides do the same
//! work per tick: they record how late the run started (`Instant::now()` minus the instant the
//! tick was due) into one histogram shared by all the tickers of the process (atomic counters in
//! 1 µs buckets).
//!
//! Every measurement runs in a child process (this binary, re-run with `--load SIDE` or
//! `--idle SIDE`) on a multi-threaded tokio runtime with 2 worker threads, for both sides. The
//! parent runs the children alternately, and the side that goes first alternates too; the median
//! of each metric counts (the mean of the two middle values for an even count).
//!
//! # Paced starts: the same tick grid on both sides
//!
//! Both sides start their tickers with the same loop, paced: ticker `i` is planned to start at
//! `first + i × 5 µs` (200 tickers per ms: the idle phase's 10,000 tickers over 50 ms, the load
//! phase's 1,000 over 5 ms), and the loop sleeps until that instant before starting it (ours
//! with `start().await`, raw with `tokio::spawn`). tokio's timer wakes the loop on the first
//! millisecond boundary after the planned instant, and the loop then starts every ticker planned
//! up to then, a batch of about 200, which takes either side a fraction of a millisecond (ours
//! about 1.5 µs a start, raw about 1 µs). Each ticker ticks one period after it was started
//! (ours: its first run is one period after `start`; raw: `interval_at(Instant::now() + period,
//! period)`, taken when the loop spawns it), and tokio rounds every timer deadline up to the next
//! millisecond, so ticker `i` ticks in the same millisecond on both sides: the two schedules are
//! the same grid, with as many ticks in each millisecond. Unpaced, ours took 17-40 ms to start
//! 10,000 tickers and raw 8-13 ms, so our first ticks fell in more distinct milliseconds, which
//! about doubled our thread wake-ups and CPU time in the idle phase. How long starting took is
//! printed below the table (`starting them all took`): it should be the planned spread on both
//! sides; more means that side fell behind the plan.
//!
//! Raw tickers start their interval at the instant they are spawned, not at their planned
//! instant (`interval_at(planned + period, period)`), because ours cannot be given one: it
//! starts when the loop runs, just after a millisecond boundary, so its ticks are due just after
//! one and run at the next, nearly 1 ms after they were due. Raw ticks due at the planned
//! instants, evenly spread over each millisecond, would fire in the same milliseconds but would
//! be 0.5 ms late on average: the lateness rows would be skewed against ours by about 0.4 ms at
//! the median. The pace is the same in both phases rather than the same fraction of the period
//! (50 ms of 1 s would be 0.5 ms of the load phase's 10 ms): neither side can start 1,000
//! tickers in 0.5 ms, so both would fall behind the plan, ours further, and tick in different
//! milliseconds again. At 200 per ms the load phase's ticks fall in 5 of every 10 ms.
//!
//! # Phases
//!
//! - **load** (`--load`, 3 runs per side: the 99th percentile of one run moves by several ms with
//!   the host's hiccups, on either side, so two runs are too few for a median): 1,000 tickers
//!   with a 10 ms period for 3 s. Reports the lateness of the run starts (p50, p99 over every run
//!   that started in those 3 s) and the CPU time of the whole process from just before the first
//!   `start` until 3 s after the last one (the stops are not counted), in all and per run.
//! - **idle** (`--idle`, 3 runs per side): 10,000 tickers with a 1 s period. Reports the growth
//!   of the resident set (`VmRSS` in `/proc/self/status`) from before the first `start` to 200 ms
//!   after the last one, when every task has parked and none has ticked yet; then the CPU time
//!   and the context switches of the process in the quiet gap from then until 100 ms before the
//!   first tick is due, one period after the first start (no tick in it: what idling costs);
//!   then, from 100 ms after the last ticker's first tick (one period after the last start), the
//!   CPU time (in all and per run) and the thread wake-ups over 5 s in which each ticker ticks 5
//!   times.
//! - **start** (`--start`, 3 runs per side): 10,000 tickers (`BENCH_IDLE_TICKERS`) built and
//!   started one after the other without pacing, then stopped one after the other (raw tokio:
//!   cancel the token, await the task). Reports wall time and CPU time per ticker for each,
//!   without goals: a stop that waits for its task costs two thread wake-ups on both sides.
//! - **peer** (`--load peer --period-ms 1000` and `--load raw --period-ms 1000`, 3 runs each,
//!   alternately): the load phase's 1,000 jobs run by `tokio-cron-scheduler` 0.15
//!   (`Job::new_repeated_async` on its in-memory store), the crate a Rust user would pick instead
//!   of writing the loop, against raw tokio tickers at the same period. It cannot run a job every
//!   10 ms: a repeated job's period is whole seconds (`Duration::as_secs`, so 10 ms becomes 0),
//!   its due times are whole Unix seconds, and one task checks every job every 500 ms. So both
//!   run at 1 s, its finest period, for the load phase's 3 s; the rows say so. Its jobs are not
//!   told when they were due: the child reads a job's first due time with `next_tick_for_job`
//!   after adding it and counts the job's runs, the `k`th being due `k` periods later, as the
//!   crate steps them. Its lateness is mostly the phase of its 500 ms check against the whole
//!   seconds, which differs from run to run (0 to 500 ms), plus the time its one activation task
//!   takes to go through the 1,000 jobs due (about 15 ms); and as the crate rounds a new job's
//!   first due time down to a whole second, a job may come due before the scheduler's first
//!   check, 500 ms after `start`. Its broadcast channels get 4 slots per job
//!   (`new_with_channel_size`): with the default 200, a trial run lost a fifth of its runs.
//!
//! CPU time is the sum of the first field of `/proc/self/task/*/schedstat` (time on a CPU, in
//! ns, of every thread of the process): nanosecond resolution, where `/proc/self/stat`'s
//! utime + stime counts in 10 ms clock ticks, too coarse for the tens of ms the idle phase costs.
//! The utime + stime figures are printed below the table as a cross-check. Context switches are
//! the sum of `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` of every thread: each
//! time a thread parks and is woken counts, so they count the process's wake-ups, which follow
//! how many distinct milliseconds the ticks fall in.
//!
//! Goals: p99 lateness in the load phase at most 1 ms later than the baseline's; CPU time at most
//! 1.2 times the baseline's in both phases; memory per ticker at most twice the baseline's. The
//! other rows have none. CPU per run is the CPU time divided by the runs in the same window, and
//! thread wake-ups follow the tick grid more than the code. The idle phase's p99 lateness is how
//! long a 1 ms batch of 200 ticks waits for the 2 workers, plus whatever the host does in those
//! few ms per second: it moves from +6 ms to -1.5 ms between runs of the same code, so every
//! run's value is printed below the table, and it gets no goal. The peer's rows compare another
//! crate, at another period, with raw tokio, for context.
//!
//! `BENCH_TICKERS` and `BENCH_SECONDS` set the number of tickers (default 1,000) and the seconds
//! (default 3) of the load and peer phases; `BENCH_IDLE_TICKERS` and `BENCH_IDLE_SECONDS` those
//! of the idle phase (defaults 10,000 and 5). The whole run takes about a minute and a half with
//! the defaults.
//!
//! The goals are printed, not enforced: a missed goal still exits 0; a panic or an error exits
//! non-zero.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runner_bench::{BoxResult, Side, median, ratio, resident_bytes};
use runner_core::Runner;
use runner_ticker::{TickContext, Ticker};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

/// The period of the tickers in the load phase.
const LOAD_PERIOD: Duration = Duration::from_millis(10);
/// The period of the tickers in the idle phase.
const IDLE_PERIOD: Duration = Duration::from_secs(1);
/// The period of the jobs in the peer phase: `tokio-cron-scheduler`'s finest.
const PEER_PERIOD: Duration = Duration::from_secs(1);
/// Child processes per side in the load phase.
const LOAD_RUNS: usize = 3;
/// Child processes per side in the idle phase.
const IDLE_RUNS: usize = 3;
/// Child processes per side in the start phase.
const START_RUNS: usize = 3;
/// Child processes per side in the peer phase.
const PEER_RUNS: usize = 3;
/// Worker threads of the runtime of every child, on both sides.
const WORKER_THREADS: usize = 2;
/// The planned time between the starts of two tickers, in both phases and on every side: ticker
/// `i` starts at `first + i × START_PACE`. Both sides keep up with it (see the module's docs).
const START_PACE: Duration = Duration::from_micros(5);
/// How long the idle child waits after the last `start` before reading the resident set: enough
/// for every task to be polled once and park, far less than the idle period.
const SETTLE: Duration = Duration::from_millis(200);
/// Margin kept between a measurement window of the idle phase and the nearest tick.
const MARGIN: Duration = Duration::from_millis(100);
/// The lateness histogram's range (in 1 µs buckets), or the period if longer; later starts count
/// beyond it.
const HISTOGRAM_RANGE: Duration = Duration::from_millis(100);
/// Slots per job in `tokio-cron-scheduler`'s broadcast channels: each run sends one activation
/// and three notifications, and all the jobs come due in the same check.
const PEER_CHANNEL_PER_JOB: usize = 4;
/// Goal: ours minus baseline at the 99th percentile of lateness, in µs.
const LATENESS_GOAL_MICROS: i64 = 1_000;
/// Goal: ours / baseline CPU time, in both phases.
const CPU_GOAL: f64 = 1.2;
/// Goal: ours / baseline memory per ticker.
const MEMORY_GOAL: f64 = 2.0;

fn main() -> BoxResult<()> {
    let settings = Settings::from_env()?;
    // `cargo bench` passes `--bench`; our own arguments are `--load SUBJECT [--period-ms N]` and
    // `--idle SIDE`.
    let args = std::env::args().skip(1).collect::<Vec<_>>();
    if let Some(name) = argument(&args, "--load") {
        let subject = name
            .and_then(Subject::from_name)
            .ok_or("--load needs `ours`, `raw` or `peer`")?;
        let period = match argument(&args, "--period-ms") {
            None => LOAD_PERIOD,
            Some(text) => Duration::from_millis(text.ok_or("--period-ms needs a number")?.parse()?),
        };
        return load_child(subject, period, &settings);
    }
    if let Some(name) = argument(&args, "--idle") {
        let side = name
            .and_then(Side::from_name)
            .ok_or("--idle needs `ours` or `raw`")?;
        return idle_child(side, &settings);
    }
    if let Some(name) = argument(&args, "--start") {
        let side = name
            .and_then(Side::from_name)
            .ok_or("--start needs `ours` or `raw`")?;
        return start_child(side, &settings);
    }

    let pair = [Subject::Side(Side::Ours), Subject::Side(Side::Raw)];
    let load = Medians::of(run_children("--load", pair, &[], LOAD_RUNS)?);
    let idle = Medians::of(run_children("--idle", pair, &[], IDLE_RUNS)?);
    let start = Medians::of(run_children("--start", pair, &[], START_RUNS)?);
    let peer_ms = PEER_PERIOD.as_millis().to_string();
    let peer = Medians::of(run_children(
        "--load",
        [Subject::Peer, Subject::Side(Side::Raw)],
        &["--period-ms", &peer_ms],
        PEER_RUNS,
    )?);
    print_table(&settings, &load, &idle, &start, &peer);
    Ok(())
}

/// What follows `flag` on the command line, if `flag` is there (`Some(None)` if nothing does).
fn argument<'a>(args: &'a [String], flag: &str) -> Option<Option<&'a str>> {
    let at = args.iter().position(|arg| arg == flag)?;
    Some(args.get(at + 1).map(String::as_str))
}

/// What a child measures: one of the two sides, or the peer crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// Ours or the raw tokio baseline.
    Side(Side),
    /// `tokio-cron-scheduler` running the same jobs.
    Peer,
}

impl Subject {
    /// The subject's name on a child's command line.
    fn name(self) -> &'static str {
        match self {
            Subject::Side(side) => side.name(),
            Subject::Peer => "peer",
        }
    }

    /// The subject called `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        if name == Subject::Peer.name() {
            return Some(Subject::Peer);
        }
        Side::from_name(name).map(Subject::Side)
    }
}

/// The sizes of the phases, from the environment.
#[derive(Debug)]
struct Settings {
    load_tickers: usize,
    load_seconds: u64,
    idle_tickers: usize,
    idle_seconds: u64,
}

impl Settings {
    fn from_env() -> BoxResult<Self> {
        Ok(Settings {
            load_tickers: env_number("BENCH_TICKERS", 1_000)?,
            load_seconds: env_number("BENCH_SECONDS", 3)?,
            idle_tickers: env_number("BENCH_IDLE_TICKERS", 10_000)?,
            idle_seconds: env_number("BENCH_IDLE_SECONDS", 5)?,
        })
    }
}

/// The positive number in the environment variable `name`, else `default`.
fn env_number<T>(name: &str, default: T) -> BoxResult<T>
where
    T: std::str::FromStr + PartialOrd + From<u8>,
    T::Err: std::fmt::Display,
{
    let Ok(text) = std::env::var(name) else {
        return Ok(default);
    };
    let value = text
        .trim()
        .parse::<T>()
        .map_err(|err| format!("{name}={text:?}: {err}"))?;
    if value < T::from(1) {
        return Err(format!("{name}={text:?}: use at least 1").into());
    }
    Ok(value)
}

/// The runtime of every child, on both sides: multi-threaded, [`WORKER_THREADS`] workers, the
/// time driver.
fn runtime() -> BoxResult<Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_time()
        .build()?)
}

/// How late run starts were: one histogram for all the tickers of a process, in 1 µs buckets.
/// Every side records into it with the same code.
#[derive(Debug)]
struct Lateness {
    buckets: Box<[AtomicU64]>,
    /// Starts later than the last bucket: how many, and the latest.
    beyond: AtomicU64,
    max_micros: AtomicU64,
}

impl Lateness {
    /// A histogram of `range` that lives as long as the process, so the tick functions need no
    /// `Arc`.
    fn leak(range: Duration) -> &'static Self {
        let micros = usize::try_from(range.as_micros()).unwrap_or(usize::MAX);
        Box::leak(Box::new(Lateness {
            buckets: (0..micros).map(|_| AtomicU64::new(0)).collect(),
            beyond: AtomicU64::new(0),
            max_micros: AtomicU64::new(0),
        }))
    }

    /// Records a run that starts now, for a tick due at `scheduled`: the tick's work.
    fn record(&self, scheduled: Instant) {
        let late = Instant::now().saturating_duration_since(scheduled);
        let micros = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
        match usize::try_from(micros)
            .ok()
            .and_then(|at| self.buckets.get(at))
        {
            Some(bucket) => {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                self.beyond.fetch_add(1, Ordering::Relaxed);
                self.max_micros.fetch_max(micros, Ordering::Relaxed);
            }
        }
    }

    /// How many runs were recorded so far.
    fn count(&self) -> u64 {
        self.snapshot().count()
    }

    /// The counts so far.
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            buckets: self
                .buckets
                .iter()
                .map(|bucket| bucket.load(Ordering::Relaxed))
                .collect(),
            beyond: self.beyond.load(Ordering::Relaxed),
            max_micros: self.max_micros.load(Ordering::Relaxed),
        }
    }
}

/// The counts of a [`Lateness`] at one moment.
#[derive(Debug)]
struct Snapshot {
    buckets: Vec<u64>,
    beyond: u64,
    max_micros: u64,
}

impl Snapshot {
    fn count(&self) -> u64 {
        self.buckets.iter().sum::<u64>() + self.beyond
    }

    /// The `p`th percentile (0..=100), in whole µs.
    fn percentile(&self, p: u64) -> u64 {
        let rank = (self.count() * p).div_ceil(100).max(1);
        let mut seen = 0;
        for (micros, count) in (0..).zip(&self.buckets) {
            seen += count;
            if seen >= rank {
                return micros;
            }
        }
        self.max_micros
    }
}

/// A ticker of our side, not started.
fn our_ticker(period: Duration, lateness: &'static Lateness) -> BoxResult<Ticker> {
    Ok(Ticker::new(period, move |tick: TickContext| async move {
        lateness.record(tick.scheduled());
        Ok::<_, std::io::Error>(())
    })?)
}

/// A baseline ticker, started now: the loop a service would write with raw tokio.
fn spawn_raw(
    period: Duration,
    lateness: &'static Lateness,
    token: CancellationToken,
) -> JoinHandle<()> {
    let start = Instant::now();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval_at(start + period, period);
        interval.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                scheduled = interval.tick() => lateness.record(scheduled),
                () = token.cancelled() => break,
            }
        }
    })
}

/// A `tokio-cron-scheduler` job repeated every `period` (whole seconds) that records its
/// lateness. The crate does not tell a job when it was due: its `k`th run (from 0) is due `k`
/// periods after `first_due`, set once the job is added.
fn peer_job(
    period: Duration,
    first_due: Arc<OnceLock<Instant>>,
    lateness: &'static Lateness,
) -> BoxResult<Job> {
    let mut runs = 0_u32;
    Ok(Job::new_repeated_async(period, move |_job, _scheduler| {
        let due = first_due
            .get()
            .map(|first| *first + period.saturating_mul(runs));
        runs = runs.saturating_add(1);
        Box::pin(async move {
            if let Some(due) = due {
                lateness.record(due);
            }
        })
    })?)
}

/// The [`Instant`] of the wall-clock time `unix_seconds` seconds after the Unix epoch.
fn instant_of_unix(unix_seconds: i64) -> BoxResult<Instant> {
    let wall = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix_seconds)?);
    let (wall_now, now) = (SystemTime::now(), Instant::now());
    Ok(match wall.duration_since(wall_now) {
        Ok(ahead) => now + ahead,
        Err(behind) => now
            .checked_sub(behind.duration())
            .ok_or("a peer job was due before the clock's start")?,
    })
}

/// When a fleet's tickers were started.
#[derive(Debug, Clone, Copy)]
struct Started {
    /// Just before the first ticker was started: its planned start, and the origin of the plan.
    first: Instant,
    /// Just after the last ticker was started.
    last: Instant,
}

impl Started {
    /// How long starting them all took.
    fn took(self) -> Duration {
        self.last - self.first
    }
}

/// Waits for the planned start of ticker `i`, [`START_PACE`] times `i` after `first`, unless it
/// has come. tokio's timer wakes the caller on the millisecond after it.
async fn pace(first: Instant, i: usize) {
    let planned = first + START_PACE.saturating_mul(u32::try_from(i).unwrap_or(u32::MAX));
    if Instant::now() < planned {
        tokio::time::sleep_until(planned).await;
    }
}

/// The started tickers of one subject.
enum Fleet {
    Ours(Vec<Ticker>),
    Raw(Vec<(CancellationToken, JoinHandle<()>)>),
    Peer(JobScheduler),
}

impl Fleet {
    /// Starts `n` tickers (or jobs) of `subject`, each at its planned start (see [`pace`]).
    async fn start(
        subject: Subject,
        n: usize,
        period: Duration,
        lateness: &'static Lateness,
    ) -> BoxResult<(Fleet, Started)> {
        let first = Instant::now();
        let fleet = match subject {
            Subject::Side(Side::Ours) => {
                let mut tickers = Vec::with_capacity(n);
                for i in 0..n {
                    pace(first, i).await;
                    let ticker = our_ticker(period, lateness)?;
                    ticker.start().await?;
                    tickers.push(ticker);
                }
                Fleet::Ours(tickers)
            }
            Subject::Side(Side::Raw) => {
                let mut tasks = Vec::with_capacity(n);
                for i in 0..n {
                    pace(first, i).await;
                    let token = CancellationToken::new();
                    let handle = spawn_raw(period, lateness, token.clone());
                    tasks.push((token, handle));
                }
                Fleet::Raw(tasks)
            }
            Subject::Peer => {
                let mut scheduler =
                    JobScheduler::new_with_channel_size(n.max(50) * PEER_CHANNEL_PER_JOB).await?;
                for i in 0..n {
                    pace(first, i).await;
                    let first_due = Arc::new(OnceLock::new());
                    let id = scheduler
                        .add(peer_job(period, Arc::clone(&first_due), lateness)?)
                        .await?;
                    let due = scheduler
                        .next_tick_for_job(id)
                        .await?
                        .ok_or("a peer job has no next tick")?;
                    // Set before `start`, so before the job's first run.
                    first_due
                        .set(instant_of_unix(due.timestamp())?)
                        .map_err(|_| "a peer job's first due time was set twice")?;
                }
                scheduler.start().await?;
                Fleet::Peer(scheduler)
            }
        };
        let last = Instant::now();
        Ok((fleet, Started { first, last }))
    }

    /// Stops every ticker and waits for it to end (the peer's scheduler: stops its checks).
    async fn stop(self) -> BoxResult<()> {
        match self {
            Fleet::Ours(tickers) => {
                for ticker in &tickers {
                    ticker.stop().await?;
                }
            }
            Fleet::Raw(tasks) => {
                for (token, _) in &tasks {
                    token.cancel();
                }
                for (_, handle) in tasks {
                    handle.await?;
                }
            }
            Fleet::Peer(mut scheduler) => scheduler.shutdown().await?,
        }
        Ok(())
    }
}

/// Runs a few tickers of both sides briefly, whichever subject the child measures, so that
/// lazily initialised state (the timer wheel's levels, thread-locals, the allocator's arenas on
/// both worker threads) is not charged to the measurement.
async fn warm_up() -> BoxResult<()> {
    let lateness = Lateness::leak(HISTOGRAM_RANGE);
    for side in [Side::Ours, Side::Raw] {
        let (fleet, _) =
            Fleet::start(Subject::Side(side), 100, Duration::from_millis(1), lateness).await?;
        tokio::time::sleep(Duration::from_millis(20)).await;
        fleet.stop().await?;
    }
    Ok(())
}

/// CPU time and context switches of the whole process so far.
#[derive(Debug, Clone, Copy)]
struct Usage {
    /// Time on a CPU of every thread, in ns, from `/proc/self/task/*/schedstat`.
    cpu_ns: u64,
    /// utime + stime from `/proc/self/stat`, in clock ticks.
    clock_ticks: u64,
    /// Voluntary and involuntary context switches of every thread.
    switches: u64,
}

/// `USER_HZ`, the unit of the times in `/proc/self/stat`: 100 on every Linux architecture
/// (what `getconf CLK_TCK` prints).
const CLOCK_TICKS_PER_SECOND: u64 = 100;

impl Usage {
    fn now() -> BoxResult<Self> {
        let cpu_ns = per_thread("schedstat", |text| {
            Ok(text
                .split_whitespace()
                .next()
                .ok_or("empty schedstat")?
                .parse::<u64>()?)
        })?;
        let switches = per_thread("status", |text| {
            let mut sum = 0;
            for line in text.lines() {
                if let Some(value) = line
                    .strip_prefix("voluntary_ctxt_switches:")
                    .or_else(|| line.strip_prefix("nonvoluntary_ctxt_switches:"))
                {
                    sum += value.trim().parse::<u64>()?;
                }
            }
            Ok(sum)
        })?;
        // Fields 14 and 15 (utime, stime), counted after the `(comm)` field, which may hold
        // spaces.
        let stat = std::fs::read_to_string("/proc/self/stat")?;
        let fields = stat
            .rsplit_once(')')
            .ok_or("/proc/self/stat has no `)`")?
            .1
            .split_whitespace()
            .collect::<Vec<_>>();
        let field = |n: usize| -> BoxResult<u64> {
            Ok(fields
                .get(n - 3)
                .ok_or_else(|| format!("/proc/self/stat has no field {n}"))?
                .parse::<u64>()?)
        };
        Ok(Usage {
            cpu_ns,
            clock_ticks: field(14)? + field(15)?,
            switches,
        })
    }

    /// The usage between `earlier` and `self`.
    fn since(self, earlier: Usage) -> Usage {
        Usage {
            cpu_ns: self.cpu_ns.saturating_sub(earlier.cpu_ns),
            clock_ticks: self.clock_ticks.saturating_sub(earlier.clock_ticks),
            switches: self.switches.saturating_sub(earlier.switches),
        }
    }
}

/// The sum of `parse` over `/proc/self/task/*/FILE`, for every thread of the process. A thread
/// that exits while we read is skipped.
fn per_thread(file: &str, parse: impl Fn(&str) -> BoxResult<u64>) -> BoxResult<u64> {
    let mut sum = 0;
    for entry in std::fs::read_dir("/proc/self/task")? {
        match std::fs::read_to_string(entry?.path().join(file)) {
            Ok(text) => sum += parse(&text)?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(sum)
}

/// What a child prints: one line of `key=value` pairs.
fn report(pairs: &[(&str, u64)]) {
    let line = pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>();
    println!("{}", line.join(" "));
}

/// `duration` in whole µs, for a report.
fn micros(duration: Duration) -> BoxResult<u64> {
    Ok(u64::try_from(duration.as_micros())?)
}

/// The load child: `load_tickers` tickers (or jobs) of `subject` at `period` for `load_seconds`.
fn load_child(subject: Subject, period: Duration, settings: &Settings) -> BoxResult<()> {
    let lateness = Lateness::leak(HISTOGRAM_RANGE.max(period));
    runtime()?.block_on(async {
        warm_up().await?;
        let before = Usage::now()?;
        let (fleet, started) =
            Fleet::start(subject, settings.load_tickers, period, lateness).await?;
        tokio::time::sleep_until(started.last + Duration::from_secs(settings.load_seconds)).await;
        let usage = Usage::now()?.since(before);
        // The runs up to here: not those that start while the tickers are being stopped.
        let lateness = lateness.snapshot();
        fleet.stop().await?;
        let runs = lateness.count();
        report(&[
            ("p50_us", lateness.percentile(50)),
            ("p99_us", lateness.percentile(99)),
            ("max_us", lateness.percentile(100)),
            ("runs", runs),
            ("cpu_ns", usage.cpu_ns),
            ("cpu_per_run_ns", usage.cpu_ns / runs.max(1)),
            ("clock_ticks", usage.clock_ticks),
            ("switches", usage.switches),
            ("start_us", micros(started.took())?),
        ]);
        Ok(())
    })
}

/// The start child: `idle_tickers` tickers of `side` built and started one after the other,
/// as fast as they go (no pacing: what is measured is the start itself), then stopped one after
/// the other. Reports the wall time and the process's CPU time per ticker for each, the CPU
/// time including the tasks' first polls on the worker threads. A stop that waits for its
/// task to end costs two thread wake-ups when the task sits on a parked worker: that is most
/// of a stop, on both sides.
fn start_child(side: Side, settings: &Settings) -> BoxResult<()> {
    let lateness = Lateness::leak(HISTOGRAM_RANGE);
    runtime()?.block_on(async {
        warm_up().await?;
        let n = settings.idle_tickers;
        let before = Usage::now()?;
        let began = Instant::now();
        let fleet = match side {
            Side::Ours => {
                let mut tickers = Vec::with_capacity(n);
                for _ in 0..n {
                    let ticker = our_ticker(IDLE_PERIOD, lateness)?;
                    ticker.start().await?;
                    tickers.push(ticker);
                }
                Fleet::Ours(tickers)
            }
            Side::Raw => {
                let mut tasks = Vec::with_capacity(n);
                for _ in 0..n {
                    let token = CancellationToken::new();
                    let handle = spawn_raw(IDLE_PERIOD, lateness, token.clone());
                    tasks.push((token, handle));
                }
                Fleet::Raw(tasks)
            }
        };
        let started_wall = began.elapsed();
        // Let every task take its first poll (on the workers), as the CPU time should count it.
        tokio::time::sleep(SETTLE).await;
        let started = Usage::now()?.since(before);
        // One after the other on both sides: each stop returns once that ticker's task ended
        // (for raw tokio, cancel the token and await the task).
        let stop_began = Instant::now();
        let before = Usage::now()?;
        match fleet {
            Fleet::Ours(tickers) => {
                for ticker in &tickers {
                    ticker.stop().await?;
                }
            }
            Fleet::Raw(tasks) => {
                for (token, handle) in tasks {
                    token.cancel();
                    handle.await?;
                }
            }
            Fleet::Peer(_) => return Err("the start phase has no peer".into()),
        }
        let stopped_wall = stop_began.elapsed();
        let stopped = Usage::now()?.since(before);
        let per = |total: u64| total / (n as u64);
        report(&[
            (
                "start_wall_ns",
                per(u64::try_from(started_wall.as_nanos())?),
            ),
            ("start_cpu_ns", per(started.cpu_ns)),
            ("stop_wall_ns", per(u64::try_from(stopped_wall.as_nanos())?)),
            ("stop_cpu_ns", per(stopped.cpu_ns)),
        ]);
        Ok(())
    })
}

/// The idle child: `idle_tickers` tickers of `side` at [`IDLE_PERIOD`]; their memory, the cost
/// of the quiet gap before the first tick, and the cost of `idle_seconds` of mostly sleeping.
fn idle_child(side: Side, settings: &Settings) -> BoxResult<()> {
    let lateness = Lateness::leak(HISTOGRAM_RANGE);
    runtime()?.block_on(async {
        warm_up().await?;
        // Let the warm-up's tasks finish and free their memory.
        tokio::time::sleep(Duration::from_millis(50)).await;

        let rss_before = resident_bytes()?;
        let (fleet, started) = Fleet::start(
            Subject::Side(side),
            settings.idle_tickers,
            IDLE_PERIOD,
            lateness,
        )
        .await?;
        tokio::time::sleep(SETTLE).await;
        let rss_after = resident_bytes()?;

        // The quiet gap: every task is parked and no tick is due until one period after the
        // first start.
        let gap_end = started.first + IDLE_PERIOD - MARGIN;
        let gap_start = Instant::now();
        let quiet_before = Usage::now()?;
        tokio::time::sleep_until(gap_end).await;
        let quiet = Usage::now()?.since(quiet_before);
        let quiet_ns = u64::try_from(gap_end.saturating_duration_since(gap_start).as_nanos())?;
        if lateness.count() != 0 {
            return Err(format!(
                "a ticker ticked before the resident set was read: starting {} tickers took {:?}, \
                 more than the period minus {SETTLE:?}",
                settings.idle_tickers,
                started.took()
            )
            .into());
        }

        // Every ticker ticks once, one period after its start; the window starts after the
        // last of those and holds `idle_seconds` ticks of each.
        tokio::time::sleep_until(started.last + IDLE_PERIOD + MARGIN).await;
        let ticked = lateness.count();
        let before = Usage::now()?;
        tokio::time::sleep(Duration::from_secs(settings.idle_seconds)).await;
        let usage = Usage::now()?.since(before);
        let lateness = lateness.snapshot();
        let window_runs = lateness.count() - ticked;
        fleet.stop().await?;
        report(&[
            ("rss_bytes", rss_after.saturating_sub(rss_before)),
            ("start_us", micros(started.took())?),
            ("quiet_ns", quiet_ns),
            ("quiet_cpu_ns", quiet.cpu_ns),
            ("quiet_switches", quiet.switches),
            ("first_runs", ticked),
            ("runs", window_runs),
            ("cpu_ns", usage.cpu_ns),
            ("cpu_per_run_ns", usage.cpu_ns / window_runs.max(1)),
            ("clock_ticks", usage.clock_ticks),
            ("switches", usage.switches),
            ("p99_us", lateness.percentile(99)),
        ]);
        Ok(())
    })
}

/// One child's report.
type Report = HashMap<String, u64>;

/// Runs the child `flag SUBJECT extra…` `runs` times for each of the two `subjects`, alternately
/// (the subject that goes first alternates too), and returns the reports of each.
fn run_children(
    flag: &str,
    subjects: [Subject; 2],
    extra: &[&str],
    runs: usize,
) -> BoxResult<[Vec<Report>; 2]> {
    let exe = std::env::current_exe()?;
    let mut reports = [Vec::with_capacity(runs), Vec::with_capacity(runs)];
    for round in 0..runs {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in order {
            let name = subjects[index].name();
            let output = Command::new(&exe)
                .args([flag, name])
                .args(extra)
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()?;
            let shown = format!("child `{flag} {name} {}`", extra.join(" "));
            if !output.status.success() {
                return Err(format!("{shown} {}", output.status).into());
            }
            let stdout = String::from_utf8(output.stdout)?;
            let mut report = Report::new();
            for pair in stdout.split_whitespace() {
                let (key, value) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{shown} printed {stdout:?}"))?;
                let value = value
                    .parse::<u64>()
                    .map_err(|err| format!("{shown} printed {stdout:?}: {err}"))?;
                report.insert(key.to_owned(), value);
            }
            reports[index].push(report);
        }
    }
    Ok(reports)
}

/// The median of every metric of each subject's reports: the one tested (ours, or the peer),
/// and the raw tokio baseline.
#[derive(Debug)]
struct Medians {
    tested: Report,
    baseline: Report,
    /// How many runs each subject had.
    runs: usize,
    /// Every run's reports, in the order they ran: tested, baseline.
    all: [Vec<Report>; 2],
}

impl Medians {
    fn of(all: [Vec<Report>; 2]) -> Self {
        Medians {
            tested: median_report(&all[0]),
            baseline: median_report(&all[1]),
            runs: all[0].len(),
            all,
        }
    }

    /// Every run's `key`, formatted by `show`: tested, baseline.
    fn each(&self, key: &str, show: impl Fn(u64) -> String) -> [String; 2] {
        self.all.each_ref().map(|reports| {
            reports
                .iter()
                .map(|report| show(report.get(key).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The medians of `key`: tested, baseline.
    fn get(&self, key: &str) -> (u64, u64) {
        let value = |report: &Report| report.get(key).copied().unwrap_or(0);
        (value(&self.tested), value(&self.baseline))
    }
}

fn median_report(reports: &[Report]) -> Report {
    let Some(first) = reports.first() else {
        return Report::new();
    };
    first
        .keys()
        .map(|key| {
            let mut values = reports
                .iter()
                .map(|report| report.get(key).copied().unwrap_or(0))
                .collect::<Vec<_>>();
            (key.clone(), median(&mut values))
        })
        .collect()
}

/// `ours - baseline`, signed.
fn difference(ours: u64, baseline: u64) -> i64 {
    i64::try_from(ours).unwrap_or(i64::MAX) - i64::try_from(baseline).unwrap_or(i64::MAX)
}

/// How a row is compared.
enum Goal {
    /// Informational: the ratio, no goal.
    None,
    /// Informational: the difference ours - baseline, no goal.
    NoneDiff,
    /// ours / baseline at most this.
    Ratio(f64),
    /// ours - baseline at most this.
    Diff(i64),
}

/// What a row's values count, and how they are shown.
#[derive(Debug, Clone, Copy)]
enum Unit {
    /// ns, shown in ms.
    NanosAsMillis,
    /// ns.
    Nanos,
    /// µs, shown in ms from 10 ms.
    Micros,
    /// Bytes.
    Bytes,
    /// A count.
    Count,
}

impl Unit {
    fn show(self, value: u64) -> String {
        match self {
            Unit::NanosAsMillis => format!("{:.1} ms", value as f64 / 1e6),
            Unit::Nanos => format!("{value} ns"),
            Unit::Micros if value >= 10_000 => format!("{:.1} ms", value as f64 / 1e3),
            Unit::Micros => format!("{value} µs"),
            Unit::Bytes => format!("{value} B"),
            Unit::Count => value.to_string(),
        }
    }

    /// A signed difference of two values.
    fn show_signed(self, value: i64) -> String {
        match self {
            Unit::NanosAsMillis => format!("{:+.1} ms", value as f64 / 1e6),
            Unit::Nanos => format!("{value:+} ns"),
            Unit::Micros if value.unsigned_abs() >= 10_000 => {
                format!("{:+.1} ms", value as f64 / 1e3)
            }
            Unit::Micros => format!("{value:+} µs"),
            Unit::Bytes => format!("{value:+} B"),
            Unit::Count => format!("{value:+}"),
        }
    }
}

fn print_table(
    settings: &Settings,
    load: &Medians,
    idle: &Medians,
    start: &Medians,
    peer: &Medians,
) {
    let Settings {
        load_tickers,
        load_seconds,
        idle_tickers,
        idle_seconds,
    } = settings;
    let load_period = LOAD_PERIOD.as_millis();
    let idle_period = IDLE_PERIOD.as_secs();
    let peer_period = PEER_PERIOD.as_secs();
    let ms = |ns: u64| ns as f64 / 1e6;
    let per_ticker = |bytes: u64| bytes / (*idle_tickers as u64);
    let planned = |tickers: usize| {
        START_PACE.saturating_mul(u32::try_from(tickers.saturating_sub(1)).unwrap_or(u32::MAX))
    };

    println!(
        "runner-ticker benchmark: Ticker vs raw tokio interval_at + select! loop (multi-thread \
         runtime, {WORKER_THREADS} workers; each side in its own child processes, alternately)"
    );
    println!(
        "load: {load_tickers} tickers @ {load_period} ms for {load_seconds} s, median of {} runs \
         per side; idle: {idle_tickers} tickers @ {idle_period} s, median of {} runs per side; \
         both sides start ticker i at the same planned instant, {} µs apart",
        load.runs,
        idle.runs,
        START_PACE.as_micros()
    );
    println!(
        "peer: the load's {load_tickers} jobs run by tokio-cron-scheduler @ {peer_period} s (its \
         finest period: whole seconds, checked every 500 ms) against raw tokio @ {peer_period} s, \
         median of {} runs each; in the peer rows, `ours` is tokio-cron-scheduler",
        peer.runs
    );
    let (quiet_ours, quiet_raw) = idle.get("quiet_switches");
    let (quiet_cpu_ours, quiet_cpu_raw) = idle.get("quiet_cpu_ns");
    let (quiet_ns, _) = idle.get("quiet_ns");
    println!(
        "idle tickers sleep until their next tick, no background wake-ups: in the {:.0} ms before \
         the first tick is due, {idle_tickers} started tickers cost {} thread wake-ups and \
         {:.2} ms CPU (raw tokio: {} and {:.2} ms)",
        ms(quiet_ns),
        quiet_ours,
        ms(quiet_cpu_ours),
        quiet_raw,
        ms(quiet_cpu_raw)
    );
    println!(
        "{:<54} {:<12} {:<12} {:<10} goal",
        "metric", "ours", "baseline", "ratio"
    );

    let rows: [(String, (u64, u64), Unit, Goal); 15] = [
        (
            "load: run-start lateness p50".to_owned(),
            load.get("p50_us"),
            Unit::Micros,
            Goal::NoneDiff,
        ),
        (
            "load: run-start lateness p99".to_owned(),
            load.get("p99_us"),
            Unit::Micros,
            Goal::Diff(LATENESS_GOAL_MICROS),
        ),
        (
            format!("load: CPU time, {load_seconds} s"),
            load.get("cpu_ns"),
            Unit::NanosAsMillis,
            Goal::Ratio(CPU_GOAL),
        ),
        (
            "load: CPU per run".to_owned(),
            load.get("cpu_per_run_ns"),
            Unit::Nanos,
            Goal::None,
        ),
        (
            format!("idle: CPU time, {idle_seconds} s"),
            idle.get("cpu_ns"),
            Unit::NanosAsMillis,
            Goal::Ratio(CPU_GOAL),
        ),
        (
            "idle: CPU per run".to_owned(),
            idle.get("cpu_per_run_ns"),
            Unit::Nanos,
            Goal::None,
        ),
        (
            format!("idle: thread wake-ups, {idle_seconds} s"),
            idle.get("switches"),
            Unit::Count,
            Goal::None,
        ),
        (
            "idle: memory per ticker".to_owned(),
            {
                let (ours, raw) = idle.get("rss_bytes");
                (per_ticker(ours), per_ticker(raw))
            },
            Unit::Bytes,
            Goal::Ratio(MEMORY_GOAL),
        ),
        (
            format!("start: wall time per ticker, {idle_tickers} unpaced"),
            start.get("start_wall_ns"),
            Unit::Nanos,
            Goal::None,
        ),
        (
            "start: CPU per ticker".to_owned(),
            start.get("start_cpu_ns"),
            Unit::Nanos,
            Goal::None,
        ),
        (
            "stop: wall time per ticker, one after the other (see below)".to_owned(),
            start.get("stop_wall_ns"),
            Unit::Nanos,
            Goal::None,
        ),
        (
            "stop: CPU per ticker".to_owned(),
            start.get("stop_cpu_ns"),
            Unit::Nanos,
            Goal::None,
        ),
        (
            "idle: run-start lateness p99 (noisy, see below)".to_owned(),
            idle.get("p99_us"),
            Unit::Micros,
            Goal::NoneDiff,
        ),
        (
            format!(
                "peer (tokio-cron-scheduler): load CPU time @ {peer_period} s, {load_seconds} s"
            ),
            peer.get("cpu_ns"),
            Unit::NanosAsMillis,
            Goal::None,
        ),
        (
            format!("peer: run-start lateness p99 @ {peer_period} s"),
            peer.get("p99_us"),
            Unit::Micros,
            Goal::NoneDiff,
        ),
    ];
    let mut missed = Vec::new();
    for (metric, (ours, baseline), unit, goal) in rows {
        let (compared, verdict) = match goal {
            Goal::None => (format!("{:.2}", ratio(ours, baseline)), "-".to_owned()),
            Goal::NoneDiff => (unit.show_signed(difference(ours, baseline)), "-".to_owned()),
            Goal::Ratio(goal) => {
                // Compared as printed, to two decimals, so that the table never reads
                // "1.20 <= 1.2 MISSED".
                let ratio = (ratio(ours, baseline) * 100.0).round() / 100.0;
                let met = ratio <= goal;
                if !met {
                    missed.push(metric.clone());
                }
                (
                    format!("{ratio:.2}"),
                    format!("<= {goal}  {}", if met { "met" } else { "MISSED" }),
                )
            }
            Goal::Diff(goal) => {
                let diff = difference(ours, baseline);
                let met = diff <= goal;
                if !met {
                    missed.push(metric.clone());
                }
                (
                    unit.show_signed(diff),
                    format!("<= +{goal} µs  {}", if met { "met" } else { "MISSED" }),
                )
            }
        };
        println!(
            "{metric:<54} {:<12} {:<12} {compared:<10} {verdict}",
            unit.show(ours),
            unit.show(baseline)
        );
    }

    let ms_text = |ns: u64| format!("{:.1}", ms(ns));
    let us_as_ms = |us: u64| format!("{:.1}", us as f64 / 1e3);
    let (runs_ours, runs_raw) = load.get("runs");
    let (ticks_ours, ticks_raw) = load.get("clock_ticks");
    let (start_ours, start_raw) = load.get("start_us");
    println!(
        "load: runs recorded ours {runs_ours}, baseline {runs_raw}; utime+stime ours {} ms, \
         baseline {} ms (10 ms clock ticks); starting them all took ours {} ms, baseline {} ms \
         (planned {:.3} ms)",
        ticks_ours * 1000 / CLOCK_TICKS_PER_SECOND,
        ticks_raw * 1000 / CLOCK_TICKS_PER_SECOND,
        us_as_ms(start_ours),
        us_as_ms(start_raw),
        planned(*load_tickers).as_secs_f64() * 1e3,
    );
    let [p99_ours, p99_raw] = load.each("p99_us", |us| us.to_string());
    let [cpu_ours, cpu_raw] = load.each("cpu_ns", ms_text);
    println!(
        "load, every run: p99 µs ours [{p99_ours}], baseline [{p99_raw}]; CPU ms ours \
         [{cpu_ours}], baseline [{cpu_raw}]"
    );
    let [cpu_ours, cpu_raw] = idle.each("cpu_ns", ms_text);
    let [rss_ours, rss_raw] = idle.each("rss_bytes", |bytes| per_ticker(bytes).to_string());
    let [p99_ours, p99_raw] = idle.each("p99_us", |us| us.to_string());
    println!(
        "idle, every run: CPU ms ours [{cpu_ours}], baseline [{cpu_raw}]; B per ticker ours \
         [{rss_ours}], baseline [{rss_raw}]; run-start lateness p99 µs ours [{p99_ours}], \
         baseline [{p99_raw}]"
    );
    let (runs_ours, runs_raw) = idle.get("runs");
    let (ticks_ours, ticks_raw) = idle.get("clock_ticks");
    let (start_ours, start_raw) = idle.get("start_us");
    let (rss_ours, rss_raw) = idle.get("rss_bytes");
    println!(
        "idle: runs in the window ours {runs_ours}, baseline {runs_raw}; utime+stime ours {} ms, \
         baseline {} ms",
        ticks_ours * 1000 / CLOCK_TICKS_PER_SECOND,
        ticks_raw * 1000 / CLOCK_TICKS_PER_SECOND,
    );
    println!(
        "idle: resident-set growth for {idle_tickers} tickers, {} ms after the last start: ours \
         {rss_ours} B, baseline {rss_raw} B; starting them all took ours {} ms, baseline {} ms \
         (planned {:.1} ms)",
        SETTLE.as_millis(),
        us_as_ms(start_ours),
        us_as_ms(start_raw),
        planned(*idle_tickers).as_secs_f64() * 1e3,
    );
    let [p99_peer, p99_raw] = peer.each("p99_us", us_as_ms);
    let [cpu_peer, cpu_raw] = peer.each("cpu_ns", ms_text);
    let [runs_peer, runs_raw] = peer.each("runs", |runs| runs.to_string());
    let (start_peer, start_raw) = peer.get("start_us");
    println!(
        "peer, every run: p99 ms tokio-cron-scheduler [{p99_peer}], raw tokio [{p99_raw}]; CPU \
         ms [{cpu_peer}], [{cpu_raw}]; runs [{runs_peer}], [{runs_raw}]; adding the jobs took \
         {} ms, starting the raw tickers {} ms",
        us_as_ms(start_peer),
        us_as_ms(start_raw),
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
