//! Where a bare name may be, and what `connect` trusts there: the hub binds at the first place
//! and refuses when a hub answers at another, a client uses the first place that answers and
//! lists them all when none does, and a place that is not provably ours is refused before a
//! byte is sent.
//!
//! The places are pointed at tempdirs through `EndpointEnv` (`run_user_dir` for the first,
//! `shared_tmp` for the fallback), so nothing here touches `/run/user` or `/tmp`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use exai_ipc::{ConnectError, Endpoint, EndpointEnv, ListenError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{chmod, connected_pair, listen_ok, skipped_needs_root, tempdir, within};

fn our_uid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

/// Two worlds of places: `run` stands for `/run/user/<uid>`, `tmp` for `/tmp`.
struct Places {
    run: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl Places {
    fn new() -> Places {
        Places {
            run: tempdir(),
            tmp: tempdir(),
        }
    }

    /// The facts with or without the per-user runtime dir (before and after a login).
    fn env(&self, with_run_user: bool) -> EndpointEnv {
        EndpointEnv {
            exai_endpoint: None,
            run_user_dir: with_run_user.then(|| self.run.path().to_owned()),
            shared_tmp: self.tmp.path().to_owned(),
            user: our_uid().to_string(),
        }
    }

    fn endpoint(&self, with_run_user: bool) -> Endpoint {
        match Endpoint::resolve_with(Some("hub"), &self.env(with_run_user)) {
            Ok(endpoint) => endpoint,
            Err(err) => panic!("cannot resolve: {err}"),
        }
    }

    fn run_socket(&self) -> PathBuf {
        self.run.path().join("exai/hub.sock")
    }

    fn tmp_dir(&self) -> PathBuf {
        self.tmp.path().join(format!("exai-{}", our_uid()))
    }

    fn tmp_socket(&self) -> PathBuf {
        self.tmp_dir().join("hub.sock")
    }
}

fn shown(path: &Path) -> String {
    path.display().to_string()
}

#[tokio::test]
async fn a_hub_in_tmp_from_before_login_is_found_and_a_second_hub_is_refused() {
    let places = Places::new();
    let before_login = places.endpoint(false);
    let after_login = places.endpoint(true);
    assert_eq!(before_login.candidates(), [shown(&places.tmp_socket())]);
    assert_eq!(
        after_login.candidates(),
        [shown(&places.run_socket()), shown(&places.tmp_socket())]
    );

    let mut first = listen_ok(&before_login).await;
    let second = exai_ipc::listen(&after_login).await;
    assert!(
        matches!(&second, Err(ListenError::AlreadyRunning { endpoint }) if *endpoint == shown(&places.tmp_socket())),
        "{:?}",
        second.err()
    );
    assert!(
        !places.run_socket().exists(),
        "the refused hub must not leave a socket where clients look first"
    );

    // A client that looks in /run/user first finds the hub in /tmp.
    let (client, accepted) = within("connect and accept", async {
        tokio::join!(exai_ipc::connect(&after_login), first.accept())
    })
    .await;
    let (mut client, mut server) = match (client, accepted) {
        (Ok(client), Ok(accepted)) => (client, accepted.stream),
        (client, accepted) => panic!("connect: {:?}, accept: {:?}", client.err(), accepted.err()),
    };
    within("a byte through", async {
        client.write_all(b"x").await.expect("write");
        assert_eq!(server.read_u8().await.expect("read"), b'x');
    })
    .await;
}

#[tokio::test]
async fn a_hub_binds_at_the_first_place_and_clients_find_it_there() {
    let places = Places::new();
    let endpoint = places.endpoint(true);
    assert_eq!(endpoint.to_string(), shown(&places.run_socket()));
    let mut listener = listen_ok(&endpoint).await;
    assert!(places.run_socket().exists());
    assert!(!places.tmp_dir().exists(), "the fallback is not created");
    let _pair = connected_pair(&mut listener).await;
}

#[tokio::test]
async fn with_no_hub_the_error_lists_every_place_looked_at() {
    let places = Places::new();
    let err = exai_ipc::connect(&places.endpoint(true)).await.err();
    let Some(ConnectError::NotRunning { looked_at, .. }) = &err else {
        panic!("expected NotRunning, got {err:?}");
    };
    assert_eq!(
        looked_at,
        &[shown(&places.run_socket()), shown(&places.tmp_socket())]
    );
    let message = err.map(|err| err.to_string()).unwrap_or_default();
    assert!(
        message.contains(&shown(&places.run_socket()))
            && message.contains(&shown(&places.tmp_socket())),
        "{message}"
    );
}

/// A socket somebody else could have put there: a directory open to everyone. Needs no root.
#[tokio::test]
async fn a_place_in_a_world_writable_directory_is_refused_and_nothing_is_sent() {
    let places = Places::new();
    let dir = places.run.path().join("exai");
    std::fs::create_dir(&dir).expect("mkdir");
    chmod(&dir, 0o777);
    let squatter = std::os::unix::net::UnixListener::bind(places.run_socket()).expect("bind");
    squatter.set_nonblocking(true).expect("nonblocking");

    let err = exai_ipc::connect(&places.endpoint(true)).await.err();
    assert!(
        matches!(&err, Some(ConnectError::Untrusted { path, reason }) if *path == shown(&dir) && reason.contains("777")),
        "{err:?}"
    );
    let message = err.map(|err| err.to_string()).unwrap_or_default();
    assert!(message.contains("refusing to connect"), "{message}");
    // Not even a connection was made, so not a byte was sent.
    let accepted = squatter.accept();
    assert!(
        matches!(&accepted, Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
        "{accepted:?}"
    );

    // The same for an explicit path in such a directory.
    let explicit = Endpoint::named(&shown(&places.run_socket())).expect("named");
    let err = exai_ipc::connect(&explicit).await.err();
    assert!(
        matches!(err, Some(ConnectError::Untrusted { .. })),
        "{err:?}"
    );
}

/// A refused first place is reported, not skipped for a later one that answers.
#[tokio::test]
async fn an_untrusted_first_place_is_not_skipped() {
    let places = Places::new();
    let _hub = listen_ok(&places.endpoint(false)).await;
    let dir = places.run.path().join("exai");
    std::fs::create_dir(&dir).expect("mkdir");
    chmod(&dir, 0o757);
    let _squatter = std::os::unix::net::UnixListener::bind(places.run_socket()).expect("bind");
    let err = exai_ipc::connect(&places.endpoint(true)).await.err();
    assert!(
        matches!(err, Some(ConnectError::Untrusted { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_directory_or_socket_of_another_user_is_refused() {
    if our_uid() != 0 {
        skipped_needs_root(
            "places::a_directory_or_socket_of_another_user_is_refused",
            "cannot give files to another user",
        );
        return;
    }
    const NOBODY: u32 = 65534;
    // The directory belongs to another user.
    let places = Places::new();
    let dir = places.run.path().join("exai");
    std::fs::create_dir(&dir).expect("mkdir");
    chmod(&dir, 0o700);
    let _squatter = std::os::unix::net::UnixListener::bind(places.run_socket()).expect("bind");
    std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).expect("chown");
    let err = exai_ipc::connect(&places.endpoint(true)).await.err();
    assert!(
        matches!(&err, Some(ConnectError::Untrusted { path, reason }) if *path == shown(&dir) && reason.contains("uid 65534")),
        "{err:?}"
    );

    // Our directory, but the socket in it belongs to another user.
    let places = Places::new();
    let listener = listen_ok(&places.endpoint(true)).await;
    std::os::unix::fs::chown(places.run_socket(), Some(NOBODY), Some(NOBODY)).expect("chown");
    let err = exai_ipc::connect(&places.endpoint(true)).await.err();
    assert!(
        matches!(&err, Some(ConnectError::Untrusted { path, reason }) if *path == shown(&places.run_socket()) && reason.contains("socket is owned by uid 65534")),
        "{err:?}"
    );
    drop(listener);
    assert_eq!(
        std::fs::metadata(places.run.path().join("exai"))
            .map(|meta| meta.permissions().mode() & 0o777)
            .ok(),
        Some(0o700)
    );
}
