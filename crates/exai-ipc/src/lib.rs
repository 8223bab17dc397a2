//! The per-user local endpoint between `exai-shim` and the hub: a Unix socket in a private
//! directory, or a Windows named pipe that only the current user may open. Also the other
//! things that differ by platform: watching and starting processes ([`process`]), the lock
//! that keeps two shims from starting two hubs ([`AutostartLock`]), and where logs go
//! ([`log_dir`]).
//!
//! This crate moves bytes only. Framing and message types live in `exai-proto`, and no policy
//! lives here either: [`Listener::accept`] reports who connected in [`PeerInfo`], and the hub
//! decides what to do with a peer from another user.
//!
//! It is the only crate in the workspace with `cfg(unix)` / `cfg(windows)`. Each platform has one
//! backend module (`unix.rs`, `windows.rs`), imported under the alias `backend`; everything else
//! is written once.
//!
//! We use tokio's Unix sockets and named pipes directly, not the `interprocess` crate the design
//! card named. Its 2.x `ListenerOptions` (a Unix `mode`, a Windows `security_descriptor`,
//! `create_tokio`) and `peer_creds` would replace only the few calls we make to tokio, which
//! already has `peer_cred` and `ServerOptions::{first_pipe_instance, reject_remote_clients,
//! create_with_security_attributes_raw}`; what is ours it does not do: the private 0700
//! directory and its owner checks, the `flock` instance lock (it reclaims or overwrites a socket
//! name instead, which would displace a running hub), the client's check of directory, socket
//! owner and peer uid before it sends a byte, the search over places, and the named mutex Wine
//! needs. A dependency for no less code of our own; see ARCHITECTURE.md, "Decisions".
//!
//! Set `RUST_LOG=exai_ipc=debug` in the embedding binary to see endpoint set-up and stale-socket
//! clean-up in the logs.

#![deny(missing_docs)]

mod autostart;
mod endpoint;
mod error;
pub mod process;
pub mod program;
mod signal;
mod stream;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as backend;

#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as backend;

pub use autostart::AutostartLock;
pub use endpoint::{DEFAULT_NAME, ENDPOINT_ENV, Endpoint, EndpointEnv, EndpointError};
pub use error::{ConnectError, ListenError};
pub use signal::shutdown_signal;
pub use stream::Stream;
#[cfg(windows)]
pub use windows::pipe_sddl;

/// Claims `endpoint` for this process and starts listening on it, at the first of its places.
///
/// Fails with [`ListenError::AlreadyRunning`] when another hub already owns the endpoint, there
/// or at any other place a client looks (so a hub started before login in `/tmp` and one started
/// after it in `/run/user` never both run); that hub's socket or pipe is left untouched.
pub async fn listen(endpoint: &Endpoint) -> Result<Listener, ListenError> {
    let inner = backend::Listener::bind(endpoint.addr()).await?;
    tracing::debug!(%endpoint, "listening on the local endpoint");
    Ok(Listener {
        inner,
        endpoint: endpoint.clone(),
    })
}

/// Connects to the hub listening on `endpoint`: at the first of its places where one answers.
///
/// Before anything is sent, the place must be provably this user's (on Unix: the directory and
/// the socket file ours and not writable by others, and the peer's uid ours), else
/// [`ConnectError::Untrusted`]. When no place answers, [`ConnectError::NotRunning`] lists them
/// all.
pub async fn connect(endpoint: &Endpoint) -> Result<Stream, ConnectError> {
    backend::connect(endpoint.addr()).await.map(Stream::new)
}

/// A claimed endpoint that accepts connections.
///
/// Dropping it gives the endpoint up: on Unix the socket file is removed and the lock released.
#[derive(Debug)]
pub struct Listener {
    inner: backend::Listener,
    endpoint: Endpoint,
}

impl Listener {
    /// Waits for the next client.
    ///
    /// Peers from another user are returned too, marked `same_user: false`, so that the caller
    /// can answer them with a clear rejection and log it.
    pub async fn accept(&mut self) -> std::io::Result<Accepted> {
        let (stream, peer) = self.inner.accept().await?;
        Ok(Accepted {
            stream: Stream::new(stream),
            peer,
        })
    }

    /// The endpoint this listener owns.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// One accepted connection and what the operating system says about its peer.
#[derive(Debug)]
pub struct Accepted {
    /// The connection itself.
    pub stream: Stream,
    /// Who is on the other end.
    pub peer: PeerInfo,
}

/// What the operating system reports about a connected peer.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's process id, when the platform reports one.
    pub pid: Option<u32>,
    /// The peer's effective user id (Unix only; `None` on Windows or when unknown).
    pub uid: Option<u32>,
    /// Whether the peer runs as the same user as this process.
    ///
    /// On Unix this compares uids, and an unknown uid counts as another user. On Windows it is
    /// always true, because the pipe's security descriptor admits only the current user and
    /// `SYSTEM`, so the operating system has already done the check.
    pub same_user: bool,
}

impl PeerInfo {
    /// Builds the peer information from raw ids, deciding `same_user` by comparing uids.
    ///
    /// `same_user` is true only when both uids are known and equal.
    pub fn from_ids(pid: Option<u32>, peer_uid: Option<u32>, our_uid: Option<u32>) -> PeerInfo {
        let same_user = matches!((peer_uid, our_uid), (Some(peer), Some(ours)) if peer == ours);
        PeerInfo {
            pid,
            uid: peer_uid,
            same_user,
        }
    }
}

/// This process's parent process id, or `None` when the platform cannot tell.
///
/// On Unix this is `getppid()`, where `0` (a parent outside our pid namespace) becomes `None`.
/// On Windows it is looked up in a Toolhelp process snapshot.
pub fn parent_pid() -> Option<u32> {
    backend::parent_pid()
}

/// Resolves once the process `pid` has exited, or at once when no such process exists.
///
/// On Linux this waits on a pidfd without polling; see the backend for the fallbacks.
pub async fn wait_for_exit(pid: u32) {
    backend::wait_for_exit(pid).await;
}

/// The per-user directory for exai's log files, or `None` when the environment names no home
/// for them:
/// - Linux and other Unixes: `$XDG_STATE_HOME/exai/logs`, else `~/.local/state/exai/logs`;
/// - macOS: `~/Library/Logs/exai`;
/// - Windows: `%LOCALAPPDATA%\exai\logs`.
///
/// Nothing is created; the caller creates the directory when it writes there.
pub fn log_dir() -> Option<std::path::PathBuf> {
    backend::log_dir()
}

/// Replaces `path` with `contents` as a file only the current user can read: written to a new
/// file beside it (mode 0600 on Unix, created without following a symlink; on Windows the
/// per-user folder's inherited ACL), flushed to disk, then renamed over `path`, so a reader sees
/// the old file or the new one, never half of one. The parent directory must exist.
///
/// For files that hold a secret (the daemon token in `config.toml`).
pub fn write_private_file(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let name = path.file_name().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
    })?;
    let dir = path.parent().unwrap_or_else(|| std::path::Path::new("."));
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut file = backend::create_private_file(&temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Makes the allocator give large blocks (256 KiB and up) back to the system as soon as they are
/// freed. For a long-running process that sometimes holds a large message (the hub relaying a
/// 16 MiB tool result): glibc otherwise raises its mmap threshold after the first such block is
/// freed, so later ones come from its per-thread arenas and stay resident there, and the peak
/// grows with every thread that touched one. Linux with glibc only; a no-op elsewhere.
pub fn release_large_allocations() {
    backend::release_large_allocations();
}

/// The process's standard input for async reading. On Unix, when it is a pipe (as an editor
/// starts an MCP server), it is read through the reactor like a socket, with no thread hand-off
/// per read; otherwise (a terminal, a file, Windows' anonymous pipes, which have no overlapped
/// I/O) through tokio's blocking-thread stdin.
pub fn async_stdin() -> Box<dyn tokio::io::AsyncRead + Unpin + Send> {
    backend::stdin_pipe().unwrap_or_else(|| Box::new(tokio::io::stdin()))
}

/// The process's standard output for async writing, the same way as [`async_stdin`].
pub fn async_stdout() -> Box<dyn tokio::io::AsyncWrite + Unpin + Send> {
    backend::stdout_pipe().unwrap_or_else(|| Box::new(tokio::io::stdout()))
}

/// `$notification.app_id($id)` in the Windows build, nothing elsewhere: notify-rust's
/// `Notification::app_id` (the AppUserModelID a toast is shown under; without it Windows shows
/// it as PowerShell's) exists only on Windows, and platform choices are made in this crate.
/// This crate does not depend on notify-rust: the call is expanded in the caller's crate.
#[cfg(windows)]
#[macro_export]
macro_rules! toast_app_id {
    ($notification:expr, $id:expr) => {
        $notification.app_id($id)
    };
}

/// `$notification.app_id($id)` in the Windows build, nothing elsewhere (see the Windows one).
#[cfg(not(windows))]
#[macro_export]
macro_rules! toast_app_id {
    ($notification:expr, $id:expr) => {{
        let _ = (&$notification, $id);
    }};
}
