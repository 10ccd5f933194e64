//! Load and idle benchmark of [`Ticker`] against the raw tokio loop it replaces.
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
//! - **load** (`--load`, 3 runs per side: the 99th percentile of one run moves by several ms with
//!   the host's hiccups, on either side, so two runs are too few for a median): 1,000 tickers
//!   with a 10 ms period for 3 s. Reports the lateness of the run starts (p50, p99 over every run
//!   that started in those 3 s) and the CPU time of the whole process from just before the first
//!   `start` until 3 s after the last one (the stops are not counted).
//! - **idle** (`--idle`, 3 runs per side): 10,000 tickers with a 1 s period. Reports the growth
//!   of the resident set (`VmRSS` in `/proc/self/status`) from before the first `start` to 200 ms
//!   after the last one, when every task has parked and none has ticked yet; then the CPU time
//!   and the context switches of the process in the quiet gap before the first tick is due (no
//!   tick in it: what idling costs); then, after every ticker has ticked once, the CPU time over
//!   5 s in which each ticker ticks 5 times.
//!
//! CPU time is the sum of the first field of `/proc/self/task/*/schedstat` (time on a CPU, in
//! ns, of every thread of the process): nanosecond resolution, where `/proc/self/stat`'s
//! utime + stime counts in 10 ms clock ticks, too coarse for the tens of ms the idle phase costs.
//! The utime + stime figures are printed below the table as a cross-check. Context switches are
//! the sum of `voluntary_ctxt_switches` and `nonvoluntary_ctxt_switches` of every thread: each
//! time a thread parks and is woken counts, so they count the process's wake-ups. While ticking,
//! they follow how many distinct milliseconds the ticks fall in, that is how long starting all
//! the tickers took (printed below the table), so that row has no goal.
//!
//! Goals: p99 lateness at most 1 ms later than the baseline's; CPU time at most 1.2 times the
//! baseline's in both phases; memory per ticker at most twice the baseline's.
//!
//! `BENCH_TICKERS` and `BENCH_SECONDS` set the number of tickers (default 1,000) and the seconds
//! (default 3) of the load phase; `BENCH_IDLE_TICKERS` and `BENCH_IDLE_SECONDS` those of the idle
//! phase (defaults 10,000 and 5). The whole run takes about a minute with the defaults.
//!
//! The goals are printed, not enforced: a missed goal still exits 0; a panic or an error exits
//! non-zero.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use runner_bench::{BoxResult, Side, median, ratio, resident_bytes};
use runner_core::Runner;
use runner_ticker::{TickContext, Ticker};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// The period of the tickers in the load phase.
const LOAD_PERIOD: Duration = Duration::from_millis(10);
/// The period of the tickers in the idle phase.
const IDLE_PERIOD: Duration = Duration::from_secs(1);
/// Child processes per side in the load phase.
const LOAD_RUNS: usize = 3;
/// Child processes per side in the idle phase.
const IDLE_RUNS: usize = 3;
/// Worker threads of the runtime of every child, on both sides.
const WORKER_THREADS: usize = 2;
/// How long the idle child waits after the last `start` before reading the resident set: enough
/// for every task to be polled once and park, far less than the idle period.
const SETTLE: Duration = Duration::from_millis(200);
/// Margin kept between a measurement window of the idle phase and the nearest tick.
const MARGIN: Duration = Duration::from_millis(100);
/// The lateness histogram's range, in 1 µs buckets; later starts count beyond it.
const HISTOGRAM_MICROS: usize = 100_000;
/// Goal: ours minus baseline at the 99th percentile of lateness, in µs.
const LATENESS_GOAL_MICROS: i64 = 1_000;
/// Goal: ours / baseline CPU time, in both phases.
const CPU_GOAL: f64 = 1.2;
/// Goal: ours / baseline memory per ticker.
const MEMORY_GOAL: f64 = 2.0;

fn main() -> BoxResult<()> {
    let settings = Settings::from_env()?;
    // `cargo bench` passes `--bench`; our own arguments are `--load SIDE` and `--idle SIDE`.
    let args = std::env::args().skip(1).collect::<Vec<_>>();
    for (flag, child) in [
        ("--load", load_child as fn(Side, &Settings) -> BoxResult<()>),
        ("--idle", idle_child),
    ] {
        if let Some(at) = args.iter().position(|arg| arg == flag) {
            let side = args
                .get(at + 1)
                .and_then(|name| Side::from_name(name))
                .ok_or_else(|| format!("{flag} needs `ours` or `raw`"))?;
            return child(side, &settings);
        }
    }

    let load = Medians::of(run_children("--load", LOAD_RUNS)?);
    let idle = Medians::of(run_children("--idle", IDLE_RUNS)?);
    print_table(&settings, &load, &idle);
    Ok(())
}

/// The sizes of the two phases, from the environment.
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
/// Both sides record into it with the same code.
#[derive(Debug)]
struct Lateness {
    buckets: Box<[AtomicU64]>,
    /// Starts later than the last bucket: how many, and the latest.
    beyond: AtomicU64,
    max_micros: AtomicU64,
}

impl Lateness {
    /// A histogram that lives as long as the process, so the tick functions need no `Arc`.
    fn leak() -> &'static Self {
        Box::leak(Box::new(Lateness {
            buckets: (0..HISTOGRAM_MICROS).map(|_| AtomicU64::new(0)).collect(),
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

/// A started ticker of our side.
fn our_ticker(period: Duration, lateness: &'static Lateness) -> BoxResult<Ticker> {
    Ok(Ticker::new(period, move |tick: TickContext| async move {
        lateness.record(tick.scheduled());
        Ok::<_, std::io::Error>(())
    })?)
}

/// A baseline ticker, started: the loop a service would write with raw tokio.
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

/// The started tickers of one side.
enum Fleet {
    Ours(Vec<Ticker>),
    Raw(Vec<(CancellationToken, JoinHandle<()>)>),
}

impl Fleet {
    /// Starts `n` tickers of `side`, one after the other.
    async fn start(
        side: Side,
        n: usize,
        period: Duration,
        lateness: &'static Lateness,
    ) -> BoxResult<Fleet> {
        Ok(match side {
            Side::Ours => {
                let mut tickers = Vec::with_capacity(n);
                for _ in 0..n {
                    let ticker = our_ticker(period, lateness)?;
                    ticker.start().await?;
                    tickers.push(ticker);
                }
                Fleet::Ours(tickers)
            }
            Side::Raw => {
                let mut tasks = Vec::with_capacity(n);
                for _ in 0..n {
                    let token = CancellationToken::new();
                    let handle = spawn_raw(period, lateness, token.clone());
                    tasks.push((token, handle));
                }
                Fleet::Raw(tasks)
            }
        })
    }

    /// Stops every ticker and waits for it to end.
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
        }
        Ok(())
    }
}

/// Runs a few tickers of both sides briefly, whichever side the child measures, so that lazily
/// initialised state (the timer wheel's levels, thread-locals, the allocator's arenas on both
/// worker threads) is not charged to the measurement.
async fn warm_up() -> BoxResult<()> {
    let lateness = Lateness::leak();
    for side in [Side::Ours, Side::Raw] {
        let fleet = Fleet::start(side, 100, Duration::from_millis(1), lateness).await?;
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

/// The load child: `load_tickers` tickers of `side` at [`LOAD_PERIOD`] for `load_seconds`.
fn load_child(side: Side, settings: &Settings) -> BoxResult<()> {
    let lateness = Lateness::leak();
    runtime()?.block_on(async {
        warm_up().await?;
        let before = Usage::now()?;
        let fleet = Fleet::start(side, settings.load_tickers, LOAD_PERIOD, lateness).await?;
        tokio::time::sleep(Duration::from_secs(settings.load_seconds)).await;
        let usage = Usage::now()?.since(before);
        // The runs up to here: not those that start while the tickers are being stopped.
        let lateness = lateness.snapshot();
        fleet.stop().await?;
        report(&[
            ("p50_us", lateness.percentile(50)),
            ("p99_us", lateness.percentile(99)),
            ("max_us", lateness.percentile(100)),
            ("runs", lateness.count()),
            ("cpu_ns", usage.cpu_ns),
            ("clock_ticks", usage.clock_ticks),
            ("switches", usage.switches),
        ]);
        Ok(())
    })
}

/// The idle child: `idle_tickers` tickers of `side` at [`IDLE_PERIOD`]; their memory, the cost
/// of the quiet gap before the first tick, and the cost of `idle_seconds` of mostly sleeping.
fn idle_child(side: Side, settings: &Settings) -> BoxResult<()> {
    let lateness = Lateness::leak();
    runtime()?.block_on(async {
        warm_up().await?;
        // Let the warm-up's tasks finish and free their memory.
        tokio::time::sleep(Duration::from_millis(50)).await;

        let rss_before = resident_bytes()?;
        let first_started = Instant::now();
        let fleet = Fleet::start(side, settings.idle_tickers, IDLE_PERIOD, lateness).await?;
        let last_started = Instant::now();
        tokio::time::sleep(SETTLE).await;
        let rss_after = resident_bytes()?;

        // The quiet gap: every task is parked and no tick is due until `first_started + period`.
        let gap_end = first_started + IDLE_PERIOD - MARGIN;
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
                last_started - first_started
            )
            .into());
        }

        // Every ticker ticks once at about `started + period`; the window starts after the
        // latest of those and holds `idle_seconds` ticks of each.
        tokio::time::sleep_until(last_started + IDLE_PERIOD + MARGIN).await;
        let ticked = lateness.count();
        let before = Usage::now()?;
        tokio::time::sleep(Duration::from_secs(settings.idle_seconds)).await;
        let usage = Usage::now()?.since(before);
        let lateness = lateness.snapshot();
        let window_runs = lateness.count() - ticked;
        fleet.stop().await?;
        report(&[
            ("rss_bytes", rss_after.saturating_sub(rss_before)),
            (
                "start_us",
                u64::try_from((last_started - first_started).as_micros())?,
            ),
            ("quiet_ns", quiet_ns),
            ("quiet_cpu_ns", quiet.cpu_ns),
            ("quiet_switches", quiet.switches),
            ("first_runs", ticked),
            ("runs", window_runs),
            ("cpu_ns", usage.cpu_ns),
            ("clock_ticks", usage.clock_ticks),
            ("switches", usage.switches),
            ("p99_us", lateness.percentile(99)),
        ]);
        Ok(())
    })
}

/// One child's report.
type Report = HashMap<String, u64>;

/// Runs the `flag` child `runs` times per side, alternately (the side that goes first
/// alternates too), and returns the reports of each side.
fn run_children(flag: &str, runs: usize) -> BoxResult<[Vec<Report>; 2]> {
    let exe = std::env::current_exe()?;
    let mut reports = [Vec::with_capacity(runs), Vec::with_capacity(runs)];
    for round in 0..runs {
        let order = if round % 2 == 0 {
            [Side::Ours, Side::Raw]
        } else {
            [Side::Raw, Side::Ours]
        };
        for side in order {
            let output = Command::new(&exe)
                .args([flag, side.name()])
                .stdin(Stdio::null())
                .stderr(Stdio::inherit())
                .output()?;
            let shown = format!("child `{flag} {}`", side.name());
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
            reports[usize::from(side == Side::Raw)].push(report);
        }
    }
    Ok(reports)
}

/// The median of every metric of each side's reports.
#[derive(Debug)]
struct Medians {
    ours: Report,
    raw: Report,
    /// How many runs each side had.
    runs: usize,
    /// Every run's reports, in the order they ran: ours, baseline.
    all: [Vec<Report>; 2],
}

impl Medians {
    fn of(all: [Vec<Report>; 2]) -> Self {
        Medians {
            ours: median_report(&all[0]),
            raw: median_report(&all[1]),
            runs: all[0].len(),
            all,
        }
    }

    /// Every run's `key`, formatted by `show`: ours, baseline.
    fn each(&self, key: &str, show: impl Fn(u64) -> String) -> [String; 2] {
        self.all.each_ref().map(|reports| {
            reports
                .iter()
                .map(|report| show(report.get(key).copied().unwrap_or(0)))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// The medians of `key`: ours, baseline.
    fn get(&self, key: &str) -> (u64, u64) {
        let value = |report: &Report| report.get(key).copied().unwrap_or(0);
        (value(&self.ours), value(&self.raw))
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

fn print_table(settings: &Settings, load: &Medians, idle: &Medians) {
    let Settings {
        load_tickers,
        load_seconds,
        idle_tickers,
        idle_seconds,
    } = settings;
    let load_period = LOAD_PERIOD.as_millis();
    let idle_period = IDLE_PERIOD.as_secs();
    let ms = |ns: u64| ns as f64 / 1e6;
    let per_ticker = |bytes: u64| bytes / (*idle_tickers as u64);

    println!(
        "runner-ticker benchmark: Ticker vs raw tokio interval_at + select! loop (multi-thread \
         runtime, {WORKER_THREADS} workers; each side in its own child processes, alternately)"
    );
    println!(
        "load: {load_tickers} tickers @ {load_period} ms for {load_seconds} s, median of {} runs \
         per side; idle: {idle_tickers} tickers @ {idle_period} s, median of {} runs per side",
        load.runs, idle.runs
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
        "{:<36} {:<12} {:<12} {:<10} goal",
        "metric", "ours", "baseline", "ratio"
    );

    let rows: [(String, (u64, u64), &str, Goal); 7] = [
        (
            "load: run-start lateness p50".to_owned(),
            load.get("p50_us"),
            "µs",
            Goal::NoneDiff,
        ),
        (
            "load: run-start lateness p99".to_owned(),
            load.get("p99_us"),
            "µs",
            Goal::Diff(LATENESS_GOAL_MICROS),
        ),
        (
            format!("load: CPU time, {load_seconds} s"),
            load.get("cpu_ns"),
            "ns",
            Goal::Ratio(CPU_GOAL),
        ),
        (
            format!("idle: CPU time, {idle_seconds} s"),
            idle.get("cpu_ns"),
            "ns",
            Goal::Ratio(CPU_GOAL),
        ),
        (
            format!("idle: thread wake-ups, {idle_seconds} s"),
            idle.get("switches"),
            "",
            Goal::None,
        ),
        (
            "idle: memory per ticker".to_owned(),
            {
                let (ours, raw) = idle.get("rss_bytes");
                (per_ticker(ours), per_ticker(raw))
            },
            "B",
            Goal::Ratio(MEMORY_GOAL),
        ),
        (
            "idle: run-start lateness p99".to_owned(),
            idle.get("p99_us"),
            "µs",
            Goal::NoneDiff,
        ),
    ];
    let mut missed = Vec::new();
    for (metric, (ours, baseline), unit, goal) in rows {
        let show = |value: u64| match unit {
            "ns" => format!("{:.1} ms", ms(value)),
            "" => value.to_string(),
            unit => format!("{value} {unit}"),
        };
        let (compared, verdict) = match goal {
            Goal::None => (format!("{:.2}", ratio(ours, baseline)), "-".to_owned()),
            Goal::NoneDiff => (
                format!("{:+} µs", difference(ours, baseline)),
                "-".to_owned(),
            ),
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
                    format!("{diff:+} µs"),
                    format!("<= +{goal} µs  {}", if met { "met" } else { "MISSED" }),
                )
            }
        };
        println!(
            "{metric:<36} {:<12} {:<12} {compared:<10} {verdict}",
            show(ours),
            show(baseline)
        );
    }

    let (runs_ours, runs_raw) = load.get("runs");
    let (ticks_ours, ticks_raw) = load.get("clock_ticks");
    println!(
        "load: runs recorded ours {runs_ours}, baseline {runs_raw}; utime+stime ours {} ms, \
         baseline {} ms (10 ms clock ticks)",
        ticks_ours * 1000 / CLOCK_TICKS_PER_SECOND,
        ticks_raw * 1000 / CLOCK_TICKS_PER_SECOND,
    );
    let ms_text = |ns: u64| format!("{:.1}", ms(ns));
    let [p99_ours, p99_raw] = load.each("p99_us", |us| us.to_string());
    let [cpu_ours, cpu_raw] = load.each("cpu_ns", ms_text);
    println!(
        "load, every run: p99 µs ours [{p99_ours}], baseline [{p99_raw}]; CPU ms ours \
         [{cpu_ours}], baseline [{cpu_raw}]"
    );
    let [cpu_ours, cpu_raw] = idle.each("cpu_ns", ms_text);
    let [rss_ours, rss_raw] = idle.each("rss_bytes", |bytes| per_ticker(bytes).to_string());
    println!(
        "idle, every run: CPU ms ours [{cpu_ours}], baseline [{cpu_raw}]; B per ticker ours \
         [{rss_ours}], baseline [{rss_raw}]"
    );
    let (runs_ours, runs_raw) = idle.get("runs");
    let (ticks_ours, ticks_raw) = idle.get("clock_ticks");
    let (start_ours, start_raw) = idle.get("start_us");
    let (rss_ours, rss_raw) = idle.get("rss_bytes");
    println!(
        "idle: runs in the window ours {runs_ours}, baseline {runs_raw}; CPU per run ours {} ns, \
         baseline {} ns; utime+stime ours {} ms, baseline {} ms",
        idle.get("cpu_ns").0 / runs_ours.max(1),
        idle.get("cpu_ns").1 / runs_raw.max(1),
        ticks_ours * 1000 / CLOCK_TICKS_PER_SECOND,
        ticks_raw * 1000 / CLOCK_TICKS_PER_SECOND,
    );
    println!(
        "idle: resident-set growth for {idle_tickers} tickers, {} ms after the last start: ours \
         {rss_ours} B, baseline {rss_raw} B; starting them all took ours {} ms, baseline {} ms",
        SETTLE.as_millis(),
        ms(start_ours * 1000),
        ms(start_raw * 1000),
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
