//! The stop request: SIGTERM resolves `shutdown_signal` instead of killing the process.

use crate::support::within;

#[tokio::test]
async fn sigterm_resolves_the_shutdown_signal() {
    let mut stopping = Box::pin(exai_ipc::shutdown_signal());
    // Poll once so that the SIGTERM handler is installed before the signal is sent.
    let resolved_early = tokio::select! {
        biased;
        () = &mut stopping => true,
        () = std::future::ready(()) => false,
    };
    assert!(!resolved_early, "shutdown_signal resolved with no request");

    // SAFETY: sending a signal to ourselves; the handler installed above catches it.
    let rc = unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    assert_eq!(rc, 0, "kill failed: {}", std::io::Error::last_os_error());
    within("shutdown_signal after SIGTERM", stopping).await;
}
