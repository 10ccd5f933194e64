//! What ends a service's `main`: SIGINT or SIGTERM on Unix, Ctrl-C elsewhere.

use core::future::Future;

/// Listens from now on (the handlers are installed before this returns, so a signal that comes
/// before the first poll is not missed) and resolves at the next SIGINT or SIGTERM (Ctrl-C
/// where there are no Unix signals). If the handlers cannot be installed, it never resolves,
/// and says so in a `tracing` event.
pub(crate) fn shutdown() -> impl Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let signals = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        );
        async move {
            match signals {
                (Ok(mut interrupt), Ok(mut terminate)) => {
                    tokio::select! {
                        _ = interrupt.recv() => {}
                        _ = terminate.recv() => {}
                    }
                }
                (Err(error), _) | (_, Err(error)) => {
                    tracing::error!(target: "runner::supervisor", %error, "supervisor.signal: cannot listen for signals");
                    core::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::error!(target: "runner::supervisor", %error, "supervisor.signal: cannot listen for Ctrl-C");
                core::future::pending::<()>().await;
            }
        }
    }
}
