//! [`WaitList`]: the tasks waiting for a runner's next state change, and [`WakeList`] to wake
//! them once the lock is released.

use core::task::Waker;

/// How many wakers [`WakeList`] holds without allocating: a `stop` caller, a watcher and the
/// driver are the usual crowd.
const INLINE: usize = 4;

/// The wakers of the futures waiting for a runner's next state change: what an implementation
/// of [`Status::changed`](runner_core::Status::changed) needs to wake watchers instead of making them
/// poll.
///
/// Plain data, like [`ErrorLog`](runner_core::ErrorLog): keep it under the same lock as the state it
/// guards, register a waker in the same critical section that found the state unchanged (so no
/// change can slip in between), and [`take`](WaitList::take) the wakers in the critical section
/// that changes the state, waking them after unlocking. A waiting future keeps the key it was
/// given and [`remove`](WaitList::remove)s it when dropped, so a watcher that gives up (a
/// timed-out `stop`) leaves nothing behind, however long the runner stays idle. The buffer is kept
/// between changes.
///
/// # Examples
///
/// ```
/// use std::task::Waker;
/// use runner_lifecycle::WaitList;
///
/// let mut waiters = WaitList::default();
/// let mut key = None;
/// waiters.register(&mut key, Waker::noop()); // first poll: nothing changed yet
/// waiters.register(&mut key, Waker::noop()); // polled again: same entry
/// assert_eq!(waiters.len(), 1);
/// // The state changes: take the wakers under the lock, wake them after it.
/// waiters.take().wake_all();
/// assert!(waiters.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct WaitList {
    next_key: u64,
    wakers: Vec<(u64, Waker)>,
}

impl WaitList {
    /// Registers (or refreshes) the waker of the future holding `key`; `key` is set on the first
    /// call.
    pub fn register(&mut self, key: &mut Option<u64>, waker: &Waker) {
        if let Some(k) = *key {
            if let Some((_, registered)) = self.wakers.iter_mut().find(|(id, _)| *id == k) {
                if !registered.will_wake(waker) {
                    registered.clone_from(waker);
                }
                return;
            }
        }
        let k = self.next_key;
        self.next_key = self.next_key.wrapping_add(1);
        if self.wakers.capacity() == 0 {
            // Most runners have one waiter at a time (their own task): do not grow to four.
            self.wakers.reserve_exact(1);
        }
        self.wakers.push((k, waker.clone()));
        *key = Some(k);
    }

    /// Forgets the waker registered under `key`, if it is still there: call it when a waiting
    /// future is dropped, or resolves, before [`take`](WaitList::take) took it.
    pub fn remove(&mut self, key: u64) {
        if let Some(at) = self.wakers.iter().position(|(id, _)| *id == key) {
            self.wakers.swap_remove(at);
        }
    }

    /// Takes every waker, to be woken once the lock is released. Keys handed out before are
    /// stale after this: [`register`](WaitList::register) with one adds a new entry.
    #[must_use = "the taken wakers must be woken"]
    pub fn take(&mut self) -> WakeList {
        let mut list = WakeList::default();
        for (_, waker) in self.wakers.drain(..) {
            list.push(waker);
        }
        list
    }

    /// `true` if no future waits.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.wakers.is_empty()
    }

    /// How many futures wait.
    #[must_use]
    pub fn len(&self) -> usize {
        self.wakers.len()
    }
}

/// Wakers taken out of a [`WaitList`], to be woken once the lock is released; allocates only
/// beyond a few.
#[derive(Debug, Default)]
#[must_use = "the taken wakers must be woken"]
pub struct WakeList {
    inline: [Option<Waker>; INLINE],
    len: usize,
    spilled: Vec<Waker>,
}

impl WakeList {
    fn push(&mut self, waker: Waker) {
        if let Some(slot) = self.inline.get_mut(self.len) {
            *slot = Some(waker);
            self.len += 1;
        } else {
            self.spilled.push(waker);
        }
    }

    /// Wakes every waker.
    pub fn wake_all(self) {
        self.inline.into_iter().flatten().for_each(Waker::wake);
        self.spilled.into_iter().for_each(Waker::wake);
    }
}
