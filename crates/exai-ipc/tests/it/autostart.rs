//! The autostart lock: one holder per endpoint across processes, released on drop or death,
//! never inherited by a program started while holding it.

use std::io;

use exai_ipc::AutostartLock;

use crate::helper::{Helper, Mode};
use crate::support::{TestEndpoint, within};

#[track_caller]
fn assert_held(result: io::Result<AutostartLock>) {
    match result {
        Err(err) => assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}"),
        Ok(lock) => panic!("got {lock:?} while another holder has it"),
    }
}

#[test]
fn a_second_locker_in_the_same_process_would_block_until_the_first_lets_go() {
    let test = TestEndpoint::new();
    let mut helper = Helper::start(Mode::LockCycle, Some(&test.endpoint.to_string()), |_| {});
    assert_eq!(helper.read("cycle"), "held,free");
    helper.finish();
}

#[test]
fn locks_of_different_endpoints_are_independent() {
    let one = TestEndpoint::new();
    let other = TestEndpoint::new();
    let _one = AutostartLock::try_acquire(&one.endpoint).expect("one");
    let _other = AutostartLock::try_acquire(&other.endpoint).expect("other");
}

#[test]
fn a_lock_held_by_another_process_would_block_until_that_process_lets_go() {
    let test = TestEndpoint::new();
    let mut helper = Helper::start(Mode::HoldLock, Some(&test.endpoint.to_string()), |_| {});
    assert_eq!(helper.read("locked"), "yes");
    assert_held(AutostartLock::try_acquire(&test.endpoint));
    helper.finish();
    let _ours = AutostartLock::try_acquire(&test.endpoint).expect("after the helper exited");
}

#[test]
fn a_lock_held_by_a_killed_process_is_free_again() {
    let test = TestEndpoint::new();
    let mut helper = Helper::start(Mode::HoldLock, Some(&test.endpoint.to_string()), |_| {});
    assert_eq!(helper.read("locked"), "yes");
    helper.child.kill().expect("kill the helper");
    helper.child.wait().expect("reap the helper");
    let _ours = AutostartLock::try_acquire(&test.endpoint).expect("after the holder died");
}

/// The shim starts the hub while holding the lock; the hub must not keep it.
#[tokio::test]
async fn a_program_started_while_holding_the_lock_does_not_inherit_it() {
    let test = TestEndpoint::new();
    let mut helper = Helper::start(
        Mode::LockThenDetach,
        Some(&test.endpoint.to_string()),
        |_| {},
    );
    let pid = helper.read_pid();
    let free = helper.read("free");
    crate::spawn::kill_detached(pid);
    within("the started program to end", exai_ipc::wait_for_exit(pid)).await;
    helper.finish();
    assert_eq!(
        free, "yes",
        "the lock must be free while the started program runs"
    );
}

/// Beside the socket, in the private directory that listening would create.
#[cfg(unix)]
#[test]
fn the_unix_lock_is_a_file_beside_the_socket_in_a_private_directory() {
    let dir = crate::support::tempdir();
    let runtime = dir.path().join("run");
    std::fs::create_dir(&runtime).expect("mkdir");
    let env = exai_ipc::EndpointEnv {
        exai_endpoint: None,
        run_user_dir: Some(runtime.clone()),
        shared_tmp: dir.path().to_owned(),
        user: "1000".to_owned(),
    };
    let endpoint = exai_ipc::Endpoint::resolve_with(Some("hub"), &env).expect("endpoint");
    let _lock = AutostartLock::try_acquire(&endpoint).expect("lock");
    assert_eq!(crate::support::mode_of(&runtime.join("exai")), 0o700);
    let lock_file = runtime.join("exai/hub.sock.autostart.lock");
    assert_eq!(crate::support::mode_of(&lock_file), 0o600);
}
