//! [`Waiters`]: the tasks waiting for the next state change.
//!
//! A waiting future registers its waker under a key and removes it when dropped, so a watcher
//! that gives up (a timed-out `stop`) leaves nothing behind, however long the runner stays idle.

use core::task::Waker;

/// Wakers keyed by the future that registered them. Plain data: it lives under the control
/// plane's lock.
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
    pub(crate) fn take(&mut self) -> Vec<Waker> {
        self.wakers.drain(..).map(|(_, waker)| waker).collect()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.wakers.len()
    }
}
