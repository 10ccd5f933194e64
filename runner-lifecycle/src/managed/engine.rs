//! [`Engine`]: a [`Shared`] with its work's type erased, what [`Managed`](super::Managed) holds.
//! The type is erased only where a run is spawned, so the run's future stays unboxed.

use std::sync::Arc;

use tokio::runtime::Handle;

use super::config::Config;
use super::context::ManagedControl;
use super::driver;
use super::shared::Shared;
use super::work::Work;

pub(crate) trait Engine: Send + Sync + 'static {
    fn config(&self) -> &Config;
    fn control(&self) -> &ManagedControl;
    /// Calls the run function for run `run` and spawns the task that drives it on `runtime`.
    fn spawn_run(self: Arc<Self>, runtime: &Handle, run: u64);
}

impl<W: Work> Engine for Shared<W> {
    fn config(&self) -> &Config {
        &self.config
    }

    fn control(&self) -> &ManagedControl {
        &self.control
    }

    fn spawn_run(self: Arc<Self>, runtime: &Handle, run: u64) {
        driver::spawn(self, runtime, run);
    }
}
