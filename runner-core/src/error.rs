//! Error vocabulary shared by every runner: [`SharedError`] and [`Panicked`].

use core::any::Any;
use core::fmt;
use std::borrow::Cow;
use std::sync::Arc;

/// A type-erased error that can be cloned and shared between threads.
///
/// Used where errors of different runners meet: [`Exit::Failed`](crate::Exit::Failed) and the
/// [`DynRunner`](crate::DynRunner) twin. `Arc<dyn Error>` is itself an [`Error`](std::error::Error),
/// and the concrete error can be recovered with `downcast_ref`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use runner_core::{Panicked, SharedError};
///
/// let error: SharedError = Arc::new(Panicked::new("boom"));
/// assert_eq!(error.downcast_ref::<Panicked>().map(Panicked::message), Some("boom"));
/// ```
pub type SharedError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Error recorded when a runner's work panicked; the panic was caught at the task boundary.
///
/// Keeps the panic message, so a panic is as visible as any other error and never crashes the
/// process.
///
/// # Examples
///
/// ```
/// use runner_core::Panicked;
///
/// let payload = std::panic::catch_unwind(|| panic!("disk {} is full", 3)).unwrap_err();
/// let panicked = Panicked::from_payload(payload.as_ref());
/// assert_eq!(panicked.message(), "disk 3 is full");
/// assert_eq!(panicked.to_string(), "panicked: disk 3 is full");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Panicked {
    message: Cow<'static, str>,
}

impl Panicked {
    /// A panic with the given message.
    #[must_use]
    pub fn new(message: impl Into<Cow<'static, str>>) -> Self {
        Panicked {
            message: message.into(),
        }
    }

    /// Extracts the message from a panic payload, as returned by
    /// [`catch_unwind`](std::panic::catch_unwind) or tokio's `JoinError::into_panic`.
    ///
    /// Payloads that are neither `&str` nor `String` (from `panic_any`) keep a placeholder message.
    #[must_use]
    pub fn from_payload(payload: &(dyn Any + Send)) -> Self {
        if let Some(message) = payload.downcast_ref::<&'static str>() {
            Panicked::new(*message)
        } else if let Some(message) = payload.downcast_ref::<String>() {
            Panicked::new(message.clone())
        } else {
            Panicked::new("non-string panic payload")
        }
    }

    /// The panic message.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Panicked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "panicked: {}", self.message)
    }
}

impl std::error::Error for Panicked {}
