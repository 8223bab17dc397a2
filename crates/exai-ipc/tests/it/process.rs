//! Process watching: our parent's pid and waiting for another process to exit.

use std::time::Duration;

use exai_ipc::{parent_pid, wait_for_exit};
use tokio::process::{Child, Command};

use crate::support::within;

/// A child that would run for 30 seconds unless killed.
#[track_caller]
fn long_running_child() -> Child {
    let mut command = if cfg!(windows) {
        let mut ping = Command::new("ping");
        ping.args(["-n", "31", "127.0.0.1"]);
        ping
    } else {
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        sleep
    };
    command.kill_on_drop(true);
    match command.spawn() {
        Ok(child) => child,
        Err(err) => panic!("cannot spawn the long-running child: {err}"),
    }
}

#[tokio::test]
async fn wait_for_exit_resolves_when_the_process_is_killed() {
    let mut child = long_running_child();
    let Some(pid) = child.id() else {
        panic!("a running child has a pid");
    };
    let mut waiting = Box::pin(wait_for_exit(pid));
    // Poll once: the watch is set up, and it must not resolve while the child is alive.
    let resolved_early = tokio::select! {
        biased;
        () = &mut waiting => true,
        () = std::future::ready(()) => false,
    };
    assert!(
        !resolved_early,
        "wait_for_exit resolved while the child was alive"
    );

    if let Err(err) = child.kill().await {
        panic!("cannot kill the child: {err}");
    }
    within("wait_for_exit after the kill", waiting).await;
}

#[tokio::test]
async fn wait_for_exit_on_a_pid_that_does_not_exist_returns_at_once() {
    let mut child = long_running_child();
    let Some(pid) = child.id() else {
        panic!("a running child has a pid");
    };
    // Killed and reaped, so the pid names no process any more.
    if let Err(err) = child.kill().await {
        panic!("cannot kill the child: {err}");
    }
    let started = std::time::Instant::now();
    within("wait_for_exit on a dead pid", wait_for_exit(pid)).await;
    // Well under the fallback's 500 ms probe interval, so no probe loop ran.
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn parent_pid_is_our_parent() {
    let parent = parent_pid();
    #[cfg(unix)]
    assert_eq!(parent, Some(std::os::unix::process::parent_id()));
    #[cfg(windows)]
    assert!(parent.is_some_and(|ppid| ppid != std::process::id()));
}
