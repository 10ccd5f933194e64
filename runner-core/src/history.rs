//! [`ErrorHistory`]: the bounded record of a runner's errors, and [`ErrorLog`] to keep one.

use std::collections::VecDeque;
use std::sync::Arc;

/// How many errors a runner keeps unless configured otherwise.
pub const DEFAULT_ERROR_CAPACITY: usize = 64;

/// The errors a runner recorded: the most recent ones, up to a fixed capacity, and a count of
/// all of them.
///
/// # The contract
///
/// 1. Every error the runner's work returns or panics with, every failed start, every failed or
///    forced stop is recorded. None is dropped because nobody was listening.
/// 2. [`errors`](ErrorHistory::errors) never holds more than
///    [`error_capacity`](ErrorHistory::error_capacity) entries. When full, the oldest entry is
///    evicted to make room.
/// 3. [`error_count`](ErrorHistory::error_count) counts every error ever recorded, evicted or
///    not. It only grows.
/// 4. The history is never cleared behind the caller's back: not by `start`, not by `restart`.
/// 5. [`last_error`](ErrorHistory::last_error) is the most recent error retained: the last entry
///    of [`errors`](ErrorHistory::errors), never the oldest.
///
/// # Examples
///
/// ```
/// use runner_core::ErrorHistory;
///
/// fn report(history: &impl ErrorHistory) -> String {
///     match history.last_error() {
///         Some(last) => format!("{} errors, last: {last}", history.error_count()),
///         None => "no errors".to_owned(),
///     }
/// }
/// ```
pub trait ErrorHistory: Send + Sync {
    /// The type of one recorded error. Unsized only for type-erased runners (the
    /// [`DynRunner`](crate::DynRunner) twin records `dyn Error`).
    type Recorded: std::error::Error + Send + Sync + ?Sized + 'static;

    /// The retained errors, oldest first; at most [`error_capacity`](ErrorHistory::error_capacity).
    fn errors(&self) -> Vec<Arc<Self::Recorded>>;

    /// The most recent error, if any is retained (rule 5).
    fn last_error(&self) -> Option<Arc<Self::Recorded>> {
        self.errors().pop()
    }

    /// How many errors were ever recorded, including evicted ones.
    fn error_count(&self) -> u64;

    /// The most errors [`errors`](ErrorHistory::errors) retains.
    fn error_capacity(&self) -> usize;
}

/// Forwards every method to `**self`.
macro_rules! forward_history {
    ($($ptr:ty),+ $(,)?) => {$(
        impl<T: ErrorHistory + ?Sized> ErrorHistory for $ptr {
            type Recorded = T::Recorded;

            fn errors(&self) -> Vec<Arc<Self::Recorded>> {
                (**self).errors()
            }

            fn last_error(&self) -> Option<Arc<Self::Recorded>> {
                (**self).last_error()
            }

            fn error_count(&self) -> u64 {
                (**self).error_count()
            }

            fn error_capacity(&self) -> usize {
                (**self).error_capacity()
            }
        }
    )+};
}

forward_history!(&T, &mut T, Box<T>, Arc<T>);

/// A bounded buffer of errors with a total count: the storage behind an [`ErrorHistory`].
///
/// A plain data structure with no locking; a runner keeps it behind its own lock. It allocates
/// nothing until the first error.
///
/// # Examples
///
/// ```
/// use runner_core::ErrorLog;
///
/// let mut log = ErrorLog::new(2);
/// for n in 1..=3 {
///     log.record(std::io::Error::other(format!("attempt {n}")));
/// }
/// assert_eq!(log.len(), 2); // bounded
/// assert_eq!(log.total(), 3); // but every error counted
/// assert_eq!(log.evicted(), 1);
/// assert_eq!(log.last().unwrap().to_string(), "attempt 3");
/// let kept: Vec<String> = log.iter().map(|e| e.to_string()).collect();
/// assert_eq!(kept, ["attempt 2", "attempt 3"]);
/// ```
#[derive(Clone, Debug)]
pub struct ErrorLog<E> {
    entries: VecDeque<Arc<E>>,
    capacity: usize,
    total: u64,
}

impl<E> ErrorLog<E> {
    /// An empty log that retains at most `capacity` errors. A capacity of zero retains none but
    /// still counts them.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        ErrorLog {
            entries: VecDeque::new(),
            capacity,
            total: 0,
        }
    }

    /// Records an error, evicting the oldest one if full, and returns it shared.
    pub fn record(&mut self, error: E) -> Arc<E> {
        let error = Arc::new(error);
        self.record_shared(Arc::clone(&error));
        error
    }

    /// Records an error that is already shared.
    pub fn record_shared(&mut self, error: Arc<E>) {
        self.total = self.total.saturating_add(1);
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(error);
    }

    /// The most recent retained error.
    #[must_use]
    pub fn last(&self) -> Option<&Arc<E>> {
        self.entries.back()
    }

    /// The retained errors, oldest first.
    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &Arc<E>> + DoubleEndedIterator {
        self.entries.iter()
    }

    /// The retained errors, oldest first, as a vector of shared handles.
    #[must_use]
    pub fn to_vec(&self) -> Vec<Arc<E>> {
        self.entries.iter().cloned().collect()
    }

    /// How many errors are retained.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` if no error is retained.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most errors retained.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many errors were ever recorded.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.total
    }

    /// How many recorded errors were evicted to respect the capacity.
    #[must_use]
    pub fn evicted(&self) -> u64 {
        self.total - self.entries.len() as u64
    }
}

impl<E> Default for ErrorLog<E> {
    /// An empty log with [`DEFAULT_ERROR_CAPACITY`].
    fn default() -> Self {
        ErrorLog::new(DEFAULT_ERROR_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_capacity_counts_without_retaining() {
        let mut log = ErrorLog::new(0);
        let shared = log.record("lost?");
        assert_eq!(*shared, "lost?");
        assert!(log.is_empty());
        assert_eq!(log.total(), 1);
        assert_eq!(log.evicted(), 1);
        assert!(log.last().is_none());
    }

    #[test]
    fn keeps_the_most_recent_in_order() {
        let mut log = ErrorLog::new(3);
        for n in 0..10 {
            log.record(n);
        }
        let kept: Vec<i32> = log.iter().map(|e| **e).collect();
        assert_eq!(kept, [7, 8, 9]);
        assert_eq!(log.to_vec().len(), 3);
        assert_eq!(log.total(), 10);
        assert_eq!(log.capacity(), 3);
    }

    #[test]
    fn default_capacity_is_documented_value() {
        assert_eq!(ErrorLog::<()>::default().capacity(), DEFAULT_ERROR_CAPACITY);
    }
}
