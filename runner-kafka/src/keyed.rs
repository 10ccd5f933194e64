//! [`Lanes`]: which of a partition's records a worker may start, and when. Records are ordered
//! within a *lane*: the whole partition (a `PartitionedRunner`: one record at a time, in offset
//! order) or one record key (a `KeyedRunner`: records of different keys at the same time, those
//! of one key one at a time, in offset order). At most `max_concurrency` lanes are busy at once.
//!
//! A plain type, no tokio, no clock: the worker's task drives it and owns it alone (it is never
//! shared between threads, so it needs no lock and no loom model). The worker settles each
//! record's ticket in the ledger when the record ends, in whatever order that is; the ledger's
//! watermark only covers the unbroken run of settled records, so a slow early record holds the
//! commit back while later ones of other keys complete.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// What records are ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// The partition: every record is in one lane.
    Partition,
    /// The record's key (the raw bytes); every record without a key shares one lane, the null
    /// key's.
    Key,
}

/// A unit of ordering: its records start one at a time, in offset order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Lane {
    /// Every record of the partition.
    Partition,
    /// Every record with this key (`None`: without a key).
    Key(Option<Vec<u8>>),
}

/// Whether a record pushed may start as soon as a slot is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub(crate) enum Pushed {
    /// Its lane is free.
    Ready,
    /// Its lane is busy with an earlier record (or others of it wait): it waits its turn.
    Behind,
}

/// See the module docs. `T` is what the worker keeps of each record.
#[derive(Debug)]
pub(crate) struct Lanes<T> {
    order: Order,
    max_concurrency: usize,
    /// How many records it may hold (started and waiting) at most.
    capacity: usize,
    /// Each lane's records not started yet, in offset order.
    waiting: HashMap<Lane, VecDeque<(i64, T)>>,
    /// Lanes that are free and have records waiting, by the offset of their first: the oldest
    /// record starts first, so the watermark moves as early as it can.
    runnable: BTreeMap<i64, Lane>,
    /// Lanes with a record started and not ended.
    busy: HashSet<Lane>,
    waiting_count: usize,
}

impl<T> Lanes<T> {
    /// Lanes ordered by `order`, at most `max_concurrency` (at least 1) busy at once, holding
    /// at most `max_concurrency + lookahead` records (started or waiting).
    pub(crate) fn new(order: Order, max_concurrency: usize, lookahead: usize) -> Self {
        let max_concurrency = max_concurrency.max(1);
        Lanes {
            order,
            max_concurrency,
            capacity: max_concurrency.saturating_add(lookahead),
            waiting: HashMap::new(),
            runnable: BTreeMap::new(),
            busy: HashSet::new(),
            waiting_count: 0,
        }
    }

    /// The records held: started and not ended, or waiting.
    pub(crate) fn len(&self) -> usize {
        self.busy.len() + self.waiting_count
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether another record may be pushed.
    pub(crate) fn has_room(&self) -> bool {
        self.len() < self.capacity
    }

    /// The lane of a record with `key`.
    pub(crate) fn lane(&self, key: Option<&[u8]>) -> Lane {
        match self.order {
            Order::Partition => Lane::Partition,
            Order::Key => Lane::Key(key.map(<[u8]>::to_vec)),
        }
    }

    /// Takes the record at `offset` in `lane` (see [`lane`](Lanes::lane)). Offsets are pushed
    /// in increasing order.
    pub(crate) fn push(&mut self, lane: Lane, offset: i64, item: T) -> Pushed {
        let queue = self.waiting.entry(lane.clone()).or_default();
        let first = queue.is_empty();
        queue.push_back((offset, item));
        self.waiting_count += 1;
        if first && !self.busy.contains(&lane) {
            self.runnable.insert(offset, lane);
            Pushed::Ready
        } else {
            Pushed::Behind
        }
    }

    /// The next record to start, with its lane (now busy until [`done`](Lanes::done)), if a
    /// slot is free and a record's lane is; the oldest such record.
    pub(crate) fn next(&mut self) -> Option<(Lane, T)> {
        if self.busy.len() >= self.max_concurrency {
            return None;
        }
        let (_, lane) = self.runnable.pop_first()?;
        let queue = self.waiting.get_mut(&lane)?;
        let (_, item) = queue.pop_front()?;
        if queue.is_empty() {
            self.waiting.remove(&lane);
        }
        self.waiting_count -= 1;
        self.busy.insert(lane.clone());
        Some((lane, item))
    }

    /// The record started in `lane` ended: the lane's next record may start.
    pub(crate) fn done(&mut self, lane: &Lane) {
        let was_busy = self.busy.remove(lane);
        debug_assert!(was_busy, "a lane ended that was not busy");
        if let Some(&(offset, _)) = self.waiting.get(lane).and_then(VecDeque::front) {
            self.runnable.insert(offset, lane.clone());
        }
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    #[test]
    fn different_keys_start_together_one_key_waits_its_turn() {
        let mut lanes = Lanes::new(Order::Key, 4, 0);
        assert_eq!(lanes.push(lanes.lane(Some(b"a")), 0, 0), Pushed::Ready);
        assert_eq!(lanes.push(lanes.lane(Some(b"b")), 1, 1), Pushed::Ready);
        assert_eq!(lanes.push(lanes.lane(Some(b"a")), 2, 2), Pushed::Behind);
        assert_eq!(lanes.push(lanes.lane(None), 3, 3), Pushed::Ready);
        assert_eq!(
            lanes.push(lanes.lane(None), 4, 4),
            Pushed::Behind,
            "no key: the null key's lane"
        );
        let started: Vec<i64> = std::iter::from_fn(|| lanes.next().map(|(_, o)| o)).collect();
        assert_eq!(started, [0, 1, 3]);
        assert!(!lanes.has_room(), "4 + 0 records held");
        lanes.done(&Lane::Key(Some(b"a".to_vec())));
        assert_eq!(lanes.next(), Some((Lane::Key(Some(b"a".to_vec())), 2)));
        lanes.done(&Lane::Key(None));
        assert_eq!(lanes.next(), Some((Lane::Key(None), 4)));
        assert_eq!(lanes.next(), None);
    }

    #[test]
    fn at_most_max_concurrency_start_and_the_oldest_first() {
        let mut lanes = Lanes::new(Order::Key, 2, 10);
        for offset in 0..5_i64 {
            let key = [u8::try_from(offset).unwrap()];
            assert_eq!(
                lanes.push(lanes.lane(Some(&key)), offset, offset),
                Pushed::Ready
            );
        }
        assert_eq!(lanes.next().map(|(_, o)| o), Some(0));
        assert_eq!(lanes.next().map(|(_, o)| o), Some(1));
        assert_eq!(lanes.next(), None, "two busy: the limit");
        lanes.done(&Lane::Key(Some(vec![1])));
        assert_eq!(lanes.next().map(|(_, o)| o), Some(2));
        assert_eq!(lanes.len(), 4);
    }

    #[test]
    fn partition_order_is_one_record_at_a_time() {
        let mut lanes = Lanes::new(Order::Partition, 1, 0);
        assert_eq!(lanes.push(lanes.lane(Some(b"a")), 0, 0), Pushed::Ready);
        assert!(!lanes.has_room());
        assert_eq!(lanes.next(), Some((Lane::Partition, 0)));
        assert!(!lanes.has_room(), "one started: nothing more is taken");
        lanes.done(&Lane::Partition);
        assert!(lanes.is_empty() && lanes.has_room());
    }

    mod model {
        use std::collections::{BTreeSet, HashMap};

        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

            /// Random keys, a random order of ends: each key's records start in offset order,
            /// never two of one key at once, never more than `max` at once, and every record
            /// starts.
            #[test]
            fn per_key_order_and_the_bound_hold(
                keys in proptest::collection::vec(proptest::option::of(0_u8..5), 1..60),
                ends in proptest::collection::vec(any::<usize>(), 0..200),
                max in 1_usize..5,
                lookahead in 0_usize..8,
            ) {
                let mut lanes = Lanes::new(Order::Key, max, lookahead);
                let mut pending = keys.iter().enumerate();
                let mut running: Vec<(Lane, i64)> = Vec::new();
                let mut started: HashMap<Lane, Vec<i64>> = HashMap::new();
                let mut ends = ends.into_iter();
                let mut all_started = BTreeSet::new();
                loop {
                    while lanes.has_room() {
                        let Some((offset, key)) = pending.next() else { break };
                        let key = key.map(|k| [k]);
                        let _ = lanes.push(lanes.lane(key.as_ref().map(|k| &k[..])), offset as i64, offset as i64);
                    }
                    while let Some((lane, offset)) = lanes.next() {
                        prop_assert!(running.iter().all(|(l, _)| *l != lane), "two of one key at once");
                        running.push((lane.clone(), offset));
                        prop_assert!(running.len() <= max);
                        let seen = started.entry(lane).or_default();
                        prop_assert!(seen.last().is_none_or(|&last| last < offset));
                        seen.push(offset);
                        all_started.insert(offset);
                    }
                    if running.is_empty() {
                        break;
                    }
                    let i = ends.next().unwrap_or(0) % running.len();
                    let (lane, _) = running.swap_remove(i);
                    lanes.done(&lane);
                }
                prop_assert_eq!(all_started.len(), keys.len(), "every record started");
                prop_assert!(lanes.is_empty());
            }
        }
    }
}
