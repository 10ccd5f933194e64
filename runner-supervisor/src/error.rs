//! The supervisor's errors: [`BuildError`] for a graph that cannot work, [`RemoveError`],
//! [`StartError`] and [`StopReport`] for what went wrong while starting or stopping the
//! services, and [`Error`], what the supervisor's `start` and `stop` return and record.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use runner_core::{Panicked, SharedError, State};
use runner_lifecycle::Fault;

/// Error returned by [`Builder::build`](crate::Builder::build) and
/// [`Supervisor::add`](crate::Supervisor::add) for a service or a graph that cannot work. Names
/// the culprits.
///
/// # Examples
///
/// ```
/// use runner_supervisor::BuildError;
///
/// let cycle = BuildError::Cycle(vec!["api".into(), "cache".into(), "api".into()]);
/// assert_eq!(cycle.to_string(), "dependency cycle: api -> cache -> api");
/// ```
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A service (or the supervisor) has an empty name.
    #[error("a service name must not be empty")]
    EmptyName,
    /// Two services have the same name.
    #[error("duplicate service name `{0}`")]
    DuplicateName(String),
    /// A service depends on a service the supervisor does not have.
    #[error("service `{service}` depends on unknown service `{dependency}`")]
    UnknownDependency {
        /// The service with the dependency.
        service: String,
        /// The name it depends on.
        dependency: String,
    },
    /// A service depends on itself.
    #[error("service `{0}` depends on itself")]
    SelfDependency(String),
    /// The dependencies form a cycle; the path starts and ends with the same service.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// A timeout of zero would fail every start or stop before it began.
    #[error("service `{service}`: {which} must be greater than zero")]
    ZeroTimeout {
        /// The service.
        service: String,
        /// `"start timeout"` or `"stop timeout"`.
        which: &'static str,
    },
    /// A backoff multiplier below 1 (or not a number) would shrink the delays.
    #[error("service `{service}`: backoff multiplier {multiplier} must be at least 1")]
    BadMultiplier {
        /// The service.
        service: String,
        /// The multiplier given.
        multiplier: f64,
    },
    /// A restart intensity with a zero window cannot count restarts.
    #[error("restart intensity window must be greater than zero")]
    ZeroIntensityWindow,
    /// An event capacity of zero would keep no event for any subscriber.
    #[error("event capacity must be greater than zero")]
    ZeroEventCapacity,
}

/// Error returned by [`Supervisor::remove`](crate::Supervisor::remove).
///
/// # Examples
///
/// ```
/// use runner_supervisor::RemoveError;
///
/// let error = RemoveError::Required { service: "db".into(), by: vec!["api".into()] };
/// assert_eq!(error.to_string(), "service `db` is required by api");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RemoveError {
    /// No service has that name.
    #[error("no service named `{0}`")]
    Unknown(String),
    /// Other services still require it: remove them first.
    #[error("service `{service}` is required by {}", .by.join(", "))]
    Required {
        /// The service asked for.
        service: String,
        /// The services that require it.
        by: Vec<String>,
    },
}

/// One service's failure, named.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_supervisor::Failure;
/// let failure: Failure = ("db".into(), Arc::new(std::io::Error::other("refused")));
/// assert_eq!(failure.1.to_string(), "refused");
/// ```
pub type Failure = (String, SharedError);

/// The supervisor could not start: every service that failed to start, with its error (not just
/// the first). Everything that had started was stopped again, in reverse order.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_supervisor::StartError;
///
/// let error = StartError::new(vec![("db".into(), Arc::new(std::io::Error::other("refused")) as _)]);
/// assert_eq!(error.to_string(), "1 service failed to start: db: refused");
/// ```
#[derive(Clone, Debug)]
pub struct StartError {
    failures: Vec<Failure>,
}

impl StartError {
    /// A start that failed with these failures.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use runner_supervisor::StartError;
    /// let error = StartError::new(vec![("db".into(), Arc::new(std::io::Error::other("refused")) as _)]);
    /// assert_eq!(error.failures().len(), 1);
    /// ```
    #[must_use]
    pub fn new(failures: Vec<Failure>) -> Self {
        StartError { failures }
    }

    /// Every service that failed to start, in the order they failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use runner_supervisor::StartError;
    /// let error = StartError::new(vec![
    ///     ("db".into(), Arc::new(std::io::Error::other("refused")) as _),
    ///     ("cache".into(), Arc::new(std::io::Error::other("timed out")) as _),
    /// ]);
    /// let names: Vec<&str> = error.failures().iter().map(|(name, _)| name.as_str()).collect();
    /// assert_eq!(names, ["db", "cache"]);
    /// ```
    #[must_use]
    pub fn failures(&self) -> &[Failure] {
        &self.failures
    }
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.failures.len();
        write!(
            f,
            "{n} service{} failed to start",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, (name, error)) in self.failures.iter().enumerate() {
            write!(f, "{} {name}: {error}", if i == 0 { ":" } else { ";" })?;
        }
        Ok(())
    }
}

impl std::error::Error for StartError {}

/// How a stop of the supervisor went: the services that did not stop in time (with the state
/// they were in), and every error the others' stops returned. Like suture's
/// `UnstoppedServiceReport`, with the errors joined.
///
/// # Examples
///
/// ```
/// use runner_supervisor::StopReport;
///
/// let report = StopReport::default();
/// assert!(report.is_clean());
/// assert_eq!(report.to_string(), "every service stopped cleanly");
/// ```
#[derive(Clone, Debug, Default)]
pub struct StopReport {
    pub(crate) unstopped: Vec<(String, State)>,
    pub(crate) errors: Vec<Failure>,
    pub(crate) deadline: Option<Duration>,
    pub(crate) forced: bool,
}

impl StopReport {
    /// The services that did not stop within their stop timeout or the supervisor's deadline,
    /// with the state they were last seen in. The supervisor stopped waiting for them; their
    /// own stops may still be going on.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::StopReport;
    /// assert!(StopReport::default().unstopped().is_empty());
    /// ```
    #[must_use]
    pub fn unstopped(&self) -> &[(String, State)] {
        &self.unstopped
    }

    /// Every error a service's stop returned.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::StopReport;
    /// assert!(StopReport::default().errors().is_empty());
    /// ```
    #[must_use]
    pub fn errors(&self) -> &[Failure] {
        &self.errors
    }

    /// The supervisor's deadline, if it passed before every service stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::StopReport;
    /// assert_eq!(StopReport::default().deadline_passed(), None);
    /// ```
    #[must_use]
    pub fn deadline_passed(&self) -> Option<Duration> {
        self.deadline
    }

    /// Whether a second signal cut the stop short ([`run_until_signal`](crate::Supervisor::run_until_signal)).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::StopReport;
    /// assert!(!StopReport::default().forced());
    /// ```
    #[must_use]
    pub fn forced(&self) -> bool {
        self.forced
    }

    /// `true` when every service stopped in time, without error.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::StopReport;
    /// assert!(StopReport::default().is_clean());
    /// ```
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.unstopped.is_empty() && self.errors.is_empty() && !self.forced
    }
}

impl fmt::Display for StopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_clean() {
            return f.write_str("every service stopped cleanly");
        }
        let mut parts = Vec::new();
        if self.forced {
            parts.push("stop cut short by a second signal".to_owned());
        }
        if let Some(deadline) = self.deadline {
            parts.push(format!("deadline of {deadline:?} passed"));
        }
        if !self.unstopped.is_empty() {
            let names: Vec<String> = self
                .unstopped
                .iter()
                .map(|(name, state)| format!("{name} ({state})"))
                .collect();
            parts.push(format!("not stopped in time: {}", names.join(", ")));
        }
        for (name, error) in &self.errors {
            parts.push(format!("{name}: {error}"));
        }
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for StopReport {}

/// Error returned by a [`Supervisor`](crate::Supervisor)'s `start` and `stop`, and the type of
/// its recorded errors.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_supervisor::Error;
///
/// let error = Error::IntensityExceeded {
///     service: "api".into(),
///     restarts: 11,
///     within: Duration::from_secs(60),
/// };
/// assert_eq!(
///     error.to_string(),
///     "gave up: 11 restarts within 60s, the last of service `api`"
/// );
/// ```
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Some services failed to start; all were stopped again.
    #[error(transparent)]
    Start(Arc<StartError>),
    /// The stop did not go cleanly.
    #[error(transparent)]
    Stop(Arc<StopReport>),
    /// Too many restarts too fast: the supervisor stopped every service and failed.
    #[error("gave up: {restarts} restarts within {within:?}, the last of service `{service}`")]
    IntensityExceeded {
        /// The service whose restart tripped the limit.
        service: String,
        /// How many restarts were counted.
        restarts: u32,
        /// In how long.
        within: Duration,
    },
    /// `start` was waiting for the services to be ready when the supervisor was stopped.
    #[error("stopped before every required service was ready")]
    StoppedBeforeReady,
    /// `start` was called outside a tokio runtime; nothing was started.
    #[error("start was called outside a tokio runtime; nothing was started")]
    NoRuntime,
    /// The supervisor's task was dropped (its runtime shut down) while it supervised.
    #[error("the supervisor's task was dropped while it supervised (its runtime shut down?)")]
    Abandoned,
    /// The supervisor's own task panicked: a bug in this crate.
    #[error("the supervisor's task {0}")]
    Internal(Panicked),
}

impl From<Fault> for Error {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::NoRuntime => Error::NoRuntime,
            Fault::Abandoned => Error::Abandoned,
            Fault::Panicked(panicked) => Error::Internal(panicked),
        }
    }
}

impl Error {
    /// The stop report, if this is a stop that did not go cleanly.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::{Error, StopReport};
    /// use std::sync::Arc;
    /// let error = Error::Stop(Arc::new(StopReport::default()));
    /// assert!(error.stop_report().is_some());
    /// assert!(Error::NoRuntime.stop_report().is_none());
    /// ```
    #[must_use]
    pub fn stop_report(&self) -> Option<&StopReport> {
        match self {
            Error::Stop(report) => Some(report),
            _ => None,
        }
    }
}
