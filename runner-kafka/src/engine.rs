//! The engine: one run of a runner. It owns the client; it reads events, hands records to the
//! partitions' processors (inline, or through each partition's [`Worker`]), keeps the ledger's
//! accounts in step with the assignment, commits on an interval, on revoke (before releasing
//! the partitions) and on shutdown, and pauses and resumes partitions for backpressure.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use runner_lifecycle::RunContext;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::client::{Barrier, Client, ClientError, Event, Producer};
use crate::decode::Decode;
use crate::error::Error;
use crate::health::Watchdog;
use crate::in_flight::InFlight;
use crate::ledger::{Commit, Ledger, Ticket};
use crate::metrics::Metrics;
use crate::pipeline::{Outcome, Pipeline, Processed};
use crate::processor::ProcessorFactory;
use crate::record::{Record, TopicPartition};
use crate::settings::{Mode, Settings};
use crate::worker::{Dispatch, Offered, Report, Worker};

/// The processing of one assigned partition.
enum Slot<P> {
    /// Processed by the engine itself (a single-threaded runner).
    Inline(P),
    /// Processed by its worker task (a partitioned or keyed runner).
    Worker(Worker),
}

pub(crate) struct Engine<C: Client, F, K, V>
where
    F: ProcessorFactory<K, V>,
{
    client: C,
    settings: Arc<Settings>,
    metrics: Arc<Metrics>,
    ledger: Arc<Ledger>,
    pipeline: Arc<Pipeline<C::Producer>>,
    factory: Arc<F>,
    slots: HashMap<TopicPartition, Slot<F::Processor>>,
    paused: BTreeSet<TopicPartition>,
    reports: mpsc::UnboundedSender<Report>,
    reported: mpsc::UnboundedReceiver<Report>,
    /// Deliveries under way of inline-processed records (a single-threaded runner).
    in_flight: InFlight,
    poll_failures: u32,
    ready: bool,
    _kv: PhantomData<fn() -> (K, V)>,
}

impl<C, F, K, V> Engine<C, F, K, V>
where
    C: Client,
    F: ProcessorFactory<K, V>,
    K: Decode,
    V: Decode,
{
    pub(crate) fn new(
        client: C,
        settings: Arc<Settings>,
        metrics: Arc<Metrics>,
        ledger: Arc<Ledger>,
        factory: Arc<F>,
    ) -> Self {
        let pipeline = Arc::new(Pipeline::new(
            Arc::clone(&settings.handlers),
            client.producer(),
            Arc::clone(&settings.node),
        ));
        let (reports, reported) = mpsc::unbounded_channel();
        Engine {
            client,
            settings,
            metrics,
            ledger,
            pipeline,
            factory,
            slots: HashMap::new(),
            paused: BTreeSet::new(),
            reports,
            reported,
            in_flight: InFlight::new(),
            poll_failures: 0,
            ready: false,
            _kv: PhantomData,
        }
    }

    /// Runs until stopped (`Ok`), or until a record or the client fails (`Err`); either way
    /// the shutdown commits what was settled, flushes the producer and closes the client.
    pub(crate) async fn run(mut self, run: RunContext) -> Result<(), Error> {
        if let Err(error) = self.client.subscribe(&self.settings.topics) {
            return self.shut_down(Some(Error::Client(error))).await;
        }
        let mut commits = tokio::time::interval(self.settings.commit_interval);
        commits.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        commits.reset();
        let watchdog = Watchdog::spawn(
            Arc::clone(&self.ledger),
            Arc::clone(&self.metrics),
            Arc::clone(&self.settings),
            run.clone(),
        );
        let failure = loop {
            tokio::select! {
                biased;
                () = run.cancelled() => break None,
                Some((ticket, outcome)) = self.in_flight.next(), if !self.in_flight.is_empty() => {
                    if let Err(error) = self.settle(&ticket, outcome) {
                        break Some(error);
                    }
                }
                Some(report) = self.reported.recv() => match report {
                    Report::Failed(error) => break Some(error),
                    Report::Drained { partition, epoch } => self.refill(&partition, epoch),
                },
                _ = commits.tick() => self.commit_settled().await,
                event = self.client.poll() => {
                    if let Err(error) = self.on_event(event, &run).await {
                        break Some(error);
                    }
                }
            }
        };
        drop(watchdog);
        self.shut_down(failure).await
    }

    async fn on_event(
        &mut self,
        event: Result<Event, ClientError>,
        run: &RunContext,
    ) -> Result<(), Error> {
        match event {
            Ok(event) => {
                self.poll_failures = 0;
                match event {
                    Event::Records(records) => self.dispatch(records, run).await,
                    Event::Assigned(partitions) => {
                        self.assign(partitions);
                        if !self.ready {
                            self.ready = true;
                            run.ready();
                            tracing::info!(target: "runner::kafka", runner = %self.settings.name, "kafka.ready: joined the group, first assignment received");
                        }
                        Ok(())
                    }
                    Event::Revoked {
                        partitions,
                        lost,
                        barrier,
                    } => {
                        self.revoke(partitions, lost, barrier).await;
                        Ok(())
                    }
                }
            }
            Err(error) if error.is_transient() => {
                self.metrics.poll_failed();
                self.poll_failures = self.poll_failures.saturating_add(1);
                let delay = self.settings.poll_error_backoff.delay(self.poll_failures);
                tracing::warn!(target: "runner::kafka", runner = %self.settings.name, %error, ?delay, "kafka.poll_error: retrying after the poll-error backoff");
                tokio::select! {
                    () = run.cancelled() => {}
                    () = tokio::time::sleep(delay) => {}
                }
                Ok(())
            }
            Err(error) => Err(Error::Client(error)),
        }
    }

    /// Hands each record to its partition's processor, in order.
    async fn dispatch(&mut self, records: Vec<Record>, run: &RunContext) -> Result<(), Error> {
        self.metrics.consumed(records.len());
        // Every record read gets its ticket now, so that the ledger (and the metrics) count
        // the whole batch as in flight while the single-threaded runner works through it.
        let tickets: Vec<(Record, Ticket)> = records
            .into_iter()
            .filter_map(|record| {
                // Not (or no longer) assigned: whoever owns it reads it.
                let ticket = self
                    .ledger
                    .dispatch(&record.topic_partition(), record.offset)?;
                Some((record, ticket))
            })
            .collect();
        for (record, ticket) in tickets {
            let partition = &ticket.partition;
            match self.slots.get_mut(partition) {
                Some(Slot::Inline(processor)) => {
                    if run.is_cancelled() {
                        // Stopping: the rest of the batch is read again by the next owner.
                        return Ok(());
                    }
                    let drain = self.settings.drain_timeout;
                    let processing = self.pipeline.process::<K, V, _>(processor, &record);
                    let Some(processed) = finish_within(processing, run, drain).await else {
                        // Stopped, and not finished within the drain timeout: cancelled, not
                        // settled; read again by the next owner.
                        return Ok(());
                    };
                    match processed {
                        Processed::Outputs(outputs) if !outputs.is_empty() => {
                            while self.in_flight.is_full() {
                                if let Some((ticket, outcome)) = self.in_flight.next().await {
                                    self.settle(&ticket, outcome)?;
                                }
                            }
                            let delivery =
                                Arc::clone(&self.pipeline).deliver(Arc::new(record), outputs);
                            self.in_flight.start(ticket, delivery);
                        }
                        Processed::Outputs(_) => self.settle(&ticket, Outcome::Processed)?,
                        Processed::Ended(outcome) => self.settle(&ticket, outcome)?,
                    }
                }
                Some(Slot::Worker(worker)) => {
                    let Offered::Held { first } = worker.offer(record, ticket) else {
                        continue;
                    };
                    let partition = worker.partition.clone();
                    if worker.holds_enough_to_pause() {
                        if !self.paused.contains(&partition) {
                            self.pause(&partition);
                        }
                    } else if first && worker.want_wake() {
                        // Drained meanwhile: move the held records in at once.
                        let epoch = worker.epoch;
                        self.refill(&partition, epoch);
                    }
                }
                None => {}
            }
        }
        Ok(())
    }

    /// Settles the record of `ticket` as `outcome` says; its failure is the run's.
    fn settle(&self, ticket: &Ticket, outcome: Outcome) -> Result<(), Error> {
        self.metrics.settled(&outcome);
        match outcome {
            Outcome::Failed(error) => Err(error),
            _ => {
                let _ = self.ledger.settle(ticket);
                Ok(())
            }
        }
    }

    fn pause(&mut self, partition: &TopicPartition) {
        if let Err(error) = self.client.pause(std::slice::from_ref(partition)) {
            tracing::warn!(target: "runner::kafka", runner = %self.settings.name, %partition, %error, "kafka.pause failed; records are held all the same");
        }
        self.paused.insert(partition.clone());
        self.metrics.paused(partition);
        tracing::debug!(target: "runner::kafka", runner = %self.settings.name, %partition, "kafka.paused: the partition's queue is full and a queue's worth of records waits");
        if let Some(Slot::Worker(worker)) = self.slots.get(partition) {
            if worker.want_wake() {
                let epoch = worker.epoch;
                self.refill(partition, epoch);
            }
        }
    }

    /// A worker's queue drained below half: move its held records in, and resume the
    /// partition (if it was paused) once none is held.
    fn refill(&mut self, partition: &TopicPartition, epoch: u64) {
        let Some(Slot::Worker(worker)) = self.slots.get_mut(partition) else {
            return;
        };
        if worker.epoch != epoch {
            return; // a report of an earlier assignment
        }
        if worker.refill() {
            if !self.paused.remove(partition) {
                return;
            }
            self.metrics.resumed(partition);
            if let Err(error) = self.client.resume(std::slice::from_ref(partition)) {
                tracing::warn!(target: "runner::kafka", runner = %self.settings.name, %partition, %error, "kafka.resume failed");
            }
            tracing::debug!(target: "runner::kafka", runner = %self.settings.name, %partition, "kafka.resumed");
        } else if worker.want_wake() {
            self.refill(partition, epoch);
        }
    }

    fn assign(&mut self, partitions: Vec<TopicPartition>) {
        self.metrics.rebalanced();
        tracing::info!(target: "runner::kafka", runner = %self.settings.name, partitions = ?partitions, "kafka.assigned");
        // A pause the client kept across a revoke and this assignment is not ours any more:
        // these partitions start unpaused (librdkafka keeps pauses across an eager rebalance).
        if let Err(error) = self.client.resume(&partitions) {
            tracing::debug!(target: "runner::kafka", runner = %self.settings.name, %error, "kafka.resume of newly assigned partitions refused");
        }
        for partition in partitions {
            let epoch = self.ledger.assign(&partition);
            let (capacity, dispatch) = match self.settings.mode {
                Mode::Single => {
                    let processor = self.factory.create(&partition);
                    self.install(partition, Slot::Inline(processor));
                    continue;
                }
                Mode::Partitioned {
                    channel_buffer_size,
                    ..
                } => (channel_buffer_size, Dispatch::InOrder),
                Mode::Keyed {
                    channel_buffer_size,
                    max_concurrency,
                    ..
                } => (channel_buffer_size, Dispatch::ByKey { max_concurrency }),
            };
            let slot = Slot::Worker(Worker::spawn::<K, V, _, _>(
                partition.clone(),
                epoch,
                Arc::clone(&self.factory),
                Arc::clone(&self.pipeline),
                Arc::clone(&self.ledger),
                Arc::clone(&self.metrics),
                self.reports.clone(),
                capacity,
                self.settings.max_held_bytes,
                dispatch,
            ));
            self.install(partition, slot);
        }
    }

    /// `partition`'s processing is `slot` now, unpaused; an earlier one is cancelled.
    fn install(&mut self, partition: TopicPartition, slot: Slot<F::Processor>) {
        self.paused.remove(&partition);
        self.metrics.resumed(&partition);
        if let Some(old) = self.slots.insert(partition, slot) {
            end_slot(old, true);
        }
    }

    /// The rebalance barrier: stops dispatching the partitions, cancels their work in flight,
    /// waits for it (within the worker shutdown timeout), commits what was settled (unless they
    /// were lost), and only then lets the client release them.
    async fn revoke(&mut self, partitions: Vec<TopicPartition>, lost: bool, barrier: Barrier) {
        self.metrics.rebalanced();
        tracing::info!(target: "runner::kafka", runner = %self.settings.name, partitions = ?partitions, lost, "kafka.revoked");
        let mut tasks = Vec::new();
        for partition in &partitions {
            self.ledger.close(partition);
            self.paused.remove(partition);
            self.metrics.resumed(partition);
            if let Some(slot) = self.slots.remove(partition) {
                tasks.extend(end_slot(slot, true));
            }
        }
        wait_for(
            tasks,
            self.settings.worker_shutdown_timeout(),
            &self.settings.name,
        )
        .await;
        if lost {
            for partition in &partitions {
                self.ledger.lose(partition);
            }
        } else {
            let commits: Vec<Commit> = partitions
                .iter()
                .filter_map(|partition| self.ledger.revoke(partition))
                .collect();
            if let Err(error) = self.commit(commits).await {
                // Not fatal: the next owner reads the unacknowledged records again.
                tracing::warn!(target: "runner::kafka", runner = %self.settings.name, %error, "kafka.commit on revoke failed; the partitions' last records will be read again");
            }
        }
        barrier.done();
    }

    /// Commits what was settled since the last commit (the interval's commit).
    async fn commit_settled(&mut self) {
        let commits = self.ledger.to_commit();
        if let Err(error) = self.commit(commits).await {
            tracing::warn!(target: "runner::kafka", runner = %self.settings.name, %error, "kafka.commit failed; retried at the next interval");
        }
    }

    /// Commits `commits`, bounded by the commit timeout; records them in the ledger.
    async fn commit(&mut self, commits: Vec<Commit>) -> Result<(), Error> {
        if commits.is_empty() {
            return Ok(());
        }
        let offsets: Vec<(TopicPartition, i64)> = commits
            .iter()
            .map(|c| (c.partition.clone(), c.offset))
            .collect();
        let started = tokio::time::Instant::now();
        let timeout = self.settings.commit_timeout;
        match tokio::time::timeout(timeout, self.client.commit(offsets)).await {
            Ok(Ok(())) => {
                for commit in &commits {
                    self.ledger.committed(commit);
                }
                self.metrics.committed(commits.len(), started.elapsed());
                tracing::debug!(target: "runner::kafka", runner = %self.settings.name, partitions = commits.len(), "kafka.committed");
                Ok(())
            }
            Ok(Err(error)) => {
                self.metrics.commit_failed();
                Err(Error::Commit(error))
            }
            Err(_) => {
                self.metrics.commit_failed();
                Err(Error::CommitTimedOut(timeout))
            }
        }
    }

    /// Stops fetching, lets the workers finish their queued records (within the drain and
    /// worker shutdown timeouts), commits what was settled, flushes the producer and closes
    /// the client. Returns `failure` if there is one, else the first error of the shutdown
    /// itself.
    async fn shut_down(mut self, failure: Option<Error>) -> Result<(), Error> {
        tracing::info!(target: "runner::kafka", runner = %self.settings.name, failed = failure.is_some(), "kafka.shutting_down");
        let partitions: Vec<TopicPartition> = self.slots.keys().cloned().collect();
        let mut tasks = Vec::new();
        for partition in &partitions {
            self.ledger.close(partition);
            if let Some(slot) = self.slots.remove(partition) {
                tasks.extend(end_slot(slot, false));
            }
        }
        // The workers drain at the same time: each within the worker shutdown timeout, all
        // within the drain timeout; the deliveries under way within the drain timeout too.
        let drain = self.settings.drain_timeout;
        let deadline = tokio::time::Instant::from_std(runner_lifecycle::deadline::after(
            runner_lifecycle::now(),
            drain,
        ));
        let workers = drain.min(self.settings.worker_shutdown_timeout());
        wait_for(tasks, workers, &self.settings.name).await;
        // A failure reported while draining is the run's failure too.
        let mut failure = failure;
        // Deliveries of inline-processed records end within the drain timeout too.
        while !self.in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, self.in_flight.next()).await {
                Ok(Some((ticket, outcome))) => {
                    if let (Err(error), None) = (self.settle(&ticket, outcome), &failure) {
                        failure = Some(error);
                    }
                }
                Ok(None) | Err(_) => break,
            }
        }
        while let Ok(report) = self.reported.try_recv() {
            if let (Report::Failed(error), None) = (report, &failure) {
                failure = Some(error);
            }
        }
        let commits = self.ledger.to_commit();
        let committed = self.commit(commits).await;
        let producer = self.client.producer();
        let flushed = producer.flush(self.settings.close_timeout).await;
        let closed = self.client.close(self.settings.close_timeout).await;
        tracing::info!(target: "runner::kafka", runner = %self.settings.name, "kafka.closed");
        match failure
            .or(committed.err())
            .or(flushed.err().map(Error::Client))
            .or(closed.err().map(Error::Client))
        {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// Runs `work` to its end, unless the run is stopped and it does not end within `drain`
/// after that: then it is cancelled (dropped) and `None` is returned.
async fn finish_within<T>(
    work: impl Future<Output = T>,
    run: &RunContext,
    drain: Duration,
) -> Option<T> {
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        done = &mut work => return Some(done),
        () = run.cancelled() => {}
    }
    // `timeout` saturates: `Duration::MAX` waits for ever.
    tokio::time::timeout(drain, work).await.ok()
}

/// Waits for `tasks` to end, at most `limit` for all; aborts those that did not.
async fn wait_for(tasks: Vec<JoinHandle<()>>, limit: Duration, runner: &str) {
    // Saturating: `Duration::MAX` is no limit, not an overflow.
    let deadline = tokio::time::Instant::from_std(runner_lifecycle::deadline::after(
        runner_lifecycle::now(),
        limit,
    ));
    for task in tasks {
        let abort = task.abort_handle();
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            tracing::warn!(target: "runner::kafka", runner, ?limit, "kafka.worker did not finish in time; cancelled");
            abort.abort();
        }
    }
}

/// Ends a partition's processing: cancels its worker (`cancel`) or lets it drain; the task to
/// wait for, if any.
fn end_slot<P>(slot: Slot<P>, cancel: bool) -> Option<JoinHandle<()>> {
    match slot {
        Slot::Inline(_) => None,
        Slot::Worker(worker) if cancel => Some(worker.cancel()),
        Slot::Worker(worker) => Some(worker.drain()),
    }
}
