//! Random dependency graphs (up to 40 services, random `requires` and `after` edges, random
//! start failures, exits and slow or failing stops), on the paused clock: every start comes
//! after what it depends on, the final stop runs in reverse, nothing deadlocks, and every
//! error is reported.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Command, Fake, Log};
use proptest::prelude::*;
use runner_core::{ErrorHistory, Runner, State, Status};
use runner_supervisor::{Backoff, Error, Intensity, ServiceOptions, Supervisor};

#[derive(Clone, Debug)]
struct Spec {
    /// Earlier services it requires, and comes after (indices; an edge is one or the other).
    requires: Vec<usize>,
    after: Vec<usize>,
    fails_start: bool,
    exits: bool,
    stop_ms: u64,
    fails_stop: bool,
}

fn graph() -> impl Strategy<Value = Vec<Spec>> {
    (1_usize..=40).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                (
                    proptest::collection::vec((0..i.max(1), any::<bool>()), 0..=i.min(3)),
                    proptest::bool::weighted(0.05),
                    proptest::bool::weighted(0.15),
                    prop_oneof![3 => Just(0_u64), 1 => 1_u64..3_000],
                    proptest::bool::weighted(0.1),
                )
                    .prop_map(
                        move |(edges, fails_start, exits, stop_ms, fails_stop)| {
                            let (mut requires, mut after) = (BTreeSet::new(), BTreeSet::new());
                            for (to, kind) in edges.into_iter().filter(|_| i > 0) {
                                if !requires.contains(&to) && !after.contains(&to) {
                                    if kind {
                                        requires.insert(to)
                                    } else {
                                        after.insert(to)
                                    };
                                }
                            }
                            Spec {
                                requires: requires.into_iter().collect(),
                                after: after.into_iter().collect(),
                                fails_start,
                                exits,
                                stop_ms,
                                fails_stop,
                            }
                        },
                    )
            })
            .collect::<Vec<_>>()
    })
}

fn name(i: usize) -> String {
    format!("s{i}")
}

/// Index of the first `entry` in `entries` at or after `from`.
fn first(entries: &[String], entry: &str, from: usize) -> Option<usize> {
    entries[from..]
        .iter()
        .position(|e| e == entry)
        .map(|p| p + from)
}

fn check(specs: &[Spec]) -> Result<(), TestCaseError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let log = Log::default();
        let fakes: Vec<Fake> = (0..specs.len())
            .map(|i| Fake::new(&name(i), &log))
            .collect();
        let mut builder = Supervisor::builder()
            .intensity(Intensity::new(1_000, Duration::from_secs(60)))
            .stop_deadline(Duration::from_secs(600));
        for (i, spec) in specs.iter().enumerate() {
            if spec.fails_start {
                fakes[i].fail_starts(1);
            }
            if spec.fails_stop {
                fakes[i].fail_stop();
            }
            fakes[i].stop_takes(Duration::from_millis(spec.stop_ms));
            let mut options = ServiceOptions::new().backoff(Backoff::new(
                Duration::from_millis(100),
                Duration::from_secs(1),
                2.0,
            ));
            for &d in &spec.requires {
                options = options.requires(name(d));
            }
            for &d in &spec.after {
                options = options.after(name(d));
            }
            builder = builder.service(name(i), fakes[i].runner(), options);
        }
        let supervisor = builder.build().unwrap();
        let bound = Duration::from_secs(3_600);

        let started = tokio::time::timeout(bound, supervisor.start())
            .await
            .map_err(|_| TestCaseError::fail("start deadlocked"))?;
        let entries = log.entries();
        // Every start comes after its dependencies': `requires` ready, `after` begun.
        for (i, spec) in specs.iter().enumerate() {
            let Some(at) = first(&entries, &format!("start:{}", name(i)), 0) else {
                continue;
            };
            for &d in &spec.requires {
                let ready = first(&entries, &format!("ready:{}", name(d)), 0);
                prop_assert!(
                    ready.is_some_and(|r| r < at),
                    "{} started before {} was ready: {entries:?}",
                    name(i),
                    name(d)
                );
            }
            for &d in &spec.after {
                let began = first(&entries, &format!("start:{}", name(d)), 0);
                prop_assert!(
                    began.is_some_and(|b| b < at),
                    "{} started before {}: {entries:?}",
                    name(i),
                    name(d)
                );
            }
        }
        let attempted_and_failed: BTreeSet<String> = (0..specs.len())
            .filter(|&i| specs[i].fails_start && entries.contains(&format!("start:{}", name(i))))
            .map(name)
            .collect();
        match started {
            Ok(()) => prop_assert!(attempted_and_failed.is_empty()),
            Err(Error::Start(error)) => {
                let reported: BTreeSet<String> =
                    error.failures().iter().map(|(n, _)| n.clone()).collect();
                prop_assert_eq!(
                    reported,
                    attempted_and_failed,
                    "every start error is reported"
                );
                prop_assert_eq!(supervisor.state(), State::Failed);
                // Whatever had started was stopped again, nothing is left up.
                for (i, _) in specs.iter().enumerate() {
                    let (starts, stops) = (
                        log.count(&format!("ready:{}", name(i))),
                        log.count(&format!("stopped:{}", name(i))),
                    );
                    prop_assert_eq!(starts, stops, "{} left up: {:?}", name(i), log.entries());
                }
                return Ok(());
            }
            Err(other) => return Err(TestCaseError::fail(format!("{other}"))),
        }

        // Random exits; the supervisor restarts them (and what requires them).
        for (i, spec) in specs.iter().enumerate() {
            if spec.exits {
                fakes[i].send(Command::Fail);
            }
        }
        let mut all_back = false;
        for _ in 0..600 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let status = supervisor.health_status();
            if status
                .services
                .iter()
                .all(|s| s.state == State::Running && s.ready)
            {
                all_back = true;
                break;
            }
        }
        prop_assert!(
            all_back,
            "not every service came back: {:?}",
            supervisor.health_status()
        );

        let stopping_from = log.entries().len();
        let stopped = tokio::time::timeout(bound, supervisor.stop())
            .await
            .map_err(|_| TestCaseError::fail("stop deadlocked"))?;
        let entries = log.entries();
        // The final stop runs in reverse: each service stops before what it depends on.
        for (i, spec) in specs.iter().enumerate() {
            let at = first(&entries, &format!("stopped:{}", name(i)), stopping_from);
            prop_assert!(at.is_some(), "{} was not stopped: {entries:?}", name(i));
            for &d in spec.requires.iter().chain(&spec.after) {
                let dependency = first(&entries, &format!("stopped:{}", name(d)), stopping_from);
                prop_assert!(
                    at < dependency,
                    "{} stopped after {}: {entries:?}",
                    name(i),
                    name(d)
                );
            }
        }
        // Every failed stop is in the report.
        let failing: BTreeSet<String> = (0..specs.len())
            .filter(|&i| specs[i].fails_stop)
            .map(name)
            .collect();
        match stopped {
            Ok(()) => prop_assert!(failing.is_empty()),
            Err(error) => {
                let report = error.stop_report().expect("a stop error has a report");
                let reported: BTreeSet<String> =
                    report.errors().iter().map(|(n, _)| n.clone()).collect();
                prop_assert_eq!(reported, failing);
                prop_assert!(report.unstopped().is_empty());
                prop_assert_eq!(
                    supervisor
                        .last_error()
                        .and_then(|e| e.stop_report().map(|r| r.errors().len())),
                    Some(report.errors().len())
                );
            }
        }
        prop_assert_eq!(supervisor.state(), State::Stopped);
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn random_graphs_start_in_order_stop_in_reverse_and_report_every_error(specs in graph()) {
        check(&specs)?;
    }
}
