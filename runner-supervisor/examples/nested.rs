//! Supervisors nest: a supervisor is a runner, so it can be another supervisor's service.
//!
//! The `payments` supervisor runs a `gateway` that keeps failing. `payments` allows 2 restarts
//! within 10 s; the 3rd trips its intensity, so it gives up and fails: that is escalation. Its
//! parent, `app`, sees its service `payments` fail and restarts it per its own policy; `api`,
//! which requires `payments`, is stopped first and started again once `payments` is ready again
//! (rest_for_one along the `requires` edge). The second time round, the gateway holds.
//!
//! ```sh
//! cargo run -p runner-supervisor --example nested
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use runner_core::{Runner, Status};
use runner_startstop::{ReadyWhen, RunContext, StartStop};
use runner_supervisor::{Backoff, Event, Intensity, ServiceOptions, Supervisor};
use tokio::sync::Notify;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service that is ready at once and runs until stopped, crashing when `kick` is notified;
/// while `crashes` is above zero, its runs crash 5 ms after they are ready.
fn service(
    name: &'static str,
    crashes: Arc<AtomicU32>,
    kick: Arc<Notify>,
) -> Result<StartStop, BoxError> {
    Ok(StartStop::builder(
        move |run: RunContext| {
            let (crashes, kick) = (Arc::clone(&crashes), Arc::clone(&kick));
            async move {
                run.ready();
                let crash = crashes
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if crash {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                } else {
                    tokio::select! {
                        () = run.cancelled() => return Ok(()),
                        () = kick.notified() => {}
                    }
                }
                Err(std::io::Error::other(format!("{name}: upstream reset")))
            }
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name(name)
    .ready_when(ReadyWhen::Signalled)
    .build()?)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let fast = || {
        ServiceOptions::new().backoff(Backoff::new(
            Duration::from_millis(10),
            Duration::from_millis(100),
            2.0,
        ))
    };
    let (gateway_crashes, kick) = (Arc::new(AtomicU32::new(0)), Arc::new(Notify::new()));
    let payments = Arc::new(
        Supervisor::builder()
            .name("payments")
            .service(
                "gateway",
                service("gateway", Arc::clone(&gateway_crashes), Arc::clone(&kick))?,
                fast(),
            )
            .intensity(Intensity::new(2, Duration::from_secs(10)))
            .build()?,
    );
    let app = Supervisor::builder()
        .name("app")
        .service("payments", Arc::clone(&payments), fast())
        .service(
            "api",
            service("api", Arc::default(), Arc::default())?,
            fast().requires("payments"),
        )
        .build()?;
    let mut inner_events = payments.subscribe();
    let mut events = app.subscribe();

    app.start().await?;
    println!("app started: payments {}, api ready", payments.state());
    // From here on: what the failure brings about.
    while let Some(Ok(_)) = events.try_recv() {}
    // The gateway crashes, and its next two runs too: 3 restarts within 10 s, 1 too many.
    println!("the gateway starts failing:");
    gateway_crashes.store(2, Ordering::SeqCst);
    kick.notify_one();

    // Inside `payments`: the gateway's restarts, then the intensity trips.
    loop {
        match inner_events.recv().await {
            Some(Ok(event @ (Event::Exited { .. } | Event::IntensityTripped { .. }))) => {
                println!("  payments: {event}");
                if matches!(event, Event::IntensityTripped { .. }) {
                    break;
                }
            }
            Some(_) => {}
            None => return Err("payments is gone".into()),
        }
    }
    // In `app`: payments failed (escalation), api is stopped, payments restarted, api again.
    let mut api_ready = 0;
    while api_ready == 0 {
        match events.recv().await {
            Some(Ok(event)) => {
                println!("  app: {event}");
                if matches!(&event, Event::Ready { service } if &**service == "api") {
                    api_ready += 1;
                }
            }
            Some(Err(lagged)) => println!("  app: ({lagged})"),
            None => return Err("app is gone".into()),
        }
    }
    let status = app.health_status();
    for service in &status.services {
        println!(
            "  {:<9} {:<8} restarts={}",
            service.name, service.state, service.restarts
        );
    }
    assert_eq!(
        status.services[0].restarts, 1,
        "payments was restarted by its parent"
    );
    assert!(status.services.iter().all(|s| s.ready));
    app.stop().await?;
    println!("app: {}", app.state());
    Ok(())
}
