//! [`Rule`]: the named rules of the contract that the kit checks.

use core::fmt;

/// One rule of the [`Runner`](crate::Runner) / [`Status`](crate::Status) /
/// [`ErrorHistory`](crate::ErrorHistory) contract, as checked by the kit.
///
/// # Examples
///
/// ```
/// use runner_core::conformance::Rule;
///
/// assert_eq!(Rule::StartIsIdempotent.name(), "start-is-idempotent");
/// assert!(Rule::ALL.contains(&Rule::StopAwaitsWork));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// `stop` on a runner that never started returns `Ok` and leaves it `Stopped`.
    StopWhenStoppedIsNoop,
    /// `start` returns once the runner is `Running`, with an uptime.
    StartReachesRunning,
    /// `start` on a running runner is a no-op: no state change, the work does not begin again.
    StartIsIdempotent,
    /// Two `start` calls in flight at once, interleaved poll by poll, begin the work once.
    ConcurrentStartsBeginOnce,
    /// `start` then `stop` leaves the runner `Stopped`, not running, with no uptime.
    StopLeavesStopped,
    /// `stop` returns only after the work it started has ended.
    StopAwaitsWork,
    /// `restart` ends the running work and begins it again.
    RestartStopsThenStarts,
    /// A state change wakes every pending `changed` future: watchers never poll.
    ChangeIsNotified,
    /// `changed(since)` with a version the runner has moved past resolves at once.
    OldVersionResolvesAtOnce,
    /// Work that ends by itself is published: `Stopped` with exit `Completed` when it returned
    /// `Ok`, `Failed` with its error or panic otherwise; a later `stop` returns at once and does
    /// not mask the failure.
    EndByItselfIsPublished,
    /// A change of health or readiness comes with a new version, as a state change does.
    HealthChangeIsVersioned,
    /// A `stop` future dropped half-way leaves a state that a later `stop` completes.
    DroppedStopCompletes,
    /// A `start` future dropped after any of its first polls leaves a state that later calls
    /// continue from.
    DroppedStartRecovers,
    /// The error history never exceeds its capacity, counts every error, and is never cleared.
    ErrorHistoryIsBounded,
    /// `last_error` is the most recent error, the last entry of `errors`.
    LastErrorIsNewest,
    /// `restart` keeps the error history.
    RestartKeepsHistory,
}

impl Rule {
    /// Every rule, in the order the kit checks them.
    pub const ALL: [Rule; 16] = [
        Rule::StopWhenStoppedIsNoop,
        Rule::StartReachesRunning,
        Rule::StartIsIdempotent,
        Rule::ConcurrentStartsBeginOnce,
        Rule::StopLeavesStopped,
        Rule::StopAwaitsWork,
        Rule::RestartStopsThenStarts,
        Rule::ChangeIsNotified,
        Rule::OldVersionResolvesAtOnce,
        Rule::EndByItselfIsPublished,
        Rule::HealthChangeIsVersioned,
        Rule::DroppedStopCompletes,
        Rule::DroppedStartRecovers,
        Rule::ErrorHistoryIsBounded,
        Rule::LastErrorIsNewest,
        Rule::RestartKeepsHistory,
    ];

    /// A stable kebab-case name, used in reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Rule::StopWhenStoppedIsNoop => "stop-when-stopped-is-noop",
            Rule::StartReachesRunning => "start-reaches-running",
            Rule::StartIsIdempotent => "start-is-idempotent",
            Rule::ConcurrentStartsBeginOnce => "concurrent-starts-begin-once",
            Rule::StopLeavesStopped => "stop-leaves-stopped",
            Rule::StopAwaitsWork => "stop-awaits-work",
            Rule::RestartStopsThenStarts => "restart-stops-then-starts",
            Rule::ChangeIsNotified => "change-is-notified",
            Rule::OldVersionResolvesAtOnce => "old-version-resolves-at-once",
            Rule::EndByItselfIsPublished => "end-by-itself-is-published",
            Rule::HealthChangeIsVersioned => "health-change-is-versioned",
            Rule::DroppedStopCompletes => "dropped-stop-completes",
            Rule::DroppedStartRecovers => "dropped-start-recovers",
            Rule::ErrorHistoryIsBounded => "error-history-is-bounded",
            Rule::LastErrorIsNewest => "last-error-is-newest",
            Rule::RestartKeepsHistory => "restart-keeps-history",
        }
    }

    /// The rule in one sentence.
    #[must_use]
    pub const fn statement(self) -> &'static str {
        match self {
            Rule::StopWhenStoppedIsNoop => {
                "stop on a stopped runner returns Ok and leaves it Stopped"
            }
            Rule::StartReachesRunning => "start returns once the runner is Running",
            Rule::StartIsIdempotent => {
                "start on a running runner is a no-op: no state change, no new work"
            }
            Rule::ConcurrentStartsBeginOnce => "two interleaved start calls begin the work once",
            Rule::StopLeavesStopped => "start then stop leaves the runner Stopped and not running",
            Rule::StopAwaitsWork => "stop returns only after the work it started has ended",
            Rule::RestartStopsThenStarts => "restart ends the running work and begins it again",
            Rule::ChangeIsNotified => "a state change wakes every pending `changed` future",
            Rule::OldVersionResolvesAtOnce => {
                "`changed` with a version the runner has moved past resolves at once"
            }
            Rule::EndByItselfIsPublished => {
                "work that ends by itself is published as Stopped/Completed or Failed, and stop then returns at once"
            }
            Rule::HealthChangeIsVersioned => {
                "a change of health or readiness comes with a new version"
            }
            Rule::DroppedStopCompletes => {
                "a stop future dropped half-way leaves a state a later stop completes"
            }
            Rule::DroppedStartRecovers => {
                "a start future dropped after any of its first polls leaves a state later calls continue from"
            }
            Rule::ErrorHistoryIsBounded => {
                "the error history stays within its capacity, counts every error and is never cleared"
            }
            Rule::LastErrorIsNewest => "last_error is the most recent error",
            Rule::RestartKeepsHistory => "restart keeps the error history",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
