//! Process watching: our parent's pid and waiting for another process to exit.

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
    let mut waiting = std::pin::pin!(wait_for_exit(pid));
    if cfg!(unix) {
        // Done at the first poll: no probe loop ran and no timer was set (a timed bound here
        // would fail on a busy machine).
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(
            waiting.as_mut().poll(&mut cx).is_ready(),
            "wait_for_exit on a dead pid did not return at once"
        );
    } else {
        // Windows waits on a thread; it still returns.
        within("wait_for_exit on a dead pid", waiting).await;
    }
}

#[cfg(unix)]
#[test]
fn parent_pid_is_our_parent() {
    assert_eq!(parent_pid(), Some(std::os::unix::process::parent_id()));
}

/// Set in the child that [`parent_pid_of_a_child_we_spawn_is_us`] starts.
#[cfg(windows)]
const REPORT_PARENT_ENV: &str = "EXAI_IPC_TEST_REPORT_PARENT";

/// On Windows the test binary's own parent may be no Windows process at all (under Wine it is
/// cargo, a Linux process, and the answer is rightly `None`), so the test starts itself as a
/// child and checks that the child names us.
#[cfg(windows)]
#[test]
#[allow(
    clippy::print_stdout,
    reason = "the child reports to the parent test on stdout"
)]
fn parent_pid_of_a_child_we_spawn_is_us() {
    if std::env::var_os(REPORT_PARENT_ENV).is_some() {
        // The child: report what we see on stdout; libtest may put other text on the same line.
        println!("<parent-pid={:?}>", parent_pid());
        return;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "process::parent_pid_of_a_child_we_spawn_is_us",
            "--nocapture",
        ])
        .args(["--test-threads", "1"])
        .env(REPORT_PARENT_ENV, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed: {stdout}");
    let expected = format!("<parent-pid={:?}>", Some(std::process::id()));
    assert!(
        stdout.contains(&expected),
        "expected `{expected}` in the child's output:\n{stdout}"
    );
}
