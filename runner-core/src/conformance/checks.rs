//! One check per [`Rule`]. Each drives a fresh runner and says what it saw when a rule breaks.

use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::Poll;

use super::poll::{CountingWaker, Deadline, poll_once, settle, within};
use super::{Ending, Probe, Rule};
use crate::{ErrorHistory, Exit, Health, Runner, Snapshot, State, Status};

/// The most errors the kit will provoke to fill a history.
const MAX_CAPACITY_EXERCISED: usize = 10_000;

/// How many pending `changed` futures the kit expects one change to wake.
const WATCHERS: usize = 3;

/// How many times the kit drops a `start` future: after its first poll, its second, and so on.
const DROPPED_START_POLLS: usize = 3;

/// How many rounds of [`settle`] the kit watches health for after a failure.
const HEALTH_ROUNDS: usize = 4;

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
            Rule::ConcurrentStartsBeginOnce => self.concurrent_starts_begin_once().await,
            Rule::StopLeavesStopped => self.stop_leaves_stopped().await,
            Rule::StopAwaitsWork => self.stop_awaits_work().await,
            Rule::RestartStopsThenStarts => self.restart_stops_then_starts().await,
            Rule::ChangeIsNotified => self.change_is_notified().await,
            Rule::OldVersionResolvesAtOnce => self.old_version_resolves_at_once().await,
            Rule::EndByItselfIsPublished => self.end_by_itself_is_published().await,
            Rule::HealthChangeIsVersioned => self.health_change_is_versioned().await,
            Rule::DroppedStopCompletes => self.dropped_stop_completes().await,
            Rule::DroppedStartRecovers => self.dropped_start_recovers().await,
            Rule::ErrorHistoryIsBounded => self.error_history_is_bounded().await,
            Rule::LastErrorIsNewest => self.last_error_is_newest().await,
            Rule::RestartKeepsHistory => self.restart_keeps_history().await,
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
            let seen = self.runner.snapshot();
            let wakers: Vec<CountingWaker> = (0..WATCHERS).map(|_| CountingWaker::new()).collect();
            let mut watchers: Vec<Pin<Box<_>>> = (0..WATCHERS)
                .map(|_| Box::pin(self.runner.changed(seen.version)))
                .collect();
            for (waker, watcher) in wakers.iter().zip(&mut watchers) {
                ensure!(
                    waker.poll(watcher.as_mut()).is_pending(),
                    "changed({}) resolved although the state was still {seen}",
                    seen.version.get()
                );
            }
            if call == "start" {
                self.start("").await?;
                self.work_began(1).await?;
            } else {
                self.stop("").await?;
            }
            let now = self.runner.snapshot();
            let woken = wakers.iter().filter(|w| w.wakes() > 0).count();
            ensure!(
                woken == WATCHERS,
                "{call} moved the state from {seen} to {now} but woke {woken} of {WATCHERS} pending changed() futures; the others would wait for ever"
            );
            for (waker, watcher) in wakers.iter().zip(&mut watchers) {
                match waker.poll(watcher.as_mut()) {
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
        }
        Ok(())
    }

    async fn old_version_resolves_at_once(&self) -> Outcome {
        let old = self.runner.snapshot();
        self.start("").await?;
        self.work_began(1).await?;
        self.stop("").await?;
        let now = self.runner.snapshot();
        match poll_once(pin!(self.runner.changed(old.version))) {
            Poll::Ready(got) => ensure!(
                got.version != old.version,
                "changed({}) resolved with the version it was given: {got}",
                old.version.get()
            ),
            Poll::Pending => {
                return Err(format!(
                    "changed({}) is pending although the runner moved on from {old} to {now}: the changes that happened while nobody waited are lost",
                    old.version.get()
                ));
            }
        }
        Ok(())
    }

    async fn concurrent_starts_begin_once(&self) -> Outcome {
        let mut first = pin!(self.runner.start());
        let mut second = pin!(self.runner.start());
        // Interleave: each has had one poll before either is driven to the end.
        let mut first_done = ready(poll_once(first.as_mut()));
        let mut second_done = ready(poll_once(second.as_mut()));
        let both = poll_fn(|cx| {
            if first_done.is_none() {
                first_done = ready(first.as_mut().poll(cx));
            }
            if second_done.is_none() {
                second_done = ready(second.as_mut().poll(cx));
            }
            if first_done.is_some() && second_done.is_some() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        ensure!(
            within(self.deadline, both).await.is_some(),
            "two interleaved start calls did not both return before the deadline"
        );
        for done in [first_done, second_done].into_iter().flatten() {
            done.map_err(|e| format!("one of two interleaved starts returned Err: {e}"))?;
        }
        self.expect_state(State::Running, "after two interleaved starts")?;
        self.work_began(1).await?;
        settle().await;
        let (entered, live) = (self.probe.entered(), self.probe.live());
        ensure!(
            entered == 1 && live == 1,
            "two interleaved starts began the work {entered} times ({live} alive), expected once"
        );
        Ok(())
    }

    async fn end_by_itself_is_published(&self) -> Outcome {
        for (ending, began) in [Ending::Ok, Ending::Err, Ending::Panic]
            .into_iter()
            .zip(1..)
        {
            self.start(&format!(" (before the work {ending} by itself)"))
                .await?;
            self.work_began(began).await?;
            let errors_before = self.runner.error_count();
            self.probe.end_by_itself(ending);
            let Some(seen) = within(self.deadline, self.runner.wait_for(State::is_idle)).await
            else {
                let now = self.runner.snapshot();
                return Err(if self.probe.live() > 0 {
                    format!(
                        "the kit ended the work by itself, but it is still alive and the state is {now}; does the work run through Probe::run?"
                    )
                } else {
                    format!(
                        "the work {ending} by itself, but the state stayed {now} until the deadline; it must leave Running"
                    )
                });
            };
            let (expected, exit_ok) = match ending {
                Ending::Ok => (State::Stopped, "completed"),
                Ending::Err => (State::Failed, "failed: …"),
                _ => (State::Failed, "panicked: …"),
            };
            ensure!(
                seen.state == expected,
                "the work {ending} by itself and the state became {seen}, expected {expected}"
            );
            let exit = self.runner.last_exit();
            let matches = matches!(
                (ending, &exit),
                (Ending::Ok, Some(Exit::Completed))
                    | (Ending::Err, Some(Exit::Failed(_)))
                    | (Ending::Panic, Some(Exit::Panicked(_)))
            );
            ensure!(
                matches,
                "the work {ending} by itself and last_exit() is {}, expected `{exit_ok}`",
                exit.map_or_else(|| "None".to_owned(), |e| format!("`{e}`"))
            );
            let errors_after = self.runner.error_count();
            ensure!(
                ending == Ending::Ok || errors_after > errors_before,
                "the work {ending} by itself but error_count() stayed {errors_after}: the failure was not recorded"
            );
            let live = self.probe.live();
            ensure!(
                live == 0,
                "the state became {seen} while {live} activity of the work was still alive"
            );
            match within(self.deadline, self.runner.stop()).await {
                None => {
                    return Err(format!(
                        "stop after the work {ending} by itself did not return before the deadline: it waits for a run that is over"
                    ));
                }
                Some(Err(e)) => {
                    return Err(format!(
                        "stop after the work {ending} by itself returned Err: {e}"
                    ));
                }
                Some(Ok(())) => {}
            }
            self.expect_state(
                expected,
                &format!("after stop on a runner whose work {ending} by itself"),
            )?;
        }
        Ok(())
    }

    async fn health_change_is_versioned(&self) -> Outcome {
        let mut seen = self.sample("on a new runner")?;
        self.start("").await?;
        self.work_began(1).await?;
        settle().await;
        seen = self.compare(seen, "after start")?;
        // Whatever the runner does with a failure (ends failed, or records it and goes on), a
        // health or readiness it reports differently must come with a new version.
        self.probe.end_by_itself(Ending::Err);
        for _ in 0..HEALTH_ROUNDS {
            settle().await;
            seen = self.compare(seen, "after the work failed by itself")?;
        }
        let _ = self.runner.stop().await;
        settle().await;
        self.compare(seen, "after stop").map(drop)
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
        for (polls, run) in (1..=DROPPED_START_POLLS).zip(1..) {
            {
                let mut start = pin!(self.runner.start());
                for _ in 0..polls {
                    if poll_once(start.as_mut()).is_ready() {
                        break;
                    }
                    settle().await;
                }
            }
            let when = format!(" after a start dropped after {polls} polls");
            self.start(&when).await?;
            self.expect_state(State::Running, &format!("{when} and a second start"))?;
            self.work_began(run).await?;
            self.stop(&when).await?;
            self.expect_state(State::Stopped, &format!("{when}, a start and a stop"))?;
            let live = self.probe.live();
            ensure!(
                live == 0,
                "{live} activity of the work still alive{when}, a start and a stop"
            );
        }
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
        self.fail_runs(runs).await?;

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

    async fn last_error_is_newest(&self) -> Outcome {
        if self.runner.error_capacity() == 0 {
            return Ok(()); // nothing is retained, so there is no last error to check
        }
        self.fail_runs(3).await?;
        let errors = self.runner.errors();
        let numbers: Vec<u64> = errors.iter().filter_map(|e| probe_number(&**e)).collect();
        ensure!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "errors() is not oldest first: it holds the kit's failures in the order {numbers:?}"
        );
        let Some(last) = self.runner.last_error() else {
            return Err("last_error() is None after 3 failed runs".to_owned());
        };
        let newest = errors.last().map(|e| e.to_string());
        ensure!(
            newest.as_deref() == Some(&*last.to_string()),
            "last_error() is `{last}` but the last entry of errors() is `{}`",
            newest.unwrap_or_default()
        );
        if let (Some(got), Some(&max)) = (probe_number(&*last), numbers.iter().max()) {
            ensure!(
                got == max,
                "last_error() is scripted failure #{got}, but the newest one recorded is #{max}"
            );
        }
        Ok(())
    }

    async fn restart_keeps_history(&self) -> Outcome {
        self.fail_runs(2).await?;
        self.start(" after failed runs").await?;
        self.work_began(3).await?;
        let count = self.runner.error_count();
        let kept: Vec<String> = self.runner.errors().iter().map(|e| e.to_string()).collect();
        self.runner
            .restart()
            .await
            .map_err(|e| format!("restart returned Err: {e}"))?;
        self.work_began(4).await?;
        let count_after = self.runner.error_count();
        ensure!(
            count_after >= count,
            "restart changed error_count() from {count} to {count_after}: the history was cleared"
        );
        let after: Vec<String> = self.runner.errors().iter().map(|e| e.to_string()).collect();
        ensure!(
            after.len() >= kept.len() && after[..kept.len()] == kept[..],
            "restart changed the history from {kept:?} to {after:?}: it was cleared"
        );
        Ok(())
    }

    /// Runs the work `runs` times, each ending with a scripted failure when stopped.
    async fn fail_runs(&self, runs: u64) -> Outcome {
        let began = self.probe.entered();
        self.probe.set_failing(true);
        for run in 1..=runs {
            self.start(" while runs fail").await?;
            self.work_began(began + run).await?;
            // The failing run may be reported by stop or not: either is allowed.
            let _ = self.runner.stop().await;
        }
        self.probe.set_failing(false);
        Ok(())
    }

    /// The version, health and readiness, read together: retried if the version moved while
    /// reading them.
    fn sample(&self, when: &str) -> Result<Sample, String> {
        for _ in 0..WATCHERS {
            let before = self.runner.snapshot();
            let health = self.runner.health();
            let ready = self.runner.readiness().is_ready();
            if self.runner.snapshot() == before {
                return Ok(Sample {
                    seen: before,
                    health,
                    ready,
                });
            }
        }
        Err(format!(
            "{when}, the version changed every time the kit read health and readiness"
        ))
    }

    /// A new sample, checked against `before`: health or readiness may differ only with the
    /// version.
    fn compare(&self, before: Sample, when: &str) -> Result<Sample, String> {
        let now = self.sample(when)?;
        if now.seen.version == before.seen.version {
            ensure!(
                health_kind(&now.health) == health_kind(&before.health),
                "{when}, health went from `{}` to `{}` while the version stayed {}: a watcher waiting on changed() never learns it",
                before.health,
                now.health,
                now.seen.version.get()
            );
            ensure!(
                now.ready == before.ready,
                "{when}, readiness went from {} to {} while the version stayed {}: a watcher waiting on changed() never learns it",
                before.ready,
                now.ready,
                now.seen.version.get()
            );
        }
        Ok(now)
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

/// What [`Ctx::sample`] read.
struct Sample {
    seen: Snapshot,
    health: Health,
    ready: bool,
}

/// Healthy, degraded or unhealthy: the kind of a health, without its reason.
fn health_kind(health: &Health) -> u8 {
    match health {
        Health::Healthy => 0,
        Health::Degraded(_) => 1,
        Health::Unhealthy(_) => 2,
    }
}

fn ready<T>(poll: Poll<T>) -> Option<T> {
    match poll {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

/// The number of the kit's scripted failure this error carries, in its message or a source's.
fn probe_number<E: std::error::Error + ?Sized>(error: &E) -> Option<u64> {
    let mut found = number_in(&error.to_string());
    let mut source = error.source();
    while let (None, Some(cause)) = (found, source) {
        found = number_in(&cause.to_string());
        source = cause.source();
    }
    found
}

fn number_in(text: &str) -> Option<u64> {
    let (_, rest) = text.split_once("scripted failure #")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}
