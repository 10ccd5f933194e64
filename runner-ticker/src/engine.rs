//! [`Engine`]: a [`Shared`] with its function's type erased, what a [`Ticker`](crate::Ticker)
//! holds. Erased only where a run is spawned, so the function's future stays unboxed.

use core::fmt;
use std::sync::Arc;
use std::time::Instant;

use tokio::runtime::Handle;

use crate::config::Config;
use crate::driver;
use crate::ledger::{Ledger, Tally};
use crate::shared::{Shared, TickFn};
use crate::state::TickControl;

pub(crate) trait Engine: Send + Sync + 'static {
    fn config(&self) -> &Config;
    fn control(&self) -> &TickControl;
    fn ledger(&self) -> &Ledger;
    fn tally(&self) -> &Tally;
    /// Spawns the task of run `run`, which began `at`, on `runtime`.
    fn spawn_run(self: Arc<Self>, runtime: &Handle, run: u64, at: Instant);
}

impl<F: TickFn> Engine for Shared<F> {
    fn config(&self) -> &Config {
        &self.config
    }

    fn control(&self) -> &TickControl {
        &self.control
    }

    fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }

    fn spawn_run(self: Arc<Self>, runtime: &Handle, run: u64, at: Instant) {
        driver::spawn(self, runtime, run, at);
    }
}

impl fmt::Debug for dyn Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticker")
            .field("config", self.config())
            .field("control", self.control())
            .finish()
    }
}
