//! The ledger under loom: a worker settling a record races the engine revoking, committing,
//! reassigning or closing the partition. Each model checks the at-least-once invariant: a
//! commit never covers a record whose settle was refused, and a settle that was counted is
//! covered by the commit that follows it (or by the revoke's final commit).

use loom::thread;
use runner_lifecycle::sync::Arc;

use crate::ledger::{Ledger, Settled, Ticket};
use crate::record::TopicPartition;

fn tp() -> TopicPartition {
    TopicPartition::new("orders", 0)
}

/// A ledger with partition 0 assigned and records 0 and 1 dispatched.
fn ledger() -> (Arc<Ledger>, Ticket, Ticket) {
    let ledger = Arc::new(Ledger::new());
    ledger.assign(&tp());
    let first = ledger.dispatch(&tp(), 0).unwrap();
    let second = ledger.dispatch(&tp(), 1).unwrap();
    (ledger, first, second)
}

/// An ack (the worker settles record 1, then 0) races the revoke: the revoke's final commit
/// covers exactly the records whose settle was counted before it, and a settle after it is
/// refused.
#[test]
fn loom_ack_racing_revoke() {
    loom::model(|| {
        let (ledger, first, second) = ledger();
        let worker = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || [ledger.settle(&second), ledger.settle(&first)])
        };
        let last = ledger.revoke(&tp());
        let [second_settled, first_settled] = worker.join().unwrap();
        let expected = match (first_settled, second_settled) {
            (Settled::Counted, Settled::Counted) => Some(2),
            // 0 refused: nothing may be committed, whatever happened to 1.
            (Settled::Stale, _) => None,
            (Settled::Counted, Settled::Stale) => unreachable!("1 was settled first"),
        };
        assert_eq!(last.map(|c| c.offset), expected);
        assert_eq!(
            ledger.to_commit(),
            [],
            "nothing is committed after a revoke"
        );
    });
}

/// A periodic commit (plan, then acknowledged) races the worker and the revoke: a commit never
/// exceeds what was settled, and the revoke's final commit is never below one acknowledged.
#[test]
fn loom_commit_racing_revoke() {
    loom::model(|| {
        let (ledger, first, second) = ledger();
        let worker = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || {
                let _ = ledger.settle(&first);
                let _ = ledger.settle(&second);
            })
        };
        let committer = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || {
                let plan = ledger.to_commit();
                for commit in &plan {
                    ledger.committed(commit);
                }
                plan.into_iter().map(|c| c.offset).max()
            })
        };
        let last = ledger.revoke(&tp());
        worker.join().unwrap();
        let periodic = committer.join().unwrap();
        if let (Some(periodic), Some(last)) = (periodic, &last) {
            assert!(last.offset >= periodic, "the final commit went back");
        }
        for offset in periodic.iter().chain(last.as_ref().map(|c| &c.offset)) {
            assert!(*offset <= 2, "a commit past what was dispatched");
        }
    });
}

/// The partition is revoked and assigned again while a worker of the old assignment settles:
/// the old ticket never counts for the new assignment.
#[test]
fn loom_late_ack_after_reassign() {
    loom::model(|| {
        let (ledger, first, _second) = ledger();
        let worker = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || ledger.settle(&first))
        };
        let _ = ledger.revoke(&tp());
        ledger.assign(&tp());
        let fresh = ledger.dispatch(&tp(), 5).unwrap();
        let _ = worker.join().unwrap();
        assert_eq!(
            ledger.to_commit(),
            [],
            "the old ack does not move the new watermark"
        );
        assert_eq!(ledger.settle(&fresh), Settled::Counted);
        assert_eq!(ledger.to_commit()[0].offset, 6);
    });
}

/// The runner stops (closes the partition, waits for it to settle, commits) while the worker
/// finishes: dispatch is refused once closing, and the final commit covers every settle.
#[test]
fn loom_stop_racing_settle() {
    loom::model(|| {
        let (ledger, first, second) = ledger();
        let worker = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || {
                let _ = ledger.settle(&first);
                let _ = ledger.settle(&second);
            })
        };
        ledger.close(&tp());
        assert_eq!(ledger.dispatch(&tp(), 2), None);
        worker.join().unwrap();
        assert!(ledger.is_settled(&tp()));
        let commits = ledger.to_commit();
        assert_eq!(commits.len(), 1);
        assert_eq!(commits[0].offset, 2);
    });
}

/// The runner's stop (close every partition, commit what was settled) races a revoke of the
/// partition and a worker's last settle: the partition's final offset is committed by one of
/// them at most once past what was settled, and the stop never commits a revoked partition.
#[test]
fn loom_stop_racing_revoke() {
    loom::model(|| {
        let (ledger, first, _second) = ledger();
        let worker = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || ledger.settle(&first))
        };
        let stopper = {
            let ledger = Arc::clone(&ledger);
            thread::spawn(move || {
                ledger.close(&tp());
                let commits = ledger.to_commit();
                for commit in &commits {
                    ledger.committed(commit);
                }
                commits
            })
        };
        let revoked = ledger.revoke(&tp());
        let settled = worker.join().unwrap();
        let stopped = stopper.join().unwrap();
        for commit in revoked.iter().chain(&stopped) {
            assert_eq!(commit.offset, 1, "only record 0 can be settled");
            assert_eq!(
                settled,
                Settled::Counted,
                "a commit covers a counted settle only"
            );
        }
        assert!(ledger.to_commit().is_empty());
    });
}
