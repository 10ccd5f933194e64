//! [`Waiters`]: the tasks waiting for the next state change, and [`WakeList`] to wake them
//! once the lock is released.
//!
//! A waiting future registers its waker under a key and removes it when dropped, so a watcher
//! that gives up (a timed-out `stop`) leaves nothing behind, however long the runner stays idle.

use core::task::Waker;

/// How many wakers [`WakeList`] holds without allocating: a `stop` caller, a watcher and the
/// driver are the usual crowd.
const INLINE: usize = 4;

/// Wakers keyed by the future that registered them. Plain data: it lives under the control
/// plane's lock, and keeps its buffer between changes.
#[derive(Debug, Default)]
pub(crate) struct Waiters {
    next_key: u64,
    wakers: Vec<(u64, Waker)>,
}

impl Waiters {
    /// Registers (or refreshes) the waker of the future holding `key`.
    pub(crate) fn register(&mut self, key: &mut Option<u64>, waker: &Waker) {
        if let Some(k) = *key {
            if let Some((_, registered)) = self.wakers.iter_mut().find(|(id, _)| *id == k) {
                if !registered.will_wake(waker) {
                    registered.clone_from(waker);
                }
                return;
            }
        }
        let k = self.next_key;
        self.next_key += 1;
        self.wakers.push((k, waker.clone()));
        *key = Some(k);
    }

    /// Forgets the waker registered under `key`, if it is still there.
    pub(crate) fn remove(&mut self, key: u64) {
        if let Some(at) = self.wakers.iter().position(|(id, _)| *id == key) {
            self.wakers.swap_remove(at);
        }
    }

    /// Takes every waker, to be woken once the lock is released.
    pub(crate) fn take(&mut self) -> WakeList {
        let mut list = WakeList::default();
        for (_, waker) in self.wakers.drain(..) {
            list.push(waker);
        }
        list
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.wakers.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.len()
    }
}

/// Wakers taken out from under the lock; allocates only beyond a few.
#[derive(Debug, Default)]
pub(crate) struct WakeList {
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

    pub(crate) fn wake_all(self) {
        self.inline.into_iter().flatten().for_each(Waker::wake);
        self.spilled.into_iter().for_each(Waker::wake);
    }
}
