//! The consumer thread: it owns the consumer, serves the async side's requests, fetches a
//! batch of records when one is asked for, and closes the consumer at the end.

use std::io;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::Consumer as _;
use rdkafka::error::KafkaError;

use super::context::{COMMAND_TICK, Consumer};
use super::errors::client_error;

/// The longest one poll of librdkafka blocks the thread: the most a request waits while
/// records are asked for and none come.
const POLL_SLICE: Duration = Duration::from_millis(20);

/// Starts the thread that owns `consumer`.
pub(super) fn spawn(consumer: Consumer, max_batch: usize) -> io::Result<()> {
    thread::Builder::new()
        .name("runner-kafka-consumer".to_owned())
        .spawn(move || run(consumer, max_batch))
        .map(drop)
}

/// The thread: serve until asked to close (or the async side is gone), then close.
fn run(consumer: Consumer, max_batch: usize) {
    serve(&consumer, max_batch);
    let reply = consumer.context().start_closing();
    let started = Instant::now();
    // Dropping the consumer closes it: it leaves the group (a last revoke, which no longer
    // waits for a barrier) and stops librdkafka's threads. This may take long, or hang
    // (kafka-notes §3.1): the async side bounds its wait, and this thread is then left alone.
    drop(consumer);
    tracing::debug!(target: "runner::kafka", took = ?started.elapsed(), "consumer closed");
    if let Some(reply) = reply {
        let _ = reply.send(());
    }
}

/// Serves requests, fetches records when asked, until a close request or the async side's end.
fn serve(consumer: &Consumer, max_batch: usize) {
    let context = consumer.context();
    loop {
        while let Some(command) = context.try_command() {
            context.execute(consumer, command);
        }
        if context.closing() || context.client_gone() {
            return;
        }
        if context.wants_records() {
            fetch(consumer, max_batch);
        } else if let Some(command) = context.wait_command(COMMAND_TICK) {
            context.execute(consumer, command);
        }
    }
}

/// Polls librdkafka once for up to [`POLL_SLICE`]; if a record comes, takes the ones already
/// fetched too, up to `max_batch`, and sends them. Rebalance callbacks run inside the polls.
fn fetch(consumer: &Consumer, max_batch: usize) {
    let context = consumer.context();
    let mut timeout = POLL_SLICE;
    loop {
        match consumer.poll(timeout) {
            None => break,
            Some(Ok(message)) => {
                let batch = context.push_record(&message);
                drop(message);
                if batch >= max_batch {
                    break;
                }
                timeout = Duration::ZERO;
            }
            // Only with `enable.partition.eof`: not an error for a runner.
            Some(Err(KafkaError::PartitionEOF(_))) => timeout = Duration::ZERO,
            Some(Err(error)) => {
                context.report(client_error("poll", &error));
                return;
            }
        }
    }
    context.flush_records();
}
