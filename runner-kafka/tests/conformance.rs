//! `SingleThreadedRunner` and `PartitionedRunner` keep every rule of the runner-core contract
//! that applies to them, on the in-memory cluster.
//!
//! The kit's work is the processing of a record: each run's client appends one record to the
//! topic as it is made, and the processor of a record runs `probe.run` until the runner is
//! stopping. So every run begins the work at least once (a record that failed is read again by
//! the next run, before the new one), a stop lets the record in flight finish (the drain), and
//! a run the kit makes fail fails its record, which fails the run.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use runner_core::conformance::{Ending, Kit, Probe, Rule};
use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_kafka::memory::MemoryCluster;
use runner_kafka::{
    Error, LifecycleError, Message, OutRecord, PartitionedRunner, Phase, ProcessorFactory,
    SingleThreadedRunner, TopicPartition,
};

const TOPIC: &str = "orders";

/// Where a processor finds its runner, to learn that it is stopping (set once it is built).
type Slot<R> = Arc<OnceLock<Weak<R>>>;

/// The processors: each record's work is `probe.run`, until the runner stops running.
fn probed<R>(probe: &Probe, slot: &Slot<R>) -> impl ProcessorFactory<(), ()>
where
    R: Status + Send + Sync + 'static,
{
    let (probe, slot) = (probe.clone(), Arc::clone(slot));
    move |_: &TopicPartition| {
        let (probe, slot) = (probe.clone(), Arc::clone(&slot));
        move |_: Message<(), ()>| {
            let (probe, slot) = (probe.clone(), Arc::clone(&slot));
            async move {
                let stopping = async {
                    if let Some(runner) = slot.get().and_then(Weak::upgrade) {
                        runner
                            .wait_for(|state| !matches!(state, State::Starting | State::Running))
                            .await;
                    }
                };
                probe.run(stopping).await.map(|()| Vec::<OutRecord>::new())
            }
        }
    }
}

/// A cluster with the topic, and a `make_client` that appends one record per run.
fn cluster() -> (
    MemoryCluster,
    impl Fn() -> Result<runner_kafka::memory::MemoryClient, runner_kafka::ClientError>
    + Send
    + Sync
    + 'static,
) {
    let cluster = MemoryCluster::new();
    cluster.create_topic(TOPIC, 1).expect("a new topic");
    let make = {
        let cluster = cluster.clone();
        move || {
            cluster
                .append(&TopicPartition::new(TOPIC, 0), "key", "value")
                .expect("the topic exists");
            Ok(cluster.client("conformance"))
        }
    };
    (cluster, make)
}

fn single(probe: Probe) -> Arc<SingleThreadedRunner> {
    let slot: Slot<SingleThreadedRunner> = Arc::default();
    let (_cluster, make) = cluster();
    let runner = Arc::new(
        SingleThreadedRunner::builder(make, [TOPIC], probed(&probe, &slot))
            .error_capacity(8)
            .build()
            .expect("valid settings"),
    );
    slot.set(Arc::downgrade(&runner)).expect("set once");
    runner
}

fn partitioned(probe: Probe) -> Arc<PartitionedRunner> {
    let slot: Slot<PartitionedRunner> = Arc::default();
    let (_cluster, make) = cluster();
    let runner = Arc::new(
        PartitionedRunner::builder(make, [TOPIC], probed(&probe, &slot))
            .error_capacity(8)
            .build()
            .expect("valid settings"),
    );
    slot.set(Arc::downgrade(&runner)).expect("set once");
    runner
}

/// A record whose work ends by itself is not the end of a Kafka runner's work: after `Ok` it
/// reads the next record and goes on running. So the rule about the work ending by itself does
/// not apply (what a runner does instead is checked below: an error or a panic fails the
/// record, which fails the run); every other rule does.
fn kit<R>(make: fn(Probe) -> R) -> Kit<fn(Probe) -> R>
where
    R: Runner + Status + ErrorHistory,
{
    Kit::new(make)
        .without([Rule::EndByItselfIsPublished])
        .deadline(Duration::from_secs(120), tokio::time::sleep)
}

#[tokio::test(start_paused = true)]
async fn the_single_threaded_runner_keeps_every_rule_that_applies() {
    let report = kit(single).run().await;
    report.assert_ok();
    assert_eq!(report.held().len(), Rule::ALL.len() - 1);
}

#[tokio::test(start_paused = true)]
async fn the_partitioned_runner_keeps_every_rule_that_applies() {
    let report = kit(partitioned).run().await;
    report.assert_ok();
    assert_eq!(report.held().len(), Rule::ALL.len() - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_keep_every_rule_on_a_multi_threaded_runtime() {
    kit(single).run().await.assert_ok();
    kit(partitioned).run().await.assert_ok();
}

/// The rule both skip, checked for what they do instead: a record whose work ends `Ok` by
/// itself is processed and the runner goes on; one that fails or panics fails the run, with
/// the record's failure (a processing error, not a panic of the runner).
async fn a_record_ending_by_itself<R>(make: fn(Probe) -> R)
where
    R: Runner<Error = LifecycleError> + Status + ErrorHistory<Recorded = LifecycleError>,
{
    let wait = Duration::from_secs(60);
    let probe = Probe::new();
    let runner = make(probe.clone());

    runner.start().await.unwrap();
    probe.entered_at_least(1).await;
    probe.end_by_itself(Ending::Ok);
    // Stopped and started again: the record was committed, the next run has a new one only.
    runner.restart().await.unwrap();
    probe.entered_at_least(2).await;
    assert_eq!(runner.state(), State::Running, "it went on");
    assert_eq!(runner.error_count(), 0);
    runner.stop().await.unwrap();

    for (ending, began) in [(Ending::Err, 3), (Ending::Panic, 4)] {
        runner.start().await.unwrap();
        probe.entered_at_least(began).await;
        probe.end_by_itself(ending);
        let seen = tokio::time::timeout(wait, runner.wait_for(State::is_idle))
            .await
            .expect("the run ends");
        assert_eq!(seen.state, State::Failed, "{ending}");
        assert!(
            matches!(runner.last_exit(), Some(Exit::Failed(_))),
            "{ending}: {:?}",
            runner.last_exit()
        );
        let last = runner.last_error().expect("recorded");
        let LifecycleError::Run(source) = &*last else {
            panic!("{ending}: {last}");
        };
        let Some(Error::RecordFailed { offset, phase, .. }) = source.downcast_ref::<Error>() else {
            panic!("{ending}: {source}");
        };
        // Runs 1 and 2 processed records 0 and 1; run 3 appended record 2 and failed it,
        // so run 4 reads it again first (and fails it again).
        assert_eq!((*offset, *phase), (2, Phase::Processing), "{ending}");
        runner.stop().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_ending_by_itself_single() {
    a_record_ending_by_itself(single).await;
}

#[tokio::test(start_paused = true)]
async fn a_record_ending_by_itself_partitioned() {
    a_record_ending_by_itself(partitioned).await;
}
