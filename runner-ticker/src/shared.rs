//! [`Shared`]: what a ticker and its task share: its settings, its control plane and the user's
//! function, whose type is erased (behind [`Engine`](crate::engine::Engine)) only where a run is
//! spawned.

use core::future::Future;

use crate::config::Config;
use crate::context::{Scope, TickContext};
use crate::error::BoxError;
use crate::ledger::{Ledger, Tally};
use crate::state::TickControl;

/// The function run on every tick: `Fn(TickContext) -> impl Future<Output = Result<(), E>>`.
pub(crate) trait TickFn: Send + Sync + 'static {
    type Run: Future<Output = Result<(), Self::Error>> + Send + 'static;
    type Error: Into<BoxError>;
    fn call(&self, tick: TickContext) -> Self::Run;
}

impl<F, R, E> TickFn for F
where
    F: Fn(TickContext) -> R + Send + Sync + 'static,
    R: Future<Output = Result<(), E>> + Send + 'static,
    E: Into<BoxError>,
{
    type Run = R;
    type Error = E;

    fn call(&self, tick: TickContext) -> R {
        self(tick)
    }
}

/// In this order, so that what every run touches sits together, right after the reference
/// counts a tick's context clones: the function, the ledger, and the control plane's stop hint
/// (its first field). With a small function, two cache lines.
#[repr(C)]
pub(crate) struct Shared<F> {
    pub(crate) function: F,
    pub(crate) ledger: Ledger,
    pub(crate) control: TickControl,
    pub(crate) tally: Tally,
    pub(crate) config: Config,
}

impl<F: TickFn> Scope for Shared<F> {
    fn control(&self) -> &TickControl {
        &self.control
    }

    fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn name(&self) -> &str {
        &self.config.name
    }
}
