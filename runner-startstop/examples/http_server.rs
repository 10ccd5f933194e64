//! An HTTP server (axum) run by a `StartStop`: `start()` returns once the port is bound, and
//! `stop()` returns once axum's graceful shutdown has finished and the port is closed.
//!
//! The start function binds `127.0.0.1:0`, records the address it got, signals ready
//! (`ReadyWhen::Signalled`) and serves until the run's cancellation token fires. The stop
//! function is the place for the rest of a graceful shutdown; here it only says it ran. `main`
//! then sends three requests with a hand-written HTTP/1.1 client, stops the server, and checks
//! that the port refuses connections afterwards and that no error was recorded.
//!
//! Run it with:
//!
//! ```sh
//! cargo run -p runner-startstop --example http_server
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::routing::get;
use runner_core::{ErrorHistory, Exit, Runner, State, Status};
use runner_startstop::{ReadyWhen, RunContext, StartStop};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const BODY: &str = "hello from runner-startstop\n";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Where the server is listening: written by the start function, read by `main`.
    let (bound_tx, bound) = watch::channel(None::<SocketAddr>);
    let bound_tx = Arc::new(bound_tx);
    let stop_calls = Arc::new(AtomicUsize::new(0));

    let server = StartStop::builder(
        move |run: RunContext| {
            let bound_tx = Arc::clone(&bound_tx);
            async move {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                bound_tx.send_replace(Some(listener.local_addr()?));
                run.ready(); // the pending `start()` resolves now: the port is bound
                let app = Router::new().route("/", get(|| async { BODY }));
                // Graceful shutdown starts when `stop()` cancels the run's token: axum stops
                // accepting, finishes the requests in flight, and `serve` returns.
                axum::serve(listener, app)
                    .with_graceful_shutdown(run.token().cancelled_owned())
                    .await?;
                println!("start fn: serve loop ended, listener closed");
                Ok::<_, std::io::Error>(())
            }
        },
        {
            let stop_calls = Arc::clone(&stop_calls);
            move || {
                stop_calls.fetch_add(1, Ordering::SeqCst);
                async {
                    println!("stop fn: graceful shutdown requested");
                    Ok::<_, std::io::Error>(())
                }
            }
        },
    )
    .name("http-server")
    .ready_when(ReadyWhen::Signalled)
    .build()?;

    server.start().await?;
    assert_eq!(server.state(), State::Running);
    let addr = (*bound.borrow()).ok_or("start() returned before the port was bound")?;
    let uptime = server.uptime().ok_or("a running server has an uptime")?;
    println!("listening on http://{addr} (uptime {uptime:?})");

    // `start` on a running server is a no-op: no second bind, same address.
    server.start().await?;
    assert_eq!(*bound.borrow(), Some(addr));

    for n in 1..=3 {
        let (status, body) = http_get(addr, "/").await?;
        println!("GET / #{n}: {status} {body:?}");
        assert_eq!(status, 200);
        assert_eq!(body, BODY);
    }
    let (status, _) = http_get(addr, "/missing").await?;
    println!("GET /missing: {status}");
    assert_eq!(status, 404);

    server.stop().await?;
    assert_eq!(server.state(), State::Stopped);
    assert!(matches!(server.last_exit(), Some(Exit::Stopped)));
    assert_eq!(server.uptime(), None);
    assert_eq!(stop_calls.load(Ordering::SeqCst), 1);

    // `stop()` returned after the serve loop ended, so the listener is already closed.
    let refused = TcpStream::connect(addr).await;
    assert!(refused.is_err(), "port {addr} still accepts after stop()");
    if let Err(error) = refused {
        println!("after stop: connect to {addr}: {error}");
    }

    assert_eq!(server.error_count(), 0);
    println!("stopped cleanly, {} errors recorded", server.error_count());
    Ok(())
}

/// `GET path` over a fresh connection; returns the status code and the body.
async fn http_get(
    addr: SocketAddr,
    path: &str,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("response without an end of headers")?;
    let status = head
        .split(' ')
        .nth(1)
        .ok_or("response without a status code")?
        .parse()?;
    Ok((status, body.to_owned()))
}
