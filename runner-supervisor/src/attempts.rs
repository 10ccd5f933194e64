//! [`Attempts`]: each service's current attempt (its start, then its watching, or its stop) as
//! a future polled by the engine's own task, keyed by the service's id. No task per service:
//! a service's start, its changes and its stop wake the engine directly, which saves a task
//! spawn and a thread hop per step (a restart reacts in two hops: the service's task to the
//! engine, the engine to the new run).
//!
//! Each attempt gets a waker of its own (safe code: [`std::task::Wake`]) that posts its id to
//! a [`Mailbox`] the engine drains, so only the woken attempts are polled.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Waker};
use std::sync::Arc;
use std::task::Wake;

use crate::core::Id;
use crate::mailbox::Mailbox;

/// Polls at most this many rounds of wake-ups per call before yielding to the runtime, so an
/// attempt that keeps waking itself cannot hold the engine's task.
const ROUNDS: usize = 4;

/// The services' attempts. See the module docs.
pub(crate) struct Attempts {
    slots: Vec<Slot>,
    woken: Arc<Mailbox<Id>>,
    ids: Vec<Id>,
}

#[derive(Default)]
struct Slot {
    attempt: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Made once per service, reused by its attempts.
    waker: Option<Waker>,
}

/// The waker of service `id`'s attempts.
struct Wakeup {
    id: Id,
    woken: Arc<Mailbox<Id>>,
}

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.woken.post(self.id);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.post(self.id);
    }
}

impl Attempts {
    pub(crate) fn new() -> Self {
        Attempts {
            slots: Vec::new(),
            woken: Arc::new(Mailbox::new()),
            ids: Vec::new(),
        }
    }

    /// Makes `attempt` service `id`'s attempt, dropping (cancelling) the one before; it is
    /// first polled at the next [`poll`](Attempts::poll).
    pub(crate) fn set(&mut self, id: Id, attempt: impl Future<Output = ()> + Send + 'static) {
        if self.slots.len() <= id {
            self.slots.resize_with(id + 1, Slot::default);
        }
        self.slots[id].attempt = Some(Box::pin(attempt));
        self.woken.post(id);
    }

    /// Drops (cancels) service `id`'s attempt, if it has one.
    pub(crate) fn cancel(&mut self, id: Id) {
        if let Some(slot) = self.slots.get_mut(id) {
            slot.attempt = None;
        }
    }

    /// Polls the attempts woken since the last call (an attempt that finishes is dropped);
    /// the engine's waker in `cx` is woken at the next wake-up.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) {
        for _ in 0..ROUNDS {
            if self.woken.poll_drain(cx, &mut self.ids).is_pending() {
                return;
            }
            for id in self.ids.drain(..) {
                let Some(slot) = self.slots.get_mut(id) else {
                    continue;
                };
                let Some(attempt) = slot.attempt.as_mut() else {
                    continue; // a wake-up of a cancelled attempt
                };
                let waker = slot.waker.get_or_insert_with(|| {
                    Waker::from(Arc::new(Wakeup {
                        id,
                        woken: Arc::clone(&self.woken),
                    }))
                });
                if attempt
                    .as_mut()
                    .poll(&mut Context::from_waker(waker))
                    .is_ready()
                {
                    slot.attempt = None;
                }
            }
        }
        // Still more wake-ups: come back after the runtime has run others.
        cx.waker().wake_by_ref();
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use core::future::poll_fn;
    use core::task::Poll;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A waker that counts its wake-ups: the engine's, in these tests.
    #[derive(Default)]
    struct Counting(AtomicUsize);

    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn engine() -> (Arc<Counting>, Waker) {
        let counting = Arc::new(Counting::default());
        (Arc::clone(&counting), Waker::from(counting))
    }

    #[test]
    fn a_new_attempt_is_polled_at_the_next_poll_and_dropped_when_done() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut attempts = Attempts::new();
        for id in [0, 3] {
            let polls = Arc::clone(&polls);
            attempts.set(id, async move {
                polls.fetch_add(1, Ordering::SeqCst);
            });
        }
        let (_, waker) = engine();
        attempts.poll(&mut Context::from_waker(&waker));
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        assert!(attempts.slots.iter().all(|slot| slot.attempt.is_none()));
    }

    #[test]
    fn a_woken_attempt_is_polled_and_a_cancelled_one_never_again() {
        let (tx, rx) = std::sync::mpsc::channel::<Waker>();
        let polls = Arc::new(AtomicUsize::new(0));
        let mut attempts = Attempts::new();
        for id in 0..2 {
            let (tx, polls) = (tx.clone(), Arc::clone(&polls));
            attempts.set(
                id,
                poll_fn(move |cx| {
                    polls.fetch_add(1, Ordering::SeqCst);
                    tx.send(cx.waker().clone()).unwrap();
                    Poll::<()>::Pending
                }),
            );
        }
        let (woken, waker) = engine();
        attempts.poll(&mut Context::from_waker(&waker));
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        let (first, second) = (rx.recv().unwrap(), rx.recv().unwrap());

        // Nothing woke: nothing is polled, and the engine waits.
        attempts.poll(&mut Context::from_waker(&waker));
        assert_eq!(polls.load(Ordering::SeqCst), 2);
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);

        // A wake-up wakes the engine, which polls that attempt only.
        first.wake();
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        attempts.poll(&mut Context::from_waker(&waker));
        assert_eq!(polls.load(Ordering::SeqCst), 3);

        attempts.cancel(1);
        second.wake();
        attempts.poll(&mut Context::from_waker(&waker));
        assert_eq!(
            polls.load(Ordering::SeqCst),
            3,
            "a cancelled attempt is not polled"
        );
    }

    #[test]
    fn an_attempt_that_keeps_waking_itself_does_not_hold_the_engine() {
        let polls = Arc::new(AtomicUsize::new(0));
        let mut attempts = Attempts::new();
        let counted = Arc::clone(&polls);
        attempts.set(
            0,
            poll_fn(move |cx| {
                counted.fetch_add(1, Ordering::SeqCst);
                cx.waker().wake_by_ref();
                Poll::<()>::Pending
            }),
        );
        let (woken, waker) = engine();
        attempts.poll(&mut Context::from_waker(&waker));
        assert_eq!(polls.load(Ordering::SeqCst), ROUNDS);
        assert_eq!(
            woken.0.load(Ordering::SeqCst),
            1,
            "the engine comes back later"
        );
    }
}
