//! Process-level platform calls on Unix: our parent's pid, waiting for another process to exit,
//! and SIGTERM as a stop request.
//!
//! On Linux, [`wait_for_exit`] opens a pidfd and awaits its readability through tokio's
//! reactor, so nothing polls; a pidfd turns readable once the process has exited, including when
//! it is a zombie that nobody has reaped yet. When `pidfd_open` is unavailable (`ENOSYS` before
//! Linux 5.3, `EPERM` under some seccomp filters) and on other Unixes such as macOS, it falls
//! back to probing with `kill(pid, 0)` every 500 ms. The fallback has two known limits: a zombie
//! still counts as alive, and a recycled pid makes it wait for the new process.

#![cfg(unix)]

use std::io;
use std::time::Duration;

/// How often the fallback probes a process it cannot watch with a pidfd.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

pub(crate) fn parent_pid() -> Option<u32> {
    // SAFETY: getppid has no preconditions and cannot fail.
    let ppid = unsafe { libc::getppid() };
    // A parent outside our pid namespace shows up as 0, which names no process.
    u32::try_from(ppid).ok().filter(|&ppid| ppid != 0)
}

pub(crate) async fn wait_for_exit(pid: u32) {
    // Pids that do not fit, and 0 (which kill(2) reads as "our process group"), name no process.
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 0 {
        return;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    match pidfd::wait(pid).await {
        Ok(()) => return,
        Err(err) => {
            tracing::debug!(pid, error = %err, "cannot watch the process with a pidfd; polling instead");
        }
    }
    poll_until_gone(pid).await;
}

/// The portable fallback: probe with `kill(pid, 0)` until the process is gone.
pub(super) async fn poll_until_gone(pid: libc::pid_t) {
    while process_exists(pid) {
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn process_exists(pid: libc::pid_t) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let rc = unsafe { libc::kill(pid, 0) };
    // EPERM means the process exists but belongs to someone else.
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Resolves on SIGTERM, the service manager's way of asking us to stop. Ctrl-C (SIGINT) is
/// handled by the shared code.
pub(crate) async fn stop_requested() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => {
            // `recv` returns `None` only if the signal driver goes away, which is no request.
            if terminate.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot watch SIGTERM; only Ctrl-C stops this process");
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod pidfd {
    use std::io;
    use std::os::fd::{FromRawFd, OwnedFd, RawFd};

    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// Waits on a pidfd. `Ok` means the process has exited (or never existed); `Err` means a
    /// pidfd cannot be used here and the caller should fall back to polling.
    pub(super) async fn wait(pid: libc::pid_t) -> io::Result<()> {
        // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
        let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(libc::ESRCH) {
                return Ok(());
            }
            return Err(err);
        }
        let raw = RawFd::try_from(rc).map_err(|_| io::Error::other("pidfd out of range"))?;
        // SAFETY: pidfd_open just returned this descriptor, and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: the `OwnedFd` moves into the `AsyncFd`, which keeps it open and unchanged
        // until it is dropped. (`register_with_interest` needs tokio 1.53.3 or later.)
        let watched = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        let _ready = watched.readable().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_polling_fallback_sees_a_killed_child_exit() {
        let mut child = match tokio::process::Command::new("sleep").arg("30").spawn() {
            Ok(child) => child,
            Err(err) => panic!("cannot spawn `sleep 30`: {err}"),
        };
        let pid = child.id().and_then(|pid| libc::pid_t::try_from(pid).ok());
        let Some(pid) = pid else {
            panic!("the child has no pid");
        };
        assert!(process_exists(pid), "a running child must be seen as alive");
        let waiter = tokio::spawn(poll_until_gone(pid));
        // `kill` also reaps the child, so the fallback (which counts zombies as alive) can end.
        if let Err(err) = child.kill().await {
            panic!("cannot kill the child: {err}");
        }
        let outcome = tokio::time::timeout(Duration::from_secs(10), waiter).await;
        assert!(
            matches!(outcome, Ok(Ok(()))),
            "the fallback did not notice the exit"
        );
    }

    #[tokio::test]
    async fn pid_zero_and_out_of_range_pids_return_at_once() {
        let outcome = tokio::time::timeout(Duration::from_secs(5), async {
            wait_for_exit(0).await;
            wait_for_exit(u32::MAX).await;
        })
        .await;
        assert!(outcome.is_ok());
    }
}
