//! [`Health`] (liveness) and [`Readiness`].

use core::fmt;
use std::borrow::Cow;

/// Why a runner is not fully healthy or not ready: a short human-readable text.
pub type Reason = Cow<'static, str>;

/// Liveness: is the runner doing its job?
///
/// A supervisor restarts what is [`Unhealthy`](Health::Unhealthy), reports what is
/// [`Degraded`](Health::Degraded), and aggregates with [`Health::worst`]. Separate from
/// [`Readiness`], which says whether traffic may be sent.
///
/// # Examples
///
/// ```
/// use runner_core::Health;
///
/// let db = Health::Healthy;
/// let cache = Health::degraded("2 of 3 replicas reachable");
/// let all = db.worst(cache);
/// assert!(!all.is_healthy());
/// assert_eq!(all.to_string(), "degraded: 2 of 3 replicas reachable");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Health {
    /// Doing its job.
    Healthy,
    /// Doing its job only in part, or in a transition; no action needed yet.
    Degraded(Reason),
    /// Not doing its job.
    Unhealthy(Reason),
}

impl Health {
    /// [`Degraded`](Health::Degraded) with a reason.
    #[must_use]
    pub fn degraded(reason: impl Into<Reason>) -> Self {
        Health::Degraded(reason.into())
    }

    /// [`Unhealthy`](Health::Unhealthy) with a reason.
    #[must_use]
    pub fn unhealthy(reason: impl Into<Reason>) -> Self {
        Health::Unhealthy(reason.into())
    }

    /// `true` for [`Healthy`](Health::Healthy) only.
    #[must_use]
    pub fn is_healthy(&self) -> bool {
        matches!(self, Health::Healthy)
    }

    /// The reason, unless healthy.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Health::Healthy => None,
            Health::Degraded(reason) | Health::Unhealthy(reason) => Some(reason),
        }
    }

    /// The worse of two: unhealthy over degraded over healthy; on a tie, `self`.
    #[must_use]
    pub fn worst(self, other: Health) -> Health {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Health::Healthy => 0,
            Health::Degraded(_) => 1,
            Health::Unhealthy(_) => 2,
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Health::Healthy => f.write_str("healthy"),
            Health::Degraded(reason) => write!(f, "degraded: {reason}"),
            Health::Unhealthy(reason) => write!(f, "unhealthy: {reason}"),
        }
    }
}

/// Readiness: may traffic be sent to the runner now?
///
/// A runner can be alive but not ready (warming a cache, rebalancing), so this is separate from
/// [`Health`].
///
/// # Examples
///
/// ```
/// use runner_core::Readiness;
///
/// let r = Readiness::not_ready("joining consumer group");
/// assert!(!r.is_ready());
/// assert_eq!(r.to_string(), "not ready: joining consumer group");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Readiness {
    /// Traffic may be sent.
    Ready,
    /// Traffic should not be sent yet.
    NotReady(Reason),
}

impl Readiness {
    /// [`NotReady`](Readiness::NotReady) with a reason.
    #[must_use]
    pub fn not_ready(reason: impl Into<Reason>) -> Self {
        Readiness::NotReady(reason.into())
    }

    /// `true` for [`Ready`](Readiness::Ready).
    #[must_use]
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

impl fmt::Display for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Readiness::Ready => f.write_str("ready"),
            Readiness::NotReady(reason) => write!(f, "not ready: {reason}"),
        }
    }
}
