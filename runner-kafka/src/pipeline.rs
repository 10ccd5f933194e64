//! [`Pipeline`]: one record's way through its three error phases: decoding (serde), the
//! processor (processing), and sending its outputs (production). A failure in any phase goes
//! to that phase's error handler, which decides: skip the record, retry the phase, dead-letter
//! the record, or fail the runner. The record counts as settled (its offset may be committed)
//! when it was processed with every output acknowledged, skipped, or dead-lettered.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{SystemTime, UNIX_EPOCH};

use runner_lifecycle::CatchUnwind;

use crate::client::{ClientError, Producer};
use crate::decode::Decode;
use crate::dlq::dead_letter;
use crate::error::Error;
use crate::handler::{ErrorAction, ErrorContext, Phase, PhaseHandlers};
use crate::processor::{BoxError, Message, Processor};
use crate::record::{OutRecord, Record};

/// What processing a record gave.
#[derive(Debug)]
pub(crate) enum Processed {
    /// The outputs to deliver (none: the record is processed).
    Outputs(Vec<OutRecord>),
    /// Its way ended before any output (skipped, dead-lettered or failed).
    Ended(Outcome),
}

/// How a record's way through the pipeline ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Processed, every output acknowledged.
    Processed,
    /// Skipped on purpose (`Continue`).
    Skipped,
    /// Sent to a dead-letter queue, acknowledged.
    DeadLettered,
    /// The handler said `Fail` (or the dead-letter queue refused it): not settled.
    Failed(Error),
}

/// What a record goes through. See the module docs.
#[derive(Debug)]
pub(crate) struct Pipeline<P> {
    handlers: Arc<PhaseHandlers>,
    producer: P,
    /// The processor's name, in dead-letter records.
    node: Arc<str>,
}

impl<P: Producer> Pipeline<P> {
    pub(crate) fn new(handlers: Arc<PhaseHandlers>, producer: P, node: Arc<str>) -> Self {
        Pipeline {
            handlers,
            producer,
            node,
        }
    }

    /// Takes `record` through decoding and `processor`: the outputs to deliver, or how the
    /// record's way already ended (skipped, dead-lettered, failed).
    pub(crate) async fn process<K, V, Pr>(&self, processor: &mut Pr, record: &Record) -> Processed
    where
        K: Decode,
        V: Decode,
        Pr: Processor<K, V>,
    {
        let mut failures = Failures::default();
        loop {
            let (phase, error): (Phase, BoxError) = match decode::<K, V>(record) {
                Err(error) => (Phase::Serde, error),
                // A processor's panic is a processing error, never a crash.
                Ok(message) => match CatchUnwind::new(processor.process(message)).await {
                    Ok(Ok(outputs)) => return Processed::Outputs(outputs),
                    Ok(Err(error)) => (Phase::Processing, error),
                    Err(panicked) => (Phase::Processing, Box::new(panicked)),
                },
            };
            match self
                .decide(record, phase, &*error, failures.next(phase))
                .await
            {
                Decision::Again => {}
                Decision::End(outcome) => return Processed::Ended(outcome),
            }
        }
    }

    /// Sends `record`'s outputs, all at once, and waits for the broker's acknowledgements; a
    /// refused output goes to the production handler. Runs apart from the processor (the next
    /// records are processed meanwhile): it owns what it needs.
    pub(crate) async fn deliver(
        self: Arc<Self>,
        record: Arc<Record>,
        outputs: Vec<OutRecord>,
    ) -> Outcome {
        let mut attempts = 0_u32;
        let mut pending = outputs;
        while !pending.is_empty() {
            let results = send_all(&self.producer, &pending).await;
            let mut failed = Vec::new();
            let mut first_error = None;
            for (output, result) in pending.into_iter().zip(results) {
                if let Err(error) = result {
                    first_error.get_or_insert(error);
                    failed.push(output);
                }
            }
            let Some(error) = first_error else {
                break;
            };
            attempts = attempts.saturating_add(1);
            match self
                .decide(&record, Phase::Production, &error, attempts)
                .await
            {
                // Only the outputs that failed are sent again.
                Decision::Again => pending = failed,
                Decision::End(outcome) => return outcome,
            }
        }
        Outcome::Processed
    }

    /// Asks the phase's handler about failure number `attempt` and carries out what it says
    /// (a retry's wait included; the caller then tries the phase again).
    async fn decide(
        &self,
        record: &Record,
        phase: Phase,
        error: &(dyn std::error::Error + Send + Sync + 'static),
        attempt: u32,
    ) -> Decision {
        let ctx = ErrorContext::new(record, phase, error, attempt, &self.node);
        let handler = self.handlers.for_phase(phase);
        let action = match runner_lifecycle::catch_unwind::call(|| handler.handle(&ctx)) {
            Ok(action) => action,
            // A handler's panic fails the record, as `Fail` would (the handler's rule 3): it
            // must neither kill a partition's worker silently nor crash the engine.
            Err(panicked) => {
                return Decision::End(Outcome::Failed(Error::record_failed(
                    record.topic_partition(),
                    record.offset,
                    phase,
                    Box::new(HandlerPanicked {
                        panicked,
                        cause: error.to_string(),
                    }),
                )));
            }
        };
        match action {
            ErrorAction::Continue => Decision::End(Outcome::Skipped),
            ErrorAction::Retry { after } => {
                if !after.is_zero() {
                    tokio::time::sleep(after).await;
                }
                Decision::Again
            }
            ErrorAction::SendToDlq { topic } => {
                let dead = dead_letter(&ctx, &topic, now_ms());
                match self.producer.send(dead).await {
                    Ok(()) => Decision::End(Outcome::DeadLettered),
                    Err(dlq_error) => Decision::End(Outcome::Failed(Error::record_failed(
                        record.topic_partition(),
                        record.offset,
                        phase,
                        Box::new(DeadLetterFailed {
                            topic,
                            error: dlq_error,
                            cause: error.to_string(),
                        }),
                    ))),
                }
            }
            ErrorAction::Fail => Decision::End(Outcome::Failed(Error::record_failed(
                record.topic_partition(),
                record.offset,
                phase,
                Box::new(Failure(
                    error.to_string(),
                    error.source().map(ToString::to_string),
                )),
            ))),
        }
    }
}

/// What the handler's answer means for the pipeline.
enum Decision {
    /// Try the phase again.
    Again,
    /// The record's way ends.
    End(Outcome),
}

/// Failures of the record so far, per phase: a retry of the processing phase starts again at
/// decoding, so each phase counts its own.
#[derive(Default)]
struct Failures([u32; 3]);

impl Failures {
    fn next(&mut self, phase: Phase) -> u32 {
        let slot = match phase {
            Phase::Serde => 0,
            Phase::Processing => 1,
            _ => 2,
        };
        self.0[slot] = self.0[slot].saturating_add(1);
        self.0[slot]
    }
}

/// A failed record's error, kept as text (the original is borrowed by the handler's context).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Failure(String, Option<String>);

/// The error handler panicked deciding about the record.
#[derive(Debug, thiserror::Error)]
#[error("the error handler {panicked} after: {cause}")]
struct HandlerPanicked {
    panicked: runner_core::Panicked,
    cause: String,
}

/// A dead-letter queue refused the record.
#[derive(Debug, thiserror::Error)]
#[error("could not dead-letter it to `{topic}` ({error}) after: {cause}")]
struct DeadLetterFailed {
    topic: String,
    error: ClientError,
    cause: String,
}

fn decode<K: Decode, V: Decode>(record: &Record) -> Result<Message<K, V>, BoxError> {
    let key = K::decode(record.key.as_deref()).map_err(|e| Box::new(e) as BoxError)?;
    let value = V::decode(record.value.as_deref()).map_err(|e| Box::new(e) as BoxError)?;
    Ok(Message::new(key, value, record))
}

/// Sends every output at once; their results, in order.
async fn send_all<P: Producer>(
    producer: &P,
    outputs: &[OutRecord],
) -> Vec<Result<(), ClientError>> {
    if let [only] = outputs {
        return vec![producer.send(only.clone()).await];
    }
    let mut sends: Vec<Pin<Box<_>>> = outputs
        .iter()
        .map(|output| Box::pin(producer.send(output.clone())))
        .collect();
    let mut results: Vec<Option<Result<(), ClientError>>> = vec![None; sends.len()];
    poll_fn(|cx| {
        let mut waiting = false;
        for (send, result) in sends.iter_mut().zip(results.iter_mut()) {
            if result.is_none() {
                match send.as_mut().poll(cx) {
                    Poll::Ready(done) => *result = Some(done),
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    results.into_iter().flatten().collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
