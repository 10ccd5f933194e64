//! The plumego "Health Monitor" pattern on a `Ticker`, and the ticker's own health with
//! hysteresis.
//!
//! Three fake services (`db`, `cache`, `queue`) live in a shared map whose health `main` flips.
//! Every run checks all three concurrently (`tokio::join!`); each check pings up to twice with
//! `retry_n`, so one dropped ping (the `db` blip in run #1) does not count as an outage. A run
//! returns an error naming the services that are down.
//!
//! The ticker is built with `unhealthy_after(2)` and `healthy_after(2)`: its `health()` turns
//! unhealthy after two failed runs in a row, not after the first, and healthy again only after
//! two good runs in a row, not after the first. To read `health()` at known points, each run
//! waits for a go-ahead from `main` (a semaphore permit) before checking, reports what it found
//! on a channel, and `main` waits until the ticker has recorded the run. A real monitor would
//! have no gate; it is there so that the example can assert the health after each run.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p runner-ticker --example health_monitor
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_core::{ErrorHistory, Health, Runner, State, Status};
use runner_ticker::{Error, TickContext, Ticker, retry_n};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;

const PERIOD: Duration = Duration::from_millis(20);
/// The bound on every wait: far more than the example needs, so only a regression reaches it.
const DEADLINE: Duration = Duration::from_secs(1);

/// The fake services: which are up, plus counters that let `main` check how they were pinged.
struct Services {
    up: Mutex<HashMap<&'static str, bool>>,
    /// `db` drops its next ping once.
    db_blip: AtomicBool,
    pings: AtomicU32,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Services {
    fn new() -> Self {
        Services {
            up: Mutex::new(HashMap::from([
                ("db", true),
                ("cache", true),
                ("queue", true),
            ])),
            db_blip: AtomicBool::new(true),
            pings: AtomicU32::new(0),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    fn set(&self, name: &'static str, up: bool) {
        self.up.lock().expect("services lock").insert(name, up);
        println!("  ({name} is now {})", if up { "up" } else { "down" });
    }

    /// One ping: a short round trip, then the service's state.
    async fn ping(&self, name: &'static str) -> bool {
        self.pings.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(3)).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if name == "db" && self.db_blip.swap(false, Ordering::SeqCst) {
            return false; // a dropped packet
        }
        self.up.lock().expect("services lock")[name]
    }

    /// Up unless two pings in a row fail.
    async fn check(&self, name: &'static str) -> Result<(), &'static str> {
        let retry = || tokio::time::sleep(Duration::from_millis(1));
        match retry_n(2, || self.ping(name), retry).await {
            Ok(_pings) => Ok(()),
            Err(_exhausted) => Err(name),
        }
    }
}

/// What a failed run returns: the services that are down.
#[derive(Debug)]
struct ServicesDown(Vec<&'static str>);

impl fmt::Display for ServicesDown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "services down: {}", self.0.join(", "))
    }
}

impl std::error::Error for ServicesDown {}

/// Lets run `seq` check, and returns what it found once the ticker has recorded the run.
async fn step(
    monitor: &Ticker,
    gate: &Semaphore,
    reports: &mut mpsc::UnboundedReceiver<(u64, Vec<&'static str>)>,
    seq: u64,
) -> Result<Vec<&'static str>, Box<dyn std::error::Error>> {
    gate.add_permits(1);
    let (reported, down) = timeout(DEADLINE, reports.recv())
        .await?
        .ok_or("monitor gone")?;
    assert_eq!(reported, seq);
    // The run sent its report just before returning; the ticker records the outcome right after
    // it returns. The next run cannot end before `main` opens the gate again, so once run `seq`
    // is recorded, `health()` reflects exactly runs 1..=seq. `until_runs` waits for that without
    // polling.
    let stats = timeout(DEADLINE, monitor.until_runs(seq)).await?;
    assert_eq!(stats.runs, seq);
    let health = monitor.health();
    println!("run #{seq}: down {down:?} -> ticker health: {health}");
    Ok(down)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let services = Arc::new(Services::new());
    let gate = Arc::new(Semaphore::new(0));
    let (reports_tx, mut reports) = mpsc::unbounded_channel();

    let monitor = Ticker::builder(PERIOD, {
        let services = Arc::clone(&services);
        let gate = Arc::clone(&gate);
        move |tick: TickContext| {
            let services = Arc::clone(&services);
            let gate = Arc::clone(&gate);
            let reports = reports_tx.clone();
            async move {
                // Wait for main's go-ahead, unless the ticker is being stopped.
                tokio::select! {
                    () = tick.cancelled() => return Ok(()),
                    permit = gate.acquire() => permit.expect("the gate is never closed").forget(),
                }
                let (db, cache, queue) = tokio::join!(
                    services.check("db"),
                    services.check("cache"),
                    services.check("queue"),
                );
                let down: Vec<&'static str> = [db, cache, queue]
                    .into_iter()
                    .filter_map(Result::err)
                    .collect();
                let _ = reports.send((tick.seq(), down.clone()));
                if down.is_empty() {
                    Ok(())
                } else {
                    Err(ServicesDown(down))
                }
            }
        }
    })
    .name("health-monitor")
    .unhealthy_after(2)
    .healthy_after(2)
    .build()?;

    monitor.start().await?;
    assert!(monitor.health().is_healthy(), "healthy before any run");

    // Run 1: all up. db dropped its first ping; the retry found it up.
    assert!(step(&monitor, &gate, &mut reports, 1).await?.is_empty());
    assert_eq!(
        services.pings.load(Ordering::SeqCst),
        4,
        "db was pinged twice"
    );
    assert!(monitor.health().is_healthy());

    // Runs 2 and 3: cache is down. One failed run is not enough to be unhealthy; two are.
    services.set("cache", false);
    assert_eq!(step(&monitor, &gate, &mut reports, 2).await?, ["cache"]);
    assert_eq!(
        monitor.health(),
        Health::Healthy,
        "one failure: still healthy"
    );
    assert_eq!(step(&monitor, &gate, &mut reports, 3).await?, ["cache"]);
    let health = monitor.health();
    assert!(matches!(health, Health::Unhealthy(_)), "{health}");
    let reason = health.reason().unwrap_or_default();
    assert!(reason.contains("2 failed runs in a row"), "{reason}");
    assert!(reason.contains("services down: cache"), "{reason}");

    // Run 4: queue goes down too; the reason names the last error.
    services.set("queue", false);
    assert_eq!(
        step(&monitor, &gate, &mut reports, 4).await?,
        ["cache", "queue"]
    );
    let reason = monitor.health().reason().unwrap_or_default().to_owned();
    assert!(reason.contains("3 failed runs in a row"), "{reason}");
    assert!(reason.contains("services down: cache, queue"), "{reason}");

    // Runs 5 and 6: everything is back. One good run is not enough to be healthy; two are.
    services.set("cache", true);
    services.set("queue", true);
    assert!(step(&monitor, &gate, &mut reports, 5).await?.is_empty());
    assert!(
        matches!(monitor.health(), Health::Unhealthy(_)),
        "one good run: still unhealthy"
    );
    assert!(step(&monitor, &gate, &mut reports, 6).await?.is_empty());
    assert_eq!(monitor.health(), Health::Healthy);

    // Each run pinged the three services at once, and runs never overlapped.
    assert_eq!(services.max_in_flight.load(Ordering::SeqCst), 3);

    monitor.stop().await?;
    assert_eq!(monitor.state(), State::Stopped);
    println!("after stop, ticker health: {}", monitor.health());
    assert!(!monitor.health().is_healthy());

    // Three failed runs, recorded in order, each naming what was down.
    let failed: Vec<(u64, String)> = monitor
        .errors()
        .iter()
        .map(|error| match &**error {
            Error::Run { seq, source } => (*seq, source.to_string()),
            other => (0, other.to_string()),
        })
        .collect();
    assert_eq!(
        failed,
        [
            (2, "services down: cache".to_owned()),
            (3, "services down: cache".to_owned()),
            (4, "services down: cache, queue".to_owned()),
        ]
    );
    let stats = monitor.stats();
    // A 7th run may have been waiting at the gate when the stop came; it returned `Ok`.
    assert!((6..=7).contains(&stats.runs), "{stats:?}");
    assert_eq!(stats.failures, 3, "{stats:?}");
    println!(
        "stopped: {} runs, {} failed, {} errors recorded",
        stats.runs,
        stats.failures,
        monitor.error_count()
    );
    Ok(())
}
