//! A conformance kit: checks that any [`Runner`] + [`Status`] + [`ErrorHistory`] implementation
//! can run against itself. Enabled by the `conformance` feature.
//!
//! The kit forces no runtime on anyone: [`Kit::run`] is a future you await inside your own test
//! runtime. It builds a fresh runner for every rule from your factory, drives it through the
//! calls the rule is about (including dropping `start` and `stop` futures half-way), and returns a
//! [`Report`] naming each [`Rule`] that was broken and what it saw.
//!
//! Your factory receives a [`Probe`]: wire it into the runner's work (see its docs), so the kit
//! can see when the work begins and ends, and can make runs fail, or end by themselves, on
//! purpose.
//!
//! # Examples
//!
//! A complete runner checked by the kit is in the workspace README. The shape of the test:
//!
//! ```
//! use std::time::Duration;
//! use runner_core::conformance::{Kit, Probe};
//! use runner_core::{ErrorHistory, Runner, Status};
//!
//! // Call from a `#[tokio::test]` with your factory: `check(|probe| MyRunner::new(probe)).await`.
//! async fn check<R: Runner + Status + ErrorHistory>(make: impl Fn(Probe) -> R) {
//!     let report = Kit::new(make)
//!         // Optional: bound each check, so a hang is reported instead of waited on.
//!         .deadline(Duration::from_secs(5), tokio::time::sleep)
//!         .run()
//!         .await;
//!     report.assert_ok();
//! }
//! ```

use core::fmt;
use core::future::Future;
use std::time::Duration;

use crate::{ErrorHistory, Runner, Status};

mod checks;
mod poll;
mod probe;
mod report;
mod rule;

pub use probe::{Activity, Ending, Probe, ProbeError};
pub use report::{Report, Violation};
pub use rule::Rule;

use checks::Ctx;
use poll::{Deadline, within};

/// Runs the contract's checks against runners built by a factory.
///
/// See the [module docs](self) for an example.
#[must_use = "a kit does nothing until `run` is awaited"]
pub struct Kit<F> {
    factory: F,
    deadline: Option<Deadline>,
    rules: Vec<Rule>,
}

impl<F, R> Kit<F>
where
    F: Fn(Probe) -> R,
    R: Runner + Status + ErrorHistory,
{
    /// A kit that checks every [`Rule`] on runners made by `factory`, one fresh runner per rule,
    /// with no deadline.
    pub fn new(factory: F) -> Self {
        Kit {
            factory,
            deadline: None,
            rules: Rule::ALL.to_vec(),
        }
    }

    /// Bounds each rule's check to `limit`, using `sleep` (for example `tokio::time::sleep`) to
    /// tell time, so a hang is reported as a broken rule rather than waited on forever.
    ///
    /// Default: no deadline.
    pub fn deadline<S, T>(mut self, limit: Duration, sleep: S) -> Self
    where
        S: Fn(Duration) -> T + Send + Sync + 'static,
        T: Future<Output = ()> + Send + 'static,
    {
        self.deadline = Some(Deadline {
            limit,
            sleep: Box::new(move |d| Box::pin(sleep(d))),
        });
        self
    }

    /// Checks only these rules, in this order. Default: [`Rule::ALL`].
    pub fn only(mut self, rules: impl IntoIterator<Item = Rule>) -> Self {
        self.rules = rules.into_iter().collect();
        self
    }

    /// Skips these rules: for a runner that documents a different behaviour on purpose (a
    /// ticker's work does not end when one tick fails, so it skips
    /// [`Rule::EndByItselfIsPublished`]). Say why next to the call.
    pub fn without(mut self, rules: impl IntoIterator<Item = Rule>) -> Self {
        let skipped: Vec<Rule> = rules.into_iter().collect();
        self.rules.retain(|rule| !skipped.contains(rule));
        self
    }

    /// Checks each rule on a fresh runner, stopping it afterwards, and reports what held and
    /// what broke.
    pub async fn run(&self) -> Report {
        let mut report = Report::default();
        for &rule in &self.rules {
            let probe = Probe::new();
            let runner = (self.factory)(probe.clone());
            let ctx = Ctx {
                probe: &probe,
                runner: &runner,
                deadline: self.deadline.as_ref(),
            };
            let outcome = match within(self.deadline.as_ref(), ctx.check(rule)).await {
                Some(outcome) => outcome,
                None => Err(format!(
                    "the check did not finish within {:?}; the runner hangs",
                    self.deadline.as_ref().map(|d| d.limit).unwrap_or_default()
                )),
            };
            // Leave nothing running, whatever happened; a failure here was already reported.
            probe.set_failing(false);
            let _ = within(self.deadline.as_ref(), runner.stop()).await;
            report.record(rule, outcome);
        }
        report
    }
}

impl<F> fmt::Debug for Kit<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kit")
            .field("rules", &self.rules)
            .field("deadline", &self.deadline.as_ref().map(|d| d.limit))
            .finish_non_exhaustive()
    }
}
