//! The runners over the rdkafka adapter, against librdkafka's in-process mock cluster: what
//! the deterministic tests show on the in-memory cluster, on the real client. Real time (the
//! mock runs librdkafka's threads); every wait is on an event, bounded.

mod librdkafka;

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::Duration;

use librdkafka::bounded;
use runner_core::{Runner, State, Status};
use runner_kafka::{
    ClientError, ClientErrorKind, ErrorAction, ErrorContext, KafkaClient, KafkaConfig,
    KafkaProducer, Message, MockKafka, OutRecord, PartitionedRunner, Producer, Record,
    TopicPartition, X_ERROR_MESSAGE, X_ERROR_PHASE, X_ORIGINAL_OFFSET, X_ORIGINAL_PARTITION,
    X_ORIGINAL_TOPIC,
};

fn config(kafka: &MockKafka, group: &str) -> KafkaConfig {
    librdkafka::config(kafka.bootstrap_servers(), group)
}

async fn read_all(kafka: &MockKafka, topic: &str, count: usize) -> Vec<Record> {
    librdkafka::read_all(
        kafka.bootstrap_servers(),
        &format!("reader-{topic}"),
        topic,
        count,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outputs_and_dead_letters_reach_the_broker_before_the_commit() {
    let kafka = MockKafka::new(1).unwrap();
    for topic in ["orders", "totals", "orders.dlq"] {
        kafka.create_topic(topic, 2).unwrap();
    }
    let producer = KafkaProducer::new(&config(&kafka, "unused")).unwrap();
    for n in 0..40 {
        // Every tenth order is not a number: the processor fails it, and it is dead-lettered.
        let value = if n % 10 == 3 {
            format!("bad-{n}")
        } else {
            n.to_string()
        };
        bounded(
            "produce",
            producer.send(
                OutRecord::new("orders")
                    .with_key(format!("k{}", n % 4))
                    .with_value(value)
                    .with_partition(n % 2),
            ),
        )
        .await
        .unwrap();
    }
    let runner = {
        let config = config(&kafka, "totals");
        PartitionedRunner::builder(
            move || {
                KafkaClient::new(&config)
                    .map_err(|e| ClientError::new(ClientErrorKind::Config, e.to_string()))
            },
            ["orders"],
            |_: &TopicPartition| {
                |order: Message<String, String>| async move {
                    let n: u64 = order.value.parse()?;
                    Ok::<_, std::num::ParseIntError>(vec![
                        OutRecord::new("totals")
                            .with_key(order.key)
                            .with_value((n * 2).to_string()),
                    ])
                }
            },
        )
        .processing_error_handler(|_: &ErrorContext<'_>| ErrorAction::SendToDlq {
            topic: "orders.dlq".into(),
        })
        .commit_interval(Duration::from_millis(200))
        .build()
        .unwrap()
    };
    bounded("start", runner.start()).await.unwrap();
    for _ in 0..600 {
        let m = runner.metrics();
        if m.processed + m.dead_lettered == 40
            && m.partitions
                .iter()
                .map(|p| p.committed.unwrap_or(0))
                .sum::<i64>()
                == 40
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = runner.metrics();
    assert_eq!((m.processed, m.dead_lettered), (36, 4), "{m:?}");
    bounded("stop", runner.stop()).await.unwrap();
    assert_eq!(runner.state(), State::Stopped);

    // Everything committed had its outputs on the broker.
    let totals = read_all(&kafka, "totals", 36).await;
    assert_eq!(totals.len(), 36);
    let dead = read_all(&kafka, "orders.dlq", 4).await;
    let header =
        |r: &Record, name: &str| String::from_utf8(r.header(name).unwrap().to_vec()).unwrap();
    let offsets: BTreeSet<(String, String)> = dead
        .iter()
        .map(|r| {
            (
                header(r, X_ORIGINAL_PARTITION),
                header(r, X_ORIGINAL_OFFSET),
            )
        })
        .collect();
    assert_eq!(offsets.len(), 4, "{offsets:?}");
    for record in &dead {
        assert_eq!(header(record, X_ORIGINAL_TOPIC), "orders");
        assert_eq!(header(record, X_ERROR_PHASE), "processing");
        assert!(
            header(record, X_ERROR_MESSAGE).contains("invalid digit"),
            "{}",
            header(record, X_ERROR_MESSAGE)
        );
        assert!(
            String::from_utf8(record.value.clone().unwrap())
                .unwrap()
                .starts_with("bad-")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_member_takes_over_what_the_first_committed() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("events", 4).unwrap();
    let producer = KafkaProducer::new(&config(&kafka, "unused")).unwrap();
    for n in 0..80 {
        bounded(
            "produce",
            producer.send(
                OutRecord::new("events")
                    .with_value(n.to_string())
                    .with_partition(n % 4),
            ),
        )
        .await
        .unwrap();
    }
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u32>::new()));
    let runner = |name: &'static str| {
        let (config, seen) = (config(&kafka, "events"), std::sync::Arc::clone(&seen));
        PartitionedRunner::builder(
            move || {
                KafkaClient::new(&config)
                    .map_err(|e| ClientError::new(ClientErrorKind::Config, e.to_string()))
            },
            ["events"],
            move |_: &TopicPartition| {
                let seen = std::sync::Arc::clone(&seen);
                move |event: Message<(), String>| {
                    seen.lock().unwrap().push(event.value.parse().unwrap());
                    async { Ok::<_, Infallible>(Vec::new()) }
                }
            },
        )
        .name(name)
        .commit_interval(Duration::from_millis(200))
        .build()
        .unwrap()
    };
    let first = runner("first");
    bounded("first start", first.start()).await.unwrap();
    for _ in 0..600 {
        if first.metrics().processed >= 80 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Wait for the interval commit to cover it all, then a second member joins.
    for _ in 0..600 {
        if first
            .metrics()
            .partitions
            .iter()
            .map(|p| p.committed.unwrap_or(0))
            .sum::<i64>()
            == 80
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let second = runner("second");
    bounded("second start", second.start()).await.unwrap();
    for n in 80..120 {
        bounded(
            "produce",
            producer.send(
                OutRecord::new("events")
                    .with_value(n.to_string())
                    .with_partition(n % 4),
            ),
        )
        .await
        .unwrap();
    }
    for _ in 0..600 {
        if seen.lock().unwrap().iter().collect::<BTreeSet<_>>().len() >= 120 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bounded("stop first", first.stop()).await.unwrap();
    bounded("stop second", second.stop()).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    let distinct: BTreeSet<u32> = seen.iter().copied().collect();
    assert_eq!(distinct.len(), 120, "nothing lost");
    assert!(
        second.metrics().processed > 0,
        "the second member took partitions over"
    );
    // What the first committed before the rebalance is not read again.
    let again = seen.iter().filter(|&&n| n < 80).count();
    assert_eq!(
        again, 80,
        "records committed before the rebalance were processed once"
    );
}
