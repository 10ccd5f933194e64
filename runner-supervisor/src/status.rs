//! [`ServiceStatus`] and [`HealthStatus`]: what [`Supervisor::health_status`](crate::Supervisor::health_status)
//! reports, computed from what the supervisor saw, not by asking every service.

use std::time::{Duration, Instant};

use runner_core::{Health, SharedError, State};

/// One service, as the supervisor sees it.
///
/// # Examples
///
/// ```
/// use runner_supervisor::HealthStatus;
///
/// fn report(status: &HealthStatus) {
///     for service in &status.services {
///         println!(
///             "{}: {} ({}), {} restarts{}",
///             service.name,
///             service.state,
///             service.health,
///             service.restarts,
///             service.last_error.as_ref().map(|e| format!(", last error: {e}")).unwrap_or_default(),
///         );
///     }
/// }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServiceStatus {
    /// Its name.
    pub name: String,
    /// Its state as the supervisor runs it: `BackingOff` while waiting for a restart.
    pub state: State,
    /// Its health: what it reported while running; degraded while starting, stopping or backing
    /// off; unhealthy when it failed, gave up or is stopped.
    pub health: Health,
    /// Running and ready.
    pub ready: bool,
    /// Whether it is optional (does not count for the supervisor's readiness).
    pub optional: bool,
    /// The last error seen: a failed start or stop, or the error it exited with.
    pub last_error: Option<SharedError>,
    /// How many times its restart policy restarted it since the supervisor was built (after
    /// an exit, a failed start, or too long unhealthy). A stop and start because a service it
    /// requires went down is not counted: that is its dependency's restart.
    pub restarts: u64,
    /// How long it has been running, if it is.
    pub uptime: Option<Duration>,
    /// When its next restart is due, while backing off (on tokio's clock, as a `std` instant).
    pub next_restart: Option<Instant>,
}

/// The supervisor's health, and every service's status: the reference's `HealthStatus`.
///
/// # Examples
///
/// ```
/// use runner_supervisor::HealthStatus;
///
/// fn healthy(status: &HealthStatus) -> bool {
///     status.health.is_healthy() && status.services.iter().all(|s| s.ready || s.optional)
/// }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HealthStatus {
    /// The worst of the services' health, naming the culprit.
    pub health: Health,
    /// Every service, in the order they were added.
    pub services: Vec<ServiceStatus>,
}
