//! [`Supervisor`] and its [`Builder`].

use core::fmt;
use core::future::Future;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use runner_core::{
    DEFAULT_ERROR_CAPACITY, DynRunner, ErrorHistory, Exit, Health, Readiness, Runner, Snapshot,
    State, Status, Version,
};
use runner_lifecycle::control::Begin;
use runner_lifecycle::sync::{Mutex, lock};
use runner_lifecycle::{Control, ReadyWhen, now, task};
use tokio::sync::{Notify, broadcast};

use crate::core::Core;
use crate::engine::{self, Input, Shared};
use crate::error::{BuildError, Error, RemoveError, StopReport};
use crate::events::Events;
use crate::mailbox::Mailbox;
use crate::options::{Intensity, ServiceOptions};
use crate::status::HealthStatus;

/// The supervisor's default stop deadline: 60 s for every service to stop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(runner_supervisor::DEFAULT_STOP_DEADLINE, Duration::from_secs(60));
/// ```
pub const DEFAULT_STOP_DEADLINE: Duration = Duration::from_secs(60);

/// How many events a slow subscriber may fall behind before it misses some.
///
/// # Examples
///
/// ```
/// assert_eq!(runner_supervisor::DEFAULT_EVENT_CAPACITY, 1024);
/// ```
pub const DEFAULT_EVENT_CAPACITY: usize = 1024;

/// A dependency graph of runners that starts, watches, restarts and stops them in order; itself
/// a [`Runner`], so supervisors nest.
///
/// - **start** starts every service whose dependencies are ready, all at once, each after its
///   start delay and under its start timeout; it returns once every required service is running
///   and ready, or, if any failed to start, after stopping the ones that had started (in reverse
///   order), with every failure.
/// - **while running**, it reacts to each service's [`changed`](Status::changed), never by
///   polling: an exit, a failure or a panic is restarted per the service's policy, after a
///   backoff (the service shows as `BackingOff`); a service unhealthy for its liveness grace is
///   restarted; the services that `require` one that went down are stopped first and started
///   again once it is ready again; too many restarts too fast ([`Intensity`]) and the
///   supervisor gives up: it stops everything and fails, so that its own supervisor decides.
/// - **stop** stops every service in reverse dependency order, concurrently where the graph
///   allows, each under its stop timeout and all under the supervisor's deadline; the
///   [`StopReport`] names the services that did not stop in time.
///
/// See the crate docs for an example, and [`ServiceOptions`] for the options and defaults.
///
/// # Examples
///
/// ```
/// # use std::convert::Infallible;
/// # use runner_startstop::{RunContext, StartStop};
/// # fn service() -> StartStop {
/// #     StartStop::new(
/// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
/// #         || async { Ok::<_, Infallible>(()) },
/// #     )
/// # }
/// use runner_core::{Runner, Status};
/// use runner_supervisor::{ServiceOptions, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Supervisor::builder()
///     .service("db", service(), ServiceOptions::new())
///     .service("api", service(), ServiceOptions::new().requires("db"))
///     .build()?;
/// app.start().await?;
/// assert!(app.is_running() && app.readiness().is_ready());
/// app.stop().await?;
/// # Ok(()) }
/// ```
pub struct Supervisor {
    shared: Arc<Shared>,
}

/// Builds a [`Supervisor`]: its services and settings. Made by [`Supervisor::builder`].
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use runner_startstop::{RunContext, StartStop};
/// use runner_supervisor::{Intensity, ServiceOptions, Supervisor};
///
/// fn idle() -> StartStop {
///     StartStop::new(
///         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
///         || async { Ok::<_, Infallible>(()) },
///     )
/// }
///
/// let supervisor = Supervisor::builder()
///     .name("app")
///     .service("db", idle(), ServiceOptions::new())
///     .service("api", idle(), ServiceOptions::new().requires("db"))
///     .intensity(Intensity::new(5, Duration::from_secs(30)))
///     .stop_deadline(Duration::from_secs(20))
///     .build()
///     .expect("a valid graph");
/// assert_eq!(supervisor.services(), ["db", "api"]);
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    name: Cow<'static, str>,
    services: Vec<(String, Arc<dyn DynRunner>, ServiceOptions)>,
    intensity: Intensity,
    stop_deadline: Duration,
    error_capacity: usize,
    event_capacity: usize,
}

impl Builder {
    /// The name used in tracing events. Default: `"supervisor"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::Supervisor;
    /// let app = Supervisor::builder().name("payments").build().unwrap();
    /// assert_eq!(app.name(), "payments");
    /// ```
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Adds a service: any runner (a `StartStop`, a `Ticker`, a `Managed`, another
    /// `Supervisor`, your own), under a unique name, with its options.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use runner_supervisor::{ServiceOptions, Supervisor};
    /// let app = Supervisor::builder()
    ///     .service("db", service(), ServiceOptions::new())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(app.services(), ["db"]);
    /// ```
    pub fn service<R>(self, name: impl Into<String>, runner: R, options: ServiceOptions) -> Self
    where
        R: DynRunner + 'static,
    {
        self.service_dyn(name, Arc::new(runner), options)
    }

    /// Adds a service already behind a `dyn DynRunner`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use std::sync::Arc;
    /// use runner_core::DynRunner;
    /// use runner_supervisor::{ServiceOptions, Supervisor};
    /// let runners: Vec<(&str, Arc<dyn DynRunner>)> = vec![("a", Arc::new(service())), ("b", Arc::new(service()))];
    /// let mut builder = Supervisor::builder();
    /// for (name, runner) in runners {
    ///     builder = builder.service_dyn(name, runner, ServiceOptions::new());
    /// }
    /// assert_eq!(builder.build().unwrap().services(), ["a", "b"]);
    /// ```
    pub fn service_dyn(
        mut self,
        name: impl Into<String>,
        runner: Arc<dyn DynRunner>,
        options: ServiceOptions,
    ) -> Self {
        self.services.push((name.into(), runner, options));
        self
    }

    /// The restart intensity: more restarts than this and the supervisor gives up. Default:
    /// [`Intensity::default`] (10 within 60 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::{Intensity, Supervisor};
    /// let strict = Supervisor::builder().intensity(Intensity::new(3, Duration::from_secs(10)));
    /// # let _ = strict.build().unwrap();
    /// ```
    pub fn intensity(mut self, intensity: Intensity) -> Self {
        self.intensity = intensity;
        self
    }

    /// How long a stop of the whole supervisor may take; services still up then are named in
    /// the [`StopReport`]. Default: [`DEFAULT_STOP_DEADLINE`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::Supervisor;
    /// let quick = Supervisor::builder().stop_deadline(Duration::from_secs(10));
    /// # let _ = quick.build().unwrap();
    /// ```
    pub fn stop_deadline(mut self, deadline: Duration) -> Self {
        self.stop_deadline = deadline;
        self
    }

    /// How many of the supervisor's own errors its history keeps. Default:
    /// [`DEFAULT_ERROR_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_core::ErrorHistory;
    /// use runner_supervisor::Supervisor;
    /// let app = Supervisor::builder().error_capacity(8).build().unwrap();
    /// assert_eq!(app.error_capacity(), 8);
    /// ```
    pub fn error_capacity(mut self, capacity: usize) -> Self {
        self.error_capacity = capacity;
        self
    }

    /// How many events a subscriber may fall behind before it misses the oldest; at least 1
    /// (0 is refused by [`build`](Builder::build)). Default: [`DEFAULT_EVENT_CAPACITY`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::{BuildError, Supervisor};
    /// assert!(Supervisor::builder().event_capacity(16).build().is_ok());
    /// assert_eq!(Supervisor::builder().event_capacity(0).build().unwrap_err(), BuildError::ZeroEventCapacity);
    /// ```
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// Builds the supervisor.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the culprits: an empty or duplicate name, an unknown dependency,
    /// a self-dependency, a cycle (with its path), a zero timeout, a backoff multiplier below 1,
    /// a zero intensity window, a zero event capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use runner_supervisor::{BuildError, ServiceOptions, Supervisor};
    /// let cyclic = Supervisor::builder()
    ///     .service("a", service(), ServiceOptions::new().after("b"))
    ///     .service("b", service(), ServiceOptions::new().requires("a"))
    ///     .build();
    /// assert!(matches!(cyclic, Err(BuildError::Cycle(_))));
    /// ```
    pub fn build(self) -> Result<Supervisor, BuildError> {
        if self.name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        if self.event_capacity == 0 {
            return Err(BuildError::ZeroEventCapacity);
        }
        let specs: Vec<(String, ServiceOptions)> = self
            .services
            .iter()
            .map(|(name, _, options)| (name.clone(), options.clone()))
            .collect();
        let seed = fastrand::u64(..);
        let (core, order) = Core::build(&specs, self.intensity, self.stop_deadline, seed)?;
        let runners = order
            .into_iter()
            .map(|i| Arc::clone(&self.services[i].1))
            .collect();
        let (events, _) = broadcast::channel(self.event_capacity);
        Ok(Supervisor {
            shared: Arc::new(Shared {
                name: self.name,
                control: Control::new(self.error_capacity, ()),
                core: Mutex::new(core),
                runners: Mutex::new(runners),
                mailbox: Mailbox::new(),
                events,
                rounds: Notify::new(),
            }),
        })
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.services.iter().map(|(n, ..)| n.as_str()).collect();
        f.debug_struct("Builder")
            .field("name", &self.name)
            .field("services", &names)
            .field("intensity", &self.intensity)
            .field("stop_deadline", &self.stop_deadline)
            .finish_non_exhaustive()
    }
}

impl Supervisor {
    /// A [`Builder`] for a supervisor with no services yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::Supervisor;
    /// let empty = Supervisor::builder().build().unwrap();
    /// assert!(empty.services().is_empty());
    /// ```
    pub fn builder() -> Builder {
        Builder {
            name: Cow::Borrowed("supervisor"),
            services: Vec::new(),
            intensity: Intensity::default(),
            stop_deadline: DEFAULT_STOP_DEADLINE,
            error_capacity: DEFAULT_ERROR_CAPACITY,
            event_capacity: DEFAULT_EVENT_CAPACITY,
        }
    }

    /// The supervisor's name.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::Supervisor;
    /// assert_eq!(Supervisor::builder().build().unwrap().name(), "supervisor");
    /// ```
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The services' names, in dependency order (each after its dependencies).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use runner_supervisor::{ServiceOptions, Supervisor};
    /// let app = Supervisor::builder()
    ///     .service("api", service(), ServiceOptions::new().requires("db"))
    ///     .service("db", service(), ServiceOptions::new())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(app.services(), ["db", "api"]);
    /// ```
    #[must_use]
    pub fn services(&self) -> Vec<String> {
        lock(&self.shared.core)
            .names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    /// Adds a service. On a running supervisor it is started as soon as its dependencies are
    /// ready; on a stopped one, with the others at the next `start`.
    ///
    /// # Errors
    ///
    /// A [`BuildError`]: an empty or duplicate name, an unknown dependency, a self-dependency, a
    /// zero timeout, a bad multiplier. (A new service cannot close a cycle: nothing depends on
    /// it yet.)
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use runner_core::Runner;
    /// use runner_supervisor::{ServiceOptions, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = Supervisor::builder().service("db", service(), ServiceOptions::new()).build()?;
    /// app.start().await?;
    /// app.add("cache", service(), ServiceOptions::new().requires("db"))?; // starts at once
    /// assert!(app.add("cache", service(), ServiceOptions::new()).is_err()); // a duplicate
    /// app.stop().await?;
    /// # Ok(()) }
    /// ```
    pub fn add<R>(
        &self,
        name: impl Into<String>,
        runner: R,
        options: ServiceOptions,
    ) -> Result<(), BuildError>
    where
        R: DynRunner + 'static,
    {
        self.add_dyn(name, Arc::new(runner), options)
    }

    /// Adds a service already behind a `dyn DynRunner`; see [`add`](Supervisor::add).
    ///
    /// # Errors
    ///
    /// As for [`add`](Supervisor::add).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use std::sync::Arc;
    /// use runner_supervisor::{ServiceOptions, Supervisor};
    /// let app = Supervisor::builder().build().unwrap();
    /// app.add_dyn("db", Arc::new(service()), ServiceOptions::new()).unwrap();
    /// assert_eq!(app.services(), ["db"]);
    /// ```
    pub fn add_dyn(
        &self,
        name: impl Into<String>,
        runner: Arc<dyn DynRunner>,
        options: ServiceOptions,
    ) -> Result<(), BuildError> {
        let name = name.into();
        {
            let mut core = lock(&self.shared.core);
            let mut runners = lock(&self.shared.runners);
            let id = core.add(&name, options, now())?;
            debug_assert_eq!(id, runners.len(), "a service's id is its runner's index");
            runners.push(runner);
        }
        self.shared.mailbox.post(Input::Kick);
        Ok(())
    }

    /// Removes a service: stops it first if it is up (its stop timeout applies), then forgets
    /// it. Returns once it is gone.
    ///
    /// # Errors
    ///
    /// [`RemoveError::Unknown`], or [`RemoveError::Required`] naming the services that still
    /// require it (remove them first).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use runner_core::Runner;
    /// use runner_supervisor::{RemoveError, ServiceOptions, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = Supervisor::builder()
    ///     .service("db", service(), ServiceOptions::new())
    ///     .service("api", service(), ServiceOptions::new().requires("db"))
    ///     .build()?;
    /// app.start().await?;
    /// assert!(matches!(app.remove("db").await, Err(RemoveError::Required { .. })));
    /// app.remove("api").await?; // stopped, then forgotten
    /// app.remove("db").await?;
    /// assert!(app.services().is_empty());
    /// app.stop().await?;
    /// # Ok(()) }
    /// ```
    pub async fn remove(&self, name: &str) -> Result<(), RemoveError> {
        let id = lock(&self.shared.core).remove(name, now())?;
        self.shared.mailbox.post(Input::Kick);
        loop {
            let round = self.shared.rounds.notified();
            {
                let mut core = lock(&self.shared.core);
                if core.is_removed(id) {
                    return Ok(());
                }
                if self.state().is_idle() {
                    // No engine to finish the removal: nothing of it is up any more.
                    core.evict(id);
                    return Ok(());
                }
            }
            round.await;
        }
    }

    /// A subscription to the supervisor's events, from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use runner_core::Runner;
    /// use runner_supervisor::{Event, ServiceOptions, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = Supervisor::builder().service("db", service(), ServiceOptions::new()).build()?;
    /// let mut events = app.subscribe();
    /// app.start().await?;
    /// assert_eq!(events.recv().await.unwrap()?.kind(), "starting");
    /// assert!(matches!(events.recv().await.unwrap()?, Event::Ready { service } if &*service == "db"));
    /// app.stop().await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn subscribe(&self) -> Events {
        Events::new(self.shared.events.subscribe())
    }

    /// The supervisor's health and every service's status, from what it has seen (no service
    /// is called).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::convert::Infallible;
    /// # use runner_startstop::{RunContext, StartStop};
    /// # fn service() -> StartStop {
    /// #     StartStop::new(
    /// #         |run: RunContext| async move { run.cancelled().await; Ok::<_, Infallible>(()) },
    /// #         || async { Ok::<_, Infallible>(()) },
    /// #     )
    /// # }
    /// use runner_core::{Runner, State};
    /// use runner_supervisor::{ServiceOptions, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = Supervisor::builder().service("db", service(), ServiceOptions::new()).build()?;
    /// app.start().await?;
    /// let status = app.health_status();
    /// assert!(status.health.is_healthy());
    /// assert_eq!(status.services[0].state, State::Running);
    /// assert_eq!(status.services[0].restarts, 0);
    /// app.stop().await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn health_status(&self) -> HealthStatus {
        let services = lock(&self.shared.core).statuses(now());
        HealthStatus {
            health: self.health(),
            services,
        }
    }

    /// The `main` of a service: starts the supervisor, waits for SIGINT or SIGTERM (Ctrl-C
    /// elsewhere), then stops it within `deadline`; a second signal ends the wait at once.
    /// Returns the stop's report, also when it is not clean.
    ///
    /// # Errors
    ///
    /// The supervisor's start failed ([`Error::Start`]), or it gave up while running
    /// ([`Error::IntensityExceeded`]), or there is no runtime.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn run(supervisor: runner_supervisor::Supervisor) -> Result<(), runner_supervisor::Error> {
    /// let report = supervisor.run_until_signal(std::time::Duration::from_secs(30)).await?;
    /// if !report.is_clean() {
    ///     eprintln!("shutdown: {report}");
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn run_until_signal(&self, deadline: Duration) -> Result<StopReport, Error> {
        self.run_until(crate::signal::shutdown(), crate::signal::shutdown, deadline)
            .await
    }

    /// [`run_until_signal`](Supervisor::run_until_signal) with the signals given: `shutdown`
    /// begins the stop; `force()` (made when the stop begins) cuts it short.
    pub(crate) async fn run_until<S, F, FF>(
        &self,
        shutdown: S,
        force: F,
        deadline: Duration,
    ) -> Result<StopReport, Error>
    where
        S: Future<Output = ()>,
        F: FnOnce() -> FF,
        FF: Future<Output = ()>,
    {
        self.start().await?;
        let mut exited = core::pin::pin!(self.wait_for(|s| s.is_idle()));
        tokio::select! {
            () = shutdown => {}
            _ = &mut exited => {
                // The supervisor gave up by itself: its error says why.
                return match self.last_exit() {
                    Some(Exit::Failed(_)) => Err(self.last_error().map_or(Error::Abandoned, |e| (*e).clone())),
                    _ => Ok(StopReport::default()),
                };
            }
        }
        tracing::info!(target: "runner::supervisor", supervisor = %self.name(), ?deadline, "supervisor.signal: stopping");
        // Listening for the second signal before the stop begins.
        let force = force();
        let stopping = tokio::time::timeout(deadline, self.stop());
        tokio::select! {
            stopped = stopping => match stopped {
                Ok(Ok(())) => Ok(StopReport::default()),
                Ok(Err(Error::Stop(report))) => Ok((*report).clone()),
                Ok(Err(other)) => Err(other),
                Err(_) => Ok(self.unstopped_report(Some(deadline), false)),
            },
            () = force => {
                tracing::warn!(target: "runner::supervisor", supervisor = %self.name(), "supervisor.signal: second signal, not waiting any longer");
                Ok(self.unstopped_report(None, true))
            }
        }
    }

    /// A report naming every service still up, for a stop the caller stopped waiting for.
    fn unstopped_report(&self, deadline: Option<Duration>, forced: bool) -> StopReport {
        let unstopped = lock(&self.shared.core)
            .statuses(now())
            .into_iter()
            .filter(|s| !s.state.is_idle())
            .map(|s| (s.name, s.state))
            .collect();
        StopReport {
            unstopped,
            errors: Vec::new(),
            deadline,
            forced,
        }
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.shared, f)
    }
}

impl Runner for Supervisor {
    type Error = Error;

    /// Starts every service, in dependency order, and returns once every required one is
    /// running and ready. See the [contract](Runner#start).
    ///
    /// # Errors
    ///
    /// [`Error::Start`] with every service that failed to start (the others were stopped
    /// again), [`Error::NoRuntime`] outside a tokio runtime.
    async fn start(&self) -> Result<(), Error> {
        let shared = &self.shared;
        let control = &shared.control;
        let runtime = match task::runtime() {
            Ok(runtime) => runtime,
            Err(fault) => return Err(control.refuse_start(fault.into())),
        };
        match control.begin_start(ReadyWhen::Signalled, now).await {
            Begin::AlreadyRunning => Ok(()),
            Begin::Spawn { run, .. } => {
                tracing::info!(target: "runner::supervisor", { supervisor = %shared.name, run }, "supervisor.starting");
                engine::spawn(Arc::clone(shared), &runtime, run);
                control
                    .ready_outcome(run)
                    .await
                    .map_err(|error| error.unwrap_or(Error::StoppedBeforeReady))
            }
        }
    }

    /// Stops every service in reverse dependency order and waits for them, within the stop
    /// deadline. See the [contract](Runner#stop).
    ///
    /// # Errors
    ///
    /// [`Error::Stop`] with the [`StopReport`], if a service's stop failed or did not finish in
    /// time. The supervisor is stopped all the same.
    async fn stop(&self) -> Result<(), Error> {
        let name = &self.shared.name;
        self.shared
            .control
            .stop(|run| {
                tracing::info!(target: "runner::supervisor", { supervisor = %name, run }, "supervisor.stopping");
            })
            .await
    }
}

impl Status for Supervisor {
    fn snapshot(&self) -> Snapshot {
        self.shared.control.snapshot()
    }

    fn changed(&self, since: Version) -> impl Future<Output = Snapshot> + Send {
        self.shared.control.changed(since)
    }

    fn uptime(&self) -> Option<Duration> {
        self.shared
            .control
            .running_since()
            .map(|since| now().saturating_duration_since(since))
    }

    fn last_exit(&self) -> Option<Exit> {
        self.shared.control.last_exit()
    }

    /// The worst of the services' health, naming the culprit, while running; degraded while
    /// starting or stopping; unhealthy when stopped or failed. A change advances the version.
    fn health(&self) -> Health {
        match self.state() {
            State::Running => lock(&self.shared.core).health(),
            State::Failed => Health::unhealthy(
                self.last_exit()
                    .map_or_else(|| "failed".to_owned(), |e| e.to_string()),
            ),
            state if state.is_idle() => Health::unhealthy(state.as_str()),
            state => Health::degraded(state.as_str()),
        }
    }

    /// Ready while running with every required (not optional) service running and ready.
    fn readiness(&self) -> Readiness {
        match self.state() {
            State::Running => match lock(&self.shared.core).not_ready() {
                None => Readiness::Ready,
                Some(name) => Readiness::not_ready(format!("{name} is not ready")),
            },
            state => Readiness::not_ready(state.as_str()),
        }
    }
}

impl ErrorHistory for Supervisor {
    type Recorded = Error;

    fn errors(&self) -> Vec<Arc<Error>> {
        self.shared.control.errors()
    }

    fn last_error(&self) -> Option<Arc<Error>> {
        self.shared.control.last_error()
    }

    fn error_count(&self) -> u64 {
        self.shared.control.error_count()
    }

    fn error_capacity(&self) -> usize {
        self.shared.control.error_capacity()
    }
}

impl Drop for Supervisor {
    /// Asks a running supervisor to stop; its engine still stops every service in order.
    fn drop(&mut self) {
        let stop = core::pin::pin!(self.shared.control.stop(|_| {}));
        let _ = stop.poll(&mut core::task::Context::from_waker(
            core::task::Waker::noop(),
        ));
    }
}
