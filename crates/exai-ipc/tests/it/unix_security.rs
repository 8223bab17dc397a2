//! Unix socket hygiene: modes, directory checks, stale sockets.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use exai_ipc::{ConnectError, Endpoint, EndpointEnv, ListenError};

use crate::support::{
    TestEndpoint, chmod, connected_pair, is_root, listen_ok, mode_of, skipped_needs_root, tempdir,
};

/// Facts whose per-user runtime dir is `runtime_dir`, so bare names land under it first.
fn env_with_runtime_dir(runtime_dir: &Path) -> EndpointEnv {
    EndpointEnv {
        exai_endpoint: None,
        run_user_dir: Some(runtime_dir.to_owned()),
        shared_tmp: PathBuf::from("/nonexistent-temp"),
        user: "0".to_owned(),
    }
}

#[track_caller]
fn resolve(name: &str, env: &EndpointEnv) -> Endpoint {
    match Endpoint::resolve_with(Some(name), env) {
        Ok(endpoint) => endpoint,
        Err(err) => panic!("resolving {name:?} failed: {err}"),
    }
}

#[tokio::test]
async fn the_default_dir_is_created_0700_and_the_socket_is_0600() {
    let runtime = tempdir();
    let endpoint = resolve("hub", &env_with_runtime_dir(runtime.path()));
    let private_dir = runtime.path().join("exai");
    let socket = private_dir.join("hub.sock");
    assert_eq!(endpoint.to_string(), socket.display().to_string());

    let _listener = listen_ok(&endpoint).await;
    assert_eq!(mode_of(&private_dir), 0o700);
    assert_eq!(mode_of(&socket), 0o600);
}

#[tokio::test]
async fn the_temp_dir_fallback_is_created_0700_too() {
    let temp = tempdir();
    let env = EndpointEnv {
        exai_endpoint: None,
        run_user_dir: None,
        shared_tmp: temp.path().to_owned(),
        user: "4242".to_owned(),
    };
    let endpoint = resolve("hub", &env);
    let _listener = listen_ok(&endpoint).await;
    assert_eq!(mode_of(&temp.path().join("exai-4242")), 0o700);
}

#[tokio::test]
async fn an_explicit_socket_path_is_0600() {
    let test = TestEndpoint::new();
    let _listener = listen_ok(&test.endpoint).await;
    assert_eq!(mode_of(&test.socket_path()), 0o600);
}

#[tokio::test]
async fn an_existing_default_dir_open_to_others_is_refused_and_left_alone() {
    let runtime = tempdir();
    let private_dir = runtime.path().join("exai");
    if let Err(err) = std::fs::create_dir(&private_dir) {
        panic!("cannot create {}: {err}", private_dir.display());
    }
    chmod(&private_dir, 0o755);
    let endpoint = resolve("hub", &env_with_runtime_dir(runtime.path()));

    let result = exai_ipc::listen(&endpoint).await;
    assert!(
        matches!(&result, Err(ListenError::Insecure { path, .. }) if *path == private_dir.display().to_string()),
        "unexpected result: {:?}",
        result.err()
    );
    assert_eq!(
        mode_of(&private_dir),
        0o755,
        "the directory must not be chmod-ed"
    );
}

#[tokio::test]
async fn a_world_writable_parent_of_an_explicit_path_is_refused() {
    let test = TestEndpoint::new();
    chmod(test.dir(), 0o777);
    let result = exai_ipc::listen(&test.endpoint).await;
    let Err(err) = result else {
        panic!("listen in a 0777 directory succeeded");
    };
    assert!(matches!(err, ListenError::Insecure { .. }), "{err:?}");
    assert!(err.to_string().contains("777"), "{err}");
    assert!(!test.socket_path().exists());
}

#[tokio::test]
async fn a_stale_socket_is_replaced() {
    let test = TestEndpoint::new();
    let stale = match std::os::unix::net::UnixListener::bind(test.socket_path()) {
        Ok(stale) => stale,
        Err(err) => panic!("cannot bind the stale socket: {err}"),
    };
    drop(stale);
    assert!(
        test.socket_path().exists(),
        "std leaves the socket file behind"
    );

    let mut listener = listen_ok(&test.endpoint).await;
    let _pair = connected_pair(&mut listener).await;
}

#[tokio::test]
async fn a_stale_socket_with_no_hub_is_not_running() {
    let test = TestEndpoint::new();
    let stale = std::os::unix::net::UnixListener::bind(test.socket_path());
    assert!(stale.is_ok(), "cannot bind the stale socket: {stale:?}");
    drop(stale);
    let err = exai_ipc::connect(&test.endpoint).await.err();
    assert!(
        matches!(err, Some(ConnectError::NotRunning { .. })),
        "unexpected result: {err:?}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_left_alone() {
    let test = TestEndpoint::new();
    if let Err(err) = std::fs::write(test.socket_path(), b"precious") {
        panic!("cannot write the file: {err}");
    }
    let result = exai_ipc::listen(&test.endpoint).await;
    assert!(
        matches!(result, Err(ListenError::Io { .. })),
        "{:?}",
        result.err()
    );
    assert_eq!(
        std::fs::read(test.socket_path()).ok().as_deref(),
        Some(&b"precious"[..])
    );
}

#[tokio::test]
async fn the_first_hubs_socket_survives_a_second_listen_and_drop_removes_it() {
    let test = TestEndpoint::new();
    let listener = listen_ok(&test.endpoint).await;
    let second = exai_ipc::listen(&test.endpoint).await;
    assert!(matches!(second, Err(ListenError::AlreadyRunning { .. })));
    let is_socket = std::fs::symlink_metadata(test.socket_path())
        .map(|meta| meta.file_type().is_socket())
        .unwrap_or(false);
    assert!(is_socket, "the first hub's socket must be untouched");

    drop(listener);
    assert!(!test.socket_path().exists(), "drop must remove the socket");
}

#[tokio::test]
async fn a_default_dir_owned_by_another_user_is_refused() {
    if !is_root() {
        skipped_needs_root(
            "unix_security::a_default_dir_owned_by_another_user_is_refused",
            "cannot give a directory to another user",
        );
        return;
    }
    let runtime = tempdir();
    let private_dir = runtime.path().join("exai");
    if let Err(err) = std::fs::create_dir(&private_dir) {
        panic!("cannot create {}: {err}", private_dir.display());
    }
    chmod(&private_dir, 0o700);
    if let Err(err) = std::os::unix::fs::chown(&private_dir, Some(65534), Some(65534)) {
        panic!("cannot chown {}: {err}", private_dir.display());
    }
    let endpoint = resolve("hub", &env_with_runtime_dir(runtime.path()));
    let result = exai_ipc::listen(&endpoint).await;
    let Err(err) = result else {
        panic!("listen in another user's directory succeeded");
    };
    assert!(matches!(err, ListenError::Insecure { .. }), "{err:?}");
    assert!(err.to_string().contains("owned by uid 65534"), "{err}");
}
