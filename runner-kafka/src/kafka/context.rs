//! The consumer's context: the state of the consumer thread, the commands it serves, and the
//! rebalance callbacks that turn librdkafka's rebalances into [`Event`]s with a barrier.
//!
//! Everything here runs on the consumer thread, either from its loop (`worker`) or from inside
//! `BaseConsumer::poll`, which calls the rebalance callbacks. The locks are never contended
//! (one thread), and never held across a call into librdkafka that can call back here.

use std::collections::HashSet;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rdkafka::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::BorrowedMessage;
use tokio::sync::mpsc::UnboundedSender;

use super::command::Command;
use super::convert::{self, TopicNames};
use super::errors::client_error;
use super::log;
use crate::client::{Barrier, ClientError, ClientErrorKind, Event};
use crate::record::{Record, TopicPartition};

/// The consumer the thread owns.
pub(super) type Consumer = BaseConsumer<RunnerContext>;

/// Where events go to the async side.
pub(super) type EventSender = UnboundedSender<Result<Event, ClientError>>;

/// The partitions assigned to the member, shared with the async side (which checks pauses and
/// resumes against it). Updated by the consumer thread only: partitions join when assigned, and
/// leave once revoked (after the revoke's barrier).
pub(super) type Assigned = Arc<Mutex<HashSet<TopicPartition>>>;

/// How long the consumer thread waits for a command before it looks again whether the async
/// side is gone (while idle, or while a revoke waits for its barrier).
pub(super) const COMMAND_TICK: Duration = Duration::from_millis(100);

/// Locks `mutex`; a poisoned lock (a panic elsewhere) still holds consistent plain data here.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The consumer's context. See the module docs.
pub(super) struct RunnerContext {
    /// Requests from the async side.
    commands: Mutex<Receiver<Command>>,
    /// A sender of requests to this thread, for the barriers' releases.
    to_self: Sender<Command>,
    /// Events to the async side. Closed when the async side is gone.
    events: EventSender,
    /// The assignment, shared with the async side.
    assigned: Assigned,
    /// How long a revoke waits for its barrier.
    revoke_budget: Duration,
    /// The thread's state.
    state: Mutex<State>,
}

/// The consumer thread's state.
#[derive(Debug, Default)]
struct State {
    /// The async side waits for records.
    demand: bool,
    /// Records fetched, not yet sent.
    pending: Vec<Record>,
    /// The consumer is closing: revokes no longer wait for barriers.
    closing: bool,
    /// The answer to a close request.
    close: Option<tokio::sync::oneshot::Sender<()>>,
    /// The number of the last revoke's barrier.
    barriers: u64,
    /// Shared topic names.
    topics: TopicNames,
}

impl RunnerContext {
    /// A context serving `commands` (which `to_self` also sends to) and sending events to
    /// `events`.
    pub(super) fn new(
        commands: Receiver<Command>,
        to_self: Sender<Command>,
        events: EventSender,
        assigned: Assigned,
        revoke_budget: Duration,
    ) -> Self {
        RunnerContext {
            commands: Mutex::new(commands),
            to_self,
            events,
            assigned,
            revoke_budget,
            state: Mutex::default(),
        }
    }

    /// The next request, if one is waiting.
    pub(super) fn try_command(&self) -> Option<Command> {
        lock(&self.commands).try_recv().ok()
    }

    /// The next request, waiting for one for up to `wait`.
    pub(super) fn wait_command(&self, wait: Duration) -> Option<Command> {
        // `to_self` keeps the channel open: it never disconnects; the async side's departure
        // is seen on the event channel instead.
        lock(&self.commands).recv_timeout(wait).ok()
    }

    /// Serves `command` with `consumer`.
    pub(super) fn execute(&self, consumer: &Consumer, command: Command) {
        match command {
            Command::Subscribe(topics) => {
                let topics: Vec<&str> = topics.iter().map(String::as_str).collect();
                if let Err(error) = consumer.subscribe(&topics) {
                    self.report(client_error("subscribe", &error));
                }
            }
            Command::Poll => lock(&self.state).demand = true,
            Command::Pause(partitions) => {
                if let Err(error) = consumer.pause(&convert::list(&partitions)) {
                    tracing::debug!(target: "runner::kafka", %error, "pause refused");
                }
            }
            Command::Resume(partitions) => {
                if let Err(error) = consumer.resume(&convert::list(&partitions)) {
                    tracing::debug!(target: "runner::kafka", %error, "resume refused");
                }
            }
            Command::Commit { offsets, reply } => {
                let result = commit(consumer, &offsets);
                // The caller may have given up waiting: the commit stands either way.
                let _ = reply.send(result);
            }
            // The barrier of a revoke that is over (released late, or after its budget).
            Command::Release(_) => {}
            Command::Close { reply } => {
                let mut state = lock(&self.state);
                state.closing = true;
                state.close = Some(reply);
            }
        }
    }

    /// Whether the async side waits for records.
    pub(super) fn wants_records(&self) -> bool {
        lock(&self.state).demand
    }

    /// Whether the consumer is closing.
    pub(super) fn closing(&self) -> bool {
        lock(&self.state).closing
    }

    /// Marks the consumer closing (revokes no longer wait), and takes the close request's
    /// answer, if there was a request.
    pub(super) fn start_closing(&self) -> Option<tokio::sync::oneshot::Sender<()>> {
        let mut state = lock(&self.state);
        state.closing = true;
        state.close.take()
    }

    /// Whether the async side is gone (the client dropped or closing).
    pub(super) fn client_gone(&self) -> bool {
        self.events.is_closed()
    }

    /// Converts `message` and adds it to the batch; returns the batch's size.
    pub(super) fn push_record(&self, message: &BorrowedMessage<'_>) -> usize {
        let mut state = lock(&self.state);
        let state = &mut *state;
        let record = convert::record(message, &mut state.topics);
        state.pending.push(record);
        state.pending.len()
    }

    /// Sends the batch of records, if there is one: that answers the async side's poll.
    pub(super) fn flush_records(&self) {
        let records = {
            let mut state = lock(&self.state);
            if state.pending.is_empty() {
                return;
            }
            state.demand = false;
            std::mem::take(&mut state.pending)
        };
        // A closed channel: the async side is gone, and the records with it (uncommitted).
        let _ = self.events.send(Ok(Event::Records(records)));
    }

    /// Sends `error` as the answer to the async side's poll (after any records fetched first).
    pub(super) fn report(&self, error: ClientError) {
        self.flush_records();
        lock(&self.state).demand = false;
        let _ = self.events.send(Err(error));
    }

    /// Sends the revoke of `partitions` with a barrier, and serves requests (commits, pauses,
    /// resumes) until the barrier is done, the async side is gone, the consumer is closing, or
    /// the revoke budget is spent.
    fn revoke(&self, consumer: &Consumer, partitions: Vec<TopicPartition>, lost: bool) {
        let barrier = {
            let mut state = lock(&self.state);
            state.barriers += 1;
            state.barriers
        };
        let release = {
            let to_self = self.to_self.clone();
            // The thread may be gone by then: nothing left to release.
            Barrier::new(move || drop(to_self.send(Command::Release(barrier))))
        };
        let count = partitions.len();
        tracing::debug!(target: "runner::kafka", partitions = count, lost, "revoke");
        let event = Event::Revoked {
            partitions,
            lost,
            barrier: release,
        };
        if self.events.send(Ok(event)).is_err() {
            return;
        }
        let started = Instant::now();
        let deadline = started.checked_add(self.revoke_budget);
        loop {
            if self.client_gone() || self.closing() {
                return;
            }
            let wait = match deadline {
                None => COMMAND_TICK,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        tracing::warn!(
                            target: "runner::kafka",
                            partitions = count,
                            budget = ?self.revoke_budget,
                            "revoke budget spent: the partitions go to the group without the barrier"
                        );
                        return;
                    }
                    left.min(COMMAND_TICK)
                }
            };
            match self.wait_command(wait) {
                Some(Command::Release(released)) if released == barrier => {
                    tracing::debug!(
                        target: "runner::kafka",
                        partitions = count,
                        waited = ?started.elapsed(),
                        "revoke released"
                    );
                    return;
                }
                Some(command) => self.execute(consumer, command),
                None => {}
            }
        }
    }
}

/// Commits `offsets` synchronously.
fn commit(consumer: &Consumer, offsets: &[(TopicPartition, i64)]) -> Result<(), ClientError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let list = convert::commit_list(offsets).map_err(|(tp, offset)| {
        ClientError::new(
            ClientErrorKind::Config,
            format!("commit: invalid offset {offset} for {tp}"),
        )
    })?;
    let result = consumer.commit(&list, CommitMode::Sync);
    drop(list);
    result.map_err(|error| client_error("commit", &error))
}

impl ClientContext for RunnerContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log::log(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        log::client_error(&error, reason);
    }
}

impl ConsumerContext for RunnerContext {
    /// A revoke (or a lost assignment) goes to the async side with a barrier, and the thread
    /// waits for it (serving commits, pauses and resumes) before rdkafka's default handler
    /// releases the partitions: `unassign` under an eager protocol, `incremental_unassign`
    /// under a cooperative one (rdkafka 0.39 does both itself: we never assign here).
    fn pre_rebalance(&self, consumer: &Consumer, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Revoke(list) => {
                let partitions = convert::partitions(list, &mut lock(&self.state).topics);
                if partitions.is_empty() {
                    return;
                }
                // Records fetched before the revoke go first.
                self.flush_records();
                if self.closing() {
                    return;
                }
                self.revoke(consumer, partitions, consumer.assignment_lost());
            }
            Rebalance::Assign(_) => {}
            Rebalance::Error(error) => {
                tracing::warn!(target: "runner::kafka", %error, "rebalance error");
            }
        }
    }

    /// An assignment goes to the async side once librdkafka has it (empty ones are skipped);
    /// a revoke leaves the shared assignment.
    fn post_rebalance(&self, consumer: &Consumer, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(list) => {
                let partitions = convert::partitions(list, &mut lock(&self.state).topics);
                if partitions.is_empty() {
                    return;
                }
                lock(&self.assigned).extend(partitions.iter().cloned());
                // A pause survives an eager revoke and re-assignment of the same partition
                // (kafka-notes §2): a partition assigned starts fetching, whatever came before.
                if let Err(error) = consumer.resume(list) {
                    tracing::debug!(target: "runner::kafka", %error, "resume on assign refused");
                }
                self.flush_records();
                tracing::debug!(target: "runner::kafka", partitions = partitions.len(), "assign");
                let _ = self.events.send(Ok(Event::Assigned(partitions)));
            }
            Rebalance::Revoke(list) => {
                let partitions = convert::partitions(list, &mut lock(&self.state).topics);
                let mut assigned = lock(&self.assigned);
                for tp in &partitions {
                    assigned.remove(tp);
                }
            }
            Rebalance::Error(_) => {}
        }
    }
}
