//! Health of both runners on the in-memory cluster, on the paused clock: a partition whose
//! records wait while it makes no progress turns the runner unhealthy, and healthy again once
//! it moves; a partition paused for backpressure makes it degraded.

mod common;

use std::time::Duration;

use common::{
    Clients, Journal, Kind, Script, Setup, Step, TOPIC, cluster, processors, runner, three,
};
use runner_core::{Health, Runner, Status};
use tokio::time::{Instant, sleep_until, timeout};

three!(a_stuck_partition_makes_the_runner_unhealthy_until_it_moves);

async fn a_stuck_partition_makes_the_runner_unhealthy_until_it_moves(kind: Kind) {
    let cluster = cluster(TOPIC, 1, 4);
    let journal = Journal::new();
    // Record 2 takes 25.5 s.
    let factory = processors(&journal, "a", |message, _| {
        let took = if message.offset == 2 { 25_500 } else { 0 };
        Script::ok().after(Duration::from_millis(took))
    });
    let setup = Setup {
        commit_interval: Duration::from_secs(1),
        stuck_after: Duration::from_secs(10),
        ..Setup::default()
    };
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    let t0 = Instant::now();
    runner.start().await.unwrap();
    journal.reached("a", 0, 2, Step::Began).await;
    assert_eq!(t0.elapsed(), Duration::ZERO);

    let health_at = |secs: f64| {
        let runner = &runner;
        async move {
            sleep_until(t0 + Duration::from_secs_f64(secs)).await;
            runner.health()
        }
    };
    assert_eq!(health_at(9.9).await, Health::Healthy);
    // Checked on the interval: the first check at or after 10 s of no progress.
    let stuck = health_at(10.1).await;
    assert_eq!(
        stuck,
        Health::unhealthy("partition orders/0 has not moved for 10s while records wait")
    );
    assert!(runner.is_running(), "unhealthy, not stopped");
    let seen = runner.snapshot();
    assert_eq!(health_at(24.9).await, stuck);
    // Record 2 is done at 25.5 s; the check at 26 s sees it.
    let healthy = timeout(Duration::from_secs(2), runner.changed(seen.version))
        .await
        .expect("the change of health comes with a new version");
    assert!(healthy.state.is_running());
    assert_eq!(runner.health(), Health::Healthy);
    assert_eq!(t0.elapsed(), Duration::from_secs(26));
    runner.stop().await.unwrap();
}
