//! [`Config`]: the settings a [`Builder`](crate::Builder) validated.

use std::borrow::Cow;
use std::time::Duration;

use crate::schedule::{Every, FirstRun, MissedTicks};

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) name: Cow<'static, str>,
    pub(crate) every: Every,
    pub(crate) first_run: FirstRun,
    pub(crate) missed_ticks: MissedTicks,
    pub(crate) run_timeout: Option<Duration>,
    pub(crate) stop_grace: Duration,
    pub(crate) jitter: Duration,
}
