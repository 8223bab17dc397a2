//! The "please stop" request of a foreground process: Ctrl-C everywhere, plus SIGTERM on Unix
//! and Ctrl-Break, console close and system shutdown on Windows (those live in the backends).
//!
//! It lives here because this crate is the one place for platform differences.

use crate::backend;

/// Resolves when the user or the service manager asks this process to stop.
///
/// If Ctrl-C cannot be watched, that is logged and only the platform's other requests count;
/// it never resolves by mistake.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %err, "cannot watch Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = backend::stop_requested() => {}
    }
}
