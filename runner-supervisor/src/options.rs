//! [`ServiceOptions`]: how the supervisor runs one service; [`RestartPolicy`], [`Backoff`] and
//! [`Intensity`].

use std::time::Duration;

/// When a service that ended is started again.
///
/// | policy | the service's work returned `Ok` | it failed or panicked | it turned unhealthy for the grace period |
/// |--------|------------------|-----------------------|------------------|
/// | [`Never`](RestartPolicy::Never) | stays stopped | stays failed | stays running, reported |
/// | [`Always`](RestartPolicy::Always) | restarted | restarted | restarted |
/// | [`OnFailure`](RestartPolicy::OnFailure) (default) | stays stopped | restarted | restarted |
///
/// The reference's `RestartAlways` behaved as `OnFailure`; here it restarts after a clean exit
/// too.
///
/// # Examples
///
/// ```
/// use runner_supervisor::RestartPolicy;
///
/// assert_eq!(RestartPolicy::default(), RestartPolicy::OnFailure);
/// assert_eq!(RestartPolicy::Always.to_string(), "always");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestartPolicy {
    /// Never restart.
    Never,
    /// Restart whenever the service ends, also after a clean exit.
    Always,
    /// Restart when the service fails, panics, or stays unhealthy (the default).
    #[default]
    OnFailure,
}

impl core::fmt::Display for RestartPolicy {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RestartPolicy::Never => "never",
            RestartPolicy::Always => "always",
            RestartPolicy::OnFailure => "on-failure",
        })
    }
}

/// How long to wait before the n-th restart: `initial × multiplier^(n-1)`, at most `max`, and,
/// with `jitter`, moved by up to ±25 % at random so that services that failed together do not
/// restart together. The reference's formula and defaults.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_supervisor::Backoff;
///
/// let backoff = Backoff::default().with_jitter(false);
/// assert_eq!(backoff.delay(1, 0.5), Duration::from_secs(1));
/// assert_eq!(backoff.delay(3, 0.5), Duration::from_secs(4));
/// assert_eq!(backoff.delay(10, 0.5), Duration::from_secs(60)); // capped
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Backoff {
    /// The delay before the first restart. Default: 1 s.
    pub initial: Duration,
    /// The longest delay. Default: 60 s.
    pub max: Duration,
    /// The factor between two delays. Default: 2.0.
    pub multiplier: f64,
    /// ±25 % at random. Default: on.
    pub jitter: bool,
}

/// [`Backoff::initial`]'s default: 1 s.
///
/// # Examples
///
/// ```
/// use runner_supervisor::{Backoff, DEFAULT_BACKOFF_INITIAL};
/// assert_eq!(Backoff::default().delay(1, 0.5), DEFAULT_BACKOFF_INITIAL);
/// ```
pub const DEFAULT_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// [`Backoff::max`]'s default: 60 s.
///
/// # Examples
///
/// ```
/// use runner_supervisor::{Backoff, DEFAULT_BACKOFF_MAX};
/// assert_eq!(Backoff::default().delay(30, 0.5), DEFAULT_BACKOFF_MAX);
/// ```
pub const DEFAULT_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// [`Backoff::multiplier`]'s default: 2.0.
///
/// # Examples
///
/// ```
/// use runner_supervisor::{Backoff, DEFAULT_BACKOFF_MULTIPLIER};
/// let backoff = Backoff::default();
/// assert_eq!(backoff.delay(2, 0.5).as_secs_f64(), backoff.delay(1, 0.5).as_secs_f64() * DEFAULT_BACKOFF_MULTIPLIER);
/// ```
pub const DEFAULT_BACKOFF_MULTIPLIER: f64 = 2.0;

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: DEFAULT_BACKOFF_INITIAL,
            max: DEFAULT_BACKOFF_MAX,
            multiplier: DEFAULT_BACKOFF_MULTIPLIER,
            jitter: true,
        }
    }
}

impl Backoff {
    /// A backoff from `initial` to `max`, multiplying by `multiplier`, with jitter.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::Backoff;
    /// let fast = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), 3.0).with_jitter(false);
    /// assert_eq!(fast.delay(3, 0.0), Duration::from_millis(900));
    /// ```
    #[must_use]
    pub fn new(initial: Duration, max: Duration, multiplier: f64) -> Self {
        Backoff {
            initial,
            max,
            multiplier,
            jitter: true,
        }
    }

    /// The same backoff, with the jitter on or off.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::Backoff;
    /// let exact = Backoff::default().with_jitter(false);
    /// assert_eq!(exact.delay(1, 0.0), Duration::from_secs(1)); // no -25 %
    /// ```
    #[must_use]
    pub fn with_jitter(self, jitter: bool) -> Self {
        Backoff { jitter, ..self }
    }

    /// The delay before restart number `attempt` (1 for the first), given `random`, a number
    /// in `[0, 1)` (used only with jitter: `0.5` is no change, `0` is -25 %, `1` is +25 %).
    /// Saturates: never overflows, never exceeds `max` before the jitter, never negative.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::Backoff;
    /// let backoff = Backoff::default();
    /// assert_eq!(backoff.delay(1, 0.0), Duration::from_millis(750)); // -25 %
    /// assert_eq!(backoff.delay(3, 1.0), Duration::from_secs(5)); // 4 s, +25 %
    /// assert_eq!(backoff.delay(u32::MAX, 0.5), Duration::from_secs(60)); // capped
    /// ```
    #[must_use]
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let factor = self.multiplier.max(1.0).powi(exponent);
        let max = self.max.as_secs_f64();
        let base = (self.initial.as_secs_f64() * factor).min(max);
        let jittered = if self.jitter {
            base * (0.75 + 0.5 * random.clamp(0.0, 1.0))
        } else {
            base
        };
        Duration::try_from_secs_f64(jittered.max(0.0)).unwrap_or(self.max)
    }
}

/// How many restarts the whole supervisor tolerates: more than `max_restarts` within `within`,
/// and it gives up (stops every service, in order, and fails, naming the service that tripped
/// it), leaving the decision to whoever supervises it (its parent supervisor, or `main`).
///
/// The default is 10 restarts in 60 s. Erlang/OTP's default (1 in 5 s) suits processes that
/// restart in microseconds; these services back off (1 s, 2 s, 4 s ... by default), so one
/// flapping service restarts about 6 times a minute and gives up on its own after `max_retries`
/// (5); tripping the intensity means several services fail together, which is what it is for.
/// suture's default (5 failures, decaying over 30 s) is of the same order.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_supervisor::Intensity;
///
/// let strict = Intensity::new(3, Duration::from_secs(10));
/// assert_eq!(Intensity::default(), Intensity::new(10, Duration::from_secs(60)));
/// # let _ = strict;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Intensity {
    /// The most restarts tolerated within [`within`](Intensity::within).
    pub max_restarts: u32,
    /// The sliding window.
    pub within: Duration,
}

impl Intensity {
    /// At most `max_restarts` restarts within `within`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::Intensity;
    /// let intensity = Intensity::new(3, Duration::from_secs(10));
    /// assert_eq!((intensity.max_restarts, intensity.within), (3, Duration::from_secs(10)));
    /// ```
    #[must_use]
    pub const fn new(max_restarts: u32, within: Duration) -> Self {
        Intensity {
            max_restarts,
            within,
        }
    }
}

impl Default for Intensity {
    fn default() -> Self {
        Intensity::new(10, Duration::from_secs(60))
    }
}

/// [`ServiceOptions::max_retries`]' default: 5 (the reference's).
///
/// # Examples
///
/// ```
/// use runner_supervisor::DEFAULT_MAX_RETRIES;
/// assert_eq!(DEFAULT_MAX_RETRIES, 5);
/// ```
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// [`ServiceOptions::start_timeout`]'s default: 60 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(runner_supervisor::DEFAULT_START_TIMEOUT, Duration::from_secs(60));
/// ```
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(60);
/// [`ServiceOptions::stop_timeout`]'s default: 30 s.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(runner_supervisor::DEFAULT_STOP_TIMEOUT, Duration::from_secs(30));
/// ```
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// [`ServiceOptions::liveness_grace`]'s default: 30 s (a Kubernetes liveness probe's default
/// three failures ten seconds apart).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// assert_eq!(runner_supervisor::DEFAULT_LIVENESS_GRACE, Duration::from_secs(30));
/// ```
pub const DEFAULT_LIVENESS_GRACE: Duration = Duration::from_secs(30);

/// How the supervisor runs one service: its dependencies, its timeouts, its restarts.
///
/// | option | default | the reference | OTP / systemd |
/// |--------|---------|---------------|---------------|
/// | [`requires`](ServiceOptions::requires) | none | `WithDependsOn` (promised "healthy", never checked) | systemd `Requires=` + `After=`; OTP `rest_for_one` |
/// | [`after`](ServiceOptions::after) | none | — | systemd `After=` |
/// | [`start_delay`](ServiceOptions::start_delay) | 0 | `WithStartDelay` | `ExecStartPre=sleep` |
/// | [`start_timeout`](ServiceOptions::start_timeout) | 60 s | the caller's context | `TimeoutStartSec` (90 s) |
/// | [`stop_timeout`](ServiceOptions::stop_timeout) | 30 s | the caller's context | `TimeoutStopSec` (90 s); OTP `shutdown` (5 s) |
/// | [`restart`](ServiceOptions::restart) | `OnFailure` | `WithRestartPolicy` (`OnFailure`) | OTP `permanent`/`transient`/`temporary` |
/// | [`max_retries`](ServiceOptions::max_retries) | 5, 0 = unlimited | `WithMaxRetries` (5) | `StartLimitBurst` |
/// | [`backoff`](ServiceOptions::backoff) | 1 s to 60 s, ×2, ±25 % | `WithBackoff` (the same) | `RestartSec` (fixed) |
/// | [`stable_after`](ServiceOptions::stable_after) | the backoff's max (60 s) | never resets | Kubernetes: 10 min |
/// | [`liveness_grace`](ServiceOptions::liveness_grace) | 30 s | polls `Health()` every second | Kubernetes liveness probe |
/// | [`optional`](ServiceOptions::optional) | no | — | systemd `Wants=` |
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_supervisor::{RestartPolicy, ServiceOptions};
///
/// let options = ServiceOptions::new()
///     .requires("database")
///     .after("migrations")
///     .start_delay(Duration::from_secs(2))
///     .restart(RestartPolicy::Always)
///     .max_retries(0); // unlimited
/// # let _ = options;
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use = "options do nothing until given to a supervisor"]
pub struct ServiceOptions {
    pub(crate) requires: Vec<String>,
    pub(crate) after: Vec<String>,
    pub(crate) start_delay: Duration,
    pub(crate) start_timeout: Duration,
    pub(crate) stop_timeout: Duration,
    pub(crate) restart: RestartPolicy,
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) stable_after: Option<Duration>,
    pub(crate) liveness_grace: Option<Duration>,
    pub(crate) optional: bool,
}

impl Default for ServiceOptions {
    fn default() -> Self {
        ServiceOptions::new()
    }
}

impl ServiceOptions {
    /// The defaults (see the table above).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::ServiceOptions;
    /// let options = ServiceOptions::new();
    /// # let _ = options;
    /// ```
    pub fn new() -> Self {
        ServiceOptions {
            requires: Vec::new(),
            after: Vec::new(),
            start_delay: Duration::ZERO,
            start_timeout: DEFAULT_START_TIMEOUT,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            restart: RestartPolicy::OnFailure,
            max_retries: DEFAULT_MAX_RETRIES,
            backoff: Backoff::default(),
            stable_after: None,
            liveness_grace: Some(DEFAULT_LIVENESS_GRACE),
            optional: false,
        }
    }

    /// Starts only once service `name` is running *and ready*; when `name` stops, fails or
    /// restarts, this service is stopped first and started again once `name` is ready again.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::ServiceOptions;
    /// let api = ServiceOptions::new().requires("db").requires("cache");
    /// # let _ = api;
    /// ```
    pub fn requires(mut self, name: impl Into<String>) -> Self {
        self.requires.push(name.into());
        self
    }

    /// Starts only after service `name` has finished starting (ready, or failed to start), and
    /// stops before it; nothing more: this service does not follow `name`'s restarts.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::ServiceOptions;
    /// let reports = ServiceOptions::new().after("db");
    /// # let _ = reports;
    /// ```
    pub fn after(mut self, name: impl Into<String>) -> Self {
        self.after.push(name.into());
        self
    }

    /// Waits this long before each start. Default: none.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::ServiceOptions;
    /// let staggered = ServiceOptions::new().start_delay(Duration::from_secs(2));
    /// # let _ = staggered;
    /// ```
    pub fn start_delay(mut self, delay: Duration) -> Self {
        self.start_delay = delay;
        self
    }

    /// How long one `start` may take before it counts as a failed start (and the service is
    /// stopped). Default: [`DEFAULT_START_TIMEOUT`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::ServiceOptions;
    /// let migrations = ServiceOptions::new().start_timeout(Duration::from_secs(600));
    /// # let _ = migrations;
    /// ```
    pub fn start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// How long one `stop` may take before the supervisor stops waiting for it and reports the
    /// service as not stopped in time. Default: [`DEFAULT_STOP_TIMEOUT`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::ServiceOptions;
    /// let draining = ServiceOptions::new().stop_timeout(Duration::from_secs(45));
    /// # let _ = draining;
    /// ```
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// When the service is started again after it ended. Default: [`RestartPolicy::OnFailure`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::{RestartPolicy, ServiceOptions};
    /// let one_shot = ServiceOptions::new().restart(RestartPolicy::Never);
    /// # let _ = one_shot;
    /// ```
    pub fn restart(mut self, policy: RestartPolicy) -> Self {
        self.restart = policy;
        self
    }

    /// The most restarts in a row (the count resets once the service has run for
    /// [`stable_after`](ServiceOptions::stable_after)); 0 means unlimited. Past it the supervisor
    /// gives up on the service, which stays stopped. Default: [`DEFAULT_MAX_RETRIES`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::ServiceOptions;
    /// let forever = ServiceOptions::new().max_retries(0);
    /// # let _ = forever;
    /// ```
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The delays between restarts. Default: [`Backoff::default`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::{Backoff, ServiceOptions};
    /// let quick = ServiceOptions::new().backoff(Backoff::new(Duration::from_millis(100), Duration::from_secs(10), 2.0));
    /// # let _ = quick;
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long the service must run for its restart count to start again from zero. Default:
    /// the backoff's max.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::ServiceOptions;
    /// let options = ServiceOptions::new().stable_after(Duration::from_secs(600)); // as Kubernetes
    /// # let _ = options;
    /// ```
    pub fn stable_after(mut self, period: Duration) -> Self {
        self.stable_after = Some(period);
        self
    }

    /// How long the service may stay [`Unhealthy`](runner_core::Health::Unhealthy) while running
    /// before it is restarted per its policy (`None`: never). The supervisor learns of health
    /// changes from the service's `changed`, not by polling. Default:
    /// [`DEFAULT_LIVENESS_GRACE`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_supervisor::ServiceOptions;
    /// let strict = ServiceOptions::new().liveness_grace(Some(Duration::from_secs(5)));
    /// let never = ServiceOptions::new().liveness_grace(None); // health never restarts it
    /// # let _ = (strict, never);
    /// ```
    pub fn liveness_grace(mut self, grace: Option<Duration>) -> Self {
        self.liveness_grace = grace;
        self
    }

    /// An optional service does not count for the supervisor's readiness, and its failure to
    /// start does not fail the supervisor's start. Default: not optional.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_supervisor::ServiceOptions;
    /// let metrics = ServiceOptions::new().optional(true); // its readiness does not count
    /// # let _ = metrics;
    /// ```
    pub fn optional(mut self, optional: bool) -> Self {
        self.optional = optional;
        self
    }

    pub(crate) fn stable_period(&self) -> Duration {
        self.stable_after.unwrap_or(self.backoff.max)
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_jitters_within_a_quarter() {
        let backoff = Backoff::default();
        for (attempt, secs) in [
            (1, 1.0),
            (2, 2.0),
            (3, 4.0),
            (6, 32.0),
            (7, 60.0),
            (40, 60.0),
        ] {
            let low = backoff.delay(attempt, 0.0).as_secs_f64();
            let mid = backoff.delay(attempt, 0.5).as_secs_f64();
            let high = backoff.delay(attempt, 1.0).as_secs_f64();
            assert!((mid - secs).abs() < 1e-9, "attempt {attempt}: {mid}");
            assert!((low - secs * 0.75).abs() < 1e-9 && (high - secs * 1.25).abs() < 1e-9);
        }
        assert_eq!(backoff.delay(u32::MAX, 1.0), Duration::from_secs(75));
    }

    #[test]
    fn a_huge_backoff_saturates() {
        let backoff = Backoff::new(Duration::MAX, Duration::MAX, 10.0).with_jitter(false);
        assert!(backoff.delay(3, 0.5) >= Duration::from_secs(u64::MAX / 2));
    }
}
