//! One check per [`Rule`]. Each drives a fresh runner and says what it saw when a rule breaks.

use core::pin::pin;
use core::task::Poll;

use super::poll::{CountingWaker, Deadline, poll_once, settle, within};
use super::{Probe, Rule};
use crate::{ErrorHistory, Runner, State, Status};

/// The most errors the kit will provoke to fill a history.
const MAX_CAPACITY_EXERCISED: usize = 10_000;

/// What a check works with.
pub(super) struct Ctx<'a, R> {
    pub(super) probe: &'a Probe,
    pub(super) runner: &'a R,
    pub(super) deadline: Option<&'a Deadline>,
}

type Outcome = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

impl<R: Runner + Status + ErrorHistory> Ctx<'_, R> {
    pub(super) async fn check(&self, rule: Rule) -> Outcome {
        match rule {
            Rule::StopWhenStoppedIsNoop => self.stop_when_stopped_is_noop().await,
            Rule::StartReachesRunning => self.start_reaches_running().await,
            Rule::StartIsIdempotent => self.start_is_idempotent().await,
            Rule::StopLeavesStopped => self.stop_leaves_stopped().await,
            Rule::StopAwaitsWork => self.stop_awaits_work().await,
            Rule::RestartStopsThenStarts => self.restart_stops_then_starts().await,
            Rule::ChangeIsNotified => self.change_is_notified().await,
            Rule::DroppedStopCompletes => self.dropped_stop_completes().await,
            Rule::DroppedStartRecovers => self.dropped_start_recovers().await,
            Rule::ErrorHistoryIsBounded => self.error_history_is_bounded().await,
        }
    }

    async fn stop_when_stopped_is_noop(&self) -> Outcome {
        self.expect_state(State::Stopped, "a new runner")?;
        self.stop(" on a new runner").await?;
        self.expect_state(State::Stopped, "after stop on a new runner")?;
        self.start("").await?;
        self.work_began(1).await?;
        self.stop("").await?;
        self.stop(" a second time").await?;
        self.expect_state(State::Stopped, "after stopping twice")
    }

    async fn start_reaches_running(&self) -> Outcome {
        self.start("").await?;
        self.expect_state(State::Running, "after start returned Ok")?;
        ensure!(
            self.runner.is_running(),
            "is_running() is false after start returned Ok"
        );
        ensure!(
            self.runner.uptime().is_some(),
            "uptime() is None after start returned Ok"
        );
        Ok(())
    }

    async fn start_is_idempotent(&self) -> Outcome {
        self.start("").await?;
        self.work_began(1).await?;
        settle().await;
        let before = self.runner.snapshot();
        let entered = self.probe.entered();
        self.start(" on a running runner").await?;
        settle().await;
        let after = self.runner.snapshot();
        ensure!(
            after.state == State::Running,
            "state after a second start is {after}"
        );
        ensure!(
            after.version == before.version,
            "a second start changed the state from {before} to {after}: it restarted the runner"
        );
        let now = self.probe.entered();
        ensure!(
            now == entered,
            "a second start began the work again ({now} activities entered, expected {entered})"
        );
        let live = self.probe.live();
        ensure!(
            live == 1,
            "{live} activities alive after two starts, expected 1"
        );
        Ok(())
    }

    async fn stop_leaves_stopped(&self) -> Outcome {
        self.start("").await?;
        self.work_began(1).await?;
        self.stop("").await?;
        self.expect_state(State::Stopped, "after start then stop")?;
        ensure!(
            !self.runner.is_running(),
            "is_running() is true after stop returned"
        );
        let uptime = self.runner.uptime();
        ensure!(
            uptime.is_none(),
            "uptime() is {uptime:?} after stop returned, expected None"
        );
        Ok(())
    }

    async fn stop_awaits_work(&self) -> Outcome {
        self.start("").await?;
        self.work_began(1).await?;
        self.stop("").await?;
        let live = self.probe.live();
        ensure!(
            live == 0,
            "stop returned while {live} activity of the work was still alive"
        );
        Ok(())
    }

    async fn restart_stops_then_starts(&self) -> Outcome {
        self.start("").await?;
        self.work_began(1).await?;
        let before = self.runner.snapshot();
        self.runner
            .restart()
            .await
            .map_err(|e| format!("restart returned Err: {e}"))?;
        let after = self.runner.snapshot();
        self.expect_state(State::Running, "after restart returned Ok")?;
        ensure!(
            after.version.get() >= before.version.get() + 2,
            "restart moved the state from {before} to {after}; a stop and a start change it at least twice"
        );
        self.work_began(2).await?;
        let live = self.probe.live();
        ensure!(
            live == 1,
            "{live} activities alive after restart, expected 1: the old work did not end"
        );
        Ok(())
    }

    async fn change_is_notified(&self) -> Outcome {
        for call in ["start", "stop"] {
            let waker = CountingWaker::new();
            let seen = self.runner.snapshot();
            let mut changed = pin!(self.runner.changed(seen.version));
            ensure!(
                waker.poll(changed.as_mut()).is_pending(),
                "changed({}) resolved although the state was still {seen}",
                seen.version.get()
            );
            if call == "start" {
                self.start("").await?;
                self.work_began(1).await?;
            } else {
                self.stop("").await?;
            }
            let now = self.runner.snapshot();
            ensure!(
                waker.wakes() > 0,
                "{call} moved the state from {seen} to {now} but never woke the pending changed() future; watchers would have to poll"
            );
            match waker.poll(changed.as_mut()) {
                Poll::Ready(got) => ensure!(
                    got.version != seen.version,
                    "changed({}) resolved with the same version: {got}",
                    seen.version.get()
                ),
                Poll::Pending => {
                    return Err(format!(
                        "changed() is still pending after {call} moved the state from {seen} to {now}"
                    ));
                }
            }
        }
        Ok(())
    }

    async fn dropped_stop_completes(&self) -> Outcome {
        self.start("").await?;
        self.work_began(1).await?;
        {
            let stop = pin!(self.runner.stop());
            // Whether it finished in one poll or not, it is dropped here.
            let _ = poll_once(stop);
        }
        self.stop(" after a dropped stop").await?;
        self.expect_state(State::Stopped, "after a dropped stop and a second stop")?;
        let live = self.probe.live();
        ensure!(
            live == 0,
            "stop after a dropped stop returned while {live} activity of the work was still alive"
        );
        self.start(" after a dropped stop").await?;
        self.expect_state(State::Running, "after a dropped stop and a new start")?;
        self.stop("").await
    }

    async fn dropped_start_recovers(&self) -> Outcome {
        {
            let start = pin!(self.runner.start());
            let _ = poll_once(start);
        }
        self.start(" after a dropped start").await?;
        self.expect_state(State::Running, "after a dropped start and a second start")?;
        self.work_began(1).await?;
        self.stop(" after a dropped start").await?;
        self.expect_state(State::Stopped, "after a dropped start, a start and a stop")?;
        let live = self.probe.live();
        ensure!(
            live == 0,
            "{live} activity of the work still alive after a dropped start, a start and a stop"
        );
        Ok(())
    }

    async fn error_history_is_bounded(&self) -> Outcome {
        let capacity = self.runner.error_capacity();
        ensure!(
            capacity <= MAX_CAPACITY_EXERCISED,
            "error_capacity() is {capacity}; configure at most {MAX_CAPACITY_EXERCISED} for the kit to fill it"
        );
        let before = self.runner.error_count();
        let runs = capacity as u64 + 2;
        self.probe.set_failing(true);
        for run in 1..=runs {
            self.start(" while runs fail").await?;
            self.work_began(run).await?;
            // The failing run may be reported by stop or not: either is allowed.
            let _ = self.runner.stop().await;
        }
        self.probe.set_failing(false);

        let count = self.runner.error_count();
        let recorded = count - before;
        ensure!(
            recorded >= runs,
            "{runs} runs ended with an error but error_count() grew by {recorded}"
        );
        let kept = self.runner.errors().len();
        ensure!(
            kept <= capacity,
            "errors() holds {kept} entries, more than error_capacity() = {capacity}"
        );
        let expected = count.min(capacity as u64);
        ensure!(
            kept as u64 == expected,
            "errors() holds {kept} entries; with {count} recorded and capacity {capacity} it should hold {expected}"
        );
        ensure!(
            capacity == 0 || self.runner.last_error().is_some(),
            "last_error() is None after {runs} failed runs"
        );

        self.start(" after failed runs").await?;
        self.work_began(runs + 1).await?;
        self.stop(" after failed runs").await?;
        let count_after = self.runner.error_count();
        ensure!(
            count_after == count,
            "a clean start and stop changed error_count() from {count} to {count_after}"
        );
        let kept_after = self.runner.errors().len();
        ensure!(
            kept_after == kept,
            "a clean start and stop changed the history from {kept} to {kept_after} entries: it was cleared"
        );
        Ok(())
    }

    async fn start(&self, when: &str) -> Outcome {
        self.runner
            .start()
            .await
            .map_err(|e| format!("start{when} returned Err: {e}"))
    }

    async fn stop(&self, when: &str) -> Outcome {
        self.runner
            .stop()
            .await
            .map_err(|e| format!("stop{when} returned Err: {e}"))
    }

    /// Waits until `n` activities have begun, without polling; bounded by the deadline.
    async fn work_began(&self, n: u64) -> Outcome {
        match within(self.deadline, self.probe.entered_at_least(n)).await {
            Some(()) => Ok(()),
            None => Err(format!(
                "the work had begun {} times, expected {n}, when the deadline passed; does the work call Probe::enter?",
                self.probe.entered()
            )),
        }
    }

    fn expect_state(&self, expected: State, when: &str) -> Outcome {
        let now = self.runner.snapshot();
        ensure!(
            now.state == expected,
            "state {when} is {now}, expected {expected}"
        );
        Ok(())
    }
}
