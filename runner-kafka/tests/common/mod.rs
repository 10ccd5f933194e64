//! Helpers shared by the runner tests: a cluster with a topic of records, and bounded waits on
//! the paused clock.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::time::Duration;

use runner_kafka::memory::MemoryCluster;
use runner_kafka::{MetricsSnapshot, TopicPartition};

/// A cluster with topic `topic` of `partitions` partitions, `per_partition` records in each:
/// key `k{p}-{i}`, value `i` (as text).
pub(crate) fn cluster(topic: &str, partitions: i32, per_partition: usize) -> MemoryCluster {
    let cluster = MemoryCluster::new();
    cluster.create_topic(topic, partitions).unwrap();
    for p in 0..partitions {
        let tp = TopicPartition::new(topic, p);
        for i in 0..per_partition {
            cluster
                .append(&tp, format!("k{p}-{i}"), i.to_string())
                .unwrap();
        }
    }
    cluster
}

/// Waits (on tokio's clock, paused in these tests) until `done` holds of the runner's metrics;
/// panics after 600 s of that clock.
pub(crate) async fn until(
    metrics: impl Fn() -> MetricsSnapshot,
    done: impl Fn(&MetricsSnapshot) -> bool,
) -> MetricsSnapshot {
    for _ in 0..60_000 {
        let seen = metrics();
        if done(&seen) {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not reached within 600 s: {:?}", metrics());
}
