//! Hand-polling tools, so the kit needs no runtime: one poll with a waker of our choice, a yield,
//! and a race against the caller's timer.

use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;
use std::time::Duration;

use crate::BoxFuture;

/// How many times [`settle`] yields: enough for a current-thread executor to run every task a
/// call spawned, a few times over.
const SETTLE_YIELDS: usize = 16;

/// A waker that counts its wake-ups.
pub(super) struct CountingWaker {
    wakes: Arc<Wakes>,
    waker: Waker,
}

struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl CountingWaker {
    pub(super) fn new() -> Self {
        let wakes = Arc::new(Wakes(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&wakes));
        CountingWaker { wakes, waker }
    }

    pub(super) fn wakes(&self) -> usize {
        self.wakes.0.load(Ordering::SeqCst)
    }

    /// Polls `future` once with this waker.
    pub(super) fn poll<F: Future + ?Sized>(&self, future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(&self.waker))
    }
}

/// Polls `future` once with a waker that does nothing.
pub(super) fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Yields to the executor a few times, so tasks spawned by the call under test get to run.
pub(super) async fn settle() {
    for _ in 0..SETTLE_YIELDS {
        let mut yielded = false;
        poll_fn(|cx| {
            if yielded {
                Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await;
    }
}

/// The caller's timer: how long one check may take, and how to sleep.
pub(super) struct Deadline {
    pub(super) limit: Duration,
    pub(super) sleep: Box<dyn Fn(Duration) -> BoxFuture<'static, ()> + Send + Sync>,
}

/// Runs `future` to completion, or gives up when the deadline (if any) passes.
pub(super) async fn within<F: Future>(deadline: Option<&Deadline>, future: F) -> Option<F::Output> {
    let Some(deadline) = deadline else {
        return Some(future.await);
    };
    let mut future = pin!(future);
    let mut timer = (deadline.sleep)(deadline.limit);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        timer.as_mut().poll(cx).map(|()| None)
    })
    .await
}
