//! A runner of your own in a few lines: a TCP echo service on 127.0.0.1, built on
//! runner-lifecycle, checked by the conformance kit, then run beside a `StartStop` and a
//! `Ticker` in one `Vec<Arc<dyn DynRunner>>`. The same code is the workspace README's example.
//!
//! Run it with `cargo run -p runner-lifecycle --example custom_runner --features conformance`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use runner_core::conformance::Kit;
use runner_core::{DynRunner, ErrorHistory, Runner, Status};
use runner_lifecycle::{Managed, Probed, RunContext, Work};
use runner_startstop::StartStop;
use runner_ticker::{TickContext, Ticker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Echoes back whatever a client sends, on a port bound once and kept across restarts.
struct Echo(std::net::TcpListener);

impl Echo {
    fn bind() -> std::io::Result<Echo> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        Ok(Echo(listener))
    }
}

impl Work for Echo {
    type Error = std::io::Error;

    async fn run(self: Arc<Self>, run: RunContext) -> std::io::Result<()> {
        let listener = TcpListener::from_std(self.0.try_clone()?)?;
        loop {
            let (mut socket, _) = tokio::select! {
                () = run.cancelled() => return Ok(()),
                accepted = listener.accept() => accepted?,
            };
            let token = run.token(); // cancelled on stop: connections end with the run
            tokio::spawn(async move {
                let (mut from, mut to) = socket.split();
                token
                    .run_until_cancelled(tokio::io::copy(&mut from, &mut to))
                    .await
            });
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The kit makes one run panic on purpose: print that one as a line, not a backtrace.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |panic| {
        match panic.payload().downcast_ref::<String>() {
            Some(scripted) if scripted.contains("conformance kit") => eprintln!("({scripted})"),
            _ => hook(panic),
        }
    }));

    // The kit checks the whole contract, with the echo's real accept loop inside.
    Kit::new(|probe| Managed::new(Probed::new(Echo::bind().expect("bind 127.0.0.1"), probe)))
        .deadline(Duration::from_secs(10), tokio::time::sleep)
        .run()
        .await
        .assert_ok();

    // It is a runner like any other: one collection with a StartStop and a Ticker.
    let echo = Echo::bind()?;
    let addr = echo.0.local_addr()?;
    let runners: Vec<Arc<dyn DynRunner>> = vec![
        Arc::new(Managed::new(echo)),
        Arc::new(StartStop::new(
            |run: runner_startstop::RunContext| async move {
                run.cancelled().await;
                Ok::<_, Infallible>(())
            },
            || async { Ok::<_, Infallible>(()) },
        )),
        Arc::new(Ticker::new(
            Duration::from_millis(10),
            |_tick: TickContext| async { Ok::<_, Infallible>(()) },
        )?),
    ];
    for runner in &runners {
        runner.start().await?;
    }

    let mut client = TcpStream::connect(addr).await?;
    client.write_all(b"ping").await?;
    let mut reply = [0; 4];
    client.read_exact(&mut reply).await?;
    assert_eq!(&reply, b"ping");

    for runner in runners.iter().rev() {
        runner.stop().await?;
    }
    assert!(
        runners
            .iter()
            .all(|r| !r.is_running() && r.error_count() == 0)
    );
    println!(
        "echoed {:?} on {addr}; all three runners stopped cleanly",
        "ping"
    );
    Ok(())
}
