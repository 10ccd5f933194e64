//! The plumego "Cache Warmer" pattern on a `Ticker`: load the data into the cache at start,
//! then again every period.
//!
//! The source behind the cache (a database, a remote API) comes up a moment after the program
//! starts, so `main` first waits for it with `poll_until`. The ticker then warms the cache at
//! once (`FirstRun::Immediately`, where Go's ticker would wait one period) and every 30 ms
//! after that. The second load fails (simulated): the error is recorded (`last_error()` is an
//! `Error::Run` naming run #2 and carrying the loader's own error), the cache keeps serving the
//! previous data, the ticker goes on, and the next run warms the cache again. `stats()` counts
//! the runs and the failure.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p runner-ticker --example cache_warmer
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_ticker::{Error, FirstRun, TickContext, Ticker, poll_until};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// How often the cache is warmed.
const PERIOD: Duration = Duration::from_millis(30);
/// How long the source takes to come up.
const SOURCE_STARTUP: Duration = Duration::from_millis(40);
/// The bound on every wait: far more than the example needs, so only a regression reaches it.
const DEADLINE: Duration = Duration::from_secs(1);
/// The keys the loader returns.
const KEYS: [&str; 3] = ["user:1", "user:2", "config:flags"];

/// The data source: up or not yet, and how many loads it has served.
#[derive(Default)]
struct Source {
    up: AtomicBool,
    loads: AtomicU32,
}

/// The loader's error: its second load times out.
#[derive(Debug)]
struct LoadError {
    load: u32,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "load #{}: source timed out (simulated)", self.load)
    }
}

impl std::error::Error for LoadError {}

impl Source {
    /// Every entry, each value tagged with the number of the load that produced it.
    async fn load(&self) -> Result<HashMap<String, String>, LoadError> {
        let load = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        tokio::time::sleep(Duration::from_millis(2)).await; // the round trip
        if load == 2 {
            return Err(LoadError { load });
        }
        Ok(KEYS
            .iter()
            .map(|key| ((*key).to_owned(), format!("{key} (load #{load})")))
            .collect())
    }
}

/// What one run reports to `main`.
#[derive(Debug)]
struct Warmed {
    seq: u64,
    scheduled: Instant,
    ok: bool,
    /// Entries in the cache after the run.
    cached: usize,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let source = Arc::new(Source::default());
    let cache = Arc::new(RwLock::new(HashMap::<String, String>::new()));

    // The source comes up a little later, on its own.
    tokio::spawn({
        let source = Arc::clone(&source);
        async move {
            tokio::time::sleep(SOURCE_STARTUP).await;
            source.up.store(true, Ordering::SeqCst);
        }
    });

    // Do not start warming before the source is there: check every 10 ms, for up to DEADLINE.
    let waited = poll_until(Duration::from_millis(10), DEADLINE, || {
        let up = source.up.load(Ordering::SeqCst);
        async move { up }
    })
    .await?;
    println!("source up after {waited:.1?}");
    assert!(waited >= SOURCE_STARTUP, "poll_until returned early");

    let (warmed_tx, mut warmed) = mpsc::unbounded_channel::<Warmed>();
    let warmer = Ticker::builder(PERIOD, {
        let source = Arc::clone(&source);
        let cache = Arc::clone(&cache);
        move |tick: TickContext| {
            let source = Arc::clone(&source);
            let cache = Arc::clone(&cache);
            let warmed = warmed_tx.clone();
            async move {
                let loaded = source.load().await;
                let result = match loaded {
                    Ok(entries) => {
                        cache
                            .write()
                            .expect("cache lock")
                            .extend(entries.into_iter());
                        Ok(())
                    }
                    // The old entries stay: a stale cache beats an empty one.
                    Err(error) => Err(error),
                };
                let cached = cache.read().expect("cache lock").len();
                println!(
                    "run #{}: {} ({cached} entries cached)",
                    tick.seq(),
                    match &result {
                        Ok(()) => "warmed".to_owned(),
                        Err(error) => format!("failed: {error}"),
                    }
                );
                // `main` may have stopped listening; that is fine.
                let _ = warmed.send(Warmed {
                    seq: tick.seq(),
                    scheduled: tick.scheduled(),
                    ok: result.is_ok(),
                    cached,
                });
                result
            }
        }
    })
    .name("cache-warmer")
    .first_run(FirstRun::Immediately)
    .build()?;

    let before_start = Instant::now();
    warmer.start().await?;
    let after_start = Instant::now();

    // `start` returns once ticking has begun; `until_runs(1)` waits, without polling, until
    // run #1 has ended: from here on the cache is warm.
    let stats = timeout(DEADLINE, warmer.until_runs(1)).await?;
    assert_eq!((stats.runs, stats.failures), (1, 0));
    assert_eq!(cache.read().expect("cache lock").len(), KEYS.len());

    // Run #1 was due at the start itself, not one period later, and warmed the cache.
    let first = timeout(DEADLINE, warmed.recv())
        .await?
        .ok_or("warmer gone")?;
    assert_eq!(first.seq, 1);
    assert!(
        before_start <= first.scheduled && first.scheduled <= after_start,
        "FirstRun::Immediately: run #1 is due when the ticker starts"
    );
    assert!(first.ok);
    assert_eq!(first.cached, KEYS.len(), "warm after the first run");

    // Runs #2 (the failing load), #3 and #4.
    let mut runs = vec![first];
    while runs.len() < 4 {
        runs.push(
            timeout(DEADLINE, warmed.recv())
                .await?
                .ok_or("warmer gone")?,
        );
    }
    let seqs: Vec<u64> = runs.iter().map(|run| run.seq).collect();
    assert_eq!(seqs, [1, 2, 3, 4]);
    let ok: Vec<bool> = runs.iter().map(|run| run.ok).collect();
    assert_eq!(ok, [true, false, true, true], "only load #2 fails");
    assert_eq!(
        runs[1].cached,
        KEYS.len(),
        "the failed load left the cache warm"
    );

    // The ticker went on after the failure. Run #2 was recorded before run #3 began, so the
    // history already holds its error.
    assert!(warmer.is_running());
    let last = warmer.last_error().ok_or("the failure is recorded")?;
    println!("last error: {last}");
    let Error::Run { seq, source: cause } = &*last else {
        return Err(format!("expected Error::Run, got {last:?}").into());
    };
    assert_eq!(*seq, 2);
    let load_error = cause
        .downcast_ref::<LoadError>()
        .ok_or("the loader's own error is kept")?;
    assert_eq!(load_error.load, 2);
    // One failure is below the default `unhealthy_after` of 3.
    assert!(warmer.health().is_healthy());

    warmer.stop().await?;
    assert_eq!(warmer.state(), State::Stopped);
    assert!(matches!(warmer.last_exit(), Some(Exit::Stopped)));

    // Every value comes from a load after the failed one: the cache is warm and fresh.
    let entries = cache.read().expect("cache lock").clone();
    assert_eq!(entries.len(), KEYS.len());
    for (key, value) in &entries {
        let load: u32 = value
            .rsplit_once('#')
            .and_then(|(_, n)| n.trim_end_matches(')').parse().ok())
            .ok_or("tagged value")?;
        assert!(
            load >= 3,
            "{key} = {value}: not refreshed after the failure"
        );
    }

    // Runs may have happened between the 4th report and the stop; all of them succeeded.
    let stats = warmer.stats();
    assert!(stats.runs >= 4, "{stats:?}");
    assert_eq!(
        (stats.failures, stats.panics, stats.timeouts),
        (1, 0, 0),
        "{stats:?}"
    );
    assert_eq!(warmer.error_count(), 1);
    assert_eq!(warmer.errors().len(), 1);
    println!(
        "stopped: {} runs, {} failed, mean run {:.1?}, {} entries cached",
        stats.runs,
        stats.failures,
        stats.durations.mean().unwrap_or_default(),
        entries.len()
    );
    Ok(())
}
