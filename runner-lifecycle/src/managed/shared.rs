//! [`Shared`]: what a managed runner and the tasks of its runs share: its settings, its control
//! plane and its work. The work keeps its concrete type here, so the task that drives a run is
//! generic over it: the run's future lives inline in that task, with no box.

use std::sync::Arc;

use super::config::Config;
use super::context::{ManagedControl, Scope};
use super::work::Work;

pub(crate) struct Shared<W> {
    pub(crate) config: Config,
    pub(crate) control: ManagedControl,
    pub(crate) work: Arc<W>,
}

impl<W: Work> Scope for Shared<W> {
    fn control(&self) -> &ManagedControl {
        &self.control
    }

    fn name(&self) -> &str {
        &self.config.name
    }
}
