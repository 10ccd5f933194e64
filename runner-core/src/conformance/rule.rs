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
    /// `start` then `stop` leaves the runner `Stopped`, not running, with no uptime.
    StopLeavesStopped,
    /// `stop` returns only after the work it started has ended.
    StopAwaitsWork,
    /// `restart` ends the running work and begins it again.
    RestartStopsThenStarts,
    /// A state change wakes a pending `changed` future: watchers never poll.
    ChangeIsNotified,
    /// A `stop` future dropped half-way leaves a state that a later `stop` completes.
    DroppedStopCompletes,
    /// A `start` future dropped half-way leaves a state that later calls continue from.
    DroppedStartRecovers,
    /// The error history never exceeds its capacity, counts every error, and is never cleared.
    ErrorHistoryIsBounded,
}

impl Rule {
    /// Every rule, in the order the kit checks them.
    pub const ALL: [Rule; 10] = [
        Rule::StopWhenStoppedIsNoop,
        Rule::StartReachesRunning,
        Rule::StartIsIdempotent,
        Rule::StopLeavesStopped,
        Rule::StopAwaitsWork,
        Rule::RestartStopsThenStarts,
        Rule::ChangeIsNotified,
        Rule::DroppedStopCompletes,
        Rule::DroppedStartRecovers,
        Rule::ErrorHistoryIsBounded,
    ];

    /// A stable kebab-case name, used in reports.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Rule::StopWhenStoppedIsNoop => "stop-when-stopped-is-noop",
            Rule::StartReachesRunning => "start-reaches-running",
            Rule::StartIsIdempotent => "start-is-idempotent",
            Rule::StopLeavesStopped => "stop-leaves-stopped",
            Rule::StopAwaitsWork => "stop-awaits-work",
            Rule::RestartStopsThenStarts => "restart-stops-then-starts",
            Rule::ChangeIsNotified => "change-is-notified",
            Rule::DroppedStopCompletes => "dropped-stop-completes",
            Rule::DroppedStartRecovers => "dropped-start-recovers",
            Rule::ErrorHistoryIsBounded => "error-history-is-bounded",
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
            Rule::StopLeavesStopped => "start then stop leaves the runner Stopped and not running",
            Rule::StopAwaitsWork => "stop returns only after the work it started has ended",
            Rule::RestartStopsThenStarts => "restart ends the running work and begins it again",
            Rule::ChangeIsNotified => "a state change wakes a pending `changed` future",
            Rule::DroppedStopCompletes => {
                "a stop future dropped half-way leaves a state a later stop completes"
            }
            Rule::DroppedStartRecovers => {
                "a start future dropped half-way leaves a state later calls continue from"
            }
            Rule::ErrorHistoryIsBounded => {
                "the error history stays within its capacity, counts every error and is never cleared"
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
