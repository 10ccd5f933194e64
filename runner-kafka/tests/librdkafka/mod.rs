//! Helpers shared by the tests on librdkafka itself (its mock cluster, a real broker): real
//! time, so every wait is bounded.

use std::future::Future;
use std::time::{Duration, Instant};

use runner_kafka::{Client, Event, KafkaClient, KafkaConfig, Record};
use tokio::time::timeout;

/// The longest any single step may take.
pub(crate) const WAIT: Duration = Duration::from_secs(120);

/// `future`'s output, or a panic naming `what` after [`WAIT`].
pub(crate) async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing after {WAIT:?}"))
}

/// The consumer settings of these tests, on the brokers `bootstrap`: fast heartbeats, so
/// leaving members are noticed soon.
pub(crate) fn config(bootstrap: &str, group: &str) -> KafkaConfig {
    KafkaConfig::new(bootstrap)
        .group_id(group)
        .set_consumer("session.timeout.ms", "6000")
        .set_consumer("heartbeat.interval.ms", "500")
}

/// Reads `topic` from the start with the group `group` (one of its own) until `count` records
/// arrived, or [`WAIT`].
pub(crate) async fn read_all(
    bootstrap: &str,
    group: &str,
    topic: &str,
    count: usize,
) -> Vec<Record> {
    let mut client = KafkaClient::new(&config(bootstrap, group)).unwrap();
    client.subscribe(&[topic.to_owned()]).unwrap();
    let mut records = Vec::new();
    let started = Instant::now();
    while records.len() < count && started.elapsed() < WAIT {
        // Assignments and transient errors are waited through.
        if let Ok(Event::Records(batch)) = bounded("read", client.poll()).await {
            records.extend(batch);
        }
    }
    let _ = client.close(Duration::from_secs(10)).await;
    records
}
