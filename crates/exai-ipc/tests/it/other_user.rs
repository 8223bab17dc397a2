//! A peer from another user is accepted and reported as such, not silently dropped; and a
//! listener of another user is refused by `connect` before anything is sent.
//!
//! The real check needs root, to become uid 65534 in a forked child. Without root the test says
//! so on stderr and checks only the pure `same_user` rule.

use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use exai_ipc::PeerInfo;
use tokio::io::AsyncReadExt;

use crate::support::{TestEndpoint, chmod, is_root, listen_ok, skipped_needs_root, within};

/// The uid and gid of `nobody` on most systems; no passwd entry is needed to switch to it.
const NOBODY: u32 = 65534;

#[tokio::test]
async fn a_peer_from_another_user_is_reported_with_its_uid() {
    assert!(!PeerInfo::from_ids(Some(1), Some(NOBODY), Some(0)).same_user);
    assert!(!PeerInfo::from_ids(Some(1), None, Some(0)).same_user);
    assert!(PeerInfo::from_ids(Some(1), Some(7), Some(7)).same_user);

    if !is_root() {
        skipped_needs_root(
            "other_user::a_peer_from_another_user_is_reported_with_its_uid",
            "checked only the same_user rule, not a real connection from another user",
        );
        return;
    }

    let test = TestEndpoint::new();
    let mut listener = listen_ok(&test.endpoint).await;
    // Let uid 65534 reach the socket: both are ours to open up, and only for this test.
    chmod(&test.socket_path(), 0o666);
    chmod(test.dir(), 0o755);

    let child = fork_client_as_nobody(&test.socket_path());
    let mut reaped = tokio::task::spawn_blocking(move || reap(child));
    let mut early_exit = None;
    let accepted = within("accepting the other user's connection", async {
        tokio::select! {
            biased;
            accepted = listener.accept() => accepted,
            status = &mut reaped => {
                // A child that connected, wrote and exited can be reaped before the reactor
                // reports its connection; only a failed child means none is coming.
                assert!(
                    matches!(status, Ok(Ok(0))),
                    "the child ended before it connected: {status:?}"
                );
                early_exit = Some(status);
                listener.accept().await
            }
        }
    })
    .await;
    let mut accepted = match accepted {
        Ok(accepted) => accepted,
        Err(err) => panic!("accept failed: {err}"),
    };

    assert_eq!(accepted.peer.uid, Some(NOBODY));
    assert!(!accepted.peer.same_user, "{:?}", accepted.peer);
    assert_eq!(accepted.peer.pid, u32::try_from(child).ok());

    let mut received = Vec::new();
    let read = within(
        "reading the child's bytes",
        accepted.stream.read_to_end(&mut received),
    )
    .await;
    assert!(read.is_ok(), "{read:?}");
    assert_eq!(received, b"hi");
    let status = match early_exit {
        Some(status) => status,
        None => within("reaping the child", reaped).await,
    };
    assert!(matches!(status, Ok(Ok(0))), "child exit: {status:?}");
}

/// The other direction: something that listens as another user, in a place that looks like
/// ours (our directory, a socket file owned by us), is refused by `connect` by its peer uid, and
/// receives not a byte.
#[tokio::test]
async fn a_listener_of_another_user_is_refused_and_receives_nothing() {
    if !is_root() {
        skipped_needs_root(
            "other_user::a_listener_of_another_user_is_refused_and_receives_nothing",
            "cannot listen as another user",
        );
        return;
    }
    let test = TestEndpoint::new();
    let (child, ready) = fork_listener_as_nobody(&test.socket_path());
    let mut ready = ready;
    let signalled = tokio::task::spawn_blocking(move || {
        let mut byte = [0u8; 1];
        std::io::Read::read_exact(&mut ready, &mut byte)
    });
    let signalled = within("the other user's listener to be ready", signalled).await;
    assert!(matches!(signalled, Ok(Ok(()))), "{signalled:?}");

    let err = exai_ipc::connect(&test.endpoint).await.err();
    let refused = matches!(&err, Some(exai_ipc::ConnectError::Untrusted { reason, .. }) if reason.contains("runs as uid 65534"));
    if !refused {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(child, libc::SIGKILL) };
    }
    assert!(refused, "{err:?}");
    let status = within(
        "the listener to count what it received",
        tokio::task::spawn_blocking(move || reap(child)),
    )
    .await;
    assert!(
        matches!(status, Ok(Ok(0))),
        "the listener's exit (the bytes it received, or 100+ for a failed step): {status:?}"
    );
}

/// Forks a child that binds `socket_path` as root (so the file is root's, like ours), becomes
/// uid/gid 65534 and only then listens (so the peer credentials are 65534's), says so on the
/// returned pipe, accepts one connection and exits with the number of bytes it received.
///
/// Exit codes of 100 and more say which step failed: 100 socket, 101 bind, 102 setgid,
/// 103 setuid, 104 listen, 105 ready, 106 accept.
fn fork_listener_as_nobody(socket_path: &Path) -> (libc::pid_t, std::fs::File) {
    use std::os::fd::FromRawFd;
    // SAFETY: sockaddr_un is plain old data, for which all zeroes is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path_bytes = socket_path.as_os_str().as_bytes();
    assert!(
        path_bytes.len() < addr.sun_path.len(),
        "socket path too long"
    );
    for (slot, byte) in addr.sun_path.iter_mut().zip(path_bytes) {
        *slot = *byte as libc::c_char;
    }
    let addr_len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
    let [read_end, write_end] = fds;
    let mut buffer = [0u8; 256];

    // SAFETY: the child branch below calls only async-signal-safe functions, then `_exit`.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", io::Error::last_os_error()),
        0 => unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                libc::_exit(100);
            }
            let sockaddr = (&raw const addr).cast::<libc::sockaddr>();
            if libc::bind(fd, sockaddr, addr_len) != 0 {
                libc::_exit(101);
            }
            if libc::setgid(NOBODY) != 0 {
                libc::_exit(102);
            }
            if libc::setuid(NOBODY) != 0 {
                libc::_exit(103);
            }
            if libc::listen(fd, 4) != 0 {
                libc::_exit(104);
            }
            if libc::write(write_end, b"r".as_ptr().cast(), 1) != 1 {
                libc::_exit(105);
            }
            let conn = libc::accept(fd, std::ptr::null_mut(), std::ptr::null_mut());
            if conn < 0 {
                libc::_exit(106);
            }
            let mut total: usize = 0;
            loop {
                let n = libc::read(conn, buffer.as_mut_ptr().cast(), buffer.len());
                if n <= 0 {
                    break;
                }
                total += n as usize;
            }
            libc::_exit(total.min(99) as libc::c_int)
        },
        child => {
            // SAFETY: the write end is ours to close; the read end is handed to the File.
            unsafe { libc::close(write_end) };
            (child, unsafe { std::fs::File::from_raw_fd(read_end) })
        }
    }
}

/// Forks a child that becomes uid/gid 65534, connects to `socket_path`, writes `hi` and exits.
///
/// Its exit code says how far it got: 0 done, 10 setgid, 11 setuid, 12 socket, 13 connect,
/// 14 write.
fn fork_client_as_nobody(socket_path: &Path) -> libc::pid_t {
    // Everything the child uses is prepared here: after fork in a multi-threaded process the
    // child may only call async-signal-safe functions.
    // SAFETY: sockaddr_un is plain old data, for which all zeroes is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path_bytes = socket_path.as_os_str().as_bytes();
    assert!(
        path_bytes.len() < addr.sun_path.len(),
        "socket path too long"
    );
    for (slot, byte) in addr.sun_path.iter_mut().zip(path_bytes) {
        *slot = *byte as libc::c_char;
    }
    let addr_len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let message = b"hi";

    // SAFETY: the child branch below calls only async-signal-safe functions, then `_exit`.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", io::Error::last_os_error()),
        0 => unsafe {
            if libc::setgid(NOBODY) != 0 {
                libc::_exit(10);
            }
            if libc::setuid(NOBODY) != 0 {
                libc::_exit(11);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                libc::_exit(12);
            }
            let sockaddr = (&raw const addr).cast::<libc::sockaddr>();
            if libc::connect(fd, sockaddr, addr_len) != 0 {
                libc::_exit(13);
            }
            if libc::write(fd, message.as_ptr().cast(), message.len()) != 2 {
                libc::_exit(14);
            }
            libc::_exit(0)
        },
        child => child,
    }
}

/// Waits for the child and returns its exit code.
fn reap(child: libc::pid_t) -> io::Result<i32> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out pointer; `child` is our own child.
        let rc = unsafe { libc::waitpid(child, &mut status, 0) };
        if rc == child {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    if libc::WIFEXITED(status) {
        Ok(libc::WEXITSTATUS(status))
    } else {
        Err(io::Error::other(format!(
            "child died abnormally: status {status}"
        )))
    }
}
