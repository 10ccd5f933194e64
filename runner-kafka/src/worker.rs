//! [`Worker`]: the task of one assigned partition in a `PartitionedRunner`. It takes the
//! partition's records from a bounded queue, in order, through the [`Pipeline`] with the
//! partition's processor, and settles each in the [`Ledger`]. The engine holds the queue's
//! other end, and the records that did not fit (the partition is paused meanwhile); the worker
//! tells it when the queue has drained below half, so it can refill it and resume.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::client::Producer;
use crate::decode::Decode;
use crate::error::Error;
use crate::gate::Gate;
use crate::in_flight::InFlight;
use crate::ledger::{Ledger, Ticket};
use crate::metrics::Metrics;
use crate::pipeline::{Outcome, Pipeline, Processed};
use crate::processor::Processor;
use crate::record::{Record, TopicPartition};

/// What a worker tells the engine.
#[derive(Debug)]
pub(crate) enum Report {
    /// The queue of `partition` (assignment `epoch`) drained below half: refill it.
    Drained {
        partition: TopicPartition,
        epoch: u64,
    },
    /// A record failed for good: the runner stops with this error.
    Failed(Error),
}

/// The engine's handle on one partition's worker.
#[derive(Debug)]
pub(crate) struct Worker {
    pub(crate) epoch: u64,
    queue: Option<mpsc::Sender<(Record, Ticket)>>,
    /// Records that did not fit in the queue, in order; the partition is paused while any wait.
    held: VecDeque<(Record, Ticket)>,
    /// The backpressure handshake with the worker.
    gate: Arc<Gate>,
    task: JoinHandle<()>,
}

/// What happened to a record offered to a worker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offered {
    Queued,
    /// It waits in the engine: the partition must be paused.
    Held,
}

impl Worker {
    /// Spawns the worker of `partition` (assignment `epoch`).
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, every argument distinct"
    )]
    pub(crate) fn spawn<K, V, Pr, P>(
        partition: TopicPartition,
        epoch: u64,
        processor: Pr,
        pipeline: Arc<Pipeline<P>>,
        ledger: Arc<Ledger>,
        metrics: Arc<Metrics>,
        reports: mpsc::UnboundedSender<Report>,
        capacity: usize,
    ) -> Worker
    where
        K: Decode,
        V: Decode,
        Pr: Processor<K, V>,
        P: Producer,
    {
        let (queue, records) = mpsc::channel(capacity);
        let gate = Arc::new(Gate::new(capacity));
        let task = tokio::spawn(work::<K, V, Pr, P>(
            Context {
                partition,
                epoch,
                pipeline,
                ledger,
                metrics,
                reports,
                gate: Arc::clone(&gate),
            },
            processor,
            records,
        ));
        Worker {
            epoch,
            queue: Some(queue),
            held: VecDeque::new(),
            gate,
            task,
        }
    }

    /// Hands `record` to the worker, or holds it if the queue is full (or others wait).
    pub(crate) fn offer(&mut self, record: Record, ticket: Ticket) -> Offered {
        if !self.held.is_empty() {
            self.held.push_back((record, ticket));
            return Offered::Held;
        }
        let Some(queue) = &self.queue else {
            return Offered::Held;
        };
        match queue.try_send((record, ticket)) {
            Ok(()) => {
                self.gate.queued();
                Offered::Queued
            }
            Err(
                mpsc::error::TrySendError::Full(item) | mpsc::error::TrySendError::Closed(item),
            ) => {
                self.held.push_back(item);
                Offered::Held
            }
        }
    }

    /// Asks to be told when the queue has drained below half (the partition was just paused).
    /// Returns `true` if it already has: refill now.
    pub(crate) fn want_wake(&self) -> bool {
        self.gate.want_wake()
    }

    /// Moves held records into the queue while it has room. Returns `true` when none is held
    /// any more (the partition may be resumed).
    pub(crate) fn refill(&mut self) -> bool {
        let Some(queue) = &self.queue else {
            return self.held.is_empty();
        };
        while let Some(item) = self.held.pop_front() {
            match queue.try_send(item) {
                Ok(()) => self.gate.queued(),
                Err(
                    mpsc::error::TrySendError::Full(item) | mpsc::error::TrySendError::Closed(item),
                ) => {
                    self.held.push_front(item);
                    return false;
                }
            }
        }
        true
    }

    /// Cancels the worker (a revoke): its record in flight is dropped unsettled, and so are the
    /// queued and held ones. Returns its task, to wait for it.
    pub(crate) fn cancel(mut self) -> JoinHandle<()> {
        self.held.clear();
        self.queue = None;
        self.task.abort();
        self.task
    }

    /// Lets the worker finish its queued records and end (a shutdown): the held ones are
    /// dropped unsettled (read again by the next owner). Returns its task, to wait for it.
    pub(crate) fn drain(mut self) -> JoinHandle<()> {
        self.held.clear();
        self.queue = None;
        self.task
    }
}

/// What the worker's task works with.
struct Context<P> {
    partition: TopicPartition,
    epoch: u64,
    pipeline: Arc<Pipeline<P>>,
    ledger: Arc<Ledger>,
    metrics: Arc<Metrics>,
    reports: mpsc::UnboundedSender<Report>,
    gate: Arc<Gate>,
}

async fn work<K, V, Pr, P>(
    cx: Context<P>,
    mut processor: Pr,
    mut records: mpsc::Receiver<(Record, Ticket)>,
) where
    K: Decode,
    V: Decode,
    Pr: Processor<K, V>,
    P: Producer,
{
    let mut in_flight = InFlight::new();
    loop {
        tokio::select! {
            biased;
            Some((ticket, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                if !cx.settle(&ticket, outcome) {
                    return;
                }
            }
            item = records.recv(), if !in_flight.is_full() => {
                let Some((record, ticket)) = item else {
                    break;
                };
                match cx.pipeline.process::<K, V, Pr>(&mut processor, &record).await {
                    Processed::Outputs(outputs) if !outputs.is_empty() => {
                        let delivery = Arc::clone(&cx.pipeline).deliver(Arc::new(record), outputs);
                        in_flight.start(ticket, delivery);
                    }
                    Processed::Outputs(_) => {
                        let _ = cx.settle(&ticket, Outcome::Processed);
                    }
                    Processed::Ended(outcome) => {
                        if !cx.settle(&ticket, outcome) {
                            return;
                        }
                    }
                }
                if cx.gate.taken() {
                    let _ = cx.reports.send(Report::Drained {
                        partition: cx.partition.clone(),
                        epoch: cx.epoch,
                    });
                }
            }
        }
    }
    // The queue is closed (a shutdown): the deliveries under way end first.
    while let Some((ticket, outcome)) = in_flight.next().await {
        if !cx.settle(&ticket, outcome) {
            return;
        }
    }
}

impl<P> Context<P> {
    /// Settles the record of `ticket` as `outcome` says; `false` if it failed (the failure is
    /// reported, and the worker stops).
    fn settle(&self, ticket: &Ticket, outcome: Outcome) -> bool {
        if let Outcome::Failed(error) = outcome {
            self.metrics.failed();
            let _ = self.reports.send(Report::Failed(error));
            return false;
        }
        self.metrics.settled(&outcome);
        let _ = self.ledger.settle(ticket);
        true
    }
}
