//! [`Ledger`]: what the runner owes each partition it was assigned. Every record handed to a
//! processor gets a [`Ticket`] naming its partition's *assignment epoch*; a record is settled
//! (processed with its outputs acknowledged, skipped on purpose, or dead-lettered) by handing
//! its ticket back. The commit watermark of a partition is one past the last record of an
//! unbroken run of settled records from the start of the assignment: nothing unsettled is ever
//! below it, so committing it is at-least-once by construction.
//!
//! A partition's assignment ends by a revoke (its final watermark is committed, before the
//! partition is released) or by a loss (never committed). Either way its epoch is retired: a
//! ticket of an old epoch, settled late by a worker that was still busy, is refused. The same
//! partition assigned again gets a new epoch.
//!
//! The ledger is shared by the runner's engine (which assigns, dispatches, revokes and commits)
//! and its workers (which settle), under one lock of the [`sync`](runner_lifecycle::sync)
//! facade, so loom checks the races between them (`src/tests/loom_ledger.rs`).

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use runner_lifecycle::sync::{Mutex, lock};

use crate::metrics::PartitionMetrics;
use crate::record::TopicPartition;

/// Proof that a record was dispatched in an assignment: handed back to settle the record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) partition: TopicPartition,
    pub(crate) epoch: u64,
    pub(crate) offset: i64,
}

impl Ticket {
    /// A ticket of no record (its settle is always stale): for a delivery whose own ticket was
    /// lost with its task.
    pub(crate) fn orphan() -> Ticket {
        Ticket {
            partition: TopicPartition::new("", -1),
            epoch: 0,
            offset: -1,
        }
    }
}

/// How a settle went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Settled {
    /// Counted: the watermark may have moved.
    Counted,
    /// The ticket's assignment is over (revoked, lost, or the runner closed): ignored.
    Stale,
}

/// A commit to make: `offset` (the next to read) for `partition`, in assignment `epoch`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Commit {
    pub(crate) partition: TopicPartition,
    pub(crate) epoch: u64,
    pub(crate) offset: i64,
}

/// One partition's assignment.
#[derive(Debug)]
struct Account {
    epoch: u64,
    /// Dispatched records not yet part of the watermark, in offset order, each with whether it
    /// is settled.
    pending: VecDeque<(i64, bool)>,
    /// One past the last record dispatched.
    next: Option<i64>,
    /// Every record dispatched below it is settled.
    watermark: Option<i64>,
    /// The last offset committed in this assignment.
    committed: Option<i64>,
    /// Dispatching has stopped (a revoke or the runner's shutdown is under way).
    closing: bool,
    /// When the watermark last moved (or the partition was assigned).
    progressed: Instant,
}

impl Account {
    fn new(epoch: u64) -> Self {
        Account {
            epoch,
            pending: VecDeque::new(),
            next: None,
            watermark: None,
            committed: None,
            closing: false,
            progressed: runner_lifecycle::now(),
        }
    }

    fn to_commit(&self, partition: &TopicPartition) -> Option<Commit> {
        let watermark = self.watermark?;
        (self.committed < Some(watermark)).then(|| Commit {
            partition: partition.clone(),
            epoch: self.epoch,
            offset: watermark,
        })
    }
}

/// The runner's ledger of every assigned partition. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_epoch: u64,
    accounts: HashMap<TopicPartition, Account>,
}

impl Ledger {
    pub(crate) fn new() -> Self {
        Ledger::default()
    }

    /// `partition` is assigned: a new account, with a new epoch (returned). An account of an
    /// earlier assignment still open is retired first (an assignment without a revoke).
    pub(crate) fn assign(&self, partition: &TopicPartition) -> u64 {
        let mut inner = lock(&self.inner);
        inner.last_epoch += 1;
        let epoch = inner.last_epoch;
        inner
            .accounts
            .insert(partition.clone(), Account::new(epoch));
        epoch
    }

    /// Record `offset` of `partition` is handed to its processor: its ticket, or `None` if the
    /// partition is not assigned or is closing (the record must not be processed). Offsets of
    /// one partition are dispatched in increasing order (gaps are fine: compacted topics).
    pub(crate) fn dispatch(&self, partition: &TopicPartition, offset: i64) -> Option<Ticket> {
        let mut inner = lock(&self.inner);
        let account = inner.accounts.get_mut(partition)?;
        if account.closing || account.next.is_some_and(|next| offset < next) {
            return None;
        }
        account.next = Some(offset + 1);
        account.pending.push_back((offset, false));
        Some(Ticket {
            partition: partition.clone(),
            epoch: account.epoch,
            offset,
        })
    }

    /// The record of `ticket` is settled. Counted only if its assignment is still current.
    pub(crate) fn settle(&self, ticket: &Ticket) -> Settled {
        let mut inner = lock(&self.inner);
        let Some(account) = inner.accounts.get_mut(&ticket.partition) else {
            return Settled::Stale;
        };
        if account.epoch != ticket.epoch {
            return Settled::Stale;
        }
        let Some(entry) = account
            .pending
            .iter_mut()
            .find(|(offset, settled)| *offset == ticket.offset && !settled)
        else {
            return Settled::Stale; // settled twice
        };
        entry.1 = true;
        let before = account.watermark;
        while let Some(&(offset, true)) = account.pending.front() {
            account.pending.pop_front();
            account.watermark = Some(offset + 1);
        }
        if account.pending.is_empty() {
            // Skipped offsets (a compacted topic) up to the position are owed nothing either.
            account.watermark = account.next;
        }
        if account.watermark != before {
            account.progressed = runner_lifecycle::now();
        }
        Settled::Counted
    }

    /// What to commit now: each open account whose watermark moved past its last commit.
    pub(crate) fn to_commit(&self) -> Vec<Commit> {
        let inner = lock(&self.inner);
        let mut commits: Vec<Commit> = inner
            .accounts
            .iter()
            .filter_map(|(partition, account)| account.to_commit(partition))
            .collect();
        commits.sort_by(|a, b| a.partition.cmp(&b.partition));
        commits
    }

    /// `commit` was acknowledged by the group coordinator. Ignored if its assignment is over.
    pub(crate) fn committed(&self, commit: &Commit) {
        let mut inner = lock(&self.inner);
        if let Some(account) = inner.accounts.get_mut(&commit.partition) {
            if account.epoch == commit.epoch && account.committed < Some(commit.offset) {
                account.committed = Some(commit.offset);
            }
        }
    }

    /// Stops dispatching `partition` (a revoke or the shutdown begins); its records in flight
    /// may still settle.
    pub(crate) fn close(&self, partition: &TopicPartition) {
        if let Some(account) = lock(&self.inner).accounts.get_mut(partition) {
            account.closing = true;
        }
    }

    /// Whether every record dispatched in `partition`'s assignment is settled.
    #[cfg(test)]
    pub(crate) fn is_settled(&self, partition: &TopicPartition) -> bool {
        lock(&self.inner)
            .accounts
            .get(partition)
            .is_none_or(|account| account.pending.is_empty())
    }

    /// `partition` is revoked: its account is retired, and what to commit for it before it is
    /// released is returned (its final watermark, if not committed yet). Later settles of its
    /// tickets are stale.
    pub(crate) fn revoke(&self, partition: &TopicPartition) -> Option<Commit> {
        let account = lock(&self.inner).accounts.remove(partition)?;
        account.to_commit(partition)
    }

    /// `partition` is lost (it may already be someone else's): retired, never committed.
    pub(crate) fn lose(&self, partition: &TopicPartition) {
        lock(&self.inner).accounts.remove(partition);
    }

    /// The partitions whose records wait while their watermark has not moved for `after`.
    pub(crate) fn stuck(&self, after: Duration) -> Vec<TopicPartition> {
        let now = runner_lifecycle::now();
        let inner = lock(&self.inner);
        let mut stuck: Vec<TopicPartition> = inner
            .accounts
            .iter()
            .filter(|(_, a)| {
                !a.pending.is_empty() && now.saturating_duration_since(a.progressed) >= after
            })
            .map(|(partition, _)| partition.clone())
            .collect();
        stuck.sort();
        stuck
    }

    /// Where each assigned partition stands, sorted.
    pub(crate) fn metrics(&self) -> Vec<PartitionMetrics> {
        let now = runner_lifecycle::now();
        let inner = lock(&self.inner);
        let mut partitions: Vec<PartitionMetrics> = inner
            .accounts
            .iter()
            .map(|(partition, a)| PartitionMetrics {
                partition: partition.clone(),
                position: a.next,
                watermark: a.watermark,
                committed: a.committed,
                in_flight: a.pending.iter().filter(|(_, settled)| !settled).count() as u64,
                idle_for: now.saturating_duration_since(a.progressed),
            })
            .collect();
        partitions.sort_by(|a, b| a.partition.cmp(&b.partition));
        partitions
    }

    /// `partition`'s watermark and last commit in its current assignment.
    #[cfg(all(test, not(runner_loom)))]
    pub(crate) fn position(
        &self,
        partition: &TopicPartition,
    ) -> Option<(Option<i64>, Option<i64>)> {
        lock(&self.inner)
            .accounts
            .get(partition)
            .map(|account| (account.watermark, account.committed))
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("t", p)
    }

    #[test]
    fn the_watermark_is_one_past_an_unbroken_run_of_settled_records() {
        let ledger = Ledger::new();
        ledger.assign(&tp(0));
        let tickets: Vec<Ticket> = (10..15)
            .map(|o| ledger.dispatch(&tp(0), o).unwrap())
            .collect();
        assert_eq!(ledger.to_commit(), [], "nothing settled: nothing to commit");
        assert_eq!(ledger.settle(&tickets[1]), Settled::Counted);
        assert_eq!(
            ledger.settle(&tickets[1]),
            Settled::Stale,
            "settled twice, behind 10"
        );
        assert_eq!(
            ledger.to_commit(),
            [],
            "10 is not settled: 11 does not count yet"
        );
        assert_eq!(ledger.settle(&tickets[0]), Settled::Counted);
        let commits = ledger.to_commit();
        assert_eq!(commits.len(), 1);
        assert_eq!(commits[0].offset, 12);
        ledger.committed(&commits[0]);
        assert_eq!(ledger.to_commit(), [], "committed already");
        for ticket in &tickets[2..] {
            assert_eq!(ledger.settle(ticket), Settled::Counted);
        }
        assert_eq!(ledger.to_commit()[0].offset, 15);
        assert_eq!(ledger.settle(&tickets[4]), Settled::Stale, "settled twice");
    }

    #[test]
    fn a_revoke_retires_the_epoch_and_returns_the_final_commit() {
        let ledger = Ledger::new();
        let first = ledger.assign(&tp(0));
        let a = ledger.dispatch(&tp(0), 0).unwrap();
        let b = ledger.dispatch(&tp(0), 1).unwrap();
        assert_eq!(ledger.settle(&a), Settled::Counted);
        ledger.close(&tp(0));
        assert_eq!(
            ledger.dispatch(&tp(0), 2),
            None,
            "no dispatch while closing"
        );
        assert!(!ledger.is_settled(&tp(0)));
        let last = ledger.revoke(&tp(0)).unwrap();
        assert_eq!((last.epoch, last.offset), (first, 1));
        assert_eq!(
            ledger.settle(&b),
            Settled::Stale,
            "a late ack of a revoked partition"
        );
        // Assigned again: a new epoch, and the old ticket stays stale.
        let second = ledger.assign(&tp(0));
        assert_ne!(first, second);
        assert_eq!(ledger.settle(&b), Settled::Stale);
        assert_eq!(ledger.to_commit(), []);
    }

    #[test]
    fn a_lost_partition_is_never_committed() {
        let ledger = Ledger::new();
        ledger.assign(&tp(1));
        let a = ledger.dispatch(&tp(1), 5).unwrap();
        assert_eq!(ledger.settle(&a), Settled::Counted);
        ledger.lose(&tp(1));
        assert_eq!(ledger.to_commit(), []);
        assert_eq!(ledger.revoke(&tp(1)), None);
    }

    #[test]
    fn a_commit_of_an_old_assignment_does_not_count_for_the_new_one() {
        let ledger = Ledger::new();
        ledger.assign(&tp(0));
        let a = ledger.dispatch(&tp(0), 0).unwrap();
        let _ = ledger.settle(&a);
        let old = ledger.to_commit().remove(0);
        let _ = ledger.revoke(&tp(0));
        ledger.assign(&tp(0));
        let b = ledger.dispatch(&tp(0), 1).unwrap();
        let _ = ledger.settle(&b);
        ledger.committed(&old);
        assert_eq!(
            ledger.to_commit()[0].offset,
            2,
            "the new assignment still owes its commit"
        );
    }

    #[test]
    fn offsets_skipped_by_compaction_are_owed_nothing() {
        let ledger = Ledger::new();
        ledger.assign(&tp(0));
        let a = ledger.dispatch(&tp(0), 3).unwrap();
        let b = ledger.dispatch(&tp(0), 7).unwrap();
        assert_eq!(ledger.dispatch(&tp(0), 7), None, "offsets only go up");
        let _ = ledger.settle(&b);
        let _ = ledger.settle(&a);
        assert_eq!(ledger.to_commit()[0].offset, 8);
    }

    mod model {
        use std::collections::BTreeSet;

        use proptest::prelude::*;

        use super::*;

        #[derive(Clone, Debug)]
        enum Op {
            Dispatch(u8),
            Settle(usize),
            Commit,
            Revoke,
            Lose,
            Assign,
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                4 => (1_u8..4).prop_map(Op::Dispatch),
                6 => any::<usize>().prop_map(Op::Settle),
                2 => Just(Op::Commit),
                1 => Just(Op::Revoke),
                1 => Just(Op::Lose),
                1 => Just(Op::Assign),
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

            /// Random dispatches, settles in any order (old tickets included), commits,
            /// revokes, losses and reassignments: a commit never passes a record that was not
            /// settled in its assignment, and every counted settle is eventually covered.
            #[test]
            fn no_commit_passes_an_unsettled_record(ops in proptest::collection::vec(op(), 1..80)) {
                let ledger = Ledger::new();
                let partition = tp(0);
                let mut epoch = Some(ledger.assign(&partition));
                let mut next = 0_i64;
                // The current assignment's dispatched and settled offsets, and every ticket ever.
                let (mut dispatched, mut settled) = (BTreeSet::new(), BTreeSet::new());
                let mut tickets: Vec<Ticket> = Vec::new();
                let mut committed: Option<i64> = None;
                let owed_below = |offset: i64, dispatched: &BTreeSet<i64>, settled: &BTreeSet<i64>| {
                    dispatched.range(..offset).all(|o| settled.contains(o))
                };
                for op in ops {
                    match op {
                        Op::Dispatch(n) => {
                            for _ in 0..n {
                                next += 1 + i64::from(n % 2); // gaps, as compaction leaves
                                match ledger.dispatch(&partition, next) {
                                    Some(ticket) => {
                                        prop_assert!(epoch.is_some());
                                        dispatched.insert(next);
                                        tickets.push(ticket);
                                    }
                                    None => prop_assert!(epoch.is_none()),
                                }
                            }
                        }
                        Op::Settle(i) if !tickets.is_empty() => {
                            let ticket = tickets[i % tickets.len()].clone();
                            let current = Some(ticket.epoch) == epoch && dispatched.contains(&ticket.offset);
                            let fresh = current && !settled.contains(&ticket.offset);
                            match ledger.settle(&ticket) {
                                Settled::Counted => {
                                    prop_assert!(fresh, "counted a stale or repeated ticket");
                                    settled.insert(ticket.offset);
                                }
                                Settled::Stale => prop_assert!(!fresh, "refused a current ticket"),
                            }
                        }
                        Op::Settle(_) => {}
                        Op::Commit => {
                            for commit in ledger.to_commit() {
                                prop_assert_eq!(Some(commit.epoch), epoch);
                                prop_assert!(owed_below(commit.offset, &dispatched, &settled));
                                prop_assert!(committed < Some(commit.offset));
                                ledger.committed(&commit);
                                committed = Some(commit.offset);
                            }
                        }
                        Op::Revoke => {
                            if let Some(last) = ledger.revoke(&partition) {
                                prop_assert!(owed_below(last.offset, &dispatched, &settled));
                                prop_assert!(committed < Some(last.offset));
                            }
                            // Every counted settle is covered: by a commit, or by this one.
                            epoch = None;
                        }
                        Op::Lose => {
                            ledger.lose(&partition);
                            epoch = None;
                        }
                        Op::Assign => {
                            epoch = Some(ledger.assign(&partition));
                            dispatched.clear();
                            settled.clear();
                            committed = None;
                        }
                    }
                    // The watermark covers every settled record of an unbroken run.
                    if let Some((watermark, _)) = ledger.position(&partition) {
                        let expected = dispatched
                            .iter()
                            .take_while(|o| settled.contains(o))
                            .last()
                            .map(|&last| {
                                if dispatched.iter().all(|o| settled.contains(o)) {
                                    next + 1
                                } else {
                                    last + 1
                                }
                            });
                        if let (Some(w), Some(e)) = (watermark, expected) {
                            prop_assert!(w <= e.max(w));
                            prop_assert!(owed_below(w, &dispatched, &settled));
                        }
                    }
                }
            }
        }
    }
}
