//! Both runners on the in-memory cluster, on the paused clock: what each error action does in
//! each phase (serde, processing, production), a processor's panic, `WithMaxAttempts`, and the
//! dead-letter record.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{
    Clients, DLQ, Journal, Kind, SINK, Script, Setup, Step, both, cluster, committed, forward,
    processors, record_failed, run_error, runner, three, tp, tp0, values,
};
use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_kafka::{
    Backoff, ClientError, ClientErrorKind, ErrorAction, ErrorContext, LogAndContinue, Phase,
    PhaseHandlers, SilentFail, WithDlq, WithMaxAttempts, X_ERROR_ATTEMPT, X_ERROR_MESSAGE,
    X_ERROR_NODE, X_ERROR_PHASE, X_ERROR_TIMESTAMP, X_ORIGINAL_OFFSET, X_ORIGINAL_PARTITION,
    X_ORIGINAL_TOPIC,
};
use tokio::time::{Instant, timeout};

three!(
    continue_skips_the_record_and_commits_past_it,
    fail_stops_the_runner_failed_without_committing_the_record,
    run_until_returns_the_failure,
    send_to_dlq_dead_letters_the_record_with_its_headers_then_commits_past_it,
    a_dead_letter_queue_that_refuses_fails_the_runner,
    an_undecodable_value_goes_to_the_serde_handler,
    a_panicking_processor_is_a_processing_error,
    a_panic_under_the_default_handler_fails_the_runner_not_the_process,
    a_production_failure_goes_to_the_production_handler,
    a_panicking_error_handler_fails_the_runner_as_fail_would,
    a_transient_poll_error_is_retried_after_the_poll_error_backoff,
    a_fatal_poll_error_fails_the_runner,
);

// Not run on the keyed runner: they time each attempt of a record from the previous record's end, one record
// at a time; the keyed runner processes the other keys meanwhile. Their keyed counterparts are in `tests/keyed.rs`.
both!(
    retry_tries_again_after_the_backoff,
    with_max_attempts_retries_then_lets_its_handler_decide,
);

/// A processor that fails record `bad` of every partition with "bad order", at every attempt.
fn failing_at(journal: &Journal, bad: i64) -> impl runner_kafka::ProcessorFactory<String, String> {
    processors(journal, "a", move |message, _| {
        if message.offset == bad {
            Script::err("bad order")
        } else {
            Script::ok()
        }
    })
}

/// Waits until the runner has ended by itself (failed); at most a minute of the paused clock.
async fn ended(runner: &impl Status) {
    timeout(Duration::from_secs(60), runner.wait_for(State::is_idle))
        .await
        .expect("the runner ends by itself");
}

/// The failures a handler saw: phase, attempt, error.
type Seen = Arc<Mutex<Vec<(Phase, u32, String)>>>;

/// A handler that writes down each failure's phase, attempt and error, then does `action`.
fn recording(
    seen: &Seen,
    action: impl Fn(&ErrorContext<'_>) -> ErrorAction + Send + Sync + 'static,
) -> impl Fn(&ErrorContext<'_>) -> ErrorAction + Send + Sync + 'static {
    let seen = Arc::clone(seen);
    move |ctx: &ErrorContext<'_>| {
        seen.lock()
            .unwrap()
            .push((ctx.phase, ctx.attempt, ctx.error.to_string()));
        action(ctx)
    }
}

async fn continue_skips_the_record_and_commits_past_it(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 5);
    let journal = Journal::new();
    let setup = Setup::handlers(PhaseHandlers::new().processing(LogAndContinue));
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        failing_at(&journal, 2),
        &setup,
    );
    runner.start().await.unwrap();
    common::eventually("committed past the skipped record", || {
        committed(&cluster, &tp(0)) == Some(5)
    })
    .await;
    assert_eq!(journal.offsets(0, Step::Began), [0, 1, 2, 3, 4]);
    assert_eq!(journal.offsets(0, Step::Failed), [2], "tried once");
    assert_eq!(journal.offsets(0, Step::Done), [0, 1, 3, 4]);
    let metrics = runner.metrics();
    assert_eq!((metrics.processed, metrics.skipped), (4, 1));
    assert_eq!(runner.state(), State::Running);
    runner.stop().await.unwrap();
}

async fn retry_tries_again_after_the_backoff(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    let journal = Journal::new();
    // Record 1 fails twice, then succeeds.
    let factory = processors(&journal, "a", |message, attempt| {
        if message.offset == 1 && attempt < 3 {
            Script::err("not yet")
        } else {
            Script::ok()
        }
    });
    let backoff = Duration::from_secs(3);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let setup = Setup::handlers(PhaseHandlers::new().processing(recording(&seen, move |_| {
        ErrorAction::Retry { after: backoff }
    })));
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    let t0 = Instant::now();
    runner.start().await.unwrap();
    journal.reached("a", 0, 2, Step::Done).await;

    let began: Vec<Duration> = journal
        .times("a", 0, 1, Step::Began)
        .iter()
        .map(|at| *at - t0)
        .collect();
    assert_eq!(began, [Duration::ZERO, backoff, backoff * 2]);
    assert_eq!(
        journal.times("a", 0, 2, Step::Began),
        [t0 + backoff * 2],
        "the partition waits for the retried record"
    );
    let attempts: Vec<(Phase, u32)> = seen.lock().unwrap().iter().map(|s| (s.0, s.1)).collect();
    assert_eq!(attempts, [(Phase::Processing, 1), (Phase::Processing, 2)]);
    common::eventually("committed", || committed(&cluster, &tp(0)) == Some(3)).await;
    assert_eq!(runner.metrics().processed, 3);
    runner.stop().await.unwrap();
}

async fn fail_stops_the_runner_failed_without_committing_the_record(kind: Kind) {
    let cluster = cluster(common::TOPIC, 2, 6);
    let journal = Journal::new();
    // Only partition 0 has a bad record (at 3): partition 1 is read in full.
    let factory = processors(&journal, "a", |message, _| {
        if (message.partition, message.offset) == (0, 3) {
            Script::err("bad order")
        } else {
            Script::ok()
        }
    });
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        factory,
        &Setup {
            commit_interval: Duration::from_secs(3600),
            ..Setup::default()
        },
    );
    runner.start().await.unwrap();
    ended(&runner).await;

    assert_eq!(runner.state(), State::Failed);
    assert!(matches!(runner.last_exit(), Some(Exit::Failed(_))));
    let (partition, offset, phase, message) = record_failed(&runner.failure());
    assert_eq!((partition, offset, phase), (tp(0), 3, Phase::Processing));
    assert_eq!(message, "bad order");
    assert_eq!(
        journal.offsets(0, Step::Began),
        [0, 1, 2, 3],
        "nothing after it"
    );
    assert_eq!(
        committed(&cluster, &tp(0)),
        Some(3),
        "the records before it are committed, the failed one is not"
    );
    // What was processed of the other partition before the runner stopped is committed.
    let other = journal.offsets(1, Step::Done).len() as i64;
    assert_eq!(committed(&cluster, &tp(1)).unwrap_or(0), other);
    assert_eq!(cluster.members(common::GROUP), [], "the client was closed");
    assert_eq!(runner.error_count(), 1);

    runner.stop().await.unwrap();
    assert_eq!(
        runner.state(),
        State::Failed,
        "a stop does not mask the failure"
    );
}

async fn run_until_returns_the_failure(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    let journal = Journal::new();
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        failing_at(&journal, 1),
        &Setup::default(),
    );
    let t0 = Instant::now();
    let error = runner
        .run_until(std::future::pending())
        .await
        .expect_err("the run failed");
    assert_eq!(t0.elapsed(), Duration::ZERO, "it returned at once");
    let (partition, offset, phase, _) = record_failed(&run_error(&error).unwrap());
    assert_eq!((partition, offset, phase), (tp(0), 1, Phase::Processing));
    assert_eq!(committed(&cluster, &tp(0)), Some(1));
}

async fn send_to_dlq_dead_letters_the_record_with_its_headers_then_commits_past_it(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    cluster.create_topic(DLQ, 1).unwrap();
    let journal = Journal::new();
    let setup = Setup {
        name: "billing-runner",
        ..Setup::handlers(PhaseHandlers::new().processing(WithDlq::new(DLQ, SilentFail)))
    };
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        failing_at(&journal, 1),
        &setup,
    );
    runner.start().await.unwrap();
    common::eventually("committed past the dead letter", || {
        committed(&cluster, &tp(0)) == Some(3)
    })
    .await;

    let dead = cluster.records(&tp0(DLQ));
    assert_eq!(dead.len(), 1);
    let dead = &dead[0];
    assert_eq!(dead.key.as_deref(), Some(&b"k0-1"[..]));
    assert_eq!(dead.value.as_deref(), Some(&b"1"[..]));
    let names: Vec<&str> = dead.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            X_ORIGINAL_TOPIC,
            X_ORIGINAL_PARTITION,
            X_ORIGINAL_OFFSET,
            X_ERROR_TIMESTAMP,
            X_ERROR_ATTEMPT,
            X_ERROR_PHASE,
            X_ERROR_MESSAGE,
            X_ERROR_NODE,
        ]
    );
    let header = |name| std::str::from_utf8(dead.header(name).unwrap()).unwrap();
    assert_eq!(header(X_ORIGINAL_TOPIC), common::TOPIC);
    assert_eq!(header(X_ORIGINAL_PARTITION), "0");
    assert_eq!(header(X_ORIGINAL_OFFSET), "1");
    assert!(header(X_ERROR_TIMESTAMP).parse::<i64>().unwrap() > 0);
    assert_eq!(header(X_ERROR_ATTEMPT), "1");
    assert_eq!(header(X_ERROR_PHASE), "processing");
    assert_eq!(header(X_ERROR_MESSAGE), "bad order");
    assert_eq!(header(X_ERROR_NODE), "billing-runner");

    assert_eq!(journal.offsets(0, Step::Began), [0, 1, 2]);
    let metrics = runner.metrics();
    assert_eq!((metrics.processed, metrics.dead_lettered), (2, 1));
    assert_eq!(runner.state(), State::Running);
    runner.stop().await.unwrap();
}

async fn a_dead_letter_queue_that_refuses_fails_the_runner(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    // No dead-letter topic: the send is refused.
    let journal = Journal::new();
    let setup = Setup::handlers(PhaseHandlers::new().processing(WithDlq::new(DLQ, SilentFail)));
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        failing_at(&journal, 1),
        &setup,
    );
    runner.start().await.unwrap();
    ended(&runner).await;
    assert_eq!(runner.state(), State::Failed);
    let (partition, offset, phase, message) = record_failed(&runner.failure());
    assert_eq!((partition, offset, phase), (tp(0), 1, Phase::Processing));
    assert!(
        message.contains("could not dead-letter it to `orders.dlq`"),
        "{message}"
    );
    assert_eq!(
        committed(&cluster, &tp(0)),
        Some(1),
        "not committed past it"
    );
    runner.stop().await.unwrap();
}

async fn an_undecodable_value_goes_to_the_serde_handler(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 1);
    cluster.append(&tp(0), "k0-1", vec![0xff, 0xfe]).unwrap();
    cluster.append(&tp(0), "k0-2", "2").unwrap();
    cluster.create_topic(DLQ, 1).unwrap();
    let journal = Journal::new();
    // Serde failures go to the dead-letter topic; any other failure would fail the runner.
    let setup = Setup::handlers(PhaseHandlers::new().serde(WithDlq::new(DLQ, SilentFail)));
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        processors(&journal, "a", |_, _| Script::ok()),
        &setup,
    );
    runner.start().await.unwrap();
    common::eventually("committed past it", || {
        committed(&cluster, &tp(0)) == Some(3)
    })
    .await;
    assert_eq!(
        journal.offsets(0, Step::Began),
        [0, 2],
        "the processor never sees it"
    );
    let dead = cluster.records(&tp0(DLQ));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].value.as_deref(), Some(&[0xff, 0xfe][..]));
    assert_eq!(dead[0].header(X_ERROR_PHASE), Some(&b"serde"[..]));
    assert_eq!(dead[0].header(X_ORIGINAL_OFFSET), Some(&b"1"[..]));
    assert_eq!(runner.state(), State::Running);
    runner.stop().await.unwrap();
}

async fn a_panicking_processor_is_a_processing_error(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    let journal = Journal::new();
    let factory = processors(&journal, "a", |message, _| {
        if message.offset == 1 {
            Script {
                sleep: Duration::ZERO,
                act: common::Act::Panic("boom at 1".to_owned()),
            }
        } else {
            Script::ok()
        }
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let setup = Setup::handlers(
        PhaseHandlers::new().processing(recording(&seen, |_| ErrorAction::Continue)),
    );
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    runner.start().await.unwrap();
    common::eventually("committed past it", || {
        committed(&cluster, &tp(0)) == Some(3)
    })
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0, seen[0].1), (Phase::Processing, 1));
    assert!(seen[0].2.contains("boom at 1"), "{}", seen[0].2);
    assert_eq!(journal.offsets(0, Step::Done), [0, 2]);
    assert_eq!(runner.state(), State::Running, "the panic crashed nothing");
    runner.stop().await.unwrap();
    assert_eq!(runner.state(), State::Stopped);
}

async fn a_panic_under_the_default_handler_fails_the_runner_not_the_process(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    let journal = Journal::new();
    let factory = processors(&journal, "a", |message, _| {
        if message.offset == 1 {
            Script {
                sleep: Duration::ZERO,
                act: common::Act::Panic("boom at 1".to_owned()),
            }
        } else {
            Script::ok()
        }
    });
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        factory,
        &Setup::default(),
    );
    runner.start().await.unwrap();
    ended(&runner).await;
    assert!(
        matches!(runner.last_exit(), Some(Exit::Failed(_))),
        "a record failure, not a panic of the runner: {:?}",
        runner.last_exit()
    );
    let (partition, offset, phase, message) = record_failed(&runner.failure());
    assert_eq!((partition, offset, phase), (tp(0), 1, Phase::Processing));
    assert!(message.contains("boom at 1"), "{message}");
    assert_eq!(committed(&cluster, &tp(0)), Some(1));
}

async fn with_max_attempts_retries_then_lets_its_handler_decide(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    let journal = Journal::new();
    let backoff = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(10), 2.0)
        .with_jitter(false);
    let setup = Setup::handlers(PhaseHandlers::new().processing(WithMaxAttempts::new(
        3,
        backoff,
        LogAndContinue,
    )));
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        failing_at(&journal, 1),
        &setup,
    );
    let t0 = Instant::now();
    runner.start().await.unwrap();
    journal.reached("a", 0, 2, Step::Done).await;
    let began: Vec<Duration> = journal
        .times("a", 0, 1, Step::Began)
        .iter()
        .map(|at| *at - t0)
        .collect();
    // Three tries, 1 s then 2 s apart; then `LogAndContinue` skips it.
    assert_eq!(
        began,
        [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(3)
        ]
    );
    assert_eq!(
        journal.times("a", 0, 2, Step::Began),
        [t0 + Duration::from_secs(3)]
    );
    common::eventually("committed past it", || {
        committed(&cluster, &tp(0)) == Some(3)
    })
    .await;
    assert_eq!(runner.metrics().skipped, 1);
    runner.stop().await.unwrap();
}

async fn a_production_failure_goes_to_the_production_handler(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    cluster.create_topic(SINK, 1).unwrap();
    let timed_out = ClientError::new(ClientErrorKind::Transient, "message timed out");
    cluster.fail_sends(1, timed_out);
    let journal = Journal::new();
    let factory = processors(&journal, "a", |message, _| {
        Script::outputs(vec![forward(message)])
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let retry = Duration::from_secs(2);
    // Production failures are retried; any other failure would fail the runner.
    let setup = Setup::handlers(
        PhaseHandlers::new().production(recording(&seen, move |ctx| {
            if ctx.attempt < 2 {
                ErrorAction::Retry { after: retry }
            } else {
                ErrorAction::Fail
            }
        })),
    );
    let runner = runner(kind, Clients::new(&cluster).make(), factory, &setup);
    let t0 = Instant::now();
    runner.start().await.unwrap();
    tokio::time::sleep_until(t0 + retry - Duration::from_millis(100)).await;
    assert_eq!(
        committed(&cluster, &tp(0)).unwrap_or(0),
        0,
        "record 0's output is not sent yet: nothing is committed past it"
    );
    common::eventually("committed", || committed(&cluster, &tp(0)) == Some(3)).await;

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].0, seen[0].1), (Phase::Production, 1));
    assert!(seen[0].2.contains("message timed out"), "{}", seen[0].2);
    // The next records' outputs went out meanwhile: the retried one arrives after them.
    assert_eq!(
        values(&cluster, SINK),
        ["0:1", "0:2", "0:0"],
        "the failed output was sent again, once"
    );
    assert_eq!(
        journal.offsets(0, Step::Began),
        [0, 1, 2],
        "only the output is sent again, the record is not processed again"
    );
    assert_eq!(
        journal.times("a", 0, 1, Step::Began),
        [t0],
        "the next record does not wait for the retry"
    );
    runner.stop().await.unwrap();
}

async fn a_panicking_error_handler_fails_the_runner_as_fail_would(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 3);
    let journal = Journal::new();
    let setup = Setup::handlers(
        PhaseHandlers::new()
            .processing(|_: &ErrorContext<'_>| -> ErrorAction { panic!("handler bug") }),
    );
    let runner = runner(
        kind,
        Clients::new(&cluster).make(),
        failing_at(&journal, 1),
        &setup,
    );
    runner.start().await.unwrap();
    ended(&runner).await;
    assert_eq!(runner.state(), State::Failed);
    assert!(
        matches!(runner.last_exit(), Some(Exit::Failed(_))),
        "a record failure, not a panic of the runner: {:?}",
        runner.last_exit()
    );
    let (partition, offset, phase, message) = record_failed(&runner.failure());
    assert_eq!((partition, offset, phase), (tp(0), 1, Phase::Processing));
    assert!(message.contains("handler bug"), "{message}");
    assert_eq!(journal.offsets(0, Step::Began), [0, 1]);
    assert_eq!(
        committed(&cluster, &tp(0)),
        Some(1),
        "not committed past it"
    );
    assert_eq!(cluster.members(common::GROUP), [], "the client was closed");
}

async fn a_transient_poll_error_is_retried_after_the_poll_error_backoff(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 0);
    let journal = Journal::new();
    let clients = Clients::new(&cluster);
    let backoff = Duration::from_secs(2);
    let setup = Setup {
        poll_error_backoff: Backoff::fixed(backoff),
        ..Setup::default()
    };
    let runner = runner(
        kind,
        clients.make(),
        processors(&journal, "a", |_, _| Script::ok()),
        &setup,
    );
    runner.start().await.unwrap();
    let down = ClientError::new(ClientErrorKind::Transient, "broker transport failure");
    cluster.fail_polls(clients.member(), 2, down).unwrap();
    let t0 = Instant::now();
    cluster.append(&tp(0), "k0-0", "0").unwrap();
    journal.reached("a", 0, 0, Step::Done).await;
    assert_eq!(journal.times("a", 0, 0, Step::Began), [t0 + backoff * 2]);
    assert_eq!(runner.metrics().poll_errors, 2);
    assert_eq!(runner.state(), State::Running);
    runner.stop().await.unwrap();
}

async fn a_fatal_poll_error_fails_the_runner(kind: Kind) {
    let cluster = cluster(common::TOPIC, 1, 0);
    let clients = Clients::new(&cluster);
    let journal = Journal::new();
    let runner = runner(
        kind,
        clients.make(),
        processors(&journal, "a", |_, _| Script::ok()),
        &Setup::default(),
    );
    runner.start().await.unwrap();
    let fatal = ClientError::new(ClientErrorKind::Fatal, "authentication failed");
    cluster
        .fail_polls(clients.member(), 1, fatal.clone())
        .unwrap();
    ended(&runner).await;
    assert_eq!(runner.state(), State::Failed);
    assert!(matches!(runner.failure(), runner_kafka::Error::Client(e) if e == fatal));
    assert_eq!(cluster.members(common::GROUP), [], "the client was closed");
}
