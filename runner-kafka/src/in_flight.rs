//! [`InFlight`]: records whose outputs are being delivered while the next records are
//! processed. Each delivery is a task of its own (sending every output, waiting for the
//! broker's acknowledgements, taking refusals to the production handler); a record settles
//! when its delivery ends. Bounded: at most [`MAX_IN_FLIGHT`] at a time per partition (per
//! runner, for a single-threaded one), so a slow broker slows the processing down instead of
//! growing memory.

use std::future::Future;

use tokio::task::JoinSet;

use crate::error::Error;
use crate::ledger::Ticket;
use crate::pipeline::Outcome;

/// How many records' deliveries may be under way at once.
pub(crate) const MAX_IN_FLIGHT: usize = 1_000;

/// See the module docs.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    deliveries: JoinSet<(Ticket, Outcome)>,
}

impl InFlight {
    pub(crate) fn new() -> Self {
        InFlight::default()
    }

    /// Starts the delivery of the record of `ticket`.
    pub(crate) fn start(
        &mut self,
        ticket: Ticket,
        delivery: impl Future<Output = Outcome> + Send + 'static,
    ) {
        self.deliveries
            .spawn(async move { (ticket, delivery.await) });
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.deliveries.is_empty()
    }

    pub(crate) fn is_full(&self) -> bool {
        self.deliveries.len() >= MAX_IN_FLIGHT
    }

    /// The next delivery to end; `None` if there is none. Cancel-safe.
    pub(crate) async fn next(&mut self) -> Option<(Ticket, Outcome)> {
        match self.deliveries.join_next().await? {
            Ok(done) => Some(done),
            // A delivery task never panics (the producer's and the handlers' code is ours and
            // does not); if one did, its record must not be committed.
            Err(error) => Some((
                Ticket::orphan(),
                Outcome::Failed(Error::Internal(runner_core::Panicked::new(
                    error.to_string(),
                ))),
            )),
        }
    }
}
