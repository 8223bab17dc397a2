//! The Unix backend: socket paths, the private directory, the single-hub lock, peer
//! credentials and the socket's life cycle. Process watching and stop requests live in
//! `unix/process.rs`.
//!
//! It must not decide policy: peers from other users are reported, not dropped.
//!
//! Layout and checks, in the order `listen` performs them:
//! - A bare name becomes `<dir>/<name>.sock`, where `<dir>` is `$XDG_RUNTIME_DIR/exai` or
//!   `<temp dir>/exai-<uid>`. We create `<dir>` with mode 0700. If it already exists it must be a
//!   real directory (not a symlink), owned by us and closed to group and others. We do not chmod
//!   an existing directory that is too open, even our own: while it was open another user could
//!   have planted entries in it, so the user is told to fix or remove it instead.
//! - A name containing `/` is an explicit socket path. Its parent must exist, be owned by us and
//!   not be group- or world-writable.
//! - An exclusive `flock` on `<socket>.lock`, held for the listener's lifetime, decides who owns
//!   the endpoint. Holding it, a leftover socket file is stale and is removed before binding.
//! - A shim that starts a hub first takes an exclusive `flock` on `<socket>.autostart.lock`
//!   (after the same directory checks), so two shims never start two hubs.
//! - The socket is chmod-ed to 0600 right after `bind`, before anything is accepted. In the
//!   window between the two the socket has the umask's mode, but in the default layout the 0700
//!   directory already keeps other users out, and any connection that slips in is reported with
//!   its uid by `accept` so the hub rejects it.

#![cfg(unix)]

mod process;
pub(crate) mod spawn;

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tokio::net::UnixListener;

use crate::endpoint::check_bare_name;
use crate::{EndpointEnv, EndpointError, ListenError, PeerInfo};

pub(crate) use process::{parent_pid, stop_requested, wait_for_exit};

/// The connected stream type on Unix.
pub(crate) type Stream = tokio::net::UnixStream;

/// The size of `sockaddr_un.sun_path`, including the terminating NUL.
const SUN_PATH_LEN: usize = if cfg!(any(target_os = "linux", target_os = "android")) {
    108
} else {
    104
};

/// Where a Unix endpoint lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EndpointAddr {
    socket_path: PathBuf,
    /// The per-user directory that `listen` creates and checks, for bare names only.
    private_dir: Option<PathBuf>,
}

impl EndpointAddr {
    /// Turns a name or path into a socket path. Pure: no file system access.
    pub(crate) fn resolve(name: &str, env: &EndpointEnv) -> Result<EndpointAddr, EndpointError> {
        let invalid = |reason: &str| EndpointError::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        if name.contains('\0') {
            return Err(invalid("it contains a NUL byte"));
        }
        let addr = if name.contains('/') {
            let socket_path = PathBuf::from(name);
            if !socket_path.is_absolute() {
                return Err(invalid("a socket path must be absolute"));
            }
            if socket_path.file_name().is_none() {
                return Err(invalid("a socket path must end in a file name"));
            }
            EndpointAddr {
                socket_path,
                private_dir: None,
            }
        } else {
            check_bare_name(name)?;
            let dir = private_dir_for(env)?;
            EndpointAddr {
                socket_path: dir.join(format!("{name}.sock")),
                private_dir: Some(dir),
            }
        };
        check_path_len(&addr.socket_path)?;
        Ok(addr)
    }
}

impl fmt::Display for EndpointAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.socket_path.display(), f)
    }
}

/// Picks the per-user directory: `$XDG_RUNTIME_DIR/exai`, else `<temp dir>/exai-<uid>`.
fn private_dir_for(env: &EndpointEnv) -> Result<PathBuf, EndpointError> {
    if let Some(runtime_dir) = env.runtime_dir.as_ref().filter(|dir| dir.is_absolute()) {
        return Ok(runtime_dir.join("exai"));
    }
    if !env.temp_dir.is_absolute() {
        return Err(EndpointError::NoUsableDir {
            temp_dir: env.temp_dir.display().to_string(),
        });
    }
    if check_bare_name(&env.user).is_err() {
        return Err(EndpointError::UnknownUser {
            reason: format!("{:?} cannot be part of a directory name", env.user),
        });
    }
    Ok(env.temp_dir.join(format!("exai-{}", env.user)))
}

fn check_path_len(path: &Path) -> Result<(), EndpointError> {
    let len = path.as_os_str().len();
    let max = SUN_PATH_LEN - 1;
    if len > max {
        return Err(EndpointError::PathTooLong {
            path: path.display().to_string(),
            len,
            max,
        });
    }
    Ok(())
}

/// Returns `XDG_RUNTIME_DIR` when it is set, absolute and an existing directory.
pub(crate) fn runtime_dir_from_process() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("XDG_RUNTIME_DIR")?);
    (dir.is_absolute() && dir.is_dir()).then_some(dir)
}

/// The current effective uid, in decimal.
pub(crate) fn current_user() -> Result<String, EndpointError> {
    Ok(effective_uid().to_string())
}

fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// A bound socket plus the lock that makes this process its only owner.
#[derive(Debug)]
pub(crate) struct Listener {
    listener: UnixListener,
    socket_path: PathBuf,
    /// Device and inode of the socket we bound, so that drop removes only our own file.
    socket_id: (u64, u64),
    /// Holds the `flock`; closing it on drop releases the lock.
    _lock: File,
    our_uid: u32,
}

impl Listener {
    pub(crate) fn bind(addr: &EndpointAddr) -> Result<Listener, ListenError> {
        let our_uid = effective_uid();
        match &addr.private_dir {
            Some(dir) => ensure_private_dir(dir, our_uid)?,
            None => check_socket_parent(&addr.socket_path, our_uid)?,
        }

        let mut lock_path = addr.socket_path.clone().into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let lock = open_lock_file(&lock_path)?;
        let locked = try_lock_exclusive(&lock)
            .map_err(|err| ListenError::io(format!("cannot lock {}", lock_path.display()), err))?;
        if !locked {
            return Err(ListenError::AlreadyRunning {
                endpoint: addr.to_string(),
            });
        }

        remove_stale_socket(&addr.socket_path)?;
        let listener = UnixListener::bind(&addr.socket_path).map_err(|err| {
            ListenError::io(format!("cannot bind {}", addr.socket_path.display()), err)
        })?;
        let meta = fs::symlink_metadata(&addr.socket_path).map_err(|err| {
            ListenError::io(format!("cannot stat {}", addr.socket_path.display()), err)
        })?;
        // Built before the chmod, so that a failed chmod still removes the socket on drop.
        let bound = Listener {
            listener,
            socket_path: addr.socket_path.clone(),
            socket_id: (meta.dev(), meta.ino()),
            _lock: lock,
            our_uid,
        };
        fs::set_permissions(&addr.socket_path, fs::Permissions::from_mode(0o600)).map_err(
            |err| ListenError::io(format!("cannot chmod {}", addr.socket_path.display()), err),
        )?;
        Ok(bound)
    }

    pub(crate) async fn accept(&mut self) -> io::Result<(Stream, PeerInfo)> {
        let (stream, _addr) = self.listener.accept().await?;
        let peer = match stream.peer_cred() {
            Ok(cred) => {
                let pid = cred.pid().and_then(|pid| u32::try_from(pid).ok());
                PeerInfo::from_ids(pid, Some(cred.uid()), Some(self.our_uid))
            }
            Err(err) => {
                // An unknown peer is treated as another user; the hub will reject it.
                tracing::warn!(error = %err, "cannot read the peer's credentials");
                PeerInfo::from_ids(None, None, Some(self.our_uid))
            }
        };
        Ok((stream, peer))
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // The lock file stays: unlinking it while another process has it open would let two
        // processes each lock a different file of the same name.
        match fs::symlink_metadata(&self.socket_path) {
            Ok(meta) if (meta.dev(), meta.ino()) == self.socket_id => {
                if let Err(err) = fs::remove_file(&self.socket_path) {
                    tracing::debug!(error = %err, path = %self.socket_path.display(), "cannot remove the socket");
                }
            }
            _ => {}
        }
    }
}

/// Held while this process starts a hub for the endpoint: an exclusive `flock` on
/// `<socket>.autostart.lock`, released when the file closes (on drop, or when the process dies,
/// so it is never stale). The descriptor is close-on-exec, so the hub we start does not inherit
/// the lock.
#[derive(Debug)]
pub(crate) struct AutostartLock {
    _file: File,
}

impl AutostartLock {
    pub(crate) fn try_acquire(addr: &EndpointAddr) -> io::Result<AutostartLock> {
        let our_uid = effective_uid();
        match &addr.private_dir {
            Some(dir) => ensure_private_dir(dir, our_uid),
            None => check_socket_parent(&addr.socket_path, our_uid),
        }
        .map_err(into_io)?;
        let mut lock_path = addr.socket_path.clone().into_os_string();
        lock_path.push(".autostart.lock");
        let lock_path = PathBuf::from(lock_path);
        let file = open_lock_file(&lock_path).map_err(into_io)?;
        if try_lock_exclusive(&file)? {
            Ok(AutostartLock { _file: file })
        } else {
            Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("{} is held by another process", lock_path.display()),
            ))
        }
    }
}

/// Keeps the kind of an I/O failure and the words of any other.
fn into_io(err: ListenError) -> io::Error {
    match err {
        ListenError::Io { context, source } => {
            io::Error::new(source.kind(), format!("{context}: {source}"))
        }
        other => io::Error::new(io::ErrorKind::PermissionDenied, other.to_string()),
    }
}

/// `$XDG_STATE_HOME/exai/logs`, else `~/.local/state/exai/logs`; `~/Library/Logs/exai` on macOS.
pub(crate) fn log_dir() -> Option<PathBuf> {
    let absolute = |key: &str| {
        std::env::var_os(key)
            .map(PathBuf::from)
            .filter(|path| path.is_absolute())
    };
    if cfg!(target_os = "macos") {
        return absolute("HOME").map(|home| home.join("Library/Logs/exai"));
    }
    absolute("XDG_STATE_HOME")
        .or_else(|| absolute("HOME").map(|home| home.join(".local/state")))
        .map(|state| state.join("exai/logs"))
}

pub(crate) async fn connect(addr: &EndpointAddr) -> io::Result<Stream> {
    Stream::connect(&addr.socket_path).await
}

/// Creates the per-user directory with mode 0700, or checks an existing one.
fn ensure_private_dir(dir: &Path, our_uid: u32) -> Result<(), ListenError> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            // The umask can only remove bits; set the mode exactly in case it removed ours.
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .map_err(|err| ListenError::io(format!("cannot chmod {}", dir.display()), err))?;
            return Ok(());
        }
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => {
            return Err(ListenError::io(
                format!("cannot create the endpoint directory {}", dir.display()),
                err,
            ));
        }
    }
    let meta = fs::symlink_metadata(dir)
        .map_err(|err| ListenError::io(format!("cannot stat {}", dir.display()), err))?;
    let insecure = |reason: String| ListenError::Insecure {
        path: dir.display().to_string(),
        reason,
    };
    if !meta.file_type().is_dir() {
        return Err(insecure(
            "it is not a directory (or is a symbolic link); remove it".to_owned(),
        ));
    }
    if meta.uid() != our_uid {
        return Err(insecure(format!(
            "it is owned by uid {}, not by us (uid {our_uid}); remove it, or set XDG_RUNTIME_DIR to a private directory",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(insecure(format!(
            "its mode is {mode:03o}, open to other users; check its contents, then run `chmod 700 {}` or remove it",
            dir.display()
        )));
    }
    Ok(())
}

/// Checks the directory of an explicit socket path.
fn check_socket_parent(socket_path: &Path, our_uid: u32) -> Result<(), ListenError> {
    let parent = socket_path.parent().unwrap_or(Path::new("/"));
    let meta = fs::metadata(parent).map_err(|err| {
        ListenError::io(
            format!(
                "cannot use the directory {} for the endpoint socket",
                parent.display()
            ),
            err,
        )
    })?;
    let insecure = |reason: String| ListenError::Insecure {
        path: parent.display().to_string(),
        reason,
    };
    if !meta.is_dir() {
        return Err(insecure("it is not a directory".to_owned()));
    }
    if meta.uid() != our_uid {
        return Err(insecure(format!(
            "it is owned by uid {}, not by us (uid {our_uid}); put the socket in a directory you own",
            meta.uid()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(insecure(format!(
            "its mode is {mode:03o}, so other users could replace the socket; use a directory only you can write to"
        )));
    }
    Ok(())
}

fn open_lock_file(lock_path: &Path) -> Result<File, ListenError> {
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        // std already sets O_CLOEXEC; it is spelled out because a hub that spawns children must
        // not leak the lock to them. O_NOFOLLOW refuses a planted symlink.
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(lock_path)
        .map_err(|err| ListenError::io(format!("cannot open {}", lock_path.display()), err))
}

/// Takes an exclusive `flock` without blocking. `Ok(false)` means another process holds it.
fn try_lock_exclusive(file: &File) -> io::Result<bool> {
    loop {
        // SAFETY: the descriptor is valid for as long as `file` is borrowed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(code) if code == libc::EWOULDBLOCK => return Ok(false),
            _ => return Err(err),
        }
    }
}

/// Removes a socket file left behind by a hub that died. Only call this holding the lock.
fn remove_stale_socket(socket_path: &Path) -> Result<(), ListenError> {
    match fs::symlink_metadata(socket_path) {
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) => Err(ListenError::io(
            format!("cannot stat {}", socket_path.display()),
            err,
        )),
        Ok(meta) if meta.file_type().is_socket() => match fs::remove_file(socket_path) {
            Ok(()) => {
                tracing::debug!(path = %socket_path.display(), "removed a stale socket");
                Ok(())
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(ListenError::io(
                format!("cannot remove the stale socket {}", socket_path.display()),
                err,
            )),
        },
        Ok(_) => Err(ListenError::io(
            format!(
                "{} exists and is not a socket, so it was left alone: move it away or choose another endpoint",
                socket_path.display()
            ),
            io::Error::from(io::ErrorKind::AlreadyExists),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(runtime_dir: Option<&str>) -> EndpointEnv {
        EndpointEnv {
            exai_endpoint: None,
            runtime_dir: runtime_dir.map(PathBuf::from),
            temp_dir: PathBuf::from("/tmp"),
            user: "1000".to_owned(),
        }
    }

    fn socket_path(name: &str, env: &EndpointEnv) -> Result<PathBuf, EndpointError> {
        EndpointAddr::resolve(name, env).map(|addr| addr.socket_path)
    }

    #[test]
    fn bare_names_go_into_the_runtime_dir_when_there_is_one() {
        let addr = EndpointAddr::resolve("exai-hub-v1", &env(Some("/run/user/1000"))).unwrap();
        assert_eq!(
            addr.socket_path,
            Path::new("/run/user/1000/exai/exai-hub-v1.sock")
        );
        assert_eq!(
            addr.private_dir.as_deref(),
            Some(Path::new("/run/user/1000/exai"))
        );
    }

    #[test]
    fn bare_names_fall_back_to_a_per_uid_temp_dir() {
        assert_eq!(
            socket_path("exai-hub-v1", &env(None)).unwrap(),
            Path::new("/tmp/exai-1000/exai-hub-v1.sock")
        );
        assert_eq!(
            socket_path("exai-hub-v1", &env(Some("relative/run"))).unwrap(),
            Path::new("/tmp/exai-1000/exai-hub-v1.sock")
        );
    }

    #[test]
    fn explicit_paths_are_used_as_is_and_must_be_absolute_and_short() {
        let addr = EndpointAddr::resolve("/srv/me/hub.sock", &env(None)).unwrap();
        assert_eq!(addr.socket_path, Path::new("/srv/me/hub.sock"));
        assert_eq!(addr.private_dir, None);
        assert!(matches!(
            socket_path("rel/hub.sock", &env(None)),
            Err(EndpointError::InvalidName { .. })
        ));
        let long = format!("/{}.sock", "x".repeat(SUN_PATH_LEN));
        assert!(matches!(
            socket_path(&long, &env(None)),
            Err(EndpointError::PathTooLong { .. })
        ));
    }

    #[test]
    fn an_unusable_temp_dir_or_user_is_an_error() {
        let mut bad_temp = env(None);
        bad_temp.temp_dir = PathBuf::from("tmp");
        assert!(matches!(
            socket_path("hub", &bad_temp),
            Err(EndpointError::NoUsableDir { .. })
        ));
        let mut bad_user = env(None);
        bad_user.user = "../root".to_owned();
        assert!(matches!(
            socket_path("hub", &bad_user),
            Err(EndpointError::UnknownUser { .. })
        ));
    }
}
