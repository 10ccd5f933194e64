//! What ends a service's `main`: SIGINT or SIGTERM on Unix, Ctrl-C elsewhere.

/// Resolves at the next SIGINT or SIGTERM (Ctrl-C where there are no Unix signals). If the
/// handlers cannot be installed, it never resolves, and says so in a `tracing` event.
pub(crate) async fn shutdown() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            (Err(error), _) | (_, Err(error)) => {
                tracing::error!(target: "runner::supervisor", %error, "supervisor.signal: cannot listen for signals");
                std::future::pending::<()>().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(target: "runner::supervisor", %error, "supervisor.signal: cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}
