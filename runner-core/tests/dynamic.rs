//! `DynRunner` and the blanket impls: runners of different types behind one pointer type.
#![cfg(feature = "conformance")]

mod common;

use std::sync::Arc;

use common::{CAPACITY, Reference};
use runner_core::conformance::Probe;
use runner_core::{DynRunner, ErrorHistory, Exit, Health, Readiness, Runner, State, Status};

/// Generic code that only knows the traits, used through every kind of pointer.
async fn cycle(runner: impl Runner + Status) -> State {
    runner.start().await.expect("start");
    let running = runner.state();
    runner.stop().await.expect("stop");
    assert_eq!(runner.state(), State::Stopped);
    running
}

#[tokio::test(start_paused = true)]
async fn a_collection_of_boxed_runners_starts_and_stops_together() {
    let probes: Vec<Probe> = (0..3).map(|_| Probe::new()).collect();
    let runners: Vec<Arc<dyn DynRunner>> = probes
        .iter()
        .map(|p| Arc::new(Reference::new(p.clone(), None)) as Arc<dyn DynRunner>)
        .collect();

    for runner in &runners {
        runner.start().await.expect("start");
    }
    for (runner, probe) in runners.iter().zip(&probes) {
        probe.entered_at_least(1).await;
        assert!(runner.is_running());
        assert!(runner.uptime().is_some());
        assert_eq!(runner.health(), Health::Healthy);
        assert_eq!(runner.readiness(), Readiness::Ready);
    }

    for runner in runners.iter().rev() {
        runner.stop().await.expect("stop");
        assert_eq!(runner.state(), State::Stopped);
        assert!(matches!(runner.last_exit(), Some(Exit::Stopped)));
        assert!(!runner.health().is_healthy());
        assert!(!runner.readiness().is_ready());
    }
    assert!(probes.iter().all(|p| p.live() == 0));
}

#[tokio::test(start_paused = true)]
async fn a_failed_run_is_visible_through_the_dyn_twin() {
    let probe = Probe::new();
    let runner: Box<dyn DynRunner> = Box::new(Reference::new(probe.clone(), None));
    runner.start().await.expect("start");
    probe.entered_at_least(1).await;
    probe.set_failing(true);
    let before = runner.snapshot();
    let waiting = runner.changed(before.version);
    runner.stop().await.expect("stop");
    assert_ne!(waiting.await.version, before.version);
    let exit = runner.last_exit().expect("the run ended");
    assert!(exit.is_failure());
    assert_eq!(
        exit.to_string(),
        "failed: scripted failure #1 from the conformance kit"
    );
}

#[tokio::test(start_paused = true)]
async fn the_error_history_is_visible_through_the_dyn_twin() {
    let probe = Probe::new();
    let runners: Vec<Arc<dyn DynRunner>> = vec![
        Arc::new(Reference::new(probe.clone(), None)),
        Arc::new(Reference::new(Probe::new(), None)),
    ];
    probe.set_failing(true);
    for n in 1..=CAPACITY as u64 + 1 {
        runners[0].start().await.expect("start");
        probe.entered_at_least(n).await;
        runners[0].stop().await.expect("stop");
    }
    let failing = &runners[0];
    assert_eq!(failing.error_count(), CAPACITY as u64 + 1);
    assert_eq!(failing.error_capacity(), CAPACITY);
    let errors: Vec<String> = failing.errors().iter().map(|e| e.to_string()).collect();
    assert_eq!(errors.len(), CAPACITY);
    assert_eq!(errors[0], "scripted failure #2 from the conformance kit");
    let last = failing.last_error().expect("errors were recorded");
    assert_eq!(
        last.to_string(),
        format!(
            "scripted failure #{} from the conformance kit",
            CAPACITY + 1
        )
    );
    // The erased error is the runner's own, recoverable by downcasting.
    assert!(last.downcast_ref::<common::RefError>().is_some());
    assert_eq!(runners[1].error_count(), 0);
    assert!(runners[1].last_error().is_none());
}

#[tokio::test(start_paused = true)]
async fn blanket_impls_forward_through_every_pointer() {
    let owned = Reference::new(Probe::new(), None);
    assert_eq!(cycle(&owned).await, State::Running);
    let mut owned = owned;
    assert_eq!(cycle(&mut owned).await, State::Running);
    assert_eq!(cycle(Box::new(owned)).await, State::Running);
    let shared = Arc::new(Reference::new(Probe::new(), None));
    assert_eq!(cycle(Arc::clone(&shared)).await, State::Running);
    assert_eq!(shared.state(), State::Stopped);
}
