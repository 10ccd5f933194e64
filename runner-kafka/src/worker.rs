//! [`Worker`]: the task of one assigned partition in a `PartitionedRunner` or a `KeyedRunner`.
//! It takes the partition's records from a bounded queue, in order, through the [`Pipeline`]
//! with the partition's processors, and settles each in the [`Ledger`] when it ends. Which
//! records may be processed at once is its dispatch policy, [`Lanes`]: one at a time in offset
//! order (partitioned), or those of different keys at once, each key's in offset order (keyed).
//! The engine holds the queue's other end, and the records that did not fit (the partition is
//! paused once more than `max_held_bytes` of them wait); the worker tells it when the queue has
//! drained below half, so it can refill it and resume.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::client::Producer;
use crate::decode::Decode;
use crate::error::Error;
use crate::gate::Gate;
use crate::in_flight::InFlight;
use crate::keyed::{Lane, Lanes, Order, Pushed};
use crate::ledger::{Ledger, Ticket};
use crate::metrics::Metrics;
use crate::pipeline::{Outcome, Pipeline, Processed};
use crate::processor::ProcessorFactory;
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
    pub(crate) partition: TopicPartition,
    pub(crate) epoch: u64,
    queue: Option<mpsc::Sender<(Record, Ticket)>>,
    /// Records that did not fit in the queue, in order; past `max_held_bytes` of them the
    /// partition is paused until none waits.
    held: VecDeque<(Record, Ticket)>,
    /// The bytes of the held records.
    held_bytes: usize,
    /// How many bytes of records may be held before the partition is paused.
    max_held_bytes: usize,
    /// The backpressure handshake with the worker.
    gate: Arc<Gate>,
    task: JoinHandle<()>,
}

/// What happened to a record offered to a worker.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Offered {
    Queued,
    /// It waits in the engine (see [`Worker::holds_enough_to_pause`]); `first`: none waited
    /// before it, so the engine must ask to be told when the queue drains (until the held
    /// records are all in, each refill asks again).
    Held {
        first: bool,
    },
}

impl Worker {
    /// Spawns the worker of `partition` (assignment `epoch`), dispatching as `dispatch` says;
    /// its first processor is made now, the others (a keyed worker's) when records need them.
    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, every argument distinct"
    )]
    pub(crate) fn spawn<K, V, F, P>(
        partition: TopicPartition,
        epoch: u64,
        factory: Arc<F>,
        pipeline: Arc<Pipeline<P>>,
        ledger: Arc<Ledger>,
        metrics: Arc<Metrics>,
        reports: mpsc::UnboundedSender<Report>,
        capacity: usize,
        max_held_bytes: usize,
        dispatch: Dispatch,
    ) -> Worker
    where
        K: Decode,
        V: Decode,
        F: ProcessorFactory<K, V>,
        P: Producer,
    {
        let (queue, records) = mpsc::channel(capacity);
        let gate = Arc::new(Gate::new(capacity));
        let lanes = match dispatch {
            // Nothing is taken off the queue while a record is processed.
            Dispatch::InOrder => Lanes::new(Order::Partition, 1, 0),
            // Up to a queue's worth of records more wait for their key (or a free slot).
            Dispatch::ByKey { max_concurrency } => {
                Lanes::new(Order::Key, max_concurrency, capacity)
            }
        };
        let processors = Processors::new(factory, partition.clone());
        let task = tokio::spawn(work::<K, V, F, P>(
            Context {
                partition: partition.clone(),
                epoch,
                pipeline,
                ledger,
                metrics,
                reports,
                gate: Arc::clone(&gate),
            },
            processors,
            lanes,
            records,
        ));
        Worker {
            partition,
            epoch,
            queue: Some(queue),
            held: VecDeque::new(),
            held_bytes: 0,
            max_held_bytes,
            gate,
            task,
        }
    }

    /// Whether it holds more than its budget of bytes: the partition must be paused. (Below
    /// that the records wait in the engine unpaused: a pause makes librdkafka drop what it
    /// fetched ahead and fetch it again on resume, which costs far more than holding a few.)
    pub(crate) fn holds_enough_to_pause(&self) -> bool {
        self.held_bytes > self.max_held_bytes
    }

    fn hold(&mut self, item: (Record, Ticket)) -> Offered {
        let first = self.held.is_empty();
        self.held_bytes += item.0.size();
        self.held.push_back(item);
        Offered::Held { first }
    }

    /// Hands `record` to the worker, or holds it if the queue is full (or others wait).
    pub(crate) fn offer(&mut self, record: Record, ticket: Ticket) -> Offered {
        let Some(queue) = self.queue.as_ref().filter(|_| self.held.is_empty()) else {
            return self.hold((record, ticket));
        };
        match queue.try_send((record, ticket)) {
            Ok(()) => {
                self.gate.queued();
                Offered::Queued
            }
            Err(
                mpsc::error::TrySendError::Full(item) | mpsc::error::TrySendError::Closed(item),
            ) => self.hold(item),
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
            let size = item.0.size();
            match queue.try_send(item) {
                Ok(()) => {
                    self.held_bytes -= size;
                    self.gate.queued();
                }
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

/// A worker's dispatch policy: which of its records may be processed at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dispatch {
    /// One at a time, in offset order, by the partition's one processor (partitioned).
    InOrder,
    /// Records of different keys at once, at most `max_concurrency`, each by a processor of
    /// its own; those of one key one at a time, in offset order (keyed).
    ByKey { max_concurrency: usize },
}

/// A partition's processors: the first made with the worker, more as concurrent records need
/// them (at most one per concurrent record), each reused once its record ends.
struct Processors<F, Pr> {
    factory: Arc<F>,
    partition: TopicPartition,
    idle: Vec<Pr>,
}

impl<F, Pr> Processors<F, Pr> {
    fn new<K, V>(factory: Arc<F>, partition: TopicPartition) -> Self
    where
        F: ProcessorFactory<K, V, Processor = Pr>,
    {
        let first = factory.create(&partition);
        Processors {
            factory,
            partition,
            idle: vec![first],
        }
    }

    fn take<K, V>(&mut self) -> Pr
    where
        F: ProcessorFactory<K, V, Processor = Pr>,
    {
        self.idle
            .pop()
            .unwrap_or_else(|| self.factory.create(&self.partition))
    }

    fn put(&mut self, processor: Pr) {
        self.idle.push(processor);
    }
}

/// A record whose processing ended, with what it was processed with.
struct Ended<Pr> {
    lane: Lane,
    processor: Pr,
    record: Record,
    ticket: Ticket,
    processed: Processed,
}

type Processing<Pr> = Pin<Box<dyn Future<Output = Ended<Pr>> + Send>>;

/// Processes `record` with `processor`; gives both back with the result.
fn process<K, V, Pr, P>(
    pipeline: Arc<Pipeline<P>>,
    mut processor: Pr,
    lane: Lane,
    record: Record,
    ticket: Ticket,
) -> Processing<Pr>
where
    K: Decode,
    V: Decode,
    Pr: crate::processor::Processor<K, V>,
    P: Producer,
{
    Box::pin(async move {
        let processed = pipeline.process::<K, V, Pr>(&mut processor, &record).await;
        Ended {
            lane,
            processor,
            record,
            ticket,
            processed,
        }
    })
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

async fn work<K, V, F, P>(
    cx: Context<P>,
    mut processors: Processors<F, F::Processor>,
    mut lanes: Lanes<(Record, Ticket)>,
    mut records: mpsc::Receiver<(Record, Ticket)>,
) where
    K: Decode,
    V: Decode,
    F: ProcessorFactory<K, V>,
    P: Producer,
{
    let mut in_flight = InFlight::new();
    // The records being processed. Polled by this task: a revoke's abort of the task drops
    // them with it, so nothing of a revoked partition is processed after the barrier.
    let mut running: FuturesUnordered<Processing<F::Processor>> = FuturesUnordered::new();
    let mut open = true;
    loop {
        // Start what may start: a free slot, and a record whose lane is free.
        while !in_flight.is_full() {
            let Some((lane, (record, ticket))) = lanes.next() else {
                break;
            };
            let processor = processors.take::<K, V>();
            running.push(process::<K, V, _, P>(
                Arc::clone(&cx.pipeline),
                processor,
                lane,
                record,
                ticket,
            ));
        }
        if !open && lanes.is_empty() {
            break;
        }
        // Never all disabled: with nothing delivering and nothing running, the lanes hold
        // nothing (it would have started), so the queue is open and has room.
        tokio::select! {
            biased;
            Some((ticket, outcome)) = in_flight.next(), if !in_flight.is_empty() => {
                if !cx.settle(&ticket, outcome) {
                    return;
                }
            }
            Some(ended) = running.next(), if !running.is_empty() => {
                let Ended { lane, processor, record, ticket, processed } = ended;
                lanes.done(&lane);
                processors.put(processor);
                match processed {
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
                // A record counts against the partition's buffer until its processing ended
                // (queued, waiting for its key, or processed).
                if cx.gate.taken() {
                    let _ = cx.reports.send(Report::Drained {
                        partition: cx.partition.clone(),
                        epoch: cx.epoch,
                    });
                }
            }
            item = records.recv(), if open && lanes.has_room() && !in_flight.is_full() => {
                let Some((record, ticket)) = item else {
                    open = false;
                    continue;
                };
                let (lane, offset) = (lanes.lane(record.key.as_deref()), record.offset);
                if lanes.push(lane, offset, (record, ticket)) == Pushed::Behind {
                    tracing::trace!(target: "runner::kafka", partition = %cx.partition, offset, "kafka.keyed.waiting: an earlier record of its key is processed");
                }
            }
        }
    }
    // The queue is closed (a shutdown) and its records processed: the deliveries under way
    // end first.
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
