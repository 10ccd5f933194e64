//! A flaky service under a supervisor: exponential backoff with jitter, the retry counter reset
//! after a stable period, and restart intensity escalation when it keeps failing.
//!
//! 1. The service crashes, and its next two runs fail at once: restarts back off 20 ms, 40 ms,
//!    80 ms (±25 %).
//! 2. It then runs for longer than its stable period (200 ms) and crashes once: the next
//!    restart backs off 20 ms again (the counter was reset), not 160 ms.
//! 3. From then on every run fails. Its 7th restart within 10 s is more than the supervisor's
//!    intensity allows (6): the supervisor gives up, stops everything, and fails with an
//!    error naming the service. Nested under a parent, the parent's policy would decide next.
//!
//! ```sh
//! cargo run -p runner-supervisor --example flaky_service
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use runner_core::{ErrorHistory, Runner, State, Status};
use runner_startstop::{ReadyWhen, RunContext, StartStop};
use runner_supervisor::{Backoff, Error, Event, Events, Intensity, ServiceOptions, Supervisor};
use tokio::sync::Notify;

/// How the flaky service behaves, steered by `main`.
#[derive(Default)]
struct Script {
    /// Runs left that fail at once.
    failing_runs: AtomicU32,
    /// Every run fails from now on.
    broken: AtomicBool,
    /// Crashes the current run.
    crash: Notify,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let script = Arc::new(Script::default());
    let flaky = StartStop::builder(
        {
            let script = Arc::clone(&script);
            move |run: RunContext| {
                let script = Arc::clone(&script);
                async move {
                    let failing = script
                        .failing_runs
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    if failing || script.broken.load(Ordering::SeqCst) {
                        return Err(std::io::Error::other("connection refused"));
                    }
                    run.ready();
                    tokio::select! {
                        () = run.cancelled() => Ok(()),
                        () = script.crash.notified() => Err(std::io::Error::other("lost the connection")),
                    }
                }
            }
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name("flaky")
    .ready_when(ReadyWhen::Signalled)
    .build()?;
    let steady = StartStop::builder(
        |run: RunContext| async move {
            run.cancelled().await;
            Ok::<_, std::io::Error>(())
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name("steady")
    .build()?;

    let supervisor = Supervisor::builder()
        .name("app")
        .service(
            "flaky",
            flaky,
            ServiceOptions::new()
                .backoff(Backoff::new(
                    Duration::from_millis(20),
                    Duration::from_secs(1),
                    2.0,
                ))
                .stable_after(Duration::from_millis(200))
                .max_retries(0),
        )
        .service("steady", steady, ServiceOptions::new())
        .intensity(Intensity::new(6, Duration::from_secs(10)))
        .build()?;
    let mut events = supervisor.subscribe();

    // 1. A crash and two failed runs, backing off twice as long each time. (Had the very
    // first run failed, the supervisor's start would have failed: a service that cannot start
    // at all is a broken deployment, not a flaky one.)
    supervisor.start().await?;
    script.failing_runs.store(2, Ordering::SeqCst);
    script.crash.notify_one();
    println!("1. backoff");
    for expected in [20, 40, 80] {
        let delay = backing_off(&mut events).await;
        let millis = delay.as_secs_f64() * 1e3;
        println!("   restart in {millis:.1} ms (nominal {expected} ms ±25 %)");
        assert!((f64::from(expected) * 0.75..=f64::from(expected) * 1.25).contains(&millis));
    }
    until(&mut events, "ready", "flaky").await;
    println!(
        "   up after 3 restarts: {}",
        supervisor.health_status().services[0].state
    );

    // 2. Stable for longer than 200 ms, then one crash: the backoff starts over.
    tokio::time::sleep(Duration::from_millis(300)).await;
    script.crash.notify_one();
    let delay = backing_off(&mut events).await;
    println!("2. after a stable period the counter was reset: restart in {delay:?}");
    assert!(delay <= Duration::from_millis(25));
    until(&mut events, "ready", "flaky").await;

    // 3. Broken for good: restarts 5, 6, 7 within 10 s; the 7th trips the intensity.
    script.broken.store(true, Ordering::SeqCst);
    script.crash.notify_one();
    println!("3. broken for good");
    loop {
        match events.recv().await {
            Some(Ok(Event::BackingOff { attempt, delay, .. })) => {
                println!("   attempt {attempt}: restart in {delay:?}");
            }
            Some(Ok(event @ Event::IntensityTripped { .. })) => {
                println!("   {event}");
                break;
            }
            Some(_) => {}
            None => return Err("the supervisor is gone".into()),
        }
    }
    let seen = supervisor.wait_for(State::is_idle).await;
    println!("   supervisor: {} ({})", seen.state, supervisor.health());
    assert_eq!(seen.state, State::Failed);
    let error = supervisor
        .last_error()
        .ok_or("the supervisor recorded why it gave up")?;
    println!("   last error: {error}");
    assert!(matches!(&*error, Error::IntensityExceeded { service, .. } if service == "flaky"));
    let steady = &supervisor.health_status().services[1];
    assert!(steady.state.is_idle(), "every service was stopped");
    Ok(())
}

/// The delay of the next `backing-off` event.
async fn backing_off(events: &mut Events) -> Duration {
    loop {
        match events.recv().await {
            Some(Ok(Event::BackingOff { delay, .. })) => return delay,
            Some(_) => {}
            None => panic!("the supervisor is gone"),
        }
    }
}

/// Waits for the next event of `kind` about `service`.
async fn until(events: &mut Events, kind: &str, service: &str) {
    loop {
        match events.recv().await {
            Some(Ok(event)) if event.kind() == kind && event.service() == service => return,
            Some(_) => {}
            None => panic!("the supervisor is gone"),
        }
    }
}
