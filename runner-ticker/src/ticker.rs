//! [`Ticker`]: a function run on a schedule, as a [`Runner`].

use core::fmt;
use core::future::Future;
use std::sync::Arc;
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Health, Runner, Snapshot, State, Status, Version};
use runner_lifecycle::control::Begin;
use runner_lifecycle::{Control, ReadyWhen, now, task};

use crate::builder::Builder;
use crate::config::Config;
use crate::context::TickContext;
use crate::engine::Engine;
use crate::error::{BoxError, BuildError, Error};
use crate::ledger::{Ledger, Tally};
use crate::schedule::Every;
use crate::shared::{Shared, TickFn};
use crate::state::{TickState, Ticking};
use crate::stats::{Gauge, Stats};

/// A [`Runner`] that runs an async function on a schedule: every period (or, with the `cron`
/// feature, on a cron expression), until stopped.
///
/// | situation | what happens |
/// |-----------|--------------|
/// | first run | one period after `start` ([`FirstRun::AfterPeriod`](crate::FirstRun), Go's behaviour), or at once |
/// | a run outlasts the period | runs never overlap; the tick that came due runs as soon as it ends, then [`MissedTicks`](crate::MissedTicks) decides: skip to the grid (default), burst, or delay |
/// | a run returns an error | recorded ([`Error::Run`]), counted; the ticker goes on |
/// | a run panics | caught, recorded with its message ([`Error::Panicked`]); the ticker goes on |
/// | a run exceeds `run_timeout` | dropped, recorded ([`Error::TimedOut`]); the ticker goes on |
/// | failed runs in a row | unhealthy after `unhealthy_after` (3), healthy again after `healthy_after` (1) successes |
/// | `stop` while idle | returns at once; no run starts after it |
/// | `stop` during a run | the run's token fires; it has `stop_grace` (5 s) to end, then is dropped and `stop` returns [`Error::Aborted`] |
/// | `start` outside a tokio runtime | [`Error::NoRuntime`], recorded; the ticker stays stopped |
/// | the ticker's runtime shuts down under it | [`Error::Abandoned`], recorded; `Failed`; a later `stop` returns at once |
/// | idle | the task sleeps until the next tick: no background wake-ups |
/// | a huge period or timeout (`Duration::MAX`) | saturates: "never" / "no limit", never a panic |
///
/// It implements [`Runner`], [`Status`] and [`ErrorHistory`], and passes the runner-core
/// conformance kit.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_core::{Runner, Status};
/// use runner_ticker::{TickContext, Ticker};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cleanup = Ticker::new(Duration::from_secs(60), |tick: TickContext| async move {
///     println!("cleanup #{} (due {:?})", tick.seq(), tick.scheduled());
///     Ok::<_, std::io::Error>(())
/// })?;
/// cleanup.start().await?;
/// tokio::time::sleep(Duration::from_secs(150)).await; // two runs, at 60 s and 120 s
/// cleanup.stop().await?;
/// assert_eq!(cleanup.stats().runs, 2);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Ticker {
    engine: Arc<dyn Engine>,
}

impl Ticker {
    /// A ticker running `function` every `period`, with the default settings (see [`Builder`]).
    ///
    /// # Errors
    ///
    /// [`BuildError::PeriodTooShort`] for a period below [`MIN_PERIOD`](crate::MIN_PERIOD).
    pub fn new<F, R, E>(period: Duration, function: F) -> Result<Ticker, BuildError>
    where
        F: Fn(TickContext) -> R + Send + Sync + 'static,
        R: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Ticker::builder(period, function).build()
    }

    /// A [`Builder`] for a ticker with other settings.
    pub fn builder<F, R, E>(period: Duration, function: F) -> Builder<F>
    where
        F: Fn(TickContext) -> R + Send + Sync + 'static,
        R: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Builder::new(Every::Period(period), function)
    }

    /// A [`Builder`] for a ticker running `function` at each occurrence of a cron schedule
    /// (feature `cron`).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_ticker::cron::CronSchedule;
    /// use runner_ticker::{TickContext, Ticker};
    ///
    /// let schedule = CronSchedule::parse("0 3 * * *", "Europe/Paris")?; // 03:00 every day
    /// let backup = Ticker::cron(schedule, |_tick: TickContext| async {
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .name("nightly-backup")
    /// .build()?;
    /// assert_eq!(backup.period(), None);
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "cron")]
    pub fn cron<F, R, E>(schedule: crate::cron::CronSchedule, function: F) -> Builder<F>
    where
        F: Fn(TickContext) -> R + Send + Sync + 'static,
        R: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Builder::new(Every::Cron(schedule), function)
    }

    pub(crate) fn from_parts<F: TickFn>(
        config: Config,
        error_capacity: usize,
        (unhealthy_after, healthy_after): (u32, u32),
        function: F,
    ) -> Self {
        let gauge = Gauge::new(unhealthy_after, healthy_after);
        let control = Control::new(error_capacity, TickState::new(config.every.period()));
        Ticker {
            engine: Arc::new(Shared {
                function,
                ledger: Ledger::new(),
                control,
                tally: Tally::new(gauge, now()),
                config,
            }),
        }
    }

    /// The name given to the [`Builder`].
    #[must_use]
    pub fn name(&self) -> &str {
        &self.engine.config().name
    }

    /// The period in force (changed by [`TickContext::set_period`]), or `None` on a cron
    /// schedule.
    #[must_use]
    pub fn period(&self) -> Option<Duration> {
        self.engine.control().period()
    }

    /// Counts and timings of the runs since the ticker was built: one consistent view, read
    /// without stopping the ticker.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.engine.ledger().stats(self.engine.tally())
    }

    /// Resolves once at least `runs` runs have ended since the ticker was built (however they
    /// ended), with the statistics as they were then. Never polls: the ticker's task wakes it
    /// when a run ends. Use it to wait for a first run (`until_runs(1)`, a cache warmed by
    /// [`FirstRun::Immediately`](crate::FirstRun)) or for a test to see *n* ticks.
    ///
    /// It waits for ever if the ticker does not run that often (stopped, or a schedule that ends):
    /// bound it with `tokio::time::timeout` where that can happen. Cancel-safe: dropping it
    /// leaves nothing behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_core::Runner;
    /// use runner_ticker::{FirstRun, TickContext, Ticker};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let warmer = Ticker::builder(Duration::from_secs(60), |_tick: TickContext| async {
    ///     Ok::<_, std::io::Error>(()) // load the cache
    /// })
    /// .first_run(FirstRun::Immediately)
    /// .build()?;
    /// warmer.start().await?;
    /// let stats = warmer.until_runs(1).await; // the cache is warm
    /// assert_eq!(stats.runs, 1);
    /// warmer.stop().await?;
    /// # Ok(()) }
    /// ```
    pub fn until_runs(&self, runs: u64) -> UntilRuns<'_> {
        UntilRuns {
            engine: &*self.engine,
            runs,
            key: None,
            watching: false,
        }
    }
}

/// Future returned by [`Ticker::until_runs`]: resolves with the [`Stats`] once enough runs have
/// ended.
#[must_use = "futures do nothing unless polled"]
pub struct UntilRuns<'a> {
    engine: &'a dyn Engine,
    runs: u64,
    /// Our waker's key among the readers waiting for a run count.
    key: Option<u64>,
    /// Whether the ledger counts us among the watchers.
    watching: bool,
}

impl Future for UntilRuns<'_> {
    type Output = Stats;

    fn poll(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Stats> {
        let this = self.get_mut();
        let ledger = this.engine.ledger();
        if !this.watching {
            if ledger.runs() >= this.runs {
                return core::task::Poll::Ready(ledger.stats(this.engine.tally()));
            }
            ledger.watch(true);
            this.watching = true;
        }
        core::task::ready!(
            this.engine
                .control()
                .poll_runs(ledger, this.runs, &mut this.key, cx)
        );
        ledger.watch(false);
        this.watching = false;
        core::task::Poll::Ready(ledger.stats(this.engine.tally()))
    }
}

impl Drop for UntilRuns<'_> {
    fn drop(&mut self) {
        if self.watching {
            self.engine.ledger().watch(false);
            self.engine.control().forget_runs_waiter(&mut self.key);
        }
    }
}

impl fmt::Debug for UntilRuns<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UntilRuns")
            .field("runs", &self.runs)
            .finish_non_exhaustive()
    }
}

/// Liveness while running: the gauge's verdict, naming the last error.
pub(crate) fn gauge_health(engine: &dyn Engine) -> Health {
    let (gauge, state) = engine.tally().gauge();
    engine
        .control()
        .read(|_, errors, _| gauge.health(state, errors.last().map(|e| e as &dyn fmt::Display)))
}

impl Runner for Ticker {
    type Error = Error;

    /// Starts ticking. See the [contract](Runner#start).
    ///
    /// # Errors
    ///
    /// [`Error::NoRuntime`] outside a tokio runtime (the ticker stays stopped). Nothing else:
    /// the settings were checked when the ticker was built.
    async fn start(&self) -> Result<(), Error> {
        let engine = &self.engine;
        let (config, control) = (engine.config(), engine.control());
        let runtime = match task::runtime() {
            Ok(runtime) => runtime,
            Err(fault) => {
                tracing::warn!(target: "runner::ticker", { runner.name = %config.name }, "runner.start: refused, no tokio runtime");
                return Err(control.refuse_start(fault.into()));
            }
        };
        match control.begin_start(ReadyWhen::Spawned, now).await {
            Begin::AlreadyRunning => {
                tracing::trace!(target: "runner::ticker", { runner.name = %config.name }, "runner.start: already running");
            }
            Begin::Spawn { run, at } => {
                tracing::debug!(target: "runner::ticker", { runner.name = %config.name, run }, "runner.starting");
                Arc::clone(engine).spawn_run(&runtime, run, at);
            }
        }
        Ok(())
    }

    /// Stops ticking and waits for the run in progress, if any. See the
    /// [contract](Runner#stop).
    ///
    /// # Errors
    ///
    /// [`Error::Aborted`] if a run in progress did not end within the stop grace after its
    /// token fired. The ticker is stopped all the same.
    async fn stop(&self) -> Result<(), Error> {
        let name = &self.engine.config().name;
        self.engine
            .control()
            .stop(|run| {
                tracing::debug!(target: "runner::ticker", { runner.name = %name, run }, "runner.stop: requested");
            })
            .await
    }
}

impl Status for Ticker {
    fn snapshot(&self) -> Snapshot {
        self.engine.control().snapshot()
    }

    fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
        self.engine.control().changed(since)
    }

    fn uptime(&self) -> Option<Duration> {
        self.engine
            .control()
            .running_since()
            .map(|since| now().saturating_duration_since(since))
    }

    fn last_exit(&self) -> Option<Exit> {
        self.engine.control().last_exit()
    }

    /// While running: healthy, or unhealthy after `unhealthy_after` failed runs in a row (until
    /// `healthy_after` successes), naming the last error; each flip advances the version, so
    /// [`changed`](Status::changed) wakes on it. Otherwise: degraded while stopping, unhealthy
    /// when stopped or failed.
    fn health(&self) -> Health {
        match self.state() {
            State::Running => gauge_health(&*self.engine),
            State::Stopping => Health::degraded("stopping"),
            State::Failed => match self.last_exit() {
                Some(exit) => Health::unhealthy(exit.to_string()),
                None => Health::unhealthy("failed"),
            },
            _ => Health::unhealthy("stopped"),
        }
    }
}

impl ErrorHistory for Ticker {
    type Recorded = Error;

    fn errors(&self) -> Vec<Arc<Error>> {
        self.engine.control().errors()
    }

    fn last_error(&self) -> Option<Arc<Error>> {
        self.engine.control().last_error()
    }

    fn error_count(&self) -> u64 {
        self.engine.control().error_count()
    }

    fn error_capacity(&self) -> usize {
        self.engine.control().error_capacity()
    }
}

impl Drop for Ticker {
    /// Tells a running ticker to stop; a run in progress still gets its stop grace.
    fn drop(&mut self) {
        let stop = core::pin::pin!(self.engine.control().stop(|_| {}));
        let _ = stop.poll(&mut core::task::Context::from_waker(
            core::task::Waker::noop(),
        ));
    }
}
