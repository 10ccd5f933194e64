//! [`Report`] and [`Violation`]: what the kit found.

use core::fmt;

use super::Rule;

/// A broken rule, with what the kit saw.
///
/// # Examples
///
/// ```
/// # use runner_core::conformance::Report;
/// fn explain(report: &Report) {
///     for violation in report.violations() {
///         eprintln!("{}: {}", violation.rule().name(), violation.detail());
///     }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    rule: Rule,
    detail: String,
}

impl Violation {
    pub(crate) fn new(rule: Rule, detail: String) -> Self {
        Violation { rule, detail }
    }

    /// The rule that was broken.
    #[must_use]
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// What the kit saw.
    #[must_use]
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule `{}` broken ({}): {}",
            self.rule.name(),
            self.rule.statement(),
            self.detail
        )
    }
}

impl std::error::Error for Violation {}

/// The outcome of [`Kit::run`](super::Kit::run): which rules held and which were broken.
///
/// # Examples
///
/// ```
/// # use runner_core::conformance::{Report, Rule};
/// fn check(report: &Report) {
///     if report.violation(Rule::StopAwaitsWork).is_some() {
///         eprintln!("stop does not wait for the work:\n{report}");
///     }
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    held: Vec<Rule>,
    violations: Vec<Violation>,
}

impl Report {
    pub(crate) fn record(&mut self, rule: Rule, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.held.push(rule),
            Err(detail) => self.violations.push(Violation::new(rule, detail)),
        }
    }

    /// `true` if every checked rule held.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The rules that held.
    #[must_use]
    pub fn held(&self) -> &[Rule] {
        &self.held
    }

    /// The broken rules.
    #[must_use]
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// The violation of `rule`, if it was broken.
    #[must_use]
    pub fn violation(&self, rule: Rule) -> Option<&Violation> {
        self.violations.iter().find(|v| v.rule == rule)
    }

    /// Panics with the whole report unless every rule held. Use at the end of a test.
    ///
    /// # Panics
    ///
    /// If any rule was broken.
    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(self.is_ok(), "runner breaks the contract:\n{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for rule in &self.held {
            writeln!(f, "  ok    {rule}")?;
        }
        for violation in &self.violations {
            writeln!(f, "  FAIL  {violation}")?;
        }
        Ok(())
    }
}
