//! `PartitionedRunner` on the in-memory cluster, on the paused clock.

mod common;

use std::convert::Infallible;
use std::time::Duration;

use common::{cluster, until};
use runner_core::{Runner, State, Status};
use runner_kafka::{Message, OutRecord, PartitionedRunner, TopicPartition};

#[tokio::test(start_paused = true)]
async fn processes_every_record_commits_them_and_sends_the_outputs() {
    let cluster = cluster("orders", 3, 10);
    let runner = PartitionedRunner::builder(
        {
            let cluster = cluster.clone();
            move || Ok(cluster.client("billing"))
        },
        ["orders"],
        |_: &TopicPartition| {
            |order: Message<String, String>| async move {
                Ok::<_, Infallible>(vec![
                    OutRecord::new("totals")
                        .with_key(order.key)
                        .with_value(order.value),
                ])
            }
        },
    )
    .commit_interval(Duration::from_secs(1))
    .build()
    .unwrap();
    cluster.create_topic("totals", 1).unwrap();
    runner.start().await.unwrap();
    assert_eq!(runner.state(), State::Running);
    let seen = until(|| runner.metrics(), |m| m.processed == 30).await;
    assert_eq!(seen.consumed, 30);
    // The interval's commit covers everything processed.
    until(
        || runner.metrics(),
        |m| m.partitions.iter().all(|p| p.committed == Some(10)),
    )
    .await;
    for p in 0..3 {
        assert_eq!(
            cluster.committed("billing", &TopicPartition::new("orders", p)),
            Some(10)
        );
    }
    runner.stop().await.unwrap();
    assert_eq!(runner.state(), State::Stopped);
    assert_eq!(cluster.records(&TopicPartition::new("totals", 0)).len(), 30);
}
