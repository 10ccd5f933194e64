//! Error handling: when a record fails in a [`Phase`], an [`ErrorHandler`] looks at the
//! [`ErrorContext`] and decides the [`ErrorAction`].
//!
//! The built-in handlers: [`SilentFail`] (the default), [`LogAndFail`], [`LogAndContinue`],
//! [`WithMaxAttempts`], [`WithDlq`] and [`ActionLogger`]; any closure
//! `Fn(&ErrorContext<'_>) -> ErrorAction` is a handler too. [`PhaseHandlers`] holds one handler
//! per phase, falling back to a general one.
//!
//! # Logging
//!
//! The handlers that log do so through `tracing`, with target `runner::kafka` and the record's
//! coordinates as fields: `topic`, `partition`, `offset`, `phase`, `attempt`, `node` and `error`
//! (its `Display`). They never log a record's key, value or headers, at any level: they may hold
//! personal data or secrets. The `error` field is the error's own text: an error type of yours
//! that quotes the bytes it failed on would carry them into the log (this crate's
//! [`DecodeError`](crate::DecodeError) never does).

use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::backoff::Backoff;
use crate::record::Record;

/// The `tracing` target of every event in this module.
const TARGET: &str = "runner::kafka";

/// A `tracing` event at `$level` about `$ctx`'s failed record: its coordinates, the phase, the
/// attempt, the node and the error (never its key or value), then the rest of the event.
macro_rules! failure_event {
    ($level:expr, $ctx:expr, $($rest:tt)+) => {
        tracing::event!(
            target: TARGET,
            $level,
            topic = %$ctx.record.topic,
            partition = $ctx.record.partition,
            offset = $ctx.record.offset,
            phase = %$ctx.phase,
            attempt = $ctx.attempt,
            node = $ctx.node,
            error = %$ctx.error,
            $($rest)+
        )
    };
}

/// Where in a record's journey it failed.
///
/// # Examples
///
/// ```
/// use runner_kafka::Phase;
///
/// assert_eq!(Phase::Serde.to_string(), "serde");
/// assert_eq!(Phase::Production.to_string(), "production");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Decoding its key or value.
    Serde,
    /// The processor's own work.
    Processing,
    /// Producing its outputs to sink topics.
    Production,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Serde => "serde",
            Phase::Processing => "processing",
            Phase::Production => "production",
        })
    }
}

/// What the runner does with a record that failed, as an [`ErrorHandler`] decides.
///
/// Whatever the action, a record's offset is committed only past a record that is done with:
/// processed, skipped on purpose ([`Continue`](ErrorAction::Continue)) or dead-lettered
/// ([`SendToDlq`](ErrorAction::SendToDlq)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::ErrorAction;
///
/// let retry = ErrorAction::Retry { after: Duration::from_secs(1) };
/// assert_ne!(retry, ErrorAction::Fail);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorAction {
    /// Skip the record and commit past it: it is lost on purpose.
    Continue,
    /// Process the record again (from the phase that failed) after `after`; the next failure
    /// comes with the attempt number one higher. The partition makes no progress meanwhile.
    Retry {
        /// How long to wait first.
        after: Duration,
    },
    /// Stop the runner with the error. The record is not committed: the next consumer of the
    /// partition reads it again.
    Fail,
    /// Produce the record to `topic` with the dead-letter headers (see
    /// [`dead_letter`](crate::dead_letter)), then commit past it once the broker acknowledged it.
    SendToDlq {
        /// The dead-letter topic.
        topic: String,
    },
}

/// Everything an [`ErrorHandler`] knows about a failure.
///
/// Its `Debug` shows the record's coordinates (topic, partition, offset), never its key, value
/// or headers.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ErrorContext, Phase, Record};
///
/// let record = Record::new("orders", 2, 17).with_value("not json");
/// let error = std::io::Error::other("expected value at line 1 column 1");
/// let ctx = ErrorContext::new(&record, Phase::Serde, &error, 1, "parse-order");
/// assert_eq!(ctx.record.offset, 17);
/// assert_eq!(ctx.error.to_string(), "expected value at line 1 column 1");
/// assert!(!format!("{ctx:?}").contains("not json"));
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct ErrorContext<'a> {
    /// The record that failed.
    pub record: &'a Record,
    /// Where it failed.
    pub phase: Phase,
    /// Why.
    pub error: &'a (dyn Error + Send + Sync + 'static),
    /// Which failure this is for this record in this phase: 1 for the first, 2 after one
    /// [`Retry`](ErrorAction::Retry), and so on.
    pub attempt: u32,
    /// The processor's name (the dead-letter record's `x-error-node`).
    pub node: &'a str,
}

impl<'a> ErrorContext<'a> {
    /// The context of `record`'s failure number `attempt` in `phase`, in processor `node`.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{ErrorContext, Phase, Record};
    ///
    /// let record = Record::new("orders", 0, 3);
    /// let error = std::io::Error::other("timeout");
    /// let ctx = ErrorContext::new(&record, Phase::Production, &error, 2, "totals");
    /// assert_eq!((ctx.phase, ctx.attempt, ctx.node), (Phase::Production, 2, "totals"));
    /// ```
    #[must_use]
    pub fn new(
        record: &'a Record,
        phase: Phase,
        error: &'a (dyn Error + Send + Sync + 'static),
        attempt: u32,
        node: &'a str,
    ) -> Self {
        ErrorContext {
            record,
            phase,
            error,
            attempt,
            node,
        }
    }
}

impl fmt::Debug for ErrorContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not derived: the record's `Debug` would show its key and value.
        f.debug_struct("ErrorContext")
            .field("topic", &self.record.topic)
            .field("partition", &self.record.partition)
            .field("offset", &self.record.offset)
            .field("phase", &self.phase)
            .field("error", &self.error)
            .field("attempt", &self.attempt)
            .field("node", &self.node)
            .finish()
    }
}

/// Decides what happens to a record that failed.
///
/// The rules:
///
/// 1. [`handle`](ErrorHandler::handle) is called on the partition's task, once per failure,
///    and the partition waits for its answer: it must return quickly. To wait before trying
///    again, return [`ErrorAction::Retry`] with the delay; never sleep or block in it.
/// 2. It is called again for the same record after a `Retry`, with
///    [`attempt`](ErrorContext::attempt) one higher: a handler that always retries holds the
///    partition for ever. Bound it, with [`WithMaxAttempts`].
/// 3. A panic in `handle` fails the runner, as [`ErrorAction::Fail`] would (the record is not
///    committed).
///
/// It is implemented for closures, for [`Arc`]s of handlers and for `Box<dyn ErrorHandler>`. A
/// closure passed where an `impl ErrorHandler` is expected needs its argument's type written
/// out, `|ctx: &ErrorContext<'_>|`, for Rust to see that it takes any lifetime.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::{ErrorAction, ErrorContext, ErrorHandler, Phase, PhaseHandlers, Record};
///
/// // Retry production errors three times, then fail; skip anything else.
/// let handler = |ctx: &ErrorContext<'_>| match ctx.phase {
///     Phase::Production if ctx.attempt < 3 => ErrorAction::Retry { after: Duration::from_secs(1) },
///     Phase::Production => ErrorAction::Fail,
///     _ => ErrorAction::Continue,
/// };
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("broker down");
/// let ctx = ErrorContext::new(&record, Phase::Production, &error, 3, "totals");
/// assert_eq!(handler.handle(&ctx), ErrorAction::Fail);
/// let handlers = PhaseHandlers::new().general(handler);
/// # let _ = handlers;
/// ```
///
/// This is wrong: it blocks the partition's task (and, on a current-thread runtime, every
/// other partition) and no shutdown can interrupt it.
///
/// ```
/// use runner_kafka::{ErrorAction, ErrorContext};
///
/// let wrong = |_: &ErrorContext<'_>| {
///     std::thread::sleep(std::time::Duration::from_millis(1)); // never do this
///     ErrorAction::Continue
/// };
/// # let _ = wrong;
/// ```
pub trait ErrorHandler: Send + Sync + 'static {
    /// What to do with the record that failed as `ctx` describes.
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction;

    /// Writes what kind of handler this is, for `Debug` output such as [`PhaseHandlers`]'.
    /// The default writes the type's name; the built-in handlers write their configuration
    /// (e.g. `WithDlq("orders.dlq", LogAndFail)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{ErrorHandler, LogAndFail, WithDlq};
    ///
    /// let handler: Box<dyn ErrorHandler> = Box::new(WithDlq::new("orders.dlq", LogAndFail));
    /// assert_eq!(format!("{handler:?}"), r#"WithDlq("orders.dlq", LogAndFail)"#);
    /// ```
    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(std::any::type_name::<Self>())
    }
}

impl fmt::Debug for dyn ErrorHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

impl<F> ErrorHandler for F
where
    F: Fn(&ErrorContext<'_>) -> ErrorAction + Send + Sync + 'static,
{
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        self(ctx)
    }
}

impl<H: ErrorHandler + ?Sized> ErrorHandler for Arc<H> {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        (**self).handle(ctx)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).describe(f)
    }
}

impl ErrorHandler for Box<dyn ErrorHandler> {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        (**self).handle(ctx)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).describe(f)
    }
}

/// Shows a handler as its [`describe`](ErrorHandler::describe) says.
struct Described<'a, H: ?Sized>(&'a H);

impl<H: ErrorHandler + ?Sized> fmt::Debug for Described<'_, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.describe(f)
    }
}

/// Fails the runner, logging the failure at `debug` level only: the default handler. The
/// runner's own error (what its `stop` or exit reports) is where the failure shows.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ErrorAction, ErrorContext, ErrorHandler, Phase, Record, SilentFail};
///
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("boom");
/// let ctx = ErrorContext::new(&record, Phase::Processing, &error, 1, "count");
/// assert_eq!(SilentFail.handle(&ctx), ErrorAction::Fail);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SilentFail;

impl ErrorHandler for SilentFail {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        failure_event!(
            tracing::Level::DEBUG,
            ctx,
            "record failed, failing the runner"
        );
        ErrorAction::Fail
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Logs the failure at `error` level (the record's coordinates, the phase, the attempt and the
/// error; never its key or value), then fails the runner.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ErrorAction, ErrorContext, ErrorHandler, LogAndFail, Phase, Record};
///
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("boom");
/// let ctx = ErrorContext::new(&record, Phase::Processing, &error, 1, "count");
/// assert_eq!(LogAndFail.handle(&ctx), ErrorAction::Fail);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogAndFail;

impl ErrorHandler for LogAndFail {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        failure_event!(
            tracing::Level::ERROR,
            ctx,
            "record failed, failing the runner"
        );
        ErrorAction::Fail
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Logs the failure at `warn` level (as [`LogAndFail`] does), then skips the record: it is
/// committed past and lost.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ErrorAction, ErrorContext, ErrorHandler, LogAndContinue, Phase, Record};
///
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("not json");
/// let ctx = ErrorContext::new(&record, Phase::Serde, &error, 1, "parse");
/// assert_eq!(LogAndContinue.handle(&ctx), ErrorAction::Continue);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogAndContinue;

impl ErrorHandler for LogAndContinue {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        failure_event!(tracing::Level::WARN, ctx, "record failed, skipping it");
        ErrorAction::Continue
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Retries a record until it has failed `max_attempts` times, waiting
/// [`backoff.delay(attempt)`](Backoff::delay) before each retry; then `then` decides.
///
/// `max_attempts` counts the failures of one record in one phase, the first one included: with
/// 3, the record is tried three times, and `then` sees attempt 3. With 0 or 1 there is no retry:
/// `then` decides from the first failure.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::{
///     Backoff, ErrorAction, ErrorContext, ErrorHandler, LogAndFail, Phase, Record, WithMaxAttempts,
/// };
///
/// let handler = WithMaxAttempts::new(3, Backoff::fixed(Duration::from_secs(1)), LogAndFail);
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("timeout");
/// let attempt = |n| handler.handle(&ErrorContext::new(&record, Phase::Production, &error, n, "out"));
/// assert_eq!(attempt(1), ErrorAction::Retry { after: Duration::from_secs(1) });
/// assert_eq!(attempt(2), ErrorAction::Retry { after: Duration::from_secs(1) });
/// assert_eq!(attempt(3), ErrorAction::Fail);
/// ```
#[derive(Clone)]
pub struct WithMaxAttempts<H> {
    max_attempts: u32,
    backoff: Backoff,
    then: H,
}

impl<H: ErrorHandler> WithMaxAttempts<H> {
    /// Retries until `max_attempts` failures (0 and 1: never), `backoff` apart, then lets `then`
    /// decide.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::{Backoff, LogAndContinue, WithMaxAttempts};
    ///
    /// let backoff = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5), 2.0);
    /// let handler = WithMaxAttempts::new(5, backoff, LogAndContinue);
    /// assert_eq!(
    ///     format!("{handler:?}"),
    ///     "WithMaxAttempts(5, exponential 100ms..5s ×2 ±25%, LogAndContinue)",
    /// );
    /// ```
    #[must_use]
    pub fn new(max_attempts: u32, backoff: Backoff, then: H) -> Self {
        WithMaxAttempts {
            max_attempts,
            backoff,
            then,
        }
    }
}

impl<H: ErrorHandler> ErrorHandler for WithMaxAttempts<H> {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        if ctx.attempt < self.max_attempts {
            ErrorAction::Retry {
                after: self.backoff.delay(ctx.attempt),
            }
        } else {
            self.then.handle(ctx)
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WithMaxAttempts")
            .field(&self.max_attempts)
            .field(&format_args!("{}", self.backoff))
            .field(&Described(&self.then))
            .finish()
    }
}

impl<H: ErrorHandler> fmt::Debug for WithMaxAttempts<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

/// Sends the record to the dead-letter topic wherever `inner` would fail the runner:
/// `inner`'s [`Fail`](ErrorAction::Fail) becomes [`SendToDlq`](ErrorAction::SendToDlq) to
/// `topic`; any other action of `inner` (a retry, a skip, a dead letter of its own) is kept.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use runner_kafka::{
///     Backoff, ErrorAction, ErrorContext, ErrorHandler, Phase, Record, SilentFail, WithDlq,
///     WithMaxAttempts,
/// };
///
/// // Three tries, then the dead-letter topic.
/// let handler = WithDlq::new(
///     "orders.dlq",
///     WithMaxAttempts::new(3, Backoff::fixed(Duration::from_secs(1)), SilentFail),
/// );
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("bad order");
/// let ctx = ErrorContext::new(&record, Phase::Processing, &error, 3, "validate");
/// assert_eq!(handler.handle(&ctx), ErrorAction::SendToDlq { topic: "orders.dlq".into() });
/// ```
#[derive(Clone)]
pub struct WithDlq<H> {
    topic: String,
    inner: H,
}

impl<H: ErrorHandler> WithDlq<H> {
    /// Dead-letters to `topic` what `inner` would fail on.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{LogAndFail, WithDlq};
    ///
    /// let handler = WithDlq::new("orders.dlq", LogAndFail);
    /// assert_eq!(format!("{handler:?}"), r#"WithDlq("orders.dlq", LogAndFail)"#);
    /// ```
    #[must_use]
    pub fn new(topic: impl Into<String>, inner: H) -> Self {
        WithDlq {
            topic: topic.into(),
            inner,
        }
    }
}

impl<H: ErrorHandler> ErrorHandler for WithDlq<H> {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        match self.inner.handle(ctx) {
            ErrorAction::Fail => ErrorAction::SendToDlq {
                topic: self.topic.clone(),
            },
            action => action,
        }
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WithDlq")
            .field(&self.topic)
            .field(&Described(&self.inner))
            .finish()
    }
}

impl<H: ErrorHandler> fmt::Debug for WithDlq<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

/// Logs each action `inner` decides, with the record's coordinates (never its key or value):
/// at `info` level for [`Fail`](ErrorAction::Fail) and [`SendToDlq`](ErrorAction::SendToDlq),
/// which end the record's (or the runner's) story, at `debug` level otherwise.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ActionLogger, ErrorAction, ErrorContext, ErrorHandler, Phase, Record, WithDlq, SilentFail};
///
/// let handler = ActionLogger::new(WithDlq::new("orders.dlq", SilentFail));
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("bad order");
/// let ctx = ErrorContext::new(&record, Phase::Processing, &error, 1, "validate");
/// assert_eq!(handler.handle(&ctx), ErrorAction::SendToDlq { topic: "orders.dlq".into() });
/// ```
#[derive(Clone)]
pub struct ActionLogger<H> {
    inner: H,
}

impl<H: ErrorHandler> ActionLogger<H> {
    /// Logs what `inner` decides.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{ActionLogger, LogAndContinue};
    ///
    /// let handler = ActionLogger::new(LogAndContinue);
    /// assert_eq!(format!("{handler:?}"), "ActionLogger(LogAndContinue)");
    /// ```
    #[must_use]
    pub fn new(inner: H) -> Self {
        ActionLogger { inner }
    }
}

impl<H: ErrorHandler> ErrorHandler for ActionLogger<H> {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        let action = self.inner.handle(ctx);
        match &action {
            ErrorAction::Fail | ErrorAction::SendToDlq { .. } => failure_event!(
                tracing::Level::INFO,
                ctx,
                action = ?action,
                "error handler decided"
            ),
            _ => failure_event!(
                tracing::Level::DEBUG,
                ctx,
                action = ?action,
                "error handler decided"
            ),
        }
        action
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ActionLogger")
            .field(&Described(&self.inner))
            .finish()
    }
}

impl<H: ErrorHandler> fmt::Debug for ActionLogger<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.describe(f)
    }
}

/// One error handler per [`Phase`], each falling back to the general one (default:
/// [`SilentFail`]), as the reference's `WithErrorHandler` and
/// `With{Serde,Processing,Production}ErrorHandler`. It is itself an [`ErrorHandler`] that asks
/// the handler of the context's phase.
///
/// # Examples
///
/// ```
/// use runner_kafka::{ErrorAction, ErrorContext, ErrorHandler, LogAndContinue, Phase, PhaseHandlers, Record};
///
/// let handlers = PhaseHandlers::new().serde(LogAndContinue); // skip undecodable records
/// let record = Record::new("orders", 0, 9);
/// let error = std::io::Error::other("oops");
/// let serde = ErrorContext::new(&record, Phase::Serde, &error, 1, "parse");
/// let processing = ErrorContext::new(&record, Phase::Processing, &error, 1, "count");
/// assert_eq!(handlers.handle(&serde), ErrorAction::Continue);
/// assert_eq!(handlers.handle(&processing), ErrorAction::Fail); // the general SilentFail
/// ```
#[derive(Clone, Debug)]
pub struct PhaseHandlers {
    general: Arc<dyn ErrorHandler>,
    serde: Option<Arc<dyn ErrorHandler>>,
    processing: Option<Arc<dyn ErrorHandler>>,
    production: Option<Arc<dyn ErrorHandler>>,
}

impl Default for PhaseHandlers {
    fn default() -> Self {
        PhaseHandlers {
            general: Arc::new(SilentFail),
            serde: None,
            processing: None,
            production: None,
        }
    }
}

impl PhaseHandlers {
    /// [`SilentFail`] for every phase.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::PhaseHandlers;
    ///
    /// assert_eq!(
    ///     format!("{:?}", PhaseHandlers::new()),
    ///     "PhaseHandlers { general: SilentFail, serde: None, processing: None, production: None }",
    /// );
    /// ```
    #[must_use]
    pub fn new() -> Self {
        PhaseHandlers::default()
    }

    /// The handler for the phases without their own. Default: [`SilentFail`].
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{LogAndFail, Phase, PhaseHandlers};
    ///
    /// let handlers = PhaseHandlers::new().general(LogAndFail);
    /// assert_eq!(format!("{:?}", handlers.for_phase(Phase::Processing)), "LogAndFail");
    /// ```
    #[must_use]
    pub fn general(mut self, handler: impl ErrorHandler) -> Self {
        self.general = Arc::new(handler);
        self
    }

    /// The handler for [`Phase::Serde`] (decoding keys and values). Default: the general one.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{LogAndContinue, Phase, PhaseHandlers};
    ///
    /// let handlers = PhaseHandlers::new().serde(LogAndContinue);
    /// assert_eq!(format!("{:?}", handlers.for_phase(Phase::Serde)), "LogAndContinue");
    /// ```
    #[must_use]
    pub fn serde(mut self, handler: impl ErrorHandler) -> Self {
        self.serde = Some(Arc::new(handler));
        self
    }

    /// The handler for [`Phase::Processing`]. Default: the general one.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{LogAndFail, Phase, PhaseHandlers, WithDlq};
    ///
    /// let handlers = PhaseHandlers::new().processing(WithDlq::new("orders.dlq", LogAndFail));
    /// assert_eq!(
    ///     format!("{:?}", handlers.for_phase(Phase::Processing)),
    ///     r#"WithDlq("orders.dlq", LogAndFail)"#,
    /// );
    /// ```
    #[must_use]
    pub fn processing(mut self, handler: impl ErrorHandler) -> Self {
        self.processing = Some(Arc::new(handler));
        self
    }

    /// The handler for [`Phase::Production`] (sending outputs). Default: the general one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use runner_kafka::{Backoff, LogAndFail, Phase, PhaseHandlers, WithMaxAttempts};
    ///
    /// let backoff = Backoff::fixed(Duration::from_secs(1));
    /// let handlers = PhaseHandlers::new().production(WithMaxAttempts::new(5, backoff, LogAndFail));
    /// assert_eq!(format!("{:?}", handlers.for_phase(Phase::Serde)), "SilentFail");
    /// ```
    #[must_use]
    pub fn production(mut self, handler: impl ErrorHandler) -> Self {
        self.production = Some(Arc::new(handler));
        self
    }

    /// The handler for `phase`: its own if it has one, the general one otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use runner_kafka::{LogAndContinue, LogAndFail, Phase, PhaseHandlers};
    ///
    /// let handlers = PhaseHandlers::new().general(LogAndFail).serde(LogAndContinue);
    /// assert_eq!(format!("{:?}", handlers.for_phase(Phase::Serde)), "LogAndContinue");
    /// assert_eq!(format!("{:?}", handlers.for_phase(Phase::Production)), "LogAndFail");
    /// ```
    #[must_use]
    pub fn for_phase(&self, phase: Phase) -> &dyn ErrorHandler {
        let specific = match phase {
            Phase::Serde => &self.serde,
            Phase::Processing => &self.processing,
            Phase::Production => &self.production,
        };
        specific.as_deref().unwrap_or(&*self.general)
    }
}

impl ErrorHandler for PhaseHandlers {
    fn handle(&self, ctx: &ErrorContext<'_>) -> ErrorAction {
        self.for_phase(ctx.phase).handle(ctx)
    }

    fn describe(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU32, Ordering};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::*;

    /// One event, as [`Recorder`] saw it.
    #[derive(Debug)]
    struct Logged {
        level: Level,
        target: String,
        fields: BTreeMap<String, String>,
    }

    /// A subscriber that keeps every event.
    #[derive(Clone, Default)]
    struct Recorder(Arc<Mutex<Vec<Logged>>>);

    impl Visit for Logged {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.fields
                .insert(field.name().to_owned(), value.to_owned());
        }
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            self.fields
                .insert(field.name().to_owned(), format!("{value:?}"));
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut logged = Logged {
                level: *event.metadata().level(),
                target: event.metadata().target().to_owned(),
                fields: BTreeMap::new(),
            };
            event.record(&mut logged);
            self.0.lock().unwrap().push(logged);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// The events logged while `f` ran on this thread, and what it returned.
    fn logged<T>(f: impl FnOnce() -> T) -> (T, Vec<Logged>) {
        let recorder = Recorder::default();
        let out = tracing::subscriber::with_default(recorder.clone(), f);
        let events = std::mem::take(&mut *recorder.0.lock().unwrap());
        (out, events)
    }

    fn secret_record() -> Record {
        let mut record = Record::new("orders", 4, 1234)
            .with_key("secret-key")
            .with_value("secret-value");
        record
            .headers
            .push(("auth".into(), b"secret-header".to_vec()));
        record
    }

    fn error() -> std::io::Error {
        std::io::Error::other("disk on fire")
    }

    fn handle(handler: &dyn ErrorHandler, phase: Phase, attempt: u32) -> ErrorAction {
        let record = secret_record();
        let error = error();
        handler.handle(&ErrorContext::new(
            &record, phase, &error, attempt, "node-a",
        ))
    }

    /// Asserts `event` has the record's coordinates and none of its secrets.
    fn assert_coordinates(event: &Logged, phase: &str, attempt: u32) {
        assert_eq!(event.target, "runner::kafka");
        assert_eq!(event.fields["topic"], "orders");
        assert_eq!(event.fields["partition"], "4");
        assert_eq!(event.fields["offset"], "1234");
        assert_eq!(event.fields["phase"], phase);
        assert_eq!(event.fields["attempt"], attempt.to_string());
        assert_eq!(event.fields["node"], "node-a");
        assert_eq!(event.fields["error"], "disk on fire");
        for (name, value) in &event.fields {
            assert!(
                !value.contains("secret"),
                "{name} = {value} leaks the record"
            );
        }
    }

    #[test]
    fn phases_display_as_the_reference_names_them() {
        assert_eq!(Phase::Serde.to_string(), "serde");
        assert_eq!(Phase::Processing.to_string(), "processing");
        assert_eq!(Phase::Production.to_string(), "production");
    }

    #[test]
    fn the_context_debug_shows_coordinates_not_data() {
        let record = secret_record();
        let error = error();
        let ctx = ErrorContext::new(&record, Phase::Serde, &error, 2, "node-a");
        let debug = format!("{ctx:?}");
        assert!(
            debug.contains("\"orders\"") && debug.contains("1234"),
            "{debug}"
        );
        assert!(
            debug.contains("attempt: 2") && debug.contains("Serde"),
            "{debug}"
        );
        assert!(!debug.contains("secret"), "{debug}");
    }

    #[test]
    fn silent_fail_fails_and_logs_only_at_debug() {
        let (action, events) = logged(|| handle(&SilentFail, Phase::Processing, 1));
        assert_eq!(action, ErrorAction::Fail);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, Level::DEBUG);
        assert_coordinates(&events[0], "processing", 1);
    }

    #[test]
    fn log_and_fail_logs_an_error_then_fails() {
        let (action, events) = logged(|| handle(&LogAndFail, Phase::Production, 3));
        assert_eq!(action, ErrorAction::Fail);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, Level::ERROR);
        assert_coordinates(&events[0], "production", 3);
    }

    #[test]
    fn log_and_continue_logs_a_warning_then_skips() {
        let (action, events) = logged(|| handle(&LogAndContinue, Phase::Serde, 1));
        assert_eq!(action, ErrorAction::Continue);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].level, Level::WARN);
        assert_coordinates(&events[0], "serde", 1);
    }

    #[test]
    fn max_attempts_retries_with_the_backoff_then_hands_over() {
        let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60), 2.0)
            .with_jitter(false);
        let handler = WithMaxAttempts::new(4, backoff, LogAndContinue);
        let actions: Vec<_> = (1..=5)
            .map(|attempt| handle(&handler, Phase::Processing, attempt))
            .collect();
        let retry = |secs| ErrorAction::Retry {
            after: Duration::from_secs(secs),
        };
        assert_eq!(
            actions,
            [
                retry(1),
                retry(2),
                retry(4),
                ErrorAction::Continue,
                ErrorAction::Continue
            ]
        );
    }

    #[test]
    fn max_attempts_of_zero_or_one_never_retries() {
        for max in [0, 1] {
            let handler = WithMaxAttempts::new(max, Backoff::default(), LogAndContinue);
            assert_eq!(
                handle(&handler, Phase::Serde, 1),
                ErrorAction::Continue,
                "{max}"
            );
        }
    }

    #[test]
    fn max_attempts_consults_then_only_when_exhausted() {
        let calls = Arc::new(AtomicU32::new(0));
        let then = {
            let calls = Arc::clone(&calls);
            move |_: &ErrorContext<'_>| {
                calls.fetch_add(1, Ordering::SeqCst);
                ErrorAction::Fail
            }
        };
        let handler = WithMaxAttempts::new(2, Backoff::default(), then);
        assert!(matches!(
            handle(&handler, Phase::Processing, 1),
            ErrorAction::Retry { .. }
        ));
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        assert_eq!(handle(&handler, Phase::Processing, 2), ErrorAction::Fail);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn with_dlq_turns_only_fail_into_a_dead_letter() {
        let dlq = |inner: ErrorAction| {
            let handler = WithDlq::new("dlq", move |_: &ErrorContext<'_>| inner.clone());
            handle(&handler, Phase::Processing, 1)
        };
        let retry = ErrorAction::Retry {
            after: Duration::from_millis(5),
        };
        let elsewhere = ErrorAction::SendToDlq {
            topic: "other".into(),
        };
        assert_eq!(
            dlq(ErrorAction::Fail),
            ErrorAction::SendToDlq {
                topic: "dlq".into()
            }
        );
        assert_eq!(dlq(ErrorAction::Continue), ErrorAction::Continue);
        assert_eq!(dlq(retry.clone()), retry);
        assert_eq!(dlq(elsewhere.clone()), elsewhere);
    }

    #[test]
    fn with_dlq_after_max_attempts_retries_first() {
        let handler = WithDlq::new(
            "orders.dlq",
            WithMaxAttempts::new(2, Backoff::fixed(Duration::from_secs(3)), SilentFail),
        );
        assert_eq!(
            handle(&handler, Phase::Production, 1),
            ErrorAction::Retry {
                after: Duration::from_secs(3)
            }
        );
        assert_eq!(
            handle(&handler, Phase::Production, 2),
            ErrorAction::SendToDlq {
                topic: "orders.dlq".into()
            }
        );
    }

    #[test]
    fn action_logger_logs_final_actions_at_info_and_others_at_debug() {
        let cases = [
            (ErrorAction::Fail, Level::INFO),
            (
                ErrorAction::SendToDlq {
                    topic: "dlq".into(),
                },
                Level::INFO,
            ),
            (ErrorAction::Continue, Level::DEBUG),
            (
                ErrorAction::Retry {
                    after: Duration::from_secs(1),
                },
                Level::DEBUG,
            ),
        ];
        for (inner, level) in cases {
            let expected = inner.clone();
            let handler = ActionLogger::new(move |_: &ErrorContext<'_>| inner.clone());
            let (action, events) = logged(|| handle(&handler, Phase::Serde, 2));
            assert_eq!(action, expected);
            assert_eq!(events.len(), 1, "{expected:?}");
            assert_eq!(events[0].level, level, "{expected:?}");
            assert_eq!(events[0].fields["action"], format!("{expected:?}"));
            assert_coordinates(&events[0], "serde", 2);
        }
    }

    #[test]
    fn phase_handlers_fall_back_to_the_general_one() {
        let fixed = |action: ErrorAction| move |_: &ErrorContext<'_>| action.clone();
        let skip_serde = PhaseHandlers::new().serde(fixed(ErrorAction::Continue));
        assert_eq!(handle(&skip_serde, Phase::Serde, 1), ErrorAction::Continue);
        assert_eq!(
            handle(&skip_serde, Phase::Processing, 1),
            ErrorAction::Fail,
            "SilentFail by default"
        );
        assert_eq!(handle(&skip_serde, Phase::Production, 1), ErrorAction::Fail);

        let dlq = ErrorAction::SendToDlq { topic: "d".into() };
        let all = PhaseHandlers::new()
            .general(fixed(dlq.clone()))
            .processing(fixed(ErrorAction::Continue))
            .production(fixed(ErrorAction::Fail));
        assert_eq!(handle(&all, Phase::Serde, 1), dlq);
        assert_eq!(handle(&all, Phase::Processing, 1), ErrorAction::Continue);
        assert_eq!(handle(&all, Phase::Production, 1), ErrorAction::Fail);
        assert_eq!(
            handle(all.for_phase(Phase::Production), Phase::Serde, 1),
            ErrorAction::Fail,
            "for_phase picks by the phase asked, not the context's"
        );
    }

    #[test]
    fn arcs_and_boxes_are_handlers() {
        let arc: Arc<dyn ErrorHandler> = Arc::new(LogAndContinue);
        let boxed: Box<dyn ErrorHandler> = Box::new(WithDlq::new("d", SilentFail));
        assert_eq!(handle(&arc, Phase::Serde, 1), ErrorAction::Continue);
        assert_eq!(
            handle(&boxed, Phase::Serde, 1),
            ErrorAction::SendToDlq { topic: "d".into() }
        );
        let nested = PhaseHandlers::new().general(Arc::new(boxed));
        assert_eq!(
            format!("{nested:?}")
                .matches("WithDlq(\"d\", SilentFail)")
                .count(),
            1
        );
    }

    #[test]
    fn debug_shows_each_handlers_kind() {
        let handlers = PhaseHandlers::new()
            .general(LogAndFail)
            .serde(ActionLogger::new(WithDlq::new(
                "orders.dlq",
                WithMaxAttempts::new(3, Backoff::fixed(Duration::from_millis(500)), SilentFail),
            )))
            .production(|_: &ErrorContext<'_>| ErrorAction::Fail);
        let debug = format!("{handlers:?}");
        assert!(debug.starts_with(
            "PhaseHandlers { general: LogAndFail, serde: Some(ActionLogger(WithDlq(\"orders.dlq\", \
             WithMaxAttempts(3, fixed 500ms, SilentFail)))), processing: None, production: Some("
        ), "{debug}");
        assert!(
            debug.contains("{{closure}}"),
            "a closure shows its type name: {debug}"
        );
    }
}
