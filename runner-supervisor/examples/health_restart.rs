//! Health-driven restarts: a service whose `health()` turns Unhealthy and stays so for its
//! liveness grace is restarted per its policy, like Kubernetes' liveness probe, but from the
//! service's own health change (the supervisor awaits it; nothing polls).
//!
//! - `cache` turns unhealthy ("evictions stuck") 20 ms after each start, and stays so: after
//!   its 100 ms grace the supervisor restarts it. Its second run stays healthy.
//! - `feed` is unhealthy for 30 ms and recovers well within its 2 s grace: it is left alone.
//!
//! ```sh
//! cargo run -p runner-supervisor --example health_restart
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use runner_core::{Health, Runner};
use runner_startstop::{ReadyWhen, RunContext, StartStop};
use runner_supervisor::{Backoff, Event, ServiceOptions, Supervisor};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let cache_runs = Arc::new(AtomicU32::new(0));
    let cache = StartStop::builder(
        {
            let runs = Arc::clone(&cache_runs);
            move |run: RunContext| {
                let first = runs.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    run.ready();
                    if first {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        run.set_health(Health::unhealthy("evictions stuck"));
                    }
                    run.cancelled().await;
                    Ok::<_, std::io::Error>(())
                }
            }
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name("cache")
    .ready_when(ReadyWhen::Signalled)
    .build()?;
    let feed = StartStop::builder(
        |run: RunContext| async move {
            run.ready();
            tokio::time::sleep(Duration::from_millis(10)).await;
            run.set_health(Health::unhealthy("upstream slow"));
            tokio::time::sleep(Duration::from_millis(30)).await;
            run.set_health(Health::Healthy);
            run.cancelled().await;
            Ok::<_, std::io::Error>(())
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name("feed")
    .ready_when(ReadyWhen::Signalled)
    .build()?;

    // A restart for ill health backs off like any other (Kubernetes' CrashLoopBackOff).
    let options = ServiceOptions::new()
        .liveness_grace(Some(Duration::from_millis(100)))
        .backoff(Backoff::new(
            Duration::from_millis(50),
            Duration::from_secs(5),
            2.0,
        ));
    let supervisor = Supervisor::builder()
        .service("cache", cache, options.clone())
        .service(
            "feed",
            feed,
            options.liveness_grace(Some(Duration::from_secs(2))),
        )
        .build()?;
    let mut events = supervisor.subscribe();
    supervisor.start().await?;

    // Until the cache is ready again after its restart.
    let mut cache_ready = 0;
    while cache_ready < 2 {
        match events.recv().await {
            Some(Ok(event)) => {
                println!("{event}");
                if matches!(&event, Event::Ready { service } if &**service == "cache") {
                    cache_ready += 1;
                }
            }
            Some(Err(lagged)) => println!("({lagged})"),
            None => return Err("the supervisor is gone".into()),
        }
    }
    let status = supervisor.health_status();
    for service in &status.services {
        println!(
            "{:<6} {:<8} {:<10} restarts={}",
            service.name, service.state, service.health, service.restarts
        );
    }
    assert_eq!(status.services[0].restarts, 1, "the cache was restarted");
    assert_eq!(status.services[1].restarts, 0, "the feed recovered in time");
    assert!(status.health.is_healthy(), "{}", status.health);
    supervisor.stop().await?;
    Ok(())
}
