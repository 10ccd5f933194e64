//! Runners that break their contract: a `start` or `stop` that panics. The supervisor polls
//! every service's start and stop on its own task, so it must catch the panic: it becomes the
//! service's error, and the supervisor goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use runner_core::{ErrorHistory, Exit, Runner, Snapshot, State, Status, Version};
use runner_supervisor::{Error, ServiceOptions, Supervisor};

/// A runner whose `start` or `stop` panics, as told; otherwise it is running once started.
#[derive(Debug, Default)]
struct Broken {
    panic_on_start: bool,
    panic_on_stop: bool,
    running: AtomicBool,
}

impl Runner for Broken {
    type Error = std::io::Error;

    async fn start(&self) -> std::io::Result<()> {
        assert!(!self.panic_on_start, "a broken start");
        self.running.store(true, Ordering::SeqCst);
        Ok(())
    }

    async fn stop(&self) -> std::io::Result<()> {
        assert!(!self.panic_on_stop, "a broken stop");
        self.running.store(false, Ordering::SeqCst);
        Ok(())
    }
}

impl Status for Broken {
    fn snapshot(&self) -> Snapshot {
        let state = if self.running.load(Ordering::SeqCst) {
            State::Running
        } else {
            State::Stopped
        };
        Snapshot::new(state, Version::INITIAL)
    }

    async fn changed(&self, _since: Version) -> Snapshot {
        std::future::pending().await
    }

    fn uptime(&self) -> Option<Duration> {
        None
    }

    fn last_exit(&self) -> Option<Exit> {
        None
    }
}

impl ErrorHistory for Broken {
    type Recorded = std::io::Error;

    fn errors(&self) -> Vec<Arc<std::io::Error>> {
        Vec::new()
    }

    fn error_count(&self) -> u64 {
        0
    }

    fn error_capacity(&self) -> usize {
        0
    }
}

#[tokio::test(start_paused = true)]
async fn a_start_that_panics_is_a_failed_start_not_a_hang() {
    let supervisor = Supervisor::builder()
        .service("fine", Broken::default(), ServiceOptions::new())
        .service(
            "broken",
            Broken {
                panic_on_start: true,
                ..Broken::default()
            },
            ServiceOptions::new(),
        )
        .build()
        .unwrap();
    let started = tokio::time::timeout(Duration::from_secs(3600), supervisor.start())
        .await
        .expect("the start returns");
    let Err(Error::Start(error)) = started else {
        panic!("{started:?}")
    };
    assert_eq!(error.failures().len(), 1);
    assert_eq!(error.failures()[0].0, "broken");
    assert!(error.to_string().contains("a broken start"), "{error}");
    assert_eq!(supervisor.state(), State::Failed);
}

#[tokio::test(start_paused = true)]
async fn a_stop_that_panics_is_a_stop_error_and_the_others_still_stop() {
    let fine = Arc::new(Broken::default());
    let supervisor = Supervisor::builder()
        .service("fine", Arc::clone(&fine), ServiceOptions::new())
        .service(
            "broken",
            Broken {
                panic_on_stop: true,
                ..Broken::default()
            },
            ServiceOptions::new().requires("fine"),
        )
        .build()
        .unwrap();
    supervisor.start().await.unwrap();
    let error = tokio::time::timeout(Duration::from_secs(3600), supervisor.stop())
        .await
        .expect("the stop returns")
        .unwrap_err();
    let report = error.stop_report().unwrap();
    assert_eq!(report.errors().len(), 1);
    assert_eq!(report.errors()[0].0, "broken");
    assert!(report.errors()[0].1.to_string().contains("a broken stop"));
    assert!(
        !fine.is_running(),
        "the service it required was stopped after it"
    );
    assert_eq!(supervisor.state(), State::Stopped);
    assert_eq!(supervisor.error_count(), 1);
}
