//! Tests of the standalone utilities `retry_n` and `poll_until`.
//!
//! Every test runs on a paused tokio clock: time only moves when the runtime
//! is idle and a timer is pending, so instants are exact and nothing sleeps
//! for real.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use runner_ticker::{PollUntilError, RetryError, poll_until, retry_n};
use tokio::time::Instant;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Counts calls of a check that passes on call number `pass_on` (1-based;
/// 0 never passes), and of an action.
#[derive(Default)]
struct Counts {
    checks: Cell<u32>,
    acts: Cell<u32>,
}

impl Counts {
    async fn check(&self, pass_on: u32) -> bool {
        self.checks.set(self.checks.get() + 1);
        pass_on != 0 && self.checks.get() == pass_on
    }

    async fn act(&self) {
        // An action may itself wait; with a paused clock this is free.
        tokio::time::sleep(ms(10)).await;
        self.acts.set(self.acts.get() + 1);
    }
}

// ---------------------------------------------------------------- retry_n

#[tokio::test(start_paused = true)]
async fn retry_n_passes_on_first_check_without_acting() {
    let c = Counts::default();
    let res = retry_n(5, || c.check(1), || c.act()).await;
    assert_eq!(res, Ok(1));
    assert_eq!(c.checks.get(), 1);
    assert_eq!(c.acts.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn retry_n_passes_on_third_check_after_two_acts() {
    let c = Counts::default();
    let res = retry_n(5, || c.check(3), || c.act()).await;
    assert_eq!(res, Ok(3));
    assert_eq!(c.checks.get(), 3);
    assert_eq!(c.acts.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn retry_n_passes_on_last_allowed_check() {
    let c = Counts::default();
    let res = retry_n(4, || c.check(4), || c.act()).await;
    assert_eq!(res, Ok(4));
    assert_eq!(c.checks.get(), 4);
    assert_eq!(c.acts.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_n_exhausted_acts_between_checks_only() {
    let c = Counts::default();
    let res = retry_n(4, || c.check(0), || c.act()).await;
    assert_eq!(res, Err(RetryError::Exhausted { attempts: 4 }));
    assert_eq!(c.checks.get(), 4);
    // Never after the last failed check.
    assert_eq!(c.acts.get(), 3);
}

#[tokio::test(start_paused = true)]
async fn retry_n_single_attempt_never_acts() {
    let c = Counts::default();
    let res = retry_n(1, || c.check(0), || c.act()).await;
    assert_eq!(res, Err(RetryError::Exhausted { attempts: 1 }));
    assert_eq!(c.checks.get(), 1);
    assert_eq!(c.acts.get(), 0);
}

#[tokio::test(start_paused = true)]
async fn retry_n_order_is_check_act_check() {
    let log = RefCell::new(Vec::new());
    let res = retry_n(
        3,
        || {
            log.borrow_mut().push("check");
            async { false }
        },
        || {
            log.borrow_mut().push("act");
            async {}
        },
    )
    .await;
    assert_eq!(res, Err(RetryError::Exhausted { attempts: 3 }));
    assert_eq!(*log.borrow(), ["check", "act", "check", "act", "check"]);
}

#[tokio::test(start_paused = true)]
async fn retry_n_zero_attempts_is_an_error_and_runs_nothing() {
    let c = Counts::default();
    let res = retry_n(0, || c.check(1), || c.act()).await;
    assert_eq!(res, Err(RetryError::ZeroAttempts));
    assert_eq!(c.checks.get(), 0);
    assert_eq!(c.acts.get(), 0);
}

#[test]
fn retry_error_messages() {
    assert_eq!(
        RetryError::Exhausted { attempts: 3 }.to_string(),
        "check still false after 3 attempts"
    );
    assert_eq!(
        RetryError::ZeroAttempts.to_string(),
        "attempts must be at least 1"
    );
}

// ------------------------------------------------------------- poll_until

/// A check that records the offset from `start` of every call and passes on
/// call number `pass_on` (1-based; 0 never passes). It panics after 100
/// calls, which bounds every polling loop under test.
struct Recorder {
    start: Instant,
    at: RefCell<Vec<Duration>>,
    pass_on: usize,
    /// How long each check takes.
    takes: Duration,
}

impl Recorder {
    fn new(pass_on: usize, takes: Duration) -> Self {
        Self {
            start: Instant::now(),
            at: RefCell::new(Vec::new()),
            pass_on,
            takes,
        }
    }

    async fn check(&self) -> bool {
        let n = {
            let mut at = self.at.borrow_mut();
            assert!(at.len() < 100, "poll_until did not stop");
            at.push(Instant::now() - self.start);
            at.len()
        };
        if !self.takes.is_zero() {
            tokio::time::sleep(self.takes).await;
        }
        n == self.pass_on
    }

    fn at(&self) -> Vec<Duration> {
        self.at.borrow().clone()
    }
}

#[tokio::test(start_paused = true)]
async fn poll_until_immediate_success_at_zero() {
    let r = Recorder::new(1, Duration::ZERO);
    let res = poll_until(ms(100), ms(1000), || r.check()).await;
    assert_eq!(res, Ok(Duration::ZERO));
    assert_eq!(r.at(), [Duration::ZERO]);
    assert_eq!(Instant::now(), r.start);
}

#[tokio::test(start_paused = true)]
async fn poll_until_success_on_third_check_at_two_intervals() {
    let r = Recorder::new(3, Duration::ZERO);
    let res = poll_until(ms(100), ms(1000), || r.check()).await;
    assert_eq!(res, Ok(ms(200)));
    assert_eq!(r.at(), [ms(0), ms(100), ms(200)]);
    assert_eq!(Instant::now(), r.start + ms(200));
}

#[tokio::test(start_paused = true)]
async fn poll_until_last_check_is_exactly_at_deadline() {
    let r = Recorder::new(0, Duration::ZERO);
    let res = poll_until(ms(300), ms(1000), || r.check()).await;
    assert_eq!(
        res,
        Err(PollUntilError::TimedOut {
            checks: 5,
            waited: ms(1000)
        })
    );
    assert_eq!(r.at(), [ms(0), ms(300), ms(600), ms(900), ms(1000)]);
    // Returned at the deadline, not one tick (1200 ms) later.
    assert_eq!(Instant::now(), r.start + ms(1000));
}

#[tokio::test(start_paused = true)]
async fn poll_until_success_at_the_deadline_check() {
    let r = Recorder::new(5, Duration::ZERO);
    let res = poll_until(ms(300), ms(1000), || r.check()).await;
    assert_eq!(res, Ok(ms(1000)));
    assert_eq!(r.at(), [ms(0), ms(300), ms(600), ms(900), ms(1000)]);
}

#[tokio::test(start_paused = true)]
async fn poll_until_deadline_a_multiple_of_interval_has_no_extra_check() {
    let r = Recorder::new(0, Duration::ZERO);
    let res = poll_until(ms(250), ms(1000), || r.check()).await;
    assert_eq!(
        res,
        Err(PollUntilError::TimedOut {
            checks: 5,
            waited: ms(1000)
        })
    );
    assert_eq!(r.at(), [ms(0), ms(250), ms(500), ms(750), ms(1000)]);
}

#[tokio::test(start_paused = true)]
async fn poll_until_slow_check_delays_next_without_burst() {
    // Each check takes 250 ms; ticks are due every 100 ms.
    let r = Recorder::new(0, ms(250));
    let res = poll_until(ms(100), ms(1000), || r.check()).await;
    // 0 ends at 250 (ticks 100 and 200 missed): next check at once, at 250,
    // once. It ends at 500 (ticks 300, 400 and 500 missed): at once again.
    // 500 ends at 750 and 750 ends at 1000: the deadline has passed, so no
    // check starts after it.
    assert_eq!(r.at(), [ms(0), ms(250), ms(500), ms(750)]);
    assert_eq!(
        res,
        Err(PollUntilError::TimedOut {
            checks: 4,
            waited: ms(1000)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn poll_until_after_a_slow_check_realigns_on_the_grid() {
    // Only the first check is slow (250 ms); the interval is 100 ms.
    let start = Instant::now();
    let at = &RefCell::new(Vec::new());
    let res = poll_until(ms(100), ms(1000), move || {
        let first = at.borrow().is_empty();
        assert!(at.borrow().len() < 100, "poll_until did not stop");
        at.borrow_mut().push(Instant::now() - start);
        async move {
            if first {
                tokio::time::sleep(ms(250)).await;
            }
            at.borrow().len() == 4
        }
    })
    .await;
    // At once after the slow check (250), then back on the grid (300, 400),
    // not 350 and 450.
    assert_eq!(*at.borrow(), [ms(0), ms(250), ms(300), ms(400)]);
    assert_eq!(res, Ok(ms(400)));
}

#[tokio::test(start_paused = true)]
async fn poll_until_check_running_over_the_deadline_is_awaited() {
    // The second check starts at 900 and returns at 1150, after the deadline.
    let start = Instant::now();
    let at = RefCell::new(Vec::new());
    let res = poll_until(ms(900), ms(1000), || {
        assert!(at.borrow().len() < 100, "poll_until did not stop");
        at.borrow_mut().push(Instant::now() - start);
        let n = at.borrow().len();
        async move {
            if n == 2 {
                tokio::time::sleep(ms(250)).await;
            }
            false
        }
    })
    .await;
    assert_eq!(*at.borrow(), [ms(0), ms(900)]);
    assert_eq!(
        res,
        Err(PollUntilError::TimedOut {
            checks: 2,
            waited: ms(1150)
        })
    );
}

#[tokio::test(start_paused = true)]
async fn poll_until_zero_timeout_checks_exactly_once() {
    let r = Recorder::new(0, Duration::ZERO);
    let res = poll_until(ms(100), Duration::ZERO, || r.check()).await;
    assert_eq!(
        res,
        Err(PollUntilError::TimedOut {
            checks: 1,
            waited: Duration::ZERO
        })
    );
    assert_eq!(r.at(), [Duration::ZERO]);

    let r = Recorder::new(1, Duration::ZERO);
    let res = poll_until(ms(100), Duration::ZERO, || r.check()).await;
    assert_eq!(res, Ok(Duration::ZERO));
}

#[tokio::test(start_paused = true)]
async fn poll_until_interval_longer_than_timeout_checks_at_zero_and_deadline() {
    let r = Recorder::new(0, Duration::ZERO);
    let res = poll_until(ms(5000), ms(1000), || r.check()).await;
    assert_eq!(
        res,
        Err(PollUntilError::TimedOut {
            checks: 2,
            waited: ms(1000)
        })
    );
    assert_eq!(r.at(), [ms(0), ms(1000)]);
}

#[tokio::test(start_paused = true)]
async fn poll_until_zero_interval_is_an_error_and_never_checks() {
    let r = Recorder::new(1, Duration::ZERO);
    let res = poll_until(Duration::ZERO, ms(1000), || r.check()).await;
    assert_eq!(res, Err(PollUntilError::ZeroInterval));
    assert!(r.at().is_empty());
}

#[tokio::test(start_paused = true)]
async fn poll_until_huge_durations_do_not_overflow() {
    // Neither `start + interval` nor `start + timeout` is representable.
    let r = Recorder::new(1, Duration::ZERO);
    let res = poll_until(Duration::MAX, Duration::MAX, || r.check()).await;
    assert_eq!(res, Ok(Duration::ZERO));

    // Huge timeout, normal interval: polls on the grid.
    let r = Recorder::new(3, Duration::ZERO);
    let res = poll_until(ms(100), Duration::MAX, || r.check()).await;
    assert_eq!(res, Ok(ms(200)));
}

#[tokio::test(start_paused = true)]
async fn poll_until_dropped_future_stops_polling() {
    let r = Recorder::new(0, Duration::ZERO);
    let res = tokio::time::timeout(ms(250), poll_until(ms(100), ms(1000), || r.check())).await;
    assert!(res.is_err(), "the outer timeout fires first");
    // Let time pass: nothing checks any more.
    tokio::time::sleep(ms(1000)).await;
    assert_eq!(r.at(), [ms(0), ms(100), ms(200)]);
}

#[test]
fn poll_until_error_messages() {
    assert_eq!(
        PollUntilError::TimedOut {
            checks: 5,
            waited: ms(1000)
        }
        .to_string(),
        "check still false after 5 checks over 1s"
    );
    assert_eq!(
        PollUntilError::ZeroInterval.to_string(),
        "interval must be greater than zero"
    );
}
