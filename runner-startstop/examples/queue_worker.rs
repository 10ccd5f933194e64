//! A message queue worker (the Go runner package's "Message Queue Worker"): a tokio `mpsc`
//! channel is the queue, and the start function consumes it until it is cancelled.
//!
//! Processing a "poison" message returns an error, which ends the run by itself: the runner is
//! then `Failed`, its last exit and its error history name the message, and the stop function
//! has still run once. A second `start()` begins run 2, which drains the rest of the queue, and
//! a `stop()` ends it cleanly. The stop function closes the consumer's subscription; `main`
//! checks it ran exactly once per run.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p runner-startstop --example queue_worker
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_startstop::{Error, RunContext, StartStop};
use tokio::sync::{Mutex, mpsc};

/// The consumer side of the queue: the messages, and how often a run subscribed to them and
/// how often the stop function closed that subscription.
struct Queue {
    messages: Mutex<mpsc::Receiver<String>>,
    subscribed: AtomicUsize,
    closed: AtomicUsize,
}

/// Handles one message; a "poison" message cannot be handled.
fn process(message: &str) -> Result<(), std::io::Error> {
    if message == "poison" {
        return Err(std::io::Error::other(format!(
            "cannot process message {message:?}: malformed payload"
        )));
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (producer, messages) = mpsc::channel(16);
    for message in ["order-1", "order-2", "poison", "order-3", "order-4"] {
        producer.send(message.to_owned()).await?;
    }
    let queue = Arc::new(Queue {
        messages: Mutex::new(messages),
        subscribed: AtomicUsize::new(0),
        closed: AtomicUsize::new(0),
    });
    // Each processed message, with the number of the run that processed it.
    let (processed_tx, mut processed) = mpsc::unbounded_channel::<(u64, String)>();

    let worker = StartStop::new(
        {
            let queue = Arc::clone(&queue);
            move |run: RunContext| {
                let queue = Arc::clone(&queue);
                let processed = processed_tx.clone();
                async move {
                    queue.subscribed.fetch_add(1, Ordering::SeqCst);
                    let mut messages = queue.messages.lock().await;
                    loop {
                        tokio::select! {
                            () = run.cancelled() => return Ok::<_, std::io::Error>(()),
                            message = messages.recv() => {
                                let Some(message) = message else {
                                    return Ok(()); // every producer is gone
                                };
                                process(&message)?; // an error ends this run
                                println!("run {}: processed {message}", run.run());
                                processed
                                    .send((run.run(), message))
                                    .map_err(std::io::Error::other)?;
                            }
                        }
                    }
                }
            }
        },
        {
            let queue = Arc::clone(&queue);
            move || {
                let closed = queue.closed.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    println!("stop fn: queue subscription closed ({closed} so far)");
                    Ok::<_, std::io::Error>(())
                }
            }
        },
    );

    // Run 1: two orders, then the poison message ends the run by itself.
    worker.start().await?;
    // Waits without polling: wakes on each state change. It accepts any idle state, not only
    // `Failed`, so that a regression fails the assertion below instead of hanging.
    let seen = worker.wait_for(State::is_idle).await;
    println!("run 1 ended: {seen}");
    assert_eq!(seen.state, State::Failed);
    let Some(Exit::Failed(exit_error)) = worker.last_exit() else {
        return Err(format!("expected a failed exit, got {:?}", worker.last_exit()).into());
    };
    println!("last exit: failed: {exit_error}");
    assert!(exit_error.to_string().contains("\"poison\""));
    let last = worker.last_error().ok_or("the failure is in the history")?;
    println!("last error: {last}");
    assert!(matches!(*last, Error::Run(_)));
    assert!(last.to_string().contains("\"poison\""));
    assert_eq!(worker.error_count(), 1);
    // The stop function ran once for run 1 even though nobody called `stop()`.
    assert_eq!(queue.subscribed.load(Ordering::SeqCst), 1);
    assert_eq!(queue.closed.load(Ordering::SeqCst), 1);
    let mut run_1 = Vec::new();
    while let Ok(done) = processed.try_recv() {
        run_1.push(done);
    }
    assert_eq!(
        run_1,
        [(1, "order-1".to_owned()), (1, "order-2".to_owned())]
    );

    // `stop()` on a failed runner is a no-op; it does not run the stop function again.
    worker.stop().await?;
    assert_eq!(queue.closed.load(Ordering::SeqCst), 1);

    // Run 2 drains the rest. The poison message was taken by run 1, so it is not seen again.
    worker.start().await?;
    assert!(worker.is_running());
    let mut run_2 = Vec::new();
    for _ in 0..2 {
        run_2.push(processed.recv().await.ok_or("the worker is gone")?);
    }
    assert_eq!(
        run_2,
        [(2, "order-3".to_owned()), (2, "order-4".to_owned())]
    );

    worker.stop().await?;
    assert_eq!(worker.state(), State::Stopped);
    assert!(matches!(worker.last_exit(), Some(Exit::Stopped)));
    assert_eq!(queue.subscribed.load(Ordering::SeqCst), 2);
    assert_eq!(queue.closed.load(Ordering::SeqCst), 2);
    // The history is never cleared by a new run: the poison error is still there.
    assert_eq!(worker.error_count(), 1);
    println!(
        "stopped after 2 runs: {} processed, {} error recorded",
        run_1.len() + run_2.len(),
        worker.error_count()
    );
    drop(producer);
    Ok(())
}
