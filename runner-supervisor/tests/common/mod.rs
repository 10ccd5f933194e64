//! A service whose behaviour the tests control: it logs its starts, readiness and stops in one
//! shared log, fails starts on request, ends by itself on command, reports health, and can be
//! slow to stop or ignore the stop altogether.
#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runner_core::Health;
use runner_lifecycle::{Managed, ReadyWhen, RunContext, Work};
use runner_supervisor::{Event, Events};
use tokio::sync::mpsc;

/// The order things happened in, across services: `start:x`, `ready:x`, `stopped:x`,
/// `exited:x`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    pub(crate) fn push(&self, entry: String) {
        self.0.lock().unwrap().push(entry);
    }

    pub(crate) fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The position of `entry`, panicking with the log if absent.
    pub(crate) fn at(&self, entry: &str) -> usize {
        let entries = self.entries();
        entries
            .iter()
            .position(|e| e == entry)
            .unwrap_or_else(|| panic!("`{entry}` not in the log: {entries:?}"))
    }

    pub(crate) fn count(&self, entry: &str) -> usize {
        self.entries().iter().filter(|e| *e == entry).count()
    }
}

/// What a test tells a running fake to do.
#[derive(Debug)]
pub(crate) enum Command {
    Exit,
    Fail,
    Panic,
    Health(Health),
}

#[derive(Debug)]
struct Knobs {
    name: String,
    log: Log,
    /// Starts to fail from now on.
    fail_starts: AtomicU32,
    /// How long a start takes before it is ready.
    ready_after: Mutex<Duration>,
    /// How long a stop takes.
    stop_takes: Mutex<Duration>,
    ignore_stop: AtomicBool,
    fail_stop: AtomicBool,
    commands: tokio::sync::Mutex<mpsc::UnboundedReceiver<Command>>,
}

/// A handle to steer a fake service.
#[derive(Clone, Debug)]
pub(crate) struct Fake {
    knobs: Arc<Knobs>,
    commands: mpsc::UnboundedSender<Command>,
}

impl Fake {
    pub(crate) fn new(name: &str, log: &Log) -> Fake {
        let (commands, receiver) = mpsc::unbounded_channel();
        Fake {
            knobs: Arc::new(Knobs {
                name: name.to_owned(),
                log: log.clone(),
                fail_starts: AtomicU32::new(0),
                ready_after: Mutex::new(Duration::ZERO),
                stop_takes: Mutex::new(Duration::ZERO),
                ignore_stop: AtomicBool::new(false),
                fail_stop: AtomicBool::new(false),
                commands: tokio::sync::Mutex::new(receiver),
            }),
            commands,
        }
    }

    /// The runner: a `Managed` that is ready when its run says so.
    pub(crate) fn runner(&self) -> Managed {
        Managed::builder(FakeWork(Arc::clone(&self.knobs)))
            .name(self.knobs.name.clone())
            .ready_when(ReadyWhen::Signalled)
            .stop_hook_timeout(Duration::from_secs(3600))
            .exit_timeout(Duration::MAX)
            .build()
            .expect("valid settings")
    }

    pub(crate) fn fail_starts(&self, n: u32) -> &Self {
        self.knobs.fail_starts.store(n, Ordering::SeqCst);
        self
    }

    pub(crate) fn ready_after(&self, delay: Duration) -> &Self {
        *self.knobs.ready_after.lock().unwrap() = delay;
        self
    }

    pub(crate) fn stop_takes(&self, delay: Duration) -> &Self {
        *self.knobs.stop_takes.lock().unwrap() = delay;
        self
    }

    pub(crate) fn ignore_stop(&self) -> &Self {
        self.knobs.ignore_stop.store(true, Ordering::SeqCst);
        self
    }

    /// Its run ends with an error when it is stopped.
    pub(crate) fn fail_stop(&self) -> &Self {
        self.knobs.fail_stop.store(true, Ordering::SeqCst);
        self
    }

    pub(crate) fn send(&self, command: Command) {
        self.commands.send(command).expect("the fake is alive");
    }
}

#[derive(Debug)]
struct FakeWork(Arc<Knobs>);

impl Work for FakeWork {
    type Error = std::io::Error;

    async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
        let knobs = &self.0;
        let name = &knobs.name;
        knobs.log.push(format!("start:{name}"));
        if knobs
            .fail_starts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(std::io::Error::other(format!("{name} refused to start")));
        }
        let ready_after = *knobs.ready_after.lock().unwrap();
        if !ready_after.is_zero() {
            tokio::select! {
                () = run.cancelled() => return Ok(()),
                () = tokio::time::sleep(ready_after) => {}
            }
        }
        run.ready();
        knobs.log.push(format!("ready:{name}"));
        let mut commands = knobs.commands.lock().await;
        loop {
            tokio::select! {
                () = run.cancelled() => break,
                command = commands.recv() => match command {
                    Some(Command::Exit) => {
                        knobs.log.push(format!("exited:{name}"));
                        return Ok(());
                    }
                    Some(Command::Fail) => {
                        knobs.log.push(format!("exited:{name}"));
                        return Err(std::io::Error::other(format!("{name} crashed")));
                    }
                    Some(Command::Panic) => panic!("{name} panicked"),
                    Some(Command::Health(health)) => run.set_health(health),
                    None => std::future::pending::<()>().await,
                },
            }
        }
        drop(commands);
        if knobs.ignore_stop.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let stop_takes = *knobs.stop_takes.lock().unwrap();
        if !stop_takes.is_zero() {
            tokio::time::sleep(stop_takes).await;
        }
        knobs.log.push(format!("stopped:{name}"));
        if knobs.fail_stop.load(Ordering::SeqCst) {
            return Err(std::io::Error::other(format!("{name} failed to stop")));
        }
        Ok(())
    }
}

/// The next event of kind `kind` (skipping others), within a minute of paused time.
pub(crate) async fn next(events: &mut Events, kind: &str) -> Event {
    tokio::time::timeout(Duration::from_secs(600), async {
        loop {
            match events.recv().await {
                Some(Ok(event)) if event.kind() == kind => return event,
                Some(_) => {}
                None => panic!("the supervisor is gone"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no `{kind}` event within 600 s"))
}

/// Waits until `log` has `entry` `n` times, bounded.
pub(crate) async fn logged(log: &Log, entry: &str, n: usize) {
    for _ in 0..10_000 {
        if log.count(entry) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "`{entry}` logged {} times, expected {n}: {:?}",
        log.count(entry),
        log.entries()
    );
}
