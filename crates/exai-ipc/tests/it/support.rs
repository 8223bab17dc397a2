//! Helpers that read like the specs they serve: a fresh endpoint per test, a connected pair, and
//! a timeout that only guards against hangs.

use std::future::Future;
use std::time::Duration;

use exai_ipc::{Accepted, Endpoint, Listener, Stream};

/// How long any single step may take before the test is declared hung. It is a failure guard,
/// never a way to wait for something to happen.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// An endpoint no other test (or process) uses; on Unix, a socket path in its own tempdir.
pub struct TestEndpoint {
    /// The endpoint to listen and connect on.
    pub endpoint: Endpoint,
    /// The tempdir holding the socket (on Windows, only naming the pipe); removed when the test
    /// ends.
    _dir: tempfile::TempDir,
}

impl TestEndpoint {
    /// Makes a fresh endpoint.
    #[track_caller]
    pub fn new() -> TestEndpoint {
        let dir = tempdir();
        let endpoint = match Endpoint::named(&unique_name(&dir)) {
            Ok(endpoint) => endpoint,
            Err(err) => panic!("cannot name the test endpoint: {err}"),
        };
        TestEndpoint {
            endpoint,
            _dir: dir,
        }
    }

    /// The directory holding the socket.
    #[cfg(unix)]
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The socket file of this endpoint.
    #[cfg(unix)]
    pub fn socket_path(&self) -> std::path::PathBuf {
        self.dir().join("hub.sock")
    }
}

#[cfg(unix)]
fn unique_name(dir: &tempfile::TempDir) -> String {
    dir.path().join("hub.sock").display().to_string()
}

#[cfg(windows)]
fn unique_name(dir: &tempfile::TempDir) -> String {
    // The tempdir's random file name makes the pipe name unique across tests and processes.
    let tag = dir
        .path()
        .file_name()
        .map(|name| {
            name.to_string_lossy()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        })
        .unwrap_or_default();
    format!(r"\\.\pipe\exai-test-{}-{tag}", std::process::id())
}

/// A fresh private tempdir.
#[track_caller]
pub fn tempdir() -> tempfile::TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(err) => panic!("cannot create a tempdir: {err}"),
    }
}

/// Listens on `endpoint`, failing the test with the error's message if that is refused.
pub async fn listen_ok(endpoint: &Endpoint) -> Listener {
    match exai_ipc::listen(endpoint).await {
        Ok(listener) => listener,
        Err(err) => panic!("listen on {endpoint} failed: {err}"),
    }
}

/// Connects a client and accepts it, returning the client's stream and the accepted side.
pub async fn connected_pair(listener: &mut Listener) -> (Stream, Accepted) {
    let endpoint = listener.endpoint().clone();
    let (client, accepted) = within("connect and accept", async {
        tokio::join!(exai_ipc::connect(&endpoint), listener.accept())
    })
    .await;
    let client = match client {
        Ok(client) => client,
        Err(err) => panic!("connect to {endpoint} failed: {err}"),
    };
    let accepted = match accepted {
        Ok(accepted) => accepted,
        Err(err) => panic!("accept on {endpoint} failed: {err}"),
    };
    (client, accepted)
}

/// Runs `step`, failing the test if it hangs.
pub async fn within<F: Future>(step: &str, future: F) -> F::Output {
    match tokio::time::timeout(HANG_GUARD, future).await {
        Ok(output) => output,
        Err(_) => panic!("{step} did not finish within {HANG_GUARD:?}"),
    }
}

/// The permission bits of `path`.
#[cfg(unix)]
#[track_caller]
pub fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o777,
        Err(err) => panic!("cannot stat {}: {err}", path.display()),
    }
}

/// Sets the permission bits of `path`.
#[cfg(unix)]
#[track_caller]
pub fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Err(err) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
        panic!("cannot chmod {}: {err}", path.display());
    }
}

/// Says that `test` skipped a check it needs root for, as the one line `scripts/test.sh` counts:
/// `SKIPPED (needs root): <test>: <what>`. Written to stderr directly rather than with
/// `eprintln!`, so the test harness's output capture cannot hide it; CI runs as root, and there
/// any such line fails the run.
#[cfg(unix)]
pub fn skipped_needs_root(test: &str, what: &str) {
    use std::io::Write as _;
    let line = format!("SKIPPED (needs root): {test}: {what}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Whether this process runs as root: only root can act as another user.
#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}
