//! [`Core`]: the supervision state machine. The graph, every service's phase, its restarts, the
//! supervisor's readiness and health, and the ordered stops; a plain value: no tokio, no clock,
//! no I/O. Inputs are method calls (a start finished, a service changed, a timer fired, a stop
//! was asked for); outputs are [`Action`]s that the engine carries out (start a service, stop
//! it, stop watching it) and feeds the results of back in. Every input names the *epoch* of the service's
//! attempt it is about, so a late result of an old attempt never disturbs a newer one.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use runner_core::{Exit, Health, Reason, SharedError, State, Version};
use runner_lifecycle::deadline;

use crate::error::{BuildError, Error, Failure, RemoveError, StartError, StopReport};
use crate::events::Event;
use crate::options::{Intensity, RestartPolicy, ServiceOptions};
use crate::status::ServiceStatus;

/// A service's index; stable for the supervisor's life (a removed service leaves a tombstone).
pub(crate) type Id = usize;

/// What the engine must do.
#[derive(Debug)]
pub(crate) enum Action {
    /// Start service `id` after `delay`, bounded by `timeout` (a start that timed out is
    /// stopped, bounded by `stop_timeout`); report with [`Core::started`]. Once started, the
    /// engine watches the service's changes (reported with [`Core::changed`]) until it is asked
    /// to stop it or to stop watching.
    Start {
        id: Id,
        epoch: u64,
        delay: Duration,
        timeout: Duration,
        stop_timeout: Duration,
    },
    /// Stop service `id`; report with [`Core::stopped`]. The core bounds it with the service's
    /// stop timeout: see [`Action::StopTimedOut`].
    Stop { id: Id, epoch: u64 },
    /// Service `id`'s stop did not finish within its timeout: report it with
    /// [`Core::stopped`] as [`Stopped::TimedOut`] with the state the service is in.
    StopTimedOut { id: Id, epoch: u64 },
    /// Stop watching service `id` (it ended by itself).
    Unwatch { id: Id },
    /// Abandon the start of service `id` in flight, then report it with
    /// [`Core::started`] as [`Started::Aborted`].
    AbortStart { id: Id, epoch: u64 },
    /// Publish an event.
    Event(Event),
    /// The supervisor's health or readiness changed: move its version.
    Touch,
    /// The initial start is complete: every required service is running and ready.
    Ready,
    /// The supervisor's run is over.
    Finish(Finish),
}

/// How the supervisor's run ended.
#[derive(Debug)]
pub(crate) enum Finish {
    /// Stopped on request.
    Stopped(StopReport),
    /// The initial start failed; everything was stopped again.
    StartFailed(StartError, StopReport),
    /// The restart intensity was exceeded; everything was stopped.
    GaveUp(Error, StopReport),
}

/// How a start ended, as the engine reports it.
#[derive(Debug)]
pub(crate) enum Started {
    /// `start` returned `Ok`; the service as it stood right after.
    Ok(Observed),
    /// `start` failed or timed out.
    Err(SharedError),
    /// The engine abandoned it ([`Action::AbortStart`]): the service may be up.
    Aborted,
}

/// How a stop ended, as the engine reports it.
#[derive(Debug)]
pub(crate) enum Stopped {
    Ok,
    Err(SharedError),
    /// It did not end within the stop timeout; the service was last seen in this state.
    TimedOut(State),
}

/// A service as its watcher saw it.
#[derive(Clone, Debug)]
pub(crate) struct Observed {
    pub(crate) state: State,
    pub(crate) version: Version,
    pub(crate) health: Health,
    pub(crate) ready: bool,
    pub(crate) exit: Option<Exit>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Not up, nothing in flight. Started when wanted and its dependencies allow.
    Idle,
    Starting,
    Running,
    Stopping,
    /// Waiting to be started again.
    BackingOff {
        until: Instant,
    },
}

/// What to do once a service asked to stop is down.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Then {
    /// Start it again once its dependencies are ready again (a `requires` dependency went
    /// down: OTP's `rest_for_one`).
    WaitDeps,
    /// Restart it per its policy (it stayed unhealthy).
    Restart,
    /// Leave it down (the supervisor is stopping).
    Park,
    /// Remove it.
    Remove,
}

#[derive(Debug)]
struct Record {
    name: Arc<str>,
    options: ServiceOptions,
    requires: Vec<Id>,
    after: Vec<Id>,
    /// The services that require it or come after it.
    dependents: Vec<Id>,
    phase: Phase,
    /// The current (or last) start attempt.
    epoch: u64,
    /// Whether it should be up.
    want: bool,
    /// It must stop (once every dependent that must stop too is down), then this.
    stop_wanted: Option<Then>,
    /// Whether its last start attempt has finished (for `after` dependents).
    settled: bool,
    /// Restarts in a row (reset after a stable period).
    attempts: u32,
    restarts: u64,
    gave_up: bool,
    running_since: Option<Instant>,
    unhealthy_since: Option<Instant>,
    next_restart: Option<Instant>,
    health: Health,
    ready: bool,
    observed: State,
    last_exit: Option<Exit>,
    last_error: Option<SharedError>,
    removed: bool,
    queued: bool,
    /// Counted among the running-and-ready required services.
    counted_ready: bool,
    /// Counted among the services of this health kind.
    counted_kind: Option<usize>,
}

/// Why the supervisor is stopping its services.
#[derive(Debug)]
enum Why {
    Stop,
    StartFailed,
    GaveUp(Error),
}

#[derive(Debug)]
struct Drain {
    why: Why,
    deadline: Instant,
    limit: Duration,
    report: StopReport,
}

#[derive(Debug)]
enum Mode {
    /// Not running: services may be added and removed, nothing starts.
    Down,
    /// The initial start.
    Starting {
        failures: Vec<Failure>,
    },
    Running,
    Draining(Drain, Vec<Failure>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Backoff,
    Liveness,
    /// One service's stop timeout.
    StopTimeout,
    /// The supervisor's stop deadline.
    Deadline,
}

/// The supervision state machine. See the module docs.
#[derive(Debug)]
pub(crate) struct Core {
    records: Vec<Record>,
    names: HashMap<Arc<str>, Id>,
    mode: Mode,
    queue: VecDeque<Id>,
    timers: BinaryHeap<Reverse<(Instant, Id, u64, Timer)>>,
    actions: Vec<Action>,
    intensity: Intensity,
    /// The restarts within the intensity window.
    recent: VecDeque<Instant>,
    stop_timeout: Duration,
    /// Services that are starting, running or stopping.
    busy: usize,
    /// Required (not optional) services, and how many are running and ready.
    required: usize,
    ready: usize,
    /// Services of each health kind: healthy, degraded, unhealthy.
    kinds: [usize; 3],
    rng: fastrand::Rng,
    events_wanted: bool,
}

/// Health kinds: healthy, degraded, unhealthy.
fn kind_of(health: &Health) -> usize {
    match health {
        Health::Healthy => 0,
        Health::Degraded(_) => 1,
        Health::Unhealthy(_) => 2,
    }
}

impl Core {
    pub(crate) fn new(intensity: Intensity, stop_timeout: Duration, seed: u64) -> Self {
        Core {
            records: Vec::new(),
            names: HashMap::new(),
            mode: Mode::Down,
            queue: VecDeque::new(),
            timers: BinaryHeap::new(),
            actions: Vec::new(),
            intensity,
            recent: VecDeque::new(),
            stop_timeout,
            busy: 0,
            required: 0,
            ready: 0,
            kinds: [0; 3],
            rng: fastrand::Rng::with_seed(seed),
            events_wanted: true,
        }
    }

    /// Checks a new service against the graph: its name, its options, its dependencies.
    fn check(&self, name: &str, options: &ServiceOptions) -> Result<(), BuildError> {
        if name.is_empty() {
            return Err(BuildError::EmptyName);
        }
        if self.names.contains_key(name) {
            return Err(BuildError::DuplicateName(name.to_owned()));
        }
        check_options(name, options)?;
        for dependency in options.requires.iter().chain(&options.after) {
            if dependency == name {
                return Err(BuildError::SelfDependency(name.to_owned()));
            }
            if !self.names.contains_key(dependency.as_str()) {
                return Err(BuildError::UnknownDependency {
                    service: name.to_owned(),
                    dependency: dependency.clone(),
                });
            }
        }
        Ok(())
    }

    /// Adds a service whose dependencies are all known: it can close no cycle. Started at once
    /// if the supervisor is running (as soon as its dependencies are ready).
    pub(crate) fn add(
        &mut self,
        name: &str,
        options: ServiceOptions,
        now: Instant,
    ) -> Result<Id, BuildError> {
        self.check(name, &options)?;
        let id = self.records.len();
        let resolve = |names: &[String]| -> Vec<Id> {
            names.iter().map(|n| self.names[n.as_str()]).collect()
        };
        let (requires, after) = (resolve(&options.requires), resolve(&options.after));
        let name: Arc<str> = Arc::from(name);
        let optional = options.optional;
        self.records.push(Record {
            name: Arc::clone(&name),
            options,
            requires,
            after,
            dependents: Vec::new(),
            phase: Phase::Idle,
            epoch: 0,
            want: false,
            stop_wanted: None,
            settled: false,
            attempts: 0,
            restarts: 0,
            gave_up: false,
            running_since: None,
            unhealthy_since: None,
            next_restart: None,
            health: Health::Healthy,
            ready: false,
            observed: State::Stopped,
            last_exit: None,
            last_error: None,
            removed: false,
            queued: false,
            counted_ready: false,
            counted_kind: None,
        });
        self.names.insert(name.clone(), id);
        let dependencies = self.dependencies(id);
        for dependency in dependencies {
            if !self.records[dependency].dependents.contains(&id) {
                self.records[dependency].dependents.push(id);
            }
        }
        if !optional {
            self.required += 1;
        }
        if !matches!(self.mode, Mode::Down) {
            self.records[id].want = !matches!(self.mode, Mode::Draining(..));
            self.emit(Event::Added { service: name });
            self.enqueue(id);
        }
        self.refresh(id);
        self.pump(now);
        Ok(id)
    }

    /// Builds the graph of a new supervisor: every check of [`add`](Core::add), and cycles.
    /// The services get their ids in dependency order; the second value maps each id to its
    /// index in `specs`.
    pub(crate) fn build(
        specs: &[(String, ServiceOptions)],
        intensity: Intensity,
        stop_timeout: Duration,
        seed: u64,
    ) -> Result<(Core, Vec<usize>), BuildError> {
        if intensity.within.is_zero() {
            return Err(BuildError::ZeroIntensityWindow);
        }
        let mut seen = HashMap::new();
        for (i, (name, options)) in specs.iter().enumerate() {
            if name.is_empty() {
                return Err(BuildError::EmptyName);
            }
            if seen.insert(name.as_str(), i).is_some() {
                return Err(BuildError::DuplicateName(name.clone()));
            }
            check_options(name, options)?;
        }
        for (name, options) in specs {
            for dependency in options.requires.iter().chain(&options.after) {
                if dependency == name {
                    return Err(BuildError::SelfDependency(name.clone()));
                }
                if !seen.contains_key(dependency.as_str()) {
                    return Err(BuildError::UnknownDependency {
                        service: name.clone(),
                        dependency: dependency.clone(),
                    });
                }
            }
        }
        let order = topological(specs, &seen)?;
        let mut core = Core::new(intensity, stop_timeout, seed);
        let at = Instant::now();
        for &i in &order {
            let (name, options) = &specs[i];
            core.add(name, options.clone(), at)?;
        }
        Ok((core, order))
    }

    /// Removes service `name`: refused while others still require it; stopped first if it is
    /// up. Returns its id; [`is_removed`](Core::is_removed) tells when it is gone.
    pub(crate) fn remove(&mut self, name: &str, now: Instant) -> Result<Id, RemoveError> {
        let Some(&id) = self.names.get(name) else {
            return Err(RemoveError::Unknown(name.to_owned()));
        };
        let by: Vec<String> = self.records[id]
            .dependents
            .iter()
            .filter(|&&d| !self.records[d].removed && self.records[d].requires.contains(&id))
            .map(|&d| self.records[d].name.to_string())
            .collect();
        if !by.is_empty() {
            return Err(RemoveError::Required {
                service: name.to_owned(),
                by,
            });
        }
        self.records[id].want = false;
        self.records[id].stop_wanted = Some(Then::Remove);
        self.enqueue(id);
        self.pump(now);
        Ok(id)
    }

    /// Whether service `id` has been removed.
    pub(crate) fn is_removed(&self, id: Id) -> bool {
        self.records.get(id).is_none_or(|r| r.removed)
    }

    /// Completes the removal of service `id` when no engine runs to do it (the supervisor is
    /// stopped: nothing of the service is up any more, or it is left to its own stop).
    pub(crate) fn evict(&mut self, id: Id) {
        if self.records.get(id).is_some_and(|r| !r.removed) {
            let record = &mut self.records[id];
            record.phase = Phase::Idle;
            record.queued = false;
            self.complete_stop(id, Then::Remove, Instant::now());
            self.queue.clear();
            self.actions.clear();
        }
    }

    /// The supervisor starts: every service is wanted up, in dependency order.
    pub(crate) fn begin(&mut self, now: Instant) {
        self.mode = Mode::Starting {
            failures: Vec::new(),
        };
        self.recent.clear();
        self.timers.clear();
        for id in 0..self.records.len() {
            let record = &mut self.records[id];
            if record.removed {
                continue;
            }
            record.phase = Phase::Idle;
            record.want = true;
            record.stop_wanted = None;
            record.settled = false;
            record.attempts = 0;
            record.gave_up = false;
            record.next_restart = None;
            record.unhealthy_since = None;
            self.enqueue(id);
        }
        self.busy = 0;
        for id in 0..self.records.len() {
            self.refresh(id);
        }
        self.pump(now);
    }

    /// The supervisor is asked to stop: every service is stopped, dependents first; starts in
    /// flight are abandoned.
    pub(crate) fn stop(&mut self, now: Instant) {
        self.drain(Why::Stop, now);
        self.pump(now);
    }

    /// A start finished.
    pub(crate) fn started(&mut self, id: Id, epoch: u64, outcome: Started, now: Instant) {
        let Some(record) = self.records.get_mut(id) else {
            return;
        };
        if record.epoch != epoch || record.phase != Phase::Starting {
            return;
        }
        record.settled = true;
        match outcome {
            Started::Ok(observed) => {
                let name = Arc::clone(&record.name);
                record.running_since = Some(now);
                record.observed = observed.state;
                record.health = observed.health.clone();
                record.ready = observed.ready;
                self.set_phase(id, Phase::Running);
                self.emit(Event::Ready { service: name });
                self.observe(id, observed, now);
            }
            Started::Aborted => {
                // The service may be up: stop it like a running one.
                self.set_phase(id, Phase::Running);
            }
            Started::Err(error) => {
                let name = Arc::clone(&record.name);
                let optional = record.options.optional;
                record.last_error = Some(Arc::clone(&error));
                self.set_phase(id, Phase::Idle);
                self.emit(Event::StartFailed {
                    service: Arc::clone(&name),
                    error: Arc::clone(&error),
                });
                let failure = (name.to_string(), error);
                match &mut self.mode {
                    Mode::Starting { failures } if !optional => {
                        failures.push(failure);
                        self.drain(Why::StartFailed, now);
                    }
                    Mode::Draining(drain, failures) if !optional => {
                        if matches!(drain.why, Why::StartFailed) {
                            failures.push(failure);
                        }
                    }
                    _ => {}
                }
                self.went_down(id, None, now);
            }
        }
        self.enqueue(id);
        self.enqueue_dependents(id);
        self.pump(now);
    }

    /// A running service's watcher saw it change.
    pub(crate) fn changed(&mut self, id: Id, epoch: u64, observed: Observed, now: Instant) {
        let Some(record) = self.records.get(id) else {
            return;
        };
        if record.epoch != epoch || record.phase != Phase::Running {
            return;
        }
        self.observe(id, observed, now);
        self.pump(now);
    }

    /// What a running service's state, health and readiness mean for it.
    fn observe(&mut self, id: Id, observed: Observed, now: Instant) {
        let record = &mut self.records[id];
        let was_ready = record.ready;
        record.observed = observed.state;
        record.ready = observed.ready && observed.state == State::Running;
        if let Some(exit) = observed.exit.clone() {
            record.last_exit = Some(exit);
        }
        if observed.state.is_idle() {
            // It ended by itself.
            let exit = observed.exit.unwrap_or(Exit::Stopped);
            let name = Arc::clone(&record.name);
            match &exit {
                Exit::Failed(error) => record.last_error = Some(Arc::clone(error)),
                Exit::Panicked(panicked) => {
                    record.last_error = Some(Arc::new(panicked.clone()) as SharedError);
                }
                _ => {}
            }
            let ran_for = record
                .running_since
                .map(|since| now.saturating_duration_since(since));
            self.set_phase(id, Phase::Idle);
            self.actions.push(Action::Unwatch { id });
            self.emit(Event::Exited {
                service: name,
                exit: exit.clone(),
            });
            self.went_down(id, Some((exit, ran_for)), now);
            self.refresh(id);
            return;
        }
        let kind = kind_of(&observed.health);
        let name = Arc::clone(&record.name);
        match (kind == 2, record.unhealthy_since) {
            (true, None) => {
                record.unhealthy_since = Some(now);
                let reason = observed.health.reason().unwrap_or("unhealthy").to_owned();
                if let Some(grace) = record.options.liveness_grace {
                    let at = deadline::after(now, grace);
                    self.timers
                        .push(Reverse((at, id, record.epoch, Timer::Liveness)));
                }
                self.emit(Event::Unhealthy {
                    service: name,
                    reason: reason.into(),
                });
            }
            (false, Some(_)) => {
                record.unhealthy_since = None;
                self.emit(Event::Healthy { service: name });
            }
            _ => {}
        }
        let record = &mut self.records[id];
        record.health = observed.health;
        if record.ready != was_ready {
            self.enqueue_dependents(id);
        }
        self.refresh(id);
    }

    /// Service `id` is down (it ended by itself, or a start failed: then `exit` is `None`):
    /// what its dependents and its policy make of it.
    fn went_down(&mut self, id: Id, exit: Option<(Exit, Option<Duration>)>, now: Instant) {
        self.stop_requirers(id);
        if let Some(then) = self.records[id].stop_wanted.clone() {
            self.complete_stop(id, then, now);
            return;
        }
        if !self.records[id].want || matches!(self.mode, Mode::Draining(..) | Mode::Down) {
            return;
        }
        let (failure, ran_for, reason) = match &exit {
            Some((exit, ran_for)) => (exit.is_failure(), *ran_for, exit.to_string()),
            None => (true, None, "start failed".to_owned()),
        };
        let restart = match self.records[id].options.restart {
            RestartPolicy::Never => false,
            RestartPolicy::Always => true,
            RestartPolicy::OnFailure => failure,
        };
        if restart {
            self.schedule_restart(id, ran_for, &reason, now);
        } else {
            self.records[id].want = false;
        }
        self.enqueue_dependents(id);
    }

    /// Marks every running service that requires `id` (and theirs, transitively) to stop, and
    /// start again once `id` is ready again: OTP's `rest_for_one` on the `requires` edges.
    fn stop_requirers(&mut self, id: Id) {
        if matches!(self.mode, Mode::Draining(..)) {
            // Every service is being stopped already, dependents first.
            return;
        }
        let mut stack = vec![id];
        while let Some(at) = stack.pop() {
            let dependents = self.records[at].dependents.clone();
            for d in dependents {
                let record = &mut self.records[d];
                if record.removed || !record.requires.contains(&at) || record.stop_wanted.is_some()
                {
                    continue;
                }
                if matches!(record.phase, Phase::Starting | Phase::Running) {
                    record.stop_wanted = Some(Then::WaitDeps);
                    self.enqueue(d);
                    stack.push(d);
                }
            }
        }
    }

    /// Counts a restart of `id` and either backs off, gives up on it, or trips the intensity.
    fn schedule_restart(&mut self, id: Id, ran_for: Option<Duration>, reason: &str, now: Instant) {
        let record = &mut self.records[id];
        if ran_for.is_some_and(|ran| ran >= record.options.stable_period()) {
            record.attempts = 0;
        }
        record.attempts = record.attempts.saturating_add(1);
        record.restarts = record.restarts.saturating_add(1);
        let (attempt, name) = (record.attempts, Arc::clone(&record.name));
        let max = record.options.max_retries;
        if max != 0 && attempt > max {
            record.want = false;
            record.gave_up = true;
            self.emit(Event::GaveUp {
                service: name,
                restarts: attempt - 1,
            });
            return;
        }
        // The supervisor's restart intensity: restarts within the sliding window.
        let window_start = now.checked_sub(self.intensity.within);
        while let (Some(&oldest), Some(start)) = (self.recent.front(), window_start) {
            if oldest > start {
                break;
            }
            self.recent.pop_front();
        }
        self.recent.push_back(now);
        let counted = u32::try_from(self.recent.len()).unwrap_or(u32::MAX);
        if counted > self.intensity.max_restarts {
            let within = self.intensity.within;
            self.emit(Event::IntensityTripped {
                service: Arc::clone(&name),
                restarts: counted,
                within,
            });
            let error = Error::IntensityExceeded {
                service: name.to_string(),
                restarts: counted,
                within,
            };
            self.drain(Why::GaveUp(error), now);
            return;
        }
        let record = &mut self.records[id];
        let delay = record.options.backoff.delay(attempt, self.rng.f64());
        let until = deadline::after(now, delay);
        record.next_restart = Some(until);
        let epoch = record.epoch;
        if delay.is_zero() {
            // No backoff: start it again in this round.
            record.next_restart = None;
            self.enqueue(id);
        } else {
            self.set_phase(id, Phase::BackingOff { until });
            self.timers
                .push(Reverse((until, id, epoch, Timer::Backoff)));
        }
        tracing::debug!(target: "runner::supervisor", service = %name, reason, "restart scheduled");
        self.emit(Event::BackingOff {
            service: name,
            attempt,
            delay,
        });
    }

    /// A stop finished.
    pub(crate) fn stopped(&mut self, id: Id, epoch: u64, outcome: Stopped, now: Instant) {
        let Some(record) = self.records.get_mut(id) else {
            return;
        };
        if record.epoch != epoch || record.phase != Phase::Stopping {
            return;
        }
        let name = Arc::clone(&record.name);
        record.running_since = None;
        self.set_phase(id, Phase::Idle);
        match outcome {
            Stopped::Ok => self.emit(Event::Stopped {
                service: Arc::clone(&name),
            }),
            Stopped::Err(error) => {
                self.records[id].last_error = Some(Arc::clone(&error));
                if let Mode::Draining(drain, _) = &mut self.mode {
                    drain
                        .report
                        .errors
                        .push((name.to_string(), Arc::clone(&error)));
                }
                self.emit(Event::StopFailed {
                    service: Arc::clone(&name),
                    error,
                });
            }
            Stopped::TimedOut(state) => {
                let after = self.records[id].options.stop_timeout;
                if let Mode::Draining(drain, _) = &mut self.mode {
                    drain.report.unstopped.push((name.to_string(), state));
                }
                self.emit(Event::StopTimedOut {
                    service: Arc::clone(&name),
                    after,
                });
            }
        }
        let then = self.records[id].stop_wanted.clone().unwrap_or(Then::Park);
        self.stop_requirers(id);
        self.complete_stop(id, then, now);
        self.refresh(id);
        self.pump(now);
    }

    /// Service `id`, asked to stop, is down: does what was asked next.
    fn complete_stop(&mut self, id: Id, then: Then, now: Instant) {
        let record = &mut self.records[id];
        record.stop_wanted = None;
        record.unhealthy_since = None;
        match then {
            Then::WaitDeps => {}
            Then::Park => record.want = false,
            Then::Restart => {
                let ran_for = None;
                self.schedule_restart(id, ran_for, "unhealthy", now);
            }
            Then::Remove => {
                record.want = false;
                record.removed = true;
                let name = Arc::clone(&record.name);
                self.names.remove(&name);
                if !record.options.optional {
                    self.required -= 1;
                }
                self.emit(Event::Removed { service: name });
            }
        }
        self.refresh(id);
        let dependencies = self.dependencies(id);
        for dependency in dependencies {
            self.enqueue(dependency);
        }
        self.enqueue(id);
        self.enqueue_dependents(id);
    }

    /// Fires every timer due by `now`.
    pub(crate) fn fire(&mut self, now: Instant) {
        while let Some(&Reverse((at, id, epoch, timer))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Deadline => self.deadline(now),
                Timer::Backoff => {
                    let record = &mut self.records[id];
                    if record.epoch == epoch && matches!(record.phase, Phase::BackingOff { .. }) {
                        record.next_restart = None;
                        self.set_phase(id, Phase::Idle);
                        self.enqueue(id);
                    }
                }
                Timer::Liveness => self.liveness(id, epoch, now),
                Timer::StopTimeout => {
                    let record = &self.records[id];
                    if record.epoch == epoch && record.phase == Phase::Stopping {
                        self.actions.push(Action::StopTimedOut { id, epoch });
                    }
                }
            }
        }
        self.pump(now);
    }

    /// Service `id`'s liveness grace is over: if it is still unhealthy, restart it per policy.
    fn liveness(&mut self, id: Id, epoch: u64, now: Instant) {
        let record = &self.records[id];
        let Some(grace) = record.options.liveness_grace else {
            return;
        };
        let expired = record
            .unhealthy_since
            .is_some_and(|since| now.saturating_duration_since(since) >= grace);
        let live = record.epoch == epoch && record.phase == Phase::Running;
        if !expired
            || !live
            || record.stop_wanted.is_some()
            || record.options.restart == RestartPolicy::Never
            || !matches!(self.mode, Mode::Starting { .. } | Mode::Running)
        {
            return;
        }
        let reason: Reason = self.records[id].health.reason().map_or_else(
            || "unhealthy".into(),
            |r| format!("unhealthy for {grace:?}: {r}").into(),
        );
        self.emit(Event::Restarting {
            service: Arc::clone(&self.records[id].name),
            reason,
        });
        self.stop_requirers(id);
        self.records[id].stop_wanted = Some(Then::Restart);
        self.enqueue(id);
    }

    /// The drain's deadline passed: reports what is still up, and ends the run.
    fn deadline(&mut self, _now: Instant) {
        let Mode::Draining(drain, _) = &mut self.mode else {
            return;
        };
        drain.report.deadline = Some(drain.limit);
        for record in &self.records {
            if matches!(
                record.phase,
                Phase::Starting | Phase::Running | Phase::Stopping
            ) && !drain
                .report
                .unstopped
                .iter()
                .any(|(name, _)| **name == *record.name)
            {
                // A stop or start in flight: the service is in it; otherwise as last seen.
                let state = match record.phase {
                    Phase::Stopping => State::Stopping,
                    Phase::Starting => State::Starting,
                    _ => record.observed,
                };
                drain
                    .report
                    .unstopped
                    .push((record.name.to_string(), state));
            }
        }
        self.finish();
    }

    /// Begins stopping every service (dependents first); `why` says what the run ends with.
    fn drain(&mut self, why: Why, now: Instant) {
        let failures = match std::mem::replace(&mut self.mode, Mode::Down) {
            Mode::Draining(drain, failures) => {
                // Already draining: keep the first reason.
                self.mode = Mode::Draining(drain, failures);
                return;
            }
            Mode::Starting { failures } => failures,
            Mode::Running | Mode::Down => Vec::new(),
        };
        let abort = !matches!(why, Why::StartFailed);
        let limit = self.stop_timeout;
        let until = deadline::after(now, limit);
        self.mode = Mode::Draining(
            Drain {
                why,
                deadline: until,
                limit,
                report: StopReport::default(),
            },
            failures,
        );
        self.timers.push(Reverse((until, 0, 0, Timer::Deadline)));
        for id in 0..self.records.len() {
            let record = &mut self.records[id];
            if record.removed {
                continue;
            }
            record.want = false;
            if record.stop_wanted.is_none() {
                record.stop_wanted = Some(Then::Park);
            }
            if abort && record.phase == Phase::Starting {
                let epoch = record.epoch;
                self.actions.push(Action::AbortStart { id, epoch });
            }
            self.enqueue(id);
        }
    }

    /// Ends the run, if draining.
    fn finish(&mut self) {
        let Mode::Draining(drain, failures) = std::mem::replace(&mut self.mode, Mode::Down) else {
            return;
        };
        let _ = drain.deadline;
        self.timers.clear();
        let finish = match drain.why {
            Why::Stop => Finish::Stopped(drain.report),
            Why::StartFailed => Finish::StartFailed(StartError::new(failures), drain.report),
            Why::GaveUp(error) => Finish::GaveUp(error, drain.report),
        };
        self.actions.push(Action::Finish(finish));
    }

    /// Evaluates every queued service, then the supervisor's own transitions.
    fn pump(&mut self, now: Instant) {
        while let Some(id) = self.queue.pop_front() {
            self.records[id].queued = false;
            self.evaluate(id, now);
        }
        match &self.mode {
            Mode::Starting { failures } if failures.is_empty() && self.ready == self.required => {
                self.mode = Mode::Running;
                self.actions.push(Action::Ready);
            }
            Mode::Draining(..) if self.busy == 0 => self.finish(),
            _ => {}
        }
    }

    /// What service `id` should do now: stop, start, or wait.
    fn evaluate(&mut self, id: Id, now: Instant) {
        let record = &self.records[id];
        if record.removed {
            return;
        }
        if let Some(then) = record.stop_wanted.clone() {
            match record.phase {
                Phase::Running => {
                    if self.dependents_to_stop_are_down(id) {
                        let record = &mut self.records[id];
                        let (epoch, timeout) = (record.epoch, record.options.stop_timeout);
                        let name = Arc::clone(&record.name);
                        self.set_phase(id, Phase::Stopping);
                        self.actions.push(Action::Stop { id, epoch });
                        let at = deadline::after(now, timeout);
                        self.timers
                            .push(Reverse((at, id, epoch, Timer::StopTimeout)));
                        self.emit(Event::Stopping { service: name });
                    }
                }
                Phase::Starting | Phase::Stopping => {}
                Phase::Idle | Phase::BackingOff { .. } => {
                    if matches!(record.phase, Phase::BackingOff { .. }) {
                        self.records[id].next_restart = None;
                        self.set_phase(id, Phase::Idle);
                    }
                    self.complete_stop(id, then, now);
                }
            }
            return;
        }
        let startable = matches!(self.mode, Mode::Starting { .. } | Mode::Running);
        if record.want && record.phase == Phase::Idle && startable && self.dependencies_allow(id) {
            let record = &mut self.records[id];
            record.epoch += 1;
            record.settled = false;
            let (epoch, attempt) = (record.epoch, record.attempts);
            let (delay, timeout) = (record.options.start_delay, record.options.start_timeout);
            let stop_timeout = record.options.stop_timeout;
            let name = Arc::clone(&record.name);
            self.set_phase(id, Phase::Starting);
            self.actions.push(Action::Start {
                id,
                epoch,
                delay,
                timeout,
                stop_timeout,
            });
            self.emit(Event::Starting {
                service: name,
                attempt,
            });
        }
    }

    /// Service `id`'s dependencies, of both kinds.
    fn dependencies(&self, id: Id) -> Vec<Id> {
        let record = &self.records[id];
        record
            .requires
            .iter()
            .chain(&record.after)
            .copied()
            .collect()
    }

    /// Every dependency of `id` allows it to start: each it requires is running and ready;
    /// each it comes after has finished starting.
    fn dependencies_allow(&self, id: Id) -> bool {
        let record = &self.records[id];
        let required = record.requires.iter().all(|&d| {
            let dependency = &self.records[d];
            dependency.phase == Phase::Running
                && dependency.ready
                && dependency.stop_wanted.is_none()
        });
        required
            && record.after.iter().all(|&d| {
                let dependency = &self.records[d];
                dependency.removed
                    || !(dependency.phase == Phase::Starting
                        || (dependency.phase == Phase::Idle
                            && dependency.want
                            && !dependency.settled))
            })
    }

    /// No dependent of `id` that must stop too is still up: `id` may stop.
    fn dependents_to_stop_are_down(&self, id: Id) -> bool {
        self.records[id].dependents.iter().all(|&d| {
            let dependent = &self.records[d];
            dependent.removed
                || dependent.stop_wanted.is_none()
                || !matches!(
                    dependent.phase,
                    Phase::Starting | Phase::Running | Phase::Stopping
                )
        })
    }

    fn enqueue(&mut self, id: Id) {
        let record = &mut self.records[id];
        if !record.queued {
            record.queued = true;
            self.queue.push_back(id);
        }
    }

    fn enqueue_dependents(&mut self, id: Id) {
        for i in 0..self.records[id].dependents.len() {
            let d = self.records[id].dependents[i];
            self.enqueue(d);
        }
    }

    fn set_phase(&mut self, id: Id, phase: Phase) {
        let busy = |p: Phase| matches!(p, Phase::Starting | Phase::Running | Phase::Stopping);
        let before = busy(self.records[id].phase);
        self.records[id].phase = phase;
        match (before, busy(phase)) {
            (false, true) => self.busy += 1,
            (true, false) => self.busy -= 1,
            _ => {}
        }
        if phase != Phase::Running {
            self.records[id].ready = false;
        }
        self.refresh(id);
    }

    /// Recounts service `id`'s readiness and health kind; moves the supervisor's version if its
    /// own health or readiness changed.
    fn refresh(&mut self, id: Id) {
        let before = (self.ready == self.required, self.kind());
        let record = &self.records[id];
        let counts_ready = !record.removed
            && !record.options.optional
            && record.phase == Phase::Running
            && record.ready;
        let kind = (!record.removed).then(|| {
            let kind = self.service_health(record).0;
            if record.options.optional {
                kind.min(1)
            } else {
                kind
            }
        });
        let record = &mut self.records[id];
        match (record.counted_ready, counts_ready) {
            (false, true) => self.ready += 1,
            (true, false) => self.ready -= 1,
            _ => {}
        }
        record.counted_ready = counts_ready;
        if record.counted_kind != kind {
            if let Some(old) = record.counted_kind {
                self.kinds[old] -= 1;
            }
            if let Some(new) = kind {
                self.kinds[new] += 1;
            }
            record.counted_kind = kind;
        }
        if (self.ready == self.required, self.kind()) != before {
            self.actions.push(Action::Touch);
        }
    }

    /// The supervisor's health kind: the worst of its services'.
    fn kind(&self) -> usize {
        if self.kinds[2] > 0 {
            2
        } else {
            usize::from(self.kinds[1] > 0)
        }
    }

    /// A service's health kind and reason, from its phase and what it reported.
    fn service_health(&self, record: &Record) -> (usize, Health) {
        let health = match record.phase {
            Phase::Running => record.health.clone(),
            Phase::Starting => Health::degraded("starting"),
            Phase::Stopping => Health::degraded("stopping"),
            Phase::BackingOff { .. } => Health::degraded("backing off before a restart"),
            Phase::Idle if record.gave_up => Health::unhealthy(format!(
                "gave up after {} restarts in a row",
                record.attempts.saturating_sub(1)
            )),
            Phase::Idle if record.want => Health::degraded("waiting for its dependencies"),
            Phase::Idle => match &record.last_exit {
                Some(exit) if exit.is_failure() => Health::unhealthy(exit.to_string()),
                Some(Exit::Completed) => Health::Healthy,
                _ if matches!(self.mode, Mode::Down) => Health::unhealthy("stopped"),
                _ => Health::unhealthy("stopped"),
            },
        };
        (kind_of(&health), health)
    }

    /// The supervisor's health: the worst of its services' (optional ones count as degraded at
    /// worst), naming the culprit.
    pub(crate) fn health(&self) -> Health {
        let mut worst = Health::Healthy;
        for record in self.records.iter().filter(|r| !r.removed) {
            let (mut kind, health) = self.service_health(record);
            if record.options.optional {
                kind = kind.min(1);
            }
            if kind > kind_of(&worst) {
                let reason = health.reason().unwrap_or("degraded");
                let reason = format!("{}: {reason}", record.name);
                worst = if kind == 2 {
                    Health::unhealthy(reason)
                } else {
                    Health::degraded(reason)
                };
            }
        }
        worst
    }

    /// The first required service that is not running and ready.
    pub(crate) fn not_ready(&self) -> Option<&str> {
        self.records
            .iter()
            .find(|r| !r.removed && !r.options.optional && !r.counted_ready)
            .map(|r| &*r.name)
    }

    /// Every service's status, in the order they were added.
    pub(crate) fn statuses(&self, now: Instant) -> Vec<ServiceStatus> {
        self.records
            .iter()
            .filter(|r| !r.removed)
            .map(|record| {
                let state = match record.phase {
                    Phase::Idle => match &record.last_exit {
                        Some(exit) if exit.is_failure() && !record.want => State::Failed,
                        _ => State::Stopped,
                    },
                    Phase::Starting => State::Starting,
                    Phase::Running => State::Running,
                    Phase::Stopping => State::Stopping,
                    Phase::BackingOff { .. } => State::BackingOff,
                };
                ServiceStatus {
                    name: record.name.to_string(),
                    state,
                    health: self.service_health(record).1,
                    ready: record.phase == Phase::Running && record.ready,
                    optional: record.options.optional,
                    last_error: record.last_error.clone(),
                    restarts: record.restarts,
                    uptime: record
                        .running_since
                        .filter(|_| record.phase == Phase::Running)
                        .map(|since| now.saturating_duration_since(since)),
                    next_restart: record.next_restart,
                }
            })
            .collect()
    }

    /// The services' names, in the order they were added (removed ones left out).
    pub(crate) fn names(&self) -> Vec<&str> {
        self.records
            .iter()
            .filter(|r| !r.removed)
            .map(|r| &*r.name)
            .collect()
    }

    /// When the next timer is due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, ..))| *at)
    }

    /// Takes the actions to carry out, in order.
    pub(crate) fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    fn emit(&mut self, event: Event) {
        if self.events_wanted {
            self.actions.push(Action::Event(event));
        }
    }

    /// Whether anyone takes events (a subscriber, or a `tracing` subscriber that records them):
    /// when nobody does, none is made.
    pub(crate) fn want_events(&mut self, wanted: bool) {
        self.events_wanted = wanted;
    }
}

/// A service's options that cannot work.
fn check_options(name: &str, options: &ServiceOptions) -> Result<(), BuildError> {
    for (value, which) in [
        (options.start_timeout, "start timeout"),
        (options.stop_timeout, "stop timeout"),
    ] {
        if value.is_zero() {
            return Err(BuildError::ZeroTimeout {
                service: name.to_owned(),
                which,
            });
        }
    }
    let multiplier = options.backoff.multiplier;
    if multiplier.is_nan() || multiplier < 1.0 {
        return Err(BuildError::BadMultiplier {
            service: name.to_owned(),
            multiplier,
        });
    }
    Ok(())
}

/// The services in an order where each comes after its dependencies, or the first cycle found,
/// as a path that starts and ends with the same service.
fn topological(
    specs: &[(String, ServiceOptions)],
    index: &HashMap<&str, usize>,
) -> Result<Vec<usize>, BuildError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let deps = |i: usize| -> Vec<usize> {
        let options = &specs[i].1;
        options
            .requires
            .iter()
            .chain(&options.after)
            .map(|d| index[d.as_str()])
            .collect()
    };
    let mut marks = vec![Mark::New; specs.len()];
    let mut order = Vec::with_capacity(specs.len());
    for root in 0..specs.len() {
        if marks[root] != Mark::New {
            continue;
        }
        // Depth-first, by hand: the path is the stack of open nodes.
        let mut path: Vec<(usize, Vec<usize>)> = vec![(root, deps(root))];
        marks[root] = Mark::Open;
        while let Some((node, pending)) = path.last_mut() {
            if let Some(next) = pending.pop() {
                match marks[next] {
                    Mark::Done => {}
                    Mark::New => {
                        marks[next] = Mark::Open;
                        path.push((next, deps(next)));
                    }
                    Mark::Open => {
                        let start = path.iter().position(|(n, _)| *n == next).unwrap_or(0);
                        let mut cycle: Vec<String> = path[start..]
                            .iter()
                            .map(|(n, _)| specs[*n].0.clone())
                            .collect();
                        cycle.push(specs[next].0.clone());
                        return Err(BuildError::Cycle(cycle));
                    }
                }
            } else {
                let node = *node;
                marks[node] = Mark::Done;
                order.push(node);
                path.pop();
            }
        }
    }
    Ok(order)
}
