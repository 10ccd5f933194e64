//! [`Config`]: the settings a [`Builder`](super::Builder) validated, and their defaults.

use std::borrow::Cow;
use std::time::Duration;

use crate::machine::ReadyWhen;

/// The default stop hook timeout: 5 s.
pub const DEFAULT_STOP_HOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// The default exit timeout: 2 s, as in the Go package this grew from.
pub const DEFAULT_EXIT_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) name: Cow<'static, str>,
    pub(crate) stop_hook_timeout: Duration,
    pub(crate) exit_timeout: Duration,
    pub(crate) ready_when: ReadyWhen,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            name: Cow::Borrowed("runner"),
            stop_hook_timeout: DEFAULT_STOP_HOOK_TIMEOUT,
            exit_timeout: DEFAULT_EXIT_TIMEOUT,
            ready_when: ReadyWhen::Spawned,
        }
    }
}
