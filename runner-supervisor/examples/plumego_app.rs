//! The shape of a plumego app: an HTTP server (axum, on 127.0.0.1) that requires a
//! database-like component, and background tickers that come after the server, all under one
//! supervisor that starts them in dependency order and stops them in reverse.
//!
//! - `db`: a key-value store that takes a moment to "connect" and is ready only then.
//! - `http`: `requires("db")`: it starts once the store is running *and ready*; it counts hits
//!   in the store.
//! - `cache-warmer` and `metrics`: tickers, `after("http")`: ordered after the server, but not
//!   stopped when it restarts.
//!
//! `main` makes a few requests, waits for the tickers to run, then stops: the tickers and the
//! server first, the store last. In a real service `main` would end with
//! `supervisor.run_until_signal(deadline)` instead.
//!
//! ```sh
//! cargo run -p runner-supervisor --example plumego_app
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State as AxumState;
use axum::routing::get;
use runner_core::{Runner, Status};
use runner_startstop::{ReadyWhen, RunContext, StartStop};
use runner_supervisor::{Event, ServiceOptions, Supervisor};
use runner_ticker::{TickContext, Ticker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The "database": a map behind a lock, filled once connected.
type Store = Arc<Mutex<HashMap<String, u64>>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let store: Store = Arc::default();
    let (bound_tx, bound) = watch::channel(None::<SocketAddr>);
    let bound_tx = Arc::new(bound_tx);

    let db = StartStop::builder(
        {
            let store = Arc::clone(&store);
            move |run: RunContext| {
                let store = Arc::clone(&store);
                async move {
                    tokio::time::sleep(Duration::from_millis(30)).await; // connecting
                    store.lock().unwrap().insert("hits".into(), 0);
                    run.ready();
                    run.cancelled().await;
                    Ok::<_, std::io::Error>(())
                }
            }
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name("db")
    .ready_when(ReadyWhen::Signalled)
    .build()?;

    let http = StartStop::builder(
        {
            let store = Arc::clone(&store);
            move |run: RunContext| {
                let (store, bound_tx) = (Arc::clone(&store), Arc::clone(&bound_tx));
                async move {
                    let listener = TcpListener::bind("127.0.0.1:0").await?;
                    bound_tx.send_replace(Some(listener.local_addr()?));
                    run.ready();
                    let app = Router::new().route("/hits", get(hit)).with_state(store);
                    axum::serve(listener, app)
                        .with_graceful_shutdown(run.token().cancelled_owned())
                        .await
                }
            }
        },
        || async { Ok::<_, std::io::Error>(()) },
    )
    .name("http")
    .ready_when(ReadyWhen::Signalled)
    .build()?;

    let warmer = Arc::new(
        Ticker::builder(Duration::from_millis(20), {
            let store = Arc::clone(&store);
            move |_: TickContext| {
                // Warms a "cache" entry from the store.
                let mut store = store.lock().unwrap();
                let hits = store.get("hits").copied().unwrap_or(0);
                store.insert("cached-hits".into(), hits);
                async { Ok::<_, std::io::Error>(()) }
            }
        })
        .name("cache-warmer")
        .build()?,
    );
    let metrics = Arc::new(
        Ticker::builder(Duration::from_millis(50), {
            let store = Arc::clone(&store);
            move |_: TickContext| {
                let hits = store.lock().unwrap().get("hits").copied().unwrap_or(0);
                async move {
                    println!("metrics: {hits} hits so far");
                    Ok::<_, std::io::Error>(())
                }
            }
        })
        .name("metrics")
        .build()?,
    );

    let supervisor = Supervisor::builder()
        .name("app")
        .service("db", db, ServiceOptions::new())
        .service("http", http, ServiceOptions::new().requires("db"))
        .service(
            "cache-warmer",
            Arc::clone(&warmer),
            ServiceOptions::new().after("http"),
        )
        .service(
            "metrics",
            Arc::clone(&metrics),
            ServiceOptions::new().after("http"),
        )
        .stop_deadline(Duration::from_secs(10))
        .build()?;
    let mut events = supervisor.subscribe();

    supervisor.start().await?;
    println!("started: {}", supervisor.health_status().services.len());
    let addr = (*bound.borrow()).ok_or("the server is ready, so it is bound")?;
    for _ in 0..3 {
        let body = http_get(addr, "/hits").await?;
        println!("GET http://{addr}/hits -> {body}");
    }
    warmer.until_runs(3).await;
    metrics.until_runs(2).await;
    assert_eq!(store.lock().unwrap().get("cached-hits"), Some(&3));
    for service in supervisor.health_status().services {
        println!(
            "  {:<13} {:<8} ready={} uptime={:?}",
            service.name, service.state, service.ready, service.uptime
        );
    }

    supervisor.stop().await?;
    // The order things happened in, from the supervisor's events.
    let (mut started, mut stopped) = (Vec::new(), Vec::new());
    while let Some(Ok(event)) = events.try_recv() {
        match event {
            Event::Ready { service } => started.push(service),
            Event::Stopped { service } => stopped.push(service),
            _ => {}
        }
    }
    println!("ready in order:   {started:?}");
    println!("stopped in order: {stopped:?}");
    let at = |list: &[Arc<str>], name: &str| list.iter().position(|s| &**s == name).unwrap();
    assert!(at(&started, "db") < at(&started, "http"));
    assert!(at(&stopped, "http") < at(&stopped, "db"));
    assert!(at(&stopped, "metrics") < at(&stopped, "http"));
    assert!(at(&stopped, "cache-warmer") < at(&stopped, "http"));
    assert!(supervisor.state().is_idle());
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
    println!("stopped cleanly: {}", supervisor.state());
    Ok(())
}

/// `GET /hits`: counts the hit in the store.
async fn hit(AxumState(store): AxumState<Store>) -> String {
    let mut store = store.lock().unwrap();
    let hits = store.entry("hits".into()).or_default();
    *hits += 1;
    format!("hit #{hits}")
}

/// `GET path` over a fresh connection; returns the body.
async fn http_get(addr: SocketAddr, path: &str) -> Result<String, BoxError> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (_, body) = response
        .split_once("\r\n\r\n")
        .ok_or("response without an end of headers")?;
    Ok(body.to_owned())
}
