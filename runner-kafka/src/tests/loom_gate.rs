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

/// Pause racing a rebalance: the partition (epoch 1) is paused with its queue full; its worker
/// drains the queue and settles the records while the engine revokes the partition and assigns
/// it again (epoch 2: a new worker, a new gate, unpaused, then full and paused again). The old
/// worker's wake-up carries epoch 1 and never counts for the new assignment; the new gate is
/// untouched by the old worker; the revoke commits exactly what was settled before it.
#[test]
fn loom_pause_racing_rebalance() {
    use crate::ledger::{Ledger, Settled};
    use crate::record::TopicPartition;

    loom::model(|| {
        let tp = TopicPartition::new("orders", 0);
        let ledger = Arc::new(Ledger::new());
        let old_epoch = ledger.assign(&tp);
        let tickets = [
            ledger.dispatch(&tp, 0).unwrap(),
            ledger.dispatch(&tp, 1).unwrap(),
        ];
        let old_gate = Arc::new(Gate::new(2));
        old_gate.queued();
        old_gate.queued();
        let old_worker = {
            let (gate, ledger) = (Arc::clone(&old_gate), Arc::clone(&ledger));
            thread::spawn(move || {
                let mut woke = None;
                let mut settled = Vec::new();
                for ticket in &tickets {
                    settled.push(ledger.settle(ticket));
                    if gate.taken() {
                        woke = Some(old_epoch);
                    }
                }
                (woke, settled)
            })
        };
        // The engine: paused, asks to be woken, then the rebalance.
        let refill_now = old_gate.want_wake();
        let revoked = ledger.revoke(&tp);
        let new_epoch = ledger.assign(&tp);
        let new_gate = Gate::new(2);
        new_gate.queued();
        new_gate.queued();
        assert!(
            !new_gate.want_wake(),
            "the new queue is full: it stays paused"
        );

        let (woke, settled) = old_worker.join().unwrap();
        assert_ne!(woke, Some(new_epoch), "an old wake-up resumes nothing new");
        assert_eq!(
            usize::from(refill_now) + usize::from(woke.is_some()),
            1,
            "the old gate resumes once"
        );
        let counted = settled
            .iter()
            .take_while(|s| **s == Settled::Counted)
            .count();
        let expected = i64::try_from(counted).unwrap();
        assert_eq!(
            revoked.map(|c| c.offset),
            (expected > 0).then_some(expected),
            "the revoke commits what was settled before it"
        );
        assert_eq!(
            ledger.to_commit(),
            [],
            "the new assignment has nothing settled"
        );
    });
}
