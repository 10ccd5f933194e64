//! The rdkafka adapter against librdkafka's in-process mock cluster ([`MockKafka`], loopback
//! only): records, commits, rebalances (eager and cooperative), a broker going down, injected
//! commit and produce errors, and the producer.
//!
//! librdkafka runs on real time, so these tests do too: every wait is on an event, bounded by a
//! generous timeout, never a fixed sleep. A group's first join takes about 3 s on the mock
//! cluster; the whole file takes about 30 s on two cores.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::time::{Duration, Instant};

use runner_kafka::{
    Client, ClientError, ClientErrorKind, Event, InjectedError, KafkaClient, KafkaConfig,
    KafkaProducer, MockKafka, MockRequest, OutRecord, Producer, Record, TopicPartition,
};
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;

/// The bound of one wait for something the cluster does within seconds.
const WAIT: Duration = Duration::from_secs(30);

/// The bound of a client's close.
const CLOSE: Duration = Duration::from_secs(10);

/// A consumer configuration for `group` on `kafka`, with the short session the mock cluster
/// needs for rebalances in seconds (kafka-notes §2).
fn config(kafka: &MockKafka, group: &str) -> KafkaConfig {
    KafkaConfig::new(kafka.bootstrap_servers())
        .group_id(group)
        .set_consumer("session.timeout.ms", "6000")
        .set_consumer("heartbeat.interval.ms", "500")
}

/// Awaits `future`, failing the test after `bound`.
async fn bounded<T>(what: &str, bound: Duration, future: impl Future<Output = T>) -> T {
    match timeout(bound, future).await {
        Ok(value) => value,
        Err(_) => panic!("{what}: nothing after {bound:?}"),
    }
}

/// Sends `count` records to `topic`, keyed `k0`..`k4`, valued `{prefix}{n}`, each with two
/// headers, and waits for every acknowledgement.
async fn produce(producer: &KafkaProducer, topic: &str, prefix: &str, count: usize) {
    produce_to(producer, topic, prefix, count, None).await;
}

/// As [`produce`]; with `partitions`, record `n` goes to partition `n % partitions`.
async fn produce_to(
    producer: &KafkaProducer,
    topic: &str,
    prefix: &str,
    count: usize,
    partitions: Option<i32>,
) {
    let acks: Vec<_> = (0..count)
        .map(|n| {
            let record = OutRecord::new(topic)
                .with_key(format!("k{}", n % 5))
                .with_value(format!("{prefix}{n}"))
                .with_header("n", n.to_string())
                .with_header("empty", "");
            producer.send(match partitions {
                Some(partitions) => record.with_partition(n as i32 % partitions),
                None => record,
            })
        })
        .collect();
    for ack in acks {
        bounded("send", WAIT, ack).await.expect("send");
    }
}

/// The value of `record` as text.
fn value(record: &Record) -> String {
    String::from_utf8(record.value.clone().unwrap_or_default()).expect("utf-8 value")
}

/// What a test saw of a client, in order.
#[derive(Debug, Default)]
struct Seen {
    assigned: Vec<Vec<TopicPartition>>,
    records: Vec<Record>,
    errors: Vec<ClientError>,
}

/// Polls `client` until `count` records have come, within [`WAIT`]. Revokes are released at
/// once. Each poll is cut short after a few milliseconds, to show that a dropped poll loses
/// nothing.
async fn consume(client: &mut KafkaClient, count: usize) -> Seen {
    let mut seen = Seen::default();
    let deadline = Instant::now() + WAIT;
    while seen.records.len() < count {
        assert!(
            Instant::now() < deadline,
            "{} of {count} records after {WAIT:?}: {seen:?}",
            seen.records.len()
        );
        let Ok(event) = timeout(Duration::from_millis(5), client.poll()).await else {
            continue;
        };
        match event {
            Ok(Event::Records(records)) => seen.records.extend(records),
            Ok(Event::Assigned(partitions)) => seen.assigned.push(partitions),
            Ok(_) => {}
            Err(error) => seen.errors.push(error),
        }
    }
    seen
}

#[tokio::test]
async fn produced_records_are_consumed_with_offsets_keys_and_headers() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("t1", 3).unwrap();
    let mut client = KafkaClient::new(&config(&kafka, "g1")).unwrap();
    produce(&client.producer(), "t1", "v", 30).await;

    client.subscribe(&["t1".to_owned()]).unwrap();
    let joined = Instant::now();
    let seen = consume(&mut client, 30).await;
    eprintln!("t1: 30 records {:?} after subscribe", joined.elapsed());

    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    let assigned: BTreeSet<_> = seen.assigned.concat().into_iter().collect();
    assert_eq!(assigned.len(), 3, "{:?}", seen.assigned);
    assert_eq!(client.assignment().len(), 3);
    assert_eq!(seen.records.len(), 30);
    // Offsets are contiguous from 0 in each partition; a key's records keep their order.
    let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    let mut by_key: HashMap<Vec<u8>, Vec<usize>> = HashMap::new();
    for record in &seen.records {
        assert_eq!(&*record.topic, "t1");
        assert!(record.timestamp.is_some());
        offsets
            .entry(record.partition)
            .or_default()
            .push(record.offset);
        let n: usize = value(record)[1..].parse().unwrap();
        assert_eq!(record.header("n"), Some(n.to_string().as_bytes()));
        assert_eq!(record.header("empty"), Some(&b""[..]));
        assert_eq!(record.headers.len(), 2);
        by_key
            .entry(record.key.clone().unwrap())
            .or_default()
            .push(n);
    }
    for offsets in offsets.values() {
        let expected: Vec<i64> = (0..offsets.len() as i64).collect();
        assert_eq!(offsets, &expected);
    }
    for ns in by_key.values() {
        assert!(ns.is_sorted(), "{ns:?}");
    }
    bounded("close", CLOSE, client.close(CLOSE)).await.unwrap();
}

#[tokio::test]
async fn a_new_member_resumes_after_the_committed_offset() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("t2", 1).unwrap();
    let tp = TopicPartition::new("t2", 0);
    let mut first = KafkaClient::new(&config(&kafka, "g2")).unwrap();
    produce(&first.producer(), "t2", "v", 10).await;
    first.subscribe(&["t2".to_owned()]).unwrap();
    let seen = consume(&mut first, 10).await;
    assert_eq!(seen.records.len(), 10);
    // Records 0..=5 processed: the next one to read is 6.
    bounded("commit", WAIT, first.commit(vec![(tp.clone(), 6)]))
        .await
        .unwrap();
    bounded("close", CLOSE, first.close(CLOSE)).await.unwrap();

    let mut second = KafkaClient::new(&config(&kafka, "g2")).unwrap();
    second.subscribe(&["t2".to_owned()]).unwrap();
    let seen = consume(&mut second, 4).await;
    let offsets: Vec<i64> = seen.records.iter().map(|r| r.offset).collect();
    assert_eq!(offsets, [6, 7, 8, 9]);
    bounded("close", CLOSE, second.close(CLOSE)).await.unwrap();
}

/// What a member of a group did, as reported by [`member`].
#[derive(Debug)]
enum Saw {
    Assigned(&'static str, Vec<TopicPartition>),
    Revoked(&'static str, Vec<TopicPartition>, bool),
    Committed(&'static str, Result<(), ClientError>),
    Releasing(&'static str),
    Records(&'static str, Vec<Record>),
    Error(&'static str, ClientError),
}

/// When a [`member`] commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Commits {
    /// Only on a revoke, during its barrier: that commit must succeed.
    OnRevoke,
    /// After each batch too (as a runner on a short interval). The mock cluster refuses a
    /// commit during an eager revoke with `REBALANCE_IN_PROGRESS` (its group is then in its
    /// `JOINING` state, where a real broker's `PreparingRebalance` accepts commits of the
    /// current generation): the commits after each batch keep duplicates away there.
    AfterEachBatch,
}

/// A member of a group: it "processes" each record as it comes, commits as `commits` says, and
/// on a revoke pauses the revoked partitions and commits their next offsets before it releases
/// the barrier.
/// Reports everything on `saw` until `stop`.
async fn member(
    name: &'static str,
    mut client: KafkaClient,
    commits: Commits,
    saw: mpsc::UnboundedSender<Saw>,
    mut stop: watch::Receiver<bool>,
) -> KafkaClient {
    let mut next: HashMap<TopicPartition, i64> = HashMap::new();
    loop {
        let event = tokio::select! {
            _ = stop.changed() => return client,
            event = client.poll() => event,
        };
        let report = match event {
            Ok(Event::Records(records)) => {
                for record in &records {
                    next.insert(record.topic_partition(), record.offset + 1);
                }
                if commits == Commits::AfterEachBatch {
                    let offsets = next
                        .iter()
                        .map(|(tp, offset)| (tp.clone(), *offset))
                        .collect();
                    let committed =
                        timeout(WAIT, client.commit(offsets))
                            .await
                            .unwrap_or_else(|_| {
                                Err(ClientError::new(ClientErrorKind::Timeout, "test bound"))
                            });
                    if committed.is_err() {
                        let _ = saw.send(Saw::Committed(name, committed));
                    }
                }
                Saw::Records(name, records)
            }
            Ok(Event::Assigned(partitions)) => Saw::Assigned(name, partitions),
            Ok(Event::Revoked {
                partitions,
                lost,
                barrier,
            }) => {
                let _ = saw.send(Saw::Revoked(name, partitions.clone(), lost));
                // Stop fetching what goes. The pause must not outlive the revoke: a partition
                // given back later fetches again (librdkafka alone would keep it paused).
                client.pause(&partitions).expect("pause in the barrier");
                if !lost {
                    let offsets = partitions
                        .iter()
                        .filter_map(|tp| next.remove(tp).map(|offset| (tp.clone(), offset)))
                        .collect();
                    let committed =
                        timeout(WAIT, client.commit(offsets))
                            .await
                            .unwrap_or_else(|_| {
                                Err(ClientError::new(ClientErrorKind::Timeout, "test bound"))
                            });
                    let _ = saw.send(Saw::Committed(name, committed));
                }
                let _ = saw.send(Saw::Releasing(name));
                barrier.done();
                continue;
            }
            Ok(other) => panic!("unexpected event {other:?}"),
            Err(error) => Saw::Error(name, error),
        };
        let _ = saw.send(report);
    }
}

/// Two members of one group on `topic` (6 partitions), the second joining once the first has
/// read a first wave of records, a second wave produced to every partition once the second
/// member has partitions: every record of both waves is read once, both members read some of
/// the second wave, and the first member's revoke (with its commit and barrier) comes before
/// the second member gets partitions. Returns what the members saw.
async fn two_members(topic: &str, config: KafkaConfig, commits: Commits) -> Vec<Saw> {
    let producer = KafkaProducer::new(&config).unwrap();
    produce(&producer, topic, "a", 300).await;
    let (saw_tx, mut saw) = mpsc::unbounded_channel();
    let (stop_tx, stop) = watch::channel(false);

    let mut first = KafkaClient::new(&config).unwrap();
    first.subscribe(&[topic.to_owned()]).unwrap();
    let started = Instant::now();
    let first = tokio::spawn(member(
        "first",
        first,
        commits,
        saw_tx.clone(),
        stop.clone(),
    ));
    let mut log = Vec::new();
    let mut values: Vec<String> = Vec::new();
    while values.len() < 300 {
        let next = bounded("first member's records", WAIT, saw.recv())
            .await
            .unwrap();
        if let Saw::Records(_, records) = &next {
            values.extend(records.iter().map(value));
        }
        log.push(next);
    }
    eprintln!(
        "{topic}: first member read wave a in {:?}",
        started.elapsed()
    );

    let mut second = KafkaClient::new(&config).unwrap();
    second.subscribe(&[topic.to_owned()]).unwrap();
    let joined = Instant::now();
    let second = tokio::spawn(member("second", second, commits, saw_tx, stop));
    let mut second_assigned = None;
    let mut second_read = 0;
    let mut first_read_b = 0;
    while values.len() < 600 || second_assigned.is_none() {
        let next = bounded("the rebalance", WAIT, saw.recv()).await.unwrap();
        match &next {
            Saw::Records(name, records) => {
                values.extend(records.iter().map(value));
                if *name == "second" {
                    second_read += records.len();
                } else {
                    first_read_b += records.iter().filter(|r| value(r).starts_with('b')).count();
                }
            }
            Saw::Assigned("second", _) if second_assigned.is_none() => {
                second_assigned = Some(joined.elapsed());
                produce_to(&producer, topic, "b", 300, Some(6)).await;
            }
            Saw::Revoked("first", ..) => {
                eprintln!(
                    "{topic}: first member revoked {:?} after the join",
                    joined.elapsed()
                );
            }
            _ => {}
        }
        log.push(next);
    }
    eprintln!("{topic}: second member assigned {second_assigned:?} after its join");
    assert!(second_read > 0, "{log:#?}");
    // The first member's partitions, paused in the revoke and given back, fetch again.
    assert!(first_read_b > 0, "{log:#?}");

    stop_tx.send(true).unwrap();
    for member in [first, second] {
        let client = bounded("member's end", WAIT, member).await.unwrap();
        bounded("close", CLOSE, client.close(CLOSE)).await.unwrap();
    }

    for saw in &log {
        match saw {
            Saw::Records(name, records) => eprintln!(
                "{topic}: {name}: {} records {:?}",
                records.len(),
                records
                    .iter()
                    .map(|r| (r.partition, r.offset))
                    .take(3)
                    .collect::<Vec<_>>()
            ),
            other => eprintln!("{topic}: {other:?}"),
        }
    }
    // Every record read, none twice (the revoked partitions were committed before release).
    let mut expected: Vec<String> = (0..300)
        .flat_map(|n| [format!("a{n}"), format!("b{n}")])
        .collect();
    expected.sort();
    values.sort();
    assert_eq!(values, expected);

    // The first member's revoke, its commit and its release come before the second member's
    // assignment.
    let at = |wanted: &dyn Fn(&Saw) -> bool| log.iter().position(wanted);
    let revoked = at(&|saw| matches!(saw, Saw::Revoked("first", _, false))).expect("a revoke");
    let released = at(&|saw| matches!(saw, Saw::Releasing("first"))).expect("a release");
    let assigned = at(&|saw| matches!(saw, Saw::Assigned("second", _))).expect("an assign");
    assert!(revoked < released && released < assigned, "{log:#?}");
    for saw in &log {
        match (saw, commits) {
            (Saw::Committed(_, Ok(())), _) => {}
            (Saw::Committed(_, Err(error)), Commits::AfterEachBatch)
                if error.kind() == ClientErrorKind::Rebalancing => {}
            (Saw::Committed(name, Err(error)) | Saw::Error(name, error), _) => {
                panic!("{name}: {error}")
            }
            _ => {}
        }
    }
    log
}

/// The partitions each member holds at the end of `log`, by applying its events.
fn holdings(log: &[Saw]) -> HashMap<&'static str, BTreeSet<TopicPartition>> {
    let mut held: HashMap<&'static str, BTreeSet<TopicPartition>> = HashMap::new();
    for saw in log {
        match saw {
            Saw::Assigned(name, partitions) => {
                held.entry(name)
                    .or_default()
                    .extend(partitions.iter().cloned());
            }
            Saw::Revoked(name, partitions, _) => {
                let held = held.entry(name).or_default();
                for tp in partitions {
                    held.remove(tp);
                }
            }
            _ => {}
        }
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eager_rebalance_revokes_with_a_barrier_and_loses_nothing() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("t3", 6).unwrap();
    let log = two_members("t3", config(&kafka, "g3"), Commits::AfterEachBatch).await;
    // Eager: the first member's revoke takes all six partitions.
    let first_revoke = log
        .iter()
        .find_map(|saw| match saw {
            Saw::Revoked("first", partitions, _) => Some(partitions.len()),
            _ => None,
        })
        .unwrap();
    assert_eq!(first_revoke, 6);
    let held = holdings(&log);
    assert_eq!(held["first"].len() + held["second"].len(), 6, "{held:?}");
    assert!(held["first"].is_disjoint(&held["second"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cooperative_rebalance_revokes_only_what_moves() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("t4", 6).unwrap();
    let config = config(&kafka, "g4")
        .set_consumer("partition.assignment.strategy", "cooperative-sticky")
        .set_consumer("session.timeout.ms", "3000");
    let log = two_members("t4", config, Commits::OnRevoke).await;
    let revokes: Vec<usize> = log
        .iter()
        .filter_map(|saw| match saw {
            Saw::Revoked("first", partitions, _) => Some(partitions.len()),
            _ => None,
        })
        .collect();
    // Only the partitions that move are revoked, never all six.
    assert!(revokes.iter().all(|&n| n < 6), "{revokes:?}");
    let held = holdings(&log);
    assert!(
        !held["first"].is_empty() && !held["second"].is_empty(),
        "{held:?}"
    );
    assert_eq!(held["first"].len() + held["second"].len(), 6, "{held:?}");
    assert!(held["first"].is_disjoint(&held["second"]));
}

#[tokio::test]
async fn a_broker_down_then_up_reports_transient_errors_and_loses_nothing() {
    let kafka = MockKafka::new(3).unwrap();
    kafka.create_topic("t5", 3).unwrap();
    let mut client = KafkaClient::new(&config(&kafka, "g5")).unwrap();
    let producer = client.producer();
    produce(&producer, "t5", "a", 30).await;
    client.subscribe(&["t5".to_owned()]).unwrap();
    let mut seen = consume(&mut client, 30).await;

    kafka.broker_down(1).unwrap();
    let down = Instant::now();
    // Queued now, acknowledged once their leaders are up.
    let acks: Vec<_> = (0..30)
        .map(|n| producer.send(OutRecord::new("t5").with_value(format!("b{n}"))))
        .collect();
    // While the broker is down: records from the other brokers' partitions, transient errors,
    // or nothing, until the first error or for a few seconds.
    while seen.errors.is_empty() && down.elapsed() < Duration::from_secs(3) {
        match timeout(Duration::from_millis(100), client.poll()).await {
            Ok(Ok(Event::Records(records))) => seen.records.extend(records),
            Ok(Ok(_)) | Err(_) => {}
            Ok(Err(error)) => seen.errors.push(error),
        }
    }
    eprintln!(
        "t5: while down, {:?} after {:?}",
        seen.errors.first(),
        down.elapsed()
    );
    kafka.broker_up(1).unwrap();
    let up = Instant::now();
    for ack in acks {
        bounded("send after broker up", WAIT, ack).await.unwrap();
    }
    let rest = consume(&mut client, 60 - seen.records.len()).await;
    eprintln!("t5: all records {:?} after broker up", up.elapsed());
    seen.records.extend(rest.records);
    seen.errors.extend(rest.errors);

    for error in &seen.errors {
        assert!(error.is_transient(), "{error}");
    }
    let mut values: Vec<String> = seen.records.iter().map(value).collect();
    values.sort();
    let mut expected: Vec<String> = (0..30)
        .flat_map(|n| [format!("a{n}"), format!("b{n}")])
        .collect();
    expected.sort();
    assert_eq!(values, expected);
    bounded("close", CLOSE, client.close(CLOSE)).await.unwrap();
}

#[tokio::test]
async fn an_injected_commit_error_comes_back_as_rebalancing() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("t6", 1).unwrap();
    let mut client = KafkaClient::new(&config(&kafka, "g6")).unwrap();
    produce(&client.producer(), "t6", "v", 1).await;
    client.subscribe(&["t6".to_owned()]).unwrap();
    let seen = consume(&mut client, 1).await;
    let next = vec![(
        seen.records[0].topic_partition(),
        seen.records[0].offset + 1,
    )];

    kafka
        .inject_errors(
            MockRequest::OffsetCommit,
            &[InjectedError::RebalanceInProgress],
        )
        .unwrap();
    let refused = bounded("commit", WAIT, client.commit(next.clone()))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ClientErrorKind::Rebalancing, "{refused}");
    bounded("commit", WAIT, client.commit(next)).await.unwrap();
    bounded("close", CLOSE, client.close(CLOSE)).await.unwrap();
}

#[tokio::test]
async fn sends_resolve_once_acknowledged_despite_retried_errors_and_keep_headers() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("t7", 1).unwrap();
    let producer = KafkaProducer::new(&KafkaConfig::new(kafka.bootstrap_servers())).unwrap();
    kafka
        .inject_errors(
            MockRequest::Produce,
            &[
                InjectedError::NotLeaderForPartition,
                InjectedError::RequestTimedOut,
            ],
        )
        .unwrap();
    let record = OutRecord::new("t7")
        .with_key("k")
        .with_value("v")
        .with_header("trace", [0u8, 1, 2, 255])
        .with_header("trace", "again");
    bounded("send", WAIT, producer.send(record)).await.unwrap();
    bounded("flush", WAIT, producer.flush(Duration::from_secs(10)))
        .await
        .unwrap();
    // Acknowledged: in the log, once, with its headers as sent.
    let mut client = KafkaClient::new(&config(&kafka, "g7")).unwrap();
    client.subscribe(&["t7".to_owned()]).unwrap();
    let seen = consume(&mut client, 1).await;
    let got = &seen.records[0];
    assert_eq!(got.offset, 0);
    assert_eq!(got.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(
        got.headers,
        [
            ("trace".to_owned(), vec![0u8, 1, 2, 255]),
            ("trace".to_owned(), b"again".to_vec())
        ]
    );
    bounded("close", CLOSE, client.close(CLOSE)).await.unwrap();
    // An unknown partition is refused, not waited on for ever.
    let refused = bounded(
        "send",
        WAIT,
        producer.send(OutRecord::new("t7").with_partition(9)),
    )
    .await
    .unwrap_err();
    eprintln!("t7: partition 9: {refused}");
}

#[tokio::test]
async fn requests_a_client_cannot_serve_are_typed_errors() {
    // No broker needed: nothing here reaches the network.
    let mut client = KafkaClient::new(&KafkaConfig::new("127.0.0.1:1").group_id("g8")).unwrap();
    let error = client.subscribe(&[]).unwrap_err();
    assert_eq!(error.kind(), ClientErrorKind::Config);
    let error = client.subscribe(&[String::new()]).unwrap_err();
    assert_eq!(error.kind(), ClientErrorKind::Config);
    let unassigned = [TopicPartition::new("t8", 0)];
    assert_eq!(
        client.pause(&unassigned).unwrap_err().kind(),
        ClientErrorKind::Rebalancing
    );
    assert_eq!(
        client.resume(&unassigned).unwrap_err().kind(),
        ClientErrorKind::Rebalancing
    );
    let error = client
        .commit(vec![(TopicPartition::new("t8", 0), -1)])
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ClientErrorKind::Config);
    bounded("commit nothing", WAIT, client.commit(Vec::new()))
        .await
        .unwrap();
    bounded("close", CLOSE, client.close(CLOSE)).await.unwrap();
}

#[tokio::test]
async fn a_revoke_serves_commits_while_its_barrier_is_held_until_the_budget() {
    let kafka = MockKafka::new(1).unwrap();
    kafka.create_topic("t9a", 1).unwrap();
    kafka.create_topic("t9b", 1).unwrap();
    let budget = Duration::from_secs(2);
    let config = config(&kafka, "g9")
        .set_consumer("session.timeout.ms", "3000")
        .revoke_budget(budget);
    let mut client = KafkaClient::new(&config).unwrap();
    produce(&client.producer(), "t9a", "v", 1).await;
    client.subscribe(&["t9a".to_owned()]).unwrap();
    consume(&mut client, 1).await;
    let old = TopicPartition::new("t9a", 0);
    let new = TopicPartition::new("t9b", 0);

    // A new subscription revokes the old partition (eager): the barrier is held on purpose.
    client.subscribe(&["t9b".to_owned()]).unwrap();
    let (barrier, revoked_at) = bounded("the revoke", WAIT, async {
        loop {
            if let Event::Revoked {
                partitions,
                lost,
                barrier,
            } = client.poll().await.unwrap()
            {
                assert_eq!((partitions, lost), (vec![old.clone()], false));
                return (barrier, Instant::now());
            }
        }
    })
    .await;
    // While it is held, the partition is still assigned, and requests are served.
    assert_eq!(client.assignment(), std::slice::from_ref(&old));
    client.pause(std::slice::from_ref(&old)).unwrap();
    client.resume(std::slice::from_ref(&old)).unwrap();
    match bounded(
        "commit in the barrier",
        WAIT,
        client.commit(vec![(old.clone(), 1)]),
    )
    .await
    {
        Ok(()) => {}
        // The mock group is joining again by now: see `Commits::AfterEachBatch`.
        Err(error) => assert_eq!(error.kind(), ClientErrorKind::Rebalancing, "{error}"),
    }
    // The budget spent, the partitions go without the barrier, and the new one comes.
    let assigned = bounded("the new assignment", WAIT, async {
        loop {
            if let Event::Assigned(partitions) = client.poll().await.unwrap() {
                return partitions;
            }
        }
    })
    .await;
    let waited = revoked_at.elapsed();
    eprintln!("t9: assigned {waited:?} after the revoke, barrier held");
    assert_eq!(assigned, std::slice::from_ref(&new));
    assert!(waited >= budget - Duration::from_millis(500), "{waited:?}");
    assert_eq!(client.assignment(), [new]);
    // A barrier released after its budget changes nothing.
    barrier.done();
    bounded("close", CLOSE, client.close(CLOSE)).await.unwrap();
}
