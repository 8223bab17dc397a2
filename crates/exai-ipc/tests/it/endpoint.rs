//! Endpoint names as data: which name wins, and where it lands.

use std::path::PathBuf;

use exai_ipc::{DEFAULT_NAME, Endpoint, EndpointEnv, EndpointError};

fn env(exai_endpoint: Option<&str>) -> EndpointEnv {
    EndpointEnv {
        exai_endpoint: exai_endpoint.map(str::to_owned),
        run_user_dir: None,
        shared_tmp: PathBuf::from("/tmp"),
        user: "1000".to_owned(),
    }
}

#[track_caller]
fn resolved(explicit: Option<&str>, env: &EndpointEnv) -> String {
    match Endpoint::resolve_with(explicit, env) {
        Ok(endpoint) => endpoint.to_string(),
        Err(err) => panic!("resolving {explicit:?} failed: {err}"),
    }
}

#[test]
fn the_flag_wins_then_the_environment_then_the_default() {
    let with_env = env(Some("from-env"));
    let without_env = env(None);
    assert_eq!(
        resolved(Some("from-flag"), &with_env),
        resolved(Some("from-flag"), &without_env)
    );
    assert_eq!(
        resolved(None, &with_env),
        resolved(Some("from-env"), &without_env)
    );
    assert_eq!(
        resolved(None, &without_env),
        resolved(Some(DEFAULT_NAME), &without_env)
    );
    assert_eq!(
        resolved(None, &env(Some(""))),
        resolved(Some(DEFAULT_NAME), &without_env),
        "an empty EXAI_ENDPOINT counts as unset"
    );
}

#[cfg(unix)]
#[test]
fn unix_names_become_socket_paths() {
    assert_eq!(
        resolved(None, &env(None)),
        "/tmp/exai-1000/exai-hub-v1.sock"
    );
    let mut with_runtime = env(None);
    with_runtime.run_user_dir = Some(PathBuf::from("/run/user/1000"));
    assert_eq!(
        resolved(None, &with_runtime),
        "/run/user/1000/exai/exai-hub-v1.sock"
    );
    let looked_at = Endpoint::resolve_with(None, &with_runtime).map(|e| e.candidates());
    assert_eq!(
        looked_at.ok(),
        Some(vec![
            "/run/user/1000/exai/exai-hub-v1.sock".to_owned(),
            "/tmp/exai-1000/exai-hub-v1.sock".to_owned()
        ])
    );
    assert_eq!(
        resolved(Some("/srv/x/hub.sock"), &with_runtime),
        "/srv/x/hub.sock"
    );
}

#[cfg(windows)]
#[test]
fn windows_names_become_per_user_pipes() {
    assert_eq!(resolved(None, &env(None)), r"\\.\pipe\exai-hub-v1-1000");
    assert_eq!(
        resolved(Some(r"\\.\pipe\mine"), &env(None)),
        r"\\.\pipe\mine"
    );
}

#[test]
fn bad_names_are_rejected_with_the_reason() {
    for bad in ["", "has space", ".hidden"] {
        let result = Endpoint::resolve_with(Some(bad), &env(None));
        assert!(
            matches!(result, Err(EndpointError::InvalidName { .. })),
            "{bad:?} gave {result:?}"
        );
    }
}

#[test]
fn named_uses_an_explicit_path_or_pipe_name_as_is() {
    let explicit = if cfg!(windows) {
        r"\\.\pipe\exai-test-named"
    } else {
        "/srv/exai-test/hub.sock"
    };
    let named = Endpoint::named(explicit).map(|endpoint| endpoint.to_string());
    assert_eq!(named.ok().as_deref(), Some(explicit));
}
