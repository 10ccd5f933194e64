//! [`Event`]: what happened to a service, as [`Supervisor::subscribe`](crate::Supervisor::subscribe)
//! reports it; and [`Events`], the subscription.

use core::fmt;
use std::sync::Arc;
use std::time::Duration;

use runner_core::{Exit, Reason, SharedError};
use tokio::sync::broadcast;

/// One thing that happened to one service (or to the supervisor, for
/// [`IntensityTripped`](Event::IntensityTripped)). Each is also emitted as a `tracing` event
/// under the `runner::supervisor` target, with the service's name as the `service` field.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_supervisor::Event;
///
/// let event = Event::BackingOff { service: "api".into(), attempt: 2, delay: Duration::from_secs(2) };
/// assert_eq!(event.service(), "api");
/// assert_eq!(event.to_string(), "api: backing off 2s before restart #2");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// A service was added to a running supervisor.
    Added {
        /// The service.
        service: Arc<str>,
    },
    /// The supervisor is starting the service (`attempt` 0: its first start).
    Starting {
        /// The service.
        service: Arc<str>,
        /// Restarts in a row before this start.
        attempt: u32,
    },
    /// The service started and is ready.
    Ready {
        /// The service.
        service: Arc<str>,
    },
    /// A start failed or timed out.
    StartFailed {
        /// The service.
        service: Arc<str>,
        /// Why.
        error: SharedError,
    },
    /// The service's run ended by itself (not stopped by the supervisor).
    Exited {
        /// The service.
        service: Arc<str>,
        /// How it ended.
        exit: Exit,
    },
    /// The service reported itself unhealthy while running.
    Unhealthy {
        /// The service.
        service: Arc<str>,
        /// Its reason.
        reason: Reason,
    },
    /// The service is healthy again.
    Healthy {
        /// The service.
        service: Arc<str>,
    },
    /// The service will be restarted after `delay`.
    BackingOff {
        /// The service.
        service: Arc<str>,
        /// The restart's number in a row (1 for the first).
        attempt: u32,
        /// How long the supervisor waits first.
        delay: Duration,
    },
    /// The service is being restarted, because it stayed unhealthy for its grace period.
    Restarting {
        /// The service.
        service: Arc<str>,
        /// Why.
        reason: Reason,
    },
    /// The service failed more than its `max_retries` in a row: it stays stopped.
    GaveUp {
        /// The service.
        service: Arc<str>,
        /// Restarts in a row.
        restarts: u32,
    },
    /// The supervisor is stopping the service.
    Stopping {
        /// The service.
        service: Arc<str>,
    },
    /// The service stopped.
    Stopped {
        /// The service.
        service: Arc<str>,
    },
    /// The service's stop returned an error.
    StopFailed {
        /// The service.
        service: Arc<str>,
        /// Why.
        error: SharedError,
    },
    /// The service did not stop within its stop timeout; the supervisor stopped waiting.
    StopTimedOut {
        /// The service.
        service: Arc<str>,
        /// Its stop timeout.
        after: Duration,
    },
    /// The service was removed.
    Removed {
        /// The service.
        service: Arc<str>,
    },
    /// Too many restarts too fast; `service`'s tripped the limit: the supervisor gives up.
    IntensityTripped {
        /// The service.
        service: Arc<str>,
        /// Restarts counted.
        restarts: u32,
        /// Within how long.
        within: Duration,
    },
}

impl Event {
    /// The service it happened to.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::Event;
    /// assert_eq!(Event::Ready { service: "db".into() }.service(), "db");
    /// ```
    #[must_use]
    pub fn service(&self) -> &str {
        match self {
            Event::Added { service }
            | Event::Starting { service, .. }
            | Event::Ready { service }
            | Event::StartFailed { service, .. }
            | Event::Exited { service, .. }
            | Event::Unhealthy { service, .. }
            | Event::Healthy { service }
            | Event::BackingOff { service, .. }
            | Event::Restarting { service, .. }
            | Event::GaveUp { service, .. }
            | Event::Stopping { service }
            | Event::Stopped { service }
            | Event::StopFailed { service, .. }
            | Event::StopTimedOut { service, .. }
            | Event::Removed { service }
            | Event::IntensityTripped { service, .. } => service,
        }
    }

    /// A short kebab-case name of the kind of event, as in the `tracing` events.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::Event;
    /// assert_eq!(Event::Ready { service: "db".into() }.kind(), "ready");
    /// ```
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Added { .. } => "added",
            Event::Starting { .. } => "starting",
            Event::Ready { .. } => "ready",
            Event::StartFailed { .. } => "start-failed",
            Event::Exited { .. } => "exited",
            Event::Unhealthy { .. } => "unhealthy",
            Event::Healthy { .. } => "healthy",
            Event::BackingOff { .. } => "backing-off",
            Event::Restarting { .. } => "restarting",
            Event::GaveUp { .. } => "gave-up",
            Event::Stopping { .. } => "stopping",
            Event::Stopped { .. } => "stopped",
            Event::StopFailed { .. } => "stop-failed",
            Event::StopTimedOut { .. } => "stop-timed-out",
            Event::Removed { .. } => "removed",
            Event::IntensityTripped { .. } => "intensity-tripped",
        }
    }

    /// Emits the event as a `tracing` event: failures at `warn`, the rest at `info` (`debug` for
    /// the routine starting and stopping).
    pub(crate) fn trace(&self) {
        let service = self.service();
        match self {
            Event::StartFailed { .. }
            | Event::Exited { .. }
            | Event::Unhealthy { .. }
            | Event::GaveUp { .. }
            | Event::StopFailed { .. }
            | Event::StopTimedOut { .. }
            | Event::IntensityTripped { .. } => {
                tracing::warn!(target: "runner::supervisor", service, event = self.kind(), "{self}");
            }
            Event::Starting { .. } | Event::Stopping { .. } | Event::Stopped { .. } => {
                tracing::debug!(target: "runner::supervisor", service, event = self.kind(), "{self}");
            }
            _ => {
                tracing::info!(target: "runner::supervisor", service, event = self.kind(), "{self}");
            }
        }
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let service = self.service();
        match self {
            Event::Added { .. } => write!(f, "{service}: added"),
            Event::Starting { attempt: 0, .. } => write!(f, "{service}: starting"),
            Event::Starting { attempt, .. } => {
                write!(f, "{service}: starting (restart #{attempt})")
            }
            Event::Ready { .. } => write!(f, "{service}: ready"),
            Event::StartFailed { error, .. } => write!(f, "{service}: start failed: {error}"),
            Event::Exited { exit, .. } => write!(f, "{service}: exited: {exit}"),
            Event::Unhealthy { reason, .. } => write!(f, "{service}: unhealthy: {reason}"),
            Event::Healthy { .. } => write!(f, "{service}: healthy"),
            Event::BackingOff { attempt, delay, .. } => {
                write!(
                    f,
                    "{service}: backing off {delay:?} before restart #{attempt}"
                )
            }
            Event::Restarting { reason, .. } => write!(f, "{service}: restarting: {reason}"),
            Event::GaveUp { restarts, .. } => {
                write!(f, "{service}: gave up after {restarts} restarts in a row")
            }
            Event::Stopping { .. } => write!(f, "{service}: stopping"),
            Event::Stopped { .. } => write!(f, "{service}: stopped"),
            Event::StopFailed { error, .. } => write!(f, "{service}: stop failed: {error}"),
            Event::StopTimedOut { after, .. } => {
                write!(f, "{service}: did not stop within {after:?}")
            }
            Event::Removed { .. } => write!(f, "{service}: removed"),
            Event::IntensityTripped {
                restarts, within, ..
            } => write!(
                f,
                "{service}: restart intensity tripped ({restarts} restarts within {within:?}): giving up"
            ),
        }
    }
}

/// A subscription to a supervisor's [`Event`]s, from
/// [`Supervisor::subscribe`](crate::Supervisor::subscribe). A slow subscriber never holds the
/// supervisor up: it misses the oldest events instead, and [`recv`](Events::recv) says how many.
///
/// # Examples
///
/// ```
/// use runner_supervisor::{Events, Lagged};
///
/// async fn log(mut events: Events) {
///     loop {
///         match events.recv().await {
///             Some(Ok(event)) => println!("{event}"),
///             Some(Err(Lagged(missed))) => println!("missed {missed} events"),
///             None => break, // the supervisor is gone
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct Events {
    receiver: broadcast::Receiver<Event>,
}

/// The subscriber fell behind and missed this many events; the next ones follow.
///
/// # Examples
///
/// ```
/// use runner_supervisor::Lagged;
/// assert_eq!(Lagged(3).to_string(), "missed 3 events");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("missed {0} events")]
pub struct Lagged(pub u64);

impl Events {
    pub(crate) fn new(receiver: broadcast::Receiver<Event>) -> Self {
        Events { receiver }
    }

    /// The next event; `Some(Err(Lagged))` if some were missed; `None` once the supervisor is
    /// dropped.
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
    /// let mut events = app.subscribe();
    /// app.start().await?;
    /// while let Some(event) = events.recv().await {
    ///     match event {
    ///         Ok(event) if event.kind() == "ready" => break,
    ///         Ok(event) => println!("{event}"),
    ///         Err(lagged) => println!("{lagged}"),
    ///     }
    /// }
    /// app.stop().await?;
    /// # Ok(()) }
    /// ```
    pub async fn recv(&mut self) -> Option<Result<Event, Lagged>> {
        match self.receiver.recv().await {
            Ok(event) => Some(Ok(event)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Err(Lagged(missed))),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting, without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::Supervisor;
    /// let app = Supervisor::builder().build().unwrap();
    /// let mut events = app.subscribe();
    /// assert!(events.try_recv().is_none()); // nothing happened yet
    /// ```
    pub fn try_recv(&mut self) -> Option<Result<Event, Lagged>> {
        match self.receiver.try_recv() {
            Ok(event) => Some(Ok(event)),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => Some(Err(Lagged(missed))),
            Err(_) => None,
        }
    }
}
