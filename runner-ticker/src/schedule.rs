//! When the next run is due: [`Schedule`] for a fixed period, `CronTimes` for a cron
//! expression, and [`Plan`], either of them. Plain arithmetic on instants: no tokio, no clock; the
//! driver tells it the time.

#[cfg(feature = "cron")]
use std::time::SystemTime;
use std::time::{Duration, Instant};

use runner_lifecycle::deadline::after;

#[cfg(feature = "cron")]
use crate::cron::CronSchedule;

/// When the first run happens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FirstRun {
    /// One period after `start`, as Go's `time.Ticker` does (the default).
    #[default]
    AfterPeriod,
    /// As soon as the ticker starts.
    Immediately,
}

/// What happens to ticks that came due while a run was still going (runs never overlap).
///
/// In every policy, the tick that came due during a slow run fires as soon as that run ends;
/// the policies differ in when the ticks after it are due. With a period `P`, ticks due at
/// `P, 2P, 3P, …` and one run that lasts from `P` to `3.5P`:
///
/// | policy | runs start at |
/// |--------|---------------|
/// | [`Skip`](MissedTicks::Skip) (default) | `P`, `3.5P`, `4P`, `5P`, … (missed ticks dropped, back on the grid) |
/// | [`Burst`](MissedTicks::Burst) | `P`, `3.5P`, `3.5P`, `4P`, … (missed ticks run back to back until caught up) |
/// | [`Delay`](MissedTicks::Delay) | `P`, `3.5P`, `4.5P`, `5.5P`, … (the grid moves to the late run) |
///
/// These are the semantics of tokio's `MissedTickBehavior`; `Skip` is also what Go's ticker
/// does for a slow receiver.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MissedTicks {
    /// Drop the missed ticks; the next run is on the original grid, after now (the default).
    #[default]
    Skip,
    /// Run the missed ticks back to back until caught up, then keep the original grid.
    Burst,
    /// Run the late tick, then wait a whole period from it: the grid moves.
    Delay,
}

/// One tick as it fires: its sequence number (1 for the first run) and when it was due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tick {
    pub(crate) seq: u64,
    pub(crate) scheduled: Instant,
}

/// A fixed-period schedule with a missed-tick policy.
#[derive(Clone, Debug)]
pub(crate) struct Schedule {
    period: Duration,
    policy: MissedTicks,
    /// When the next tick is due.
    next: Instant,
    /// How many ticks have fired.
    fired: u64,
}

impl Schedule {
    /// A schedule starting at `start`.
    pub(crate) fn new(
        start: Instant,
        period: Duration,
        first: FirstRun,
        policy: MissedTicks,
    ) -> Self {
        let next = match first {
            FirstRun::AfterPeriod => after(start, period),
            FirstRun::Immediately => start,
        };
        Schedule {
            period,
            policy,
            next,
            fired: 0,
        }
    }

    /// When the next tick is due.
    pub(crate) fn due(&self) -> Instant {
        self.next
    }

    /// The tick due at [`due`](Self::due) fires at `now` (not before it is due): returns it and
    /// works out when the one after is due.
    pub(crate) fn fire(&mut self, now: Instant) -> Tick {
        let scheduled = self.next;
        self.fired += 1;
        self.next = self.following(scheduled, now.max(scheduled));
        Tick {
            seq: self.fired,
            scheduled,
        }
    }

    /// When the tick after one due at `scheduled`, which fired at `now`, is due. Saturates: a
    /// period too long to add is a tick that never comes.
    fn following(&self, scheduled: Instant, now: Instant) -> Instant {
        let regular = after(scheduled, self.period);
        if now < regular {
            return regular; // on time, or late by less than a period: nothing was missed
        }
        match self.policy {
            MissedTicks::Burst => regular,
            MissedTicks::Delay => after(now, self.period),
            MissedTicks::Skip => {
                let periods_late = (now - scheduled).as_nanos() / self.period.as_nanos();
                let skip = u32::try_from(periods_late + 1).unwrap_or(u32::MAX);
                after(scheduled, self.period.saturating_mul(skip))
            }
        }
    }

    /// A new period, from inside a run at `at`: the next tick is due one new period after `at`,
    /// and every period after that (Go's `Ticker.Reset`).
    pub(crate) fn reset(&mut self, at: Instant, period: Duration) {
        self.period = period;
        self.next = after(at, period);
    }
}

/// What a ticker runs on: a fixed period, or a cron schedule.
#[derive(Clone, Debug)]
pub(crate) enum Every {
    Period(Duration),
    #[cfg(feature = "cron")]
    Cron(CronSchedule),
}

impl Every {
    pub(crate) fn period(&self) -> Option<Duration> {
        match self {
            Every::Period(period) => Some(*period),
            #[cfg(feature = "cron")]
            Every::Cron(_) => None,
        }
    }
}

/// The schedule of one run of a ticker.
#[derive(Clone, Debug)]
pub(crate) enum Plan {
    Period(Schedule),
    #[cfg(feature = "cron")]
    Cron(CronTimes),
}

impl Plan {
    /// The plan for a ticker started at `start`. `period` is the period in force, which a run
    /// may have changed since the ticker was built; it wins over the configured one.
    pub(crate) fn new(
        every: &Every,
        period: Option<Duration>,
        start: Instant,
        first: FirstRun,
        policy: MissedTicks,
    ) -> Self {
        match every {
            Every::Period(configured) => {
                let period = period.unwrap_or(*configured);
                Plan::Period(Schedule::new(start, period, first, policy))
            }
            #[cfg(feature = "cron")]
            Every::Cron(cron) => Plan::Cron(CronTimes::new(
                cron.clone(),
                policy,
                start,
                SystemTime::now(),
                first,
            )),
        }
    }

    /// When the next tick is due, if another one ever is.
    pub(crate) fn due(&self) -> Option<Instant> {
        match self {
            Plan::Period(schedule) => Some(schedule.due()),
            #[cfg(feature = "cron")]
            Plan::Cron(times) => times.due(),
        }
    }

    /// The tick due now fires at `now`.
    pub(crate) fn fire(&mut self, now: Instant) -> Tick {
        match self {
            Plan::Period(schedule) => schedule.fire(now),
            #[cfg(feature = "cron")]
            Plan::Cron(times) => times.fire(now),
        }
    }

    /// A new period from inside a run (periodic plans only: the control plane refuses a
    /// period for a cron schedule).
    pub(crate) fn reset(&mut self, at: Instant, period: Duration) {
        match self {
            Plan::Period(schedule) => schedule.reset(at, period),
            #[cfg(feature = "cron")]
            Plan::Cron(_) => {}
        }
    }
}

/// The occurrences of a cron schedule, on the monotonic clock.
///
/// The wall clock is read once, when the ticker starts; after that, wall time is that reading
/// advanced by the monotonic clock (tokio's, so paused-clock tests are exact). NTP slews both
/// clocks alike, so they do not drift apart; a *step* of the system clock after the start moves
/// the runs only from the next start.
///
/// Missed occurrences (a run outlasting the gap to the next one) follow the policy: `Burst`
/// runs each missed occurrence back to back; `Skip` and `Delay` run the late one, then the first
/// occurrence after it.
#[cfg(feature = "cron")]
#[derive(Clone, Debug)]
pub(crate) struct CronTimes {
    cron: CronSchedule,
    policy: MissedTicks,
    /// The same moment on both clocks.
    anchor: (Instant, SystemTime),
    /// The next occurrence: on the monotonic clock, and on the wall clock.
    next: Option<(Instant, SystemTime)>,
    fired: u64,
}

#[cfg(feature = "cron")]
impl CronTimes {
    pub(crate) fn new(
        cron: CronSchedule,
        policy: MissedTicks,
        now: Instant,
        wall: SystemTime,
        first: FirstRun,
    ) -> Self {
        let mut times = CronTimes {
            cron,
            policy,
            anchor: (now, wall),
            next: None,
            fired: 0,
        };
        times.next = match first {
            FirstRun::Immediately => Some((now, wall)),
            FirstRun::AfterPeriod => times.occurrence_after(wall),
        };
        times
    }

    /// Wall time at `now`, from the anchor.
    fn wall(&self, now: Instant) -> SystemTime {
        let (at, wall) = self.anchor;
        let since = now.saturating_duration_since(at);
        wall.checked_add(since).unwrap_or(wall)
    }

    /// The first occurrence strictly after `after`, on both clocks.
    fn occurrence_after(&self, moment: SystemTime) -> Option<(Instant, SystemTime)> {
        let occurrence = self.cron.next_after(moment)?;
        let (at, wall) = self.anchor;
        let since_anchor = occurrence.duration_since(wall).unwrap_or(Duration::ZERO);
        Some((after(at, since_anchor), occurrence))
    }

    pub(crate) fn due(&self) -> Option<Instant> {
        self.next.map(|(due, _)| due)
    }

    pub(crate) fn fire(&mut self, now: Instant) -> Tick {
        let wall = self.wall(now);
        let (scheduled, scheduled_wall) = self.next.unwrap_or((now, wall));
        self.fired += 1;
        let after = match self.policy {
            MissedTicks::Burst => scheduled_wall,
            _ => scheduled_wall.max(wall),
        };
        self.next = self.occurrence_after(after);
        Tick {
            seq: self.fired,
            scheduled,
        }
    }
}

#[cfg(all(test, not(runner_loom)))]
mod tests {
    use super::*;

    const P: Duration = Duration::from_secs(10);

    /// Run starts for a tick source where every run lasts as long as `lasts(seq)`, in periods.
    fn starts(
        policy: MissedTicks,
        first: FirstRun,
        lasts: impl Fn(u64) -> f64,
        n: usize,
    ) -> Vec<f64> {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(t0, P, first, policy);
        let mut now = t0;
        let mut out = Vec::new();
        for _ in 0..n {
            now = now.max(schedule.due());
            let tick = schedule.fire(now);
            out.push((now - t0).as_secs_f64() / P.as_secs_f64());
            now += P.mul_f64(lasts(tick.seq));
        }
        out
    }

    #[test]
    fn first_run_after_a_period_or_at_once() {
        assert_eq!(
            starts(MissedTicks::Skip, FirstRun::AfterPeriod, |_| 0.0, 3),
            [1.0, 2.0, 3.0]
        );
        assert_eq!(
            starts(MissedTicks::Skip, FirstRun::Immediately, |_| 0.0, 3),
            [0.0, 1.0, 2.0]
        );
    }

    #[test]
    fn one_slow_run_under_each_policy() {
        let slow_first = |seq| if seq == 1 { 2.5 } else { 0.0 };
        let skip = starts(MissedTicks::Skip, FirstRun::AfterPeriod, slow_first, 4);
        assert_eq!(skip, [1.0, 3.5, 4.0, 5.0]);
        let burst = starts(MissedTicks::Burst, FirstRun::AfterPeriod, slow_first, 5);
        assert_eq!(burst, [1.0, 3.5, 3.5, 4.0, 5.0]);
        let delay = starts(MissedTicks::Delay, FirstRun::AfterPeriod, slow_first, 4);
        assert_eq!(delay, [1.0, 3.5, 4.5, 5.5]);
    }

    #[test]
    fn late_by_less_than_a_period_keeps_the_grid_in_every_policy() {
        for policy in [MissedTicks::Skip, MissedTicks::Burst, MissedTicks::Delay] {
            let slowish = |seq| if seq == 1 { 1.5 } else { 0.0 };
            assert_eq!(
                starts(policy, FirstRun::AfterPeriod, slowish, 3),
                [1.0, 2.5, 3.0],
                "{policy:?}"
            );
        }
    }

    #[test]
    fn ticks_are_numbered_and_carry_their_due_time() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(t0, P, FirstRun::AfterPeriod, MissedTicks::Skip);
        let tick = schedule.fire(t0 + P + Duration::from_secs(1));
        assert_eq!(
            tick,
            Tick {
                seq: 1,
                scheduled: t0 + P
            }
        );
        assert_eq!(schedule.fire(schedule.due()).seq, 2);
    }

    #[test]
    fn reset_restarts_the_grid_from_the_call() {
        let t0 = Instant::now();
        let mut schedule = Schedule::new(t0, P, FirstRun::AfterPeriod, MissedTicks::Skip);
        let _ = schedule.fire(t0 + P);
        schedule.reset(t0 + P + Duration::from_secs(3), Duration::from_secs(2));
        assert_eq!(schedule.due(), t0 + P + Duration::from_secs(5));
        assert_eq!(
            schedule.fire(schedule.due()).scheduled + Duration::from_secs(2),
            schedule.due()
        );
    }
}
