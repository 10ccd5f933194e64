//! [`Watchdog`]: a run's health, checked on the commit interval by a task of its own:
//! unhealthy while a partition's records wait and its watermark has not moved for the stuck
//! timeout; degraded while a partition is paused for backpressure; healthy otherwise.
//!
//! It is a task of its own, not a step of the engine's loop, because what it must notice may
//! be the engine itself being stuck: the single-threaded runner processes records on the
//! engine's task, so a record that never finishes would also stop a check made there.

use std::sync::Arc;

use runner_core::Health;
use runner_lifecycle::RunContext;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::ledger::Ledger;
use crate::metrics::Metrics;
use crate::settings::Settings;

/// The health-checking task of a run; it ends when this is dropped (with the run's future).
#[derive(Debug)]
pub(crate) struct Watchdog(JoinHandle<()>);

impl Watchdog {
    /// Starts checking the health of `run` from `ledger` and `metrics`, every commit interval.
    pub(crate) fn spawn(
        ledger: Arc<Ledger>,
        metrics: Arc<Metrics>,
        settings: Arc<Settings>,
        run: RunContext,
    ) -> Self {
        Watchdog(tokio::spawn(async move {
            let mut checks = tokio::time::interval(settings.commit_interval);
            checks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            checks.reset();
            let mut reported: Option<Health> = None;
            loop {
                checks.tick().await;
                let health = health(&ledger, &metrics, &settings);
                if reported.as_ref() != Some(&health) {
                    run.set_health(health.clone());
                    reported = Some(health);
                }
            }
        }))
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The health the ledger and the metrics show now.
fn health(ledger: &Ledger, metrics: &Metrics, settings: &Settings) -> Health {
    if let Some(partition) = ledger.stuck(settings.stuck_after).first() {
        Health::unhealthy(format!(
            "partition {partition} has not moved for {:?} while records wait",
            settings.stuck_after
        ))
    } else if let Some(partition) = metrics.first_paused() {
        Health::degraded(format!("partition {partition} is paused for backpressure"))
    } else {
        Health::Healthy
    }
}
