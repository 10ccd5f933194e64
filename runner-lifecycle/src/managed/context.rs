//! [`RunContext`]: what a run gets: its cancellation, a way to say it is ready, a way to report
//! its health.

use core::fmt;
use std::sync::Arc;

use runner_core::Health;
use tokio_util::sync::CancellationToken;

use crate::cancelled::Cancelled;
use crate::control::Control;

/// The health a run reported, and which run; boxed, as most runs never report one.
pub(crate) type Reported = Option<Box<(u64, Health)>>;

/// The control plane of a managed runner: its recorded errors, and the health a run reported.
pub(crate) type ManagedControl = Control<super::Error, Reported>;

/// What a run's context reaches: the control plane and the runner's name, whatever the work.
pub(crate) trait Scope: Send + Sync + 'static {
    fn control(&self) -> &ManagedControl;
    fn name(&self) -> &str;
}

/// Handed to a [`Work`](crate::Work)'s run (and to `runner-startstop`'s start function): a way to
/// learn that the runner was asked to stop ([`cancelled`](RunContext::cancelled), or a
/// [`CancellationToken`](RunContext::token)), a way to say the service is
/// [ready](RunContext::ready), and a way to [report its health](RunContext::set_health).
///
/// Cheap to clone; clones share everything, so a sub-task can signal ready or watch for
/// cancellation.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_core::Runner;
/// use runner_lifecycle::{Managed, ReadyWhen, RunContext, Work};
///
/// struct Listener;
///
/// impl Work for Listener {
///     type Error = std::io::Error;
///
///     async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
///         let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///         run.ready(); // `start()` returns now, with the port bound
///         tokio::select! {
///             () = run.cancelled() => Ok(()),
///             accepted = listener.accept() => accepted.map(drop),
///         }
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let server = Managed::builder(Listener).ready_when(ReadyWhen::Signalled).build().unwrap();
/// server.start().await.unwrap();
/// server.stop().await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct RunContext {
    scope: Arc<dyn Scope>,
    run: u64,
}

impl RunContext {
    pub(crate) fn new(scope: Arc<dyn Scope>, run: u64) -> Self {
        RunContext { scope, run }
    }

    /// Resolves when the runner is asked to stop (or dropped), or the run is ending anyway.
    pub fn cancelled(&self) -> Cancelled<'_> {
        Cancelled::new(self.scope.control(), self.run)
    }

    /// `true` once the runner has been asked to stop, or the run is ending anyway.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.scope.control().is_cancelled(self.run)
    }

    /// A token cancelled when the runner is asked to stop or the run ends: pass it, or child
    /// tokens of it, to whatever the run spawns, or to an API that takes one. Every call during a
    /// run returns a handle to the same token; it is made on the first call, so a run that never
    /// asks pays nothing for it.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        self.scope.control().token(self.run)
    }

    /// Says the service is ready: with [`ReadyWhen::Signalled`](crate::ReadyWhen::Signalled), the
    /// pending `start()` resolves and the state becomes `Running`. Idempotent, and a no-op
    /// otherwise.
    pub fn ready(&self) {
        if self.scope.control().ready(self.run, crate::now()) {
            tracing::debug!(target: "runner::lifecycle", { runner.name = %self.scope.name(), run = self.run }, "runner.ready: running");
        }
    }

    /// Reports the run's health (liveness): what the runner's `health()` says while it is
    /// running, instead of plain `Healthy`. A change from one kind to another (healthy, degraded,
    /// unhealthy) advances the runner's version, so a supervisor waiting on `changed` learns it
    /// at once. Belongs to this run: the next run starts healthy. A no-op once the run is no
    /// longer current.
    pub fn set_health(&self, health: Health) {
        let run = self.run;
        let changed = self.scope.control().update(|parts| {
            if !parts.is_live(run) {
                return false;
            }
            let before = reported(parts.ext, run).map_or(kind_of(&Health::Healthy), kind_of);
            let changed = kind_of(&health) != before;
            match parts.ext {
                Some(slot) => **slot = (run, health),
                None => *parts.ext = Some(Box::new((run, health))),
            }
            if changed {
                parts.touch();
            }
            changed
        });
        if changed {
            tracing::debug!(target: "runner::lifecycle", { runner.name = %self.scope.name(), run }, "runner.health: changed");
        }
    }

    /// The number of this run: 1 for the first `start`, 2 after a restart, and so on.
    #[must_use]
    pub fn run(&self) -> u64 {
        self.run
    }

    /// The runner's name.
    #[must_use]
    pub fn name(&self) -> &str {
        self.scope.name()
    }
}

/// The health run `run` reported, if it reported one (a report of an earlier run is ignored).
pub(crate) fn reported(slot: &Reported, run: u64) -> Option<&Health> {
    slot.as_deref()
        .filter(|(reporter, _)| *reporter == run)
        .map(|(_, health)| health)
}

/// Healthy, degraded or unhealthy, without the reason: a change of this is worth a version.
fn kind_of(health: &Health) -> u8 {
    match health {
        Health::Healthy => 1,
        Health::Degraded(_) => 2,
        Health::Unhealthy(_) => 3,
    }
}

impl fmt::Debug for RunContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunContext")
            .field("runner", &self.scope.name())
            .field("run", &self.run)
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}
