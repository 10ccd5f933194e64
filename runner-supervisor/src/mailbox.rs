//! [`Mailbox`]: what the engine's helpers (the services' attempt tasks, and the supervisor's
//! own methods) post to the engine. Many senders, one receiver, never full, never closed: a
//! `VecDeque` and the receiver's waker under one lock of the [`sync`](runner_lifecycle::sync)
//! facade, so loom checks it.

use core::task::{Context, Poll, Waker};
use std::collections::VecDeque;

use runner_lifecycle::sync::{Mutex, lock};

#[derive(Debug)]
pub(crate) struct Mailbox<T> {
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    items: VecDeque<T>,
    receiver: Option<Waker>,
}

impl<T> Mailbox<T> {
    pub(crate) fn new() -> Self {
        Mailbox {
            inner: Mutex::new(Inner {
                items: VecDeque::new(),
                receiver: None,
            }),
        }
    }

    /// Posts `item` and wakes the receiver.
    pub(crate) fn post(&self, item: T) {
        let receiver = {
            let mut inner = lock(&self.inner);
            inner.items.push_back(item);
            inner.receiver.take()
        };
        if let Some(receiver) = receiver {
            receiver.wake();
        }
    }

    /// Moves every waiting item into `into`; pending (the waker registered) if there is none.
    pub(crate) fn poll_drain(&self, cx: &mut Context<'_>, into: &mut Vec<T>) -> Poll<()> {
        let mut inner = lock(&self.inner);
        if inner.items.is_empty() {
            if !inner
                .receiver
                .as_ref()
                .is_some_and(|w| w.will_wake(cx.waker()))
            {
                inner.receiver = Some(cx.waker().clone());
            }
            return Poll::Pending;
        }
        into.extend(inner.items.drain(..));
        Poll::Ready(())
    }
}
