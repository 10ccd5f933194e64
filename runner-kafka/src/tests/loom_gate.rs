//! The backpressure handshake under loom: the worker draining the queue races the engine
//! pausing the partition and asking to be woken. No wake-up is lost (the engine refills at once,
//! or the worker wakes it), and none is doubled.

use loom::thread;
use runner_lifecycle::sync::Arc;

use crate::gate::Gate;

/// The queue (capacity 2) is full when the engine pauses; the worker takes both records while
/// the engine asks to be woken: exactly one of them resumes the partition.
#[test]
fn loom_pause_racing_drain() {
    loom::model(|| {
        let gate = Arc::new(Gate::new(2));
        gate.queued();
        gate.queued();
        let worker = {
            let gate = Arc::clone(&gate);
            thread::spawn(move || [gate.taken(), gate.taken()])
        };
        let refill_now = gate.want_wake();
        let woken = worker.join().unwrap();
        let wakes = usize::from(refill_now) + woken.iter().filter(|&&w| w).count();
        assert_eq!(
            wakes, 1,
            "one resume: refill now {refill_now}, worker woke {woken:?}"
        );
    });
}

/// The worker drained everything before the engine asked: the engine sees it and refills
/// itself; a later record taken does not wake it again.
#[test]
fn loom_drained_before_the_request() {
    loom::model(|| {
        let gate = Arc::new(Gate::new(2));
        gate.queued();
        let worker = {
            let gate = Arc::clone(&gate);
            thread::spawn(move || gate.taken())
        };
        let drained = worker.join().unwrap();
        assert!(!drained, "nobody asked yet");
        assert!(gate.want_wake(), "the engine looks again and refills");
        gate.queued();
        assert!(!gate.taken(), "the request was consumed");
    });
}
