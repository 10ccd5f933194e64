//! The supervisor's core and mailbox under loom. The engine's task is played by the model's
//! main thread, as `engine.rs` runs it: carry out the core's actions, wait on the mailbox, feed
//! what arrives back in, fire a timer when nothing else is pending. The parties that race it
//! (a service's watcher, a start in flight, the user stopping or removing) are loom threads, so
//! loom tries every order in which their inputs reach the core.
//!
//! The user's stop reaches the real engine through the lifecycle's control plane (checked by
//! its own models); here it is one more mailbox input, which is where it lands in the core.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loom::future::block_on;
use loom::thread;
use runner_core::{Exit, Health, State, Version};
use runner_lifecycle::sync::{Arc, Mutex, lock};

use crate::core::{Action, Core, Finish, Id, Observed, Started, Stopped};
use crate::mailbox::Mailbox;
use crate::options::{Backoff, Intensity, RestartPolicy, ServiceOptions};

/// What reaches the model's engine.
#[derive(Debug)]
enum In {
    Started(Id, u64, Started),
    Changed(Id, u64, Observed),
    Kick,
    Stop,
}

/// A service as the model sees it: up or not, whether its start was abandoned, and the epoch
/// its watcher watches (from when its start was reported, as the real attempt task goes on to
/// watch after it posted the start's outcome).
#[derive(Debug, Default)]
struct Service {
    up: bool,
    aborted: bool,
    watched: Option<u64>,
}

struct Model {
    core: Mutex<Core>,
    mailbox: Mailbox<In>,
    services: Vec<Mutex<Service>>,
    t0: Instant,
}

/// Starts run on helper threads (a start in flight can race the rest), or inline, or only
/// restarts on helper threads (each service's first start inline).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Starts {
    Inline,
    Threaded,
    Restarts,
}

/// Never-firing in a model: stop deadlines and timeouts are an hour; backoff is a second.
const HOUR: Duration = Duration::from_secs(3600);

fn options() -> ServiceOptions {
    ServiceOptions::new()
        .restart(RestartPolicy::Always)
        .backoff(
            Backoff::new(Duration::from_secs(1), Duration::from_secs(1), 2.0).with_jitter(false),
        )
        .start_timeout(HOUR)
        .stop_timeout(HOUR)
        .liveness_grace(None)
}

fn model(names: &[&str]) -> Arc<Model> {
    let specs: Vec<(String, ServiceOptions)> =
        names.iter().map(|n| ((*n).to_owned(), options())).collect();
    let (core, _) = Core::build(&specs, Intensity::new(100, HOUR), HOUR, 7).unwrap();
    Arc::new(Model {
        core: Mutex::new(core),
        mailbox: Mailbox::new(),
        services: names
            .iter()
            .map(|_| Mutex::new(Service::default()))
            .collect(),
        t0: Instant::now(),
    })
}

fn running() -> Observed {
    Observed {
        state: State::Running,
        version: Version::INITIAL,
        health: Health::Healthy,
        ready: true,
        exit: None,
    }
}

fn failed() -> Observed {
    Observed {
        state: State::Failed,
        version: Version::INITIAL,
        health: Health::Healthy,
        ready: false,
        exit: Some(Exit::Failed(std::sync::Arc::new(std::io::Error::other(
            "boom",
        )))),
    }
}

/// What the model's engine saw, for the assertions.
#[derive(Debug, Default)]
struct Seen {
    starts: Vec<Id>,
    starts_after_stop: Vec<Id>,
}

/// Plays the engine until the core finishes the run.
fn engine(model: &Arc<Model>, starts: Starts) -> (Finish, Seen) {
    let mut seen = Seen::default();
    let mut stopping = false;
    let mut now = model.t0;
    let mut inputs = Vec::new();
    lock(&model.core).begin(now);
    loop {
        loop {
            let actions = lock(&model.core).take_actions();
            if actions.is_empty() {
                break;
            }
            for action in actions {
                match action {
                    Action::Start { id, epoch, .. } => {
                        seen.starts.push(id);
                        if stopping {
                            seen.starts_after_stop.push(id);
                        }
                        assert!(
                            !lock(&model.core).is_removed(id),
                            "a removed service starts"
                        );
                        lock(&model.services[id]).aborted = false;
                        let start = {
                            let model = Arc::clone(model);
                            move || {
                                {
                                    let mut service = lock(&model.services[id]);
                                    if !service.aborted {
                                        service.up = true;
                                    }
                                }
                                model
                                    .mailbox
                                    .post(In::Started(id, epoch, Started::Ok(running())));
                                let mut service = lock(&model.services[id]);
                                if service.up && !service.aborted {
                                    service.watched = Some(epoch);
                                }
                            }
                        };
                        let first = seen.starts.iter().filter(|&&s| s == id).count() == 1;
                        match starts {
                            Starts::Threaded => drop(thread::spawn(start)),
                            Starts::Restarts if !first => drop(thread::spawn(start)),
                            Starts::Inline | Starts::Restarts => start(),
                        }
                    }
                    Action::AbortStart { id, epoch } => {
                        lock(&model.services[id]).aborted = true;
                        lock(&model.core).started(id, epoch, Started::Aborted, now);
                    }
                    Action::StopTimedOut { .. } => panic!("no stop takes an hour in a model"),
                    Action::Stop { id, epoch } => {
                        let mut service = lock(&model.services[id]);
                        service.up = false;
                        service.watched = None;
                        drop(service);
                        lock(&model.core).stopped(id, epoch, Stopped::Ok, now);
                    }
                    Action::Finish(finish) => return (finish, seen),
                    Action::Unwatch { id } => lock(&model.services[id]).watched = None,
                    Action::Event(_) | Action::Touch | Action::Ready => {}
                }
            }
        }
        let due = lock(&model.core)
            .next_deadline()
            .filter(|&at| at < model.t0 + HOUR);
        let inputs_came = block_on(core::future::poll_fn(|cx| {
            match model.mailbox.poll_drain(cx, &mut inputs) {
                core::task::Poll::Ready(()) => core::task::Poll::Ready(true),
                // Nothing else to wait for: time passes to the next timer.
                core::task::Poll::Pending if due.is_some() => core::task::Poll::Ready(false),
                core::task::Poll::Pending => core::task::Poll::Pending,
            }
        }));
        let mut core = lock(&model.core);
        if !inputs_came {
            now = due.expect("a timer is due");
            core.fire(now);
            continue;
        }
        for input in inputs.drain(..) {
            match input {
                In::Started(id, epoch, outcome) => core.started(id, epoch, outcome, now),
                In::Changed(id, epoch, observed) => core.changed(id, epoch, observed, now),
                In::Kick => {}
                In::Stop => {
                    stopping = true;
                    core.stop(now);
                }
            }
        }
    }
}

/// Service `id` fails by itself, if it is up and watched: its watcher reports the exit, and
/// `exits` counts it (a model whose exit never lands in any interleaving would prove nothing).
fn fail_if_watched(model: &Model, id: Id, exits: &AtomicUsize) {
    let epoch = {
        let mut service = lock(&model.services[id]);
        match service.watched.take() {
            Some(epoch) if service.up => {
                service.up = false;
                epoch
            }
            _ => return,
        }
    };
    exits.fetch_add(1, Ordering::Relaxed);
    model.mailbox.post(In::Changed(id, epoch, failed()));
}

fn assert_all_down(model: &Model) {
    for (id, service) in model.services.iter().enumerate() {
        assert!(!lock(service).up, "service {id} was left up");
    }
}

fn assert_stopped_cleanly(finish: &Finish) {
    match finish {
        Finish::Stopped(report) => assert!(report.is_clean(), "{report:?}"),
        other => panic!("the run ends stopped: {other:?}"),
    }
}

/// A service's exit (restart scheduled, backoff timer pending) races the supervisor's stop:
/// whichever comes first, the service is not started again after the stop, and the run ends
/// stopped with every service down.
#[test]
fn an_exit_racing_stop_is_not_restarted_after_it() {
    static EXITS: AtomicUsize = AtomicUsize::new(0);
    static RESTARTS: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let model = model(&["svc"]);
        let watcher = {
            let model = Arc::clone(&model);
            thread::spawn(move || fail_if_watched(&model, 0, &EXITS))
        };
        let user = {
            let model = Arc::clone(&model);
            thread::spawn(move || model.mailbox.post(In::Stop))
        };
        let (finish, seen) = engine(&model, Starts::Inline);
        watcher.join().unwrap();
        user.join().unwrap();
        assert_stopped_cleanly(&finish);
        assert!(seen.starts_after_stop.is_empty(), "{seen:?}");
        assert!(
            seen.starts.len() <= 2,
            "one start and at most one restart: {seen:?}"
        );
        if seen.starts.len() == 2 {
            RESTARTS.fetch_add(1, Ordering::Relaxed);
        }
        assert_all_down(&model);
    });
    assert!(
        EXITS.load(Ordering::Relaxed) > 0,
        "the exit landed in some interleaving"
    );
    assert!(
        RESTARTS.load(Ordering::Relaxed) > 0,
        "the restart won the race in some"
    );
}

/// A restart in flight (on its own thread) races the supervisor's stop: the restart is
/// abandoned or completes, and either way the service ends down and the run ends stopped.
#[test]
fn a_restart_racing_stop_leaves_nothing_up() {
    static EXITS: AtomicUsize = AtomicUsize::new(0);
    static RESTARTS: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let model = model(&["svc"]);
        let watcher = {
            let model = Arc::clone(&model);
            thread::spawn(move || fail_if_watched(&model, 0, &EXITS))
        };
        let user = {
            let model = Arc::clone(&model);
            thread::spawn(move || model.mailbox.post(In::Stop))
        };
        let (finish, seen) = engine(&model, Starts::Restarts);
        watcher.join().unwrap();
        user.join().unwrap();
        assert_stopped_cleanly(&finish);
        assert!(seen.starts_after_stop.is_empty(), "{seen:?}");
        if seen.starts.len() == 2 {
            RESTARTS.fetch_add(1, Ordering::Relaxed);
        }
        assert_all_down(&model);
    });
    assert!(
        EXITS.load(Ordering::Relaxed) > 0,
        "the exit landed in some interleaving"
    );
    assert!(
        RESTARTS.load(Ordering::Relaxed) > 0,
        "the restart began in some"
    );
}

/// The stop arrives while starts are in flight on their own threads: each is abandoned, and a
/// service its abandoned start brought up anyway is stopped. Nothing is left up.
#[test]
fn a_stop_racing_starts_in_flight_leaves_nothing_up() {
    loom::model(|| {
        let model = model(&["a", "b"]);
        let user = {
            let model = Arc::clone(&model);
            thread::spawn(move || model.mailbox.post(In::Stop))
        };
        let (finish, seen) = engine(&model, Starts::Threaded);
        user.join().unwrap();
        assert_stopped_cleanly(&finish);
        assert!(seen.starts_after_stop.is_empty(), "{seen:?}");
        assert_all_down(&model);
    });
}

/// A removal races a restart: the service fails by itself while the user removes it. It is
/// never started once removed, the removal completes, and the other service runs on until the
/// stop.
#[test]
fn a_removal_racing_a_restart_completes_and_is_final() {
    static EXITS: AtomicUsize = AtomicUsize::new(0);
    loom::model(|| {
        let model = model(&["gone", "stays"]);
        let watcher = {
            let model = Arc::clone(&model);
            thread::spawn(move || fail_if_watched(&model, 0, &EXITS))
        };
        let user = {
            let model = Arc::clone(&model);
            thread::spawn(move || {
                let removed = lock(&model.core).remove("gone", model.t0);
                assert_eq!(removed.ok(), Some(0));
                model.mailbox.post(In::Kick);
                model.mailbox.post(In::Stop);
            })
        };
        let (finish, seen) = engine(&model, Starts::Inline);
        watcher.join().unwrap();
        user.join().unwrap();
        assert_stopped_cleanly(&finish);
        assert!(lock(&model.core).is_removed(0));
        assert!(!lock(&model.core).is_removed(1));
        assert_eq!(
            seen.starts.iter().filter(|&&id| id == 1).count(),
            1,
            "{seen:?}"
        );
        assert_all_down(&model);
    });
    assert!(
        EXITS.load(Ordering::Relaxed) > 0,
        "the exit landed in some interleaving"
    );
}

/// Two senders race the receiver: every item arrives, none twice, and the receiver is always
/// woken for the last one (loom reports a lost wake-up as a deadlock).
#[test]
fn the_mailbox_loses_no_item_and_no_wake_up() {
    loom::model(|| {
        let mailbox = Arc::new(Mailbox::new());
        let senders: Vec<_> = [1_u32, 2]
            .into_iter()
            .map(|item| {
                let mailbox = Arc::clone(&mailbox);
                thread::spawn(move || mailbox.post(item))
            })
            .collect();
        let mut got = Vec::new();
        while got.len() < 2 {
            block_on(core::future::poll_fn(|cx| mailbox.poll_drain(cx, &mut got)));
        }
        for sender in senders {
            sender.join().unwrap();
        }
        got.sort_unstable();
        assert_eq!(got, [1, 2]);
    });
}
