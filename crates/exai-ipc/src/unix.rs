//! The Unix backend: socket paths, the private directory, the single-hub lock, peer
//! credentials and the socket's life cycle. Process watching and stop requests live in
//! `unix/process.rs`.
//!
//! It must not decide policy: peers from other users are reported, not dropped.
//!
//! Layout and checks, in the order `listen` performs them:
//! - A bare name may live in two places, `<dir>/<name>.sock`, tried in this order: `<dir>` is
//!   `/run/user/<euid>/exai` when `/run/user/<euid>` is a directory of ours closed to others
//!   (the per-user temp dir from `confstr` plus `exai` on macOS), then `/tmp/exai-<euid>`. No
//!   environment variable is read (see `endpoint.rs` for why). `listen` uses the first place.
//!   We create `<dir>` with mode 0700. If it already exists it must be a
//!   real directory (not a symlink), owned by us and closed to group and others. We do not chmod
//!   an existing directory that is too open, even our own: while it was open another user could
//!   have planted entries in it, so the user is told to fix or remove it instead.
//! - A name containing `/` is an explicit socket path, the only place. Its parent must exist, be
//!   owned by us and not be group- or world-writable.
//! - An exclusive `flock` on `<socket>.lock`, held for the listener's lifetime, decides who owns
//!   the endpoint. Holding it, we look at the other place: if a hub of ours holds its lock or
//!   answers there, this one is refused as already running. Then a leftover socket file is stale
//!   and is removed before binding.
//! - A shim that starts a hub first takes an exclusive `flock` on `<socket>.autostart.lock`
//!   (after the same directory checks), so two shims never start two hubs.
//! - The socket is chmod-ed to 0600 right after `bind`, before anything is accepted. In the
//!   window between the two the socket has the umask's mode, but in the default layout the 0700
//!   directory already keeps other users out, and any connection that slips in is reported with
//!   its uid by `accept` so the hub rejects it.
//!
//! `connect` tries the places in order. Before it sends anything, a place must be provably ours:
//! its directory ours and not writable by group or others, the socket file ours, and the uid of
//! the process that accepted us (`SO_PEERCRED` and its kin) ours. A place that fails is reported
//! as untrusted at once, never skipped, so a squatter cannot impersonate the hub nor hide it.

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
use crate::{ConnectError, EndpointEnv, EndpointError, ListenError, PeerInfo};

pub(crate) use process::{parent_pid, stop_requested, wait_for_exit};

/// The connected stream type on Unix.
pub(crate) type Stream = tokio::net::UnixStream;

/// The size of `sockaddr_un.sun_path`, including the terminating NUL.
const SUN_PATH_LEN: usize = if cfg!(any(target_os = "linux", target_os = "android")) {
    108
} else {
    104
};

/// The shared temporary directory the fallback place lives in; never `TMPDIR`.
pub(crate) const SHARED_TMP: &str = "/tmp";

/// Where a Unix endpoint may be: `listen` binds at `first`, `connect` uses the first place where
/// a hub answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EndpointAddr {
    first: Place,
    /// The places looked at after `first` (for a bare name, the `/tmp` fallback).
    more: Vec<Place>,
}

/// One place a socket may be.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Place {
    socket_path: PathBuf,
    /// The per-user directory that `listen` creates and checks, for bare names only.
    private_dir: Option<PathBuf>,
}

impl Place {
    /// The directory the trust checks apply to: the private one, or an explicit path's parent.
    fn dir(&self) -> &Path {
        match &self.private_dir {
            Some(dir) => dir,
            None => self.socket_path.parent().unwrap_or(Path::new("/")),
        }
    }

    fn shown(&self) -> String {
        self.socket_path.display().to_string()
    }
}

impl EndpointAddr {
    fn places(&self) -> impl Iterator<Item = &Place> {
        std::iter::once(&self.first).chain(&self.more)
    }

    /// Every socket path, in the order `connect` tries them.
    pub(crate) fn candidates(&self) -> Vec<String> {
        self.places().map(Place::shown).collect()
    }

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
                first: Place {
                    socket_path,
                    private_dir: None,
                },
                more: Vec::new(),
            }
        } else {
            check_bare_name(name)?;
            let place = |dir: PathBuf| Place {
                socket_path: dir.join(format!("{name}.sock")),
                private_dir: Some(dir),
            };
            let (first, more) = private_dirs_for(env)?;
            EndpointAddr {
                first: place(first),
                more: more.into_iter().map(place).collect(),
            }
        };
        for place in addr.places() {
            check_path_len(&place.socket_path)?;
        }
        Ok(addr)
    }
}

impl fmt::Display for EndpointAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.first.socket_path.display(), f)
    }
}

/// The per-user directories, in order: `<run_user_dir>/exai` when there is one, then
/// `<shared tmp>/exai-<uid>`.
fn private_dirs_for(env: &EndpointEnv) -> Result<(PathBuf, Vec<PathBuf>), EndpointError> {
    if !env.shared_tmp.is_absolute() {
        return Err(EndpointError::NoUsableDir {
            temp_dir: env.shared_tmp.display().to_string(),
        });
    }
    if check_bare_name(&env.user).is_err() {
        return Err(EndpointError::UnknownUser {
            reason: format!("{:?} cannot be part of a directory name", env.user),
        });
    }
    let fallback = env.shared_tmp.join(format!("exai-{}", env.user));
    match env.run_user_dir.as_ref().filter(|dir| dir.is_absolute()) {
        Some(run_user_dir) if run_user_dir.join("exai") != fallback => {
            Ok((run_user_dir.join("exai"), vec![fallback]))
        }
        _ => Ok((fallback, Vec::new())),
    }
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

/// The user's private runtime directory as the system provides it, whatever the environment
/// says: it must be a real directory owned by our euid and not writable by group or others.
pub(crate) fn run_user_dir() -> Option<PathBuf> {
    let uid = effective_uid();
    let dir = system_run_user_dir(uid)?;
    let meta = fs::symlink_metadata(&dir).ok()?;
    let private = meta.file_type().is_dir() && meta.uid() == uid && meta.mode() & 0o022 == 0;
    private.then_some(dir)
}

/// `/run/user/<uid>`: where logind (and elogind) make the directory they call
/// `XDG_RUNTIME_DIR`, for every login of the user, whether or not a launcher passes the variable.
#[cfg(not(target_os = "macos"))]
fn system_run_user_dir(uid: u32) -> Option<PathBuf> {
    Some(PathBuf::from(format!("/run/user/{uid}")))
}

/// The per-user temp dir (`/var/folders/../T/`), which the system derives from the uid and
/// creates 0700 on first use; `TMPDIR` usually names it, but not in every launcher's env.
#[cfg(target_os = "macos")]
fn system_run_user_dir(_uid: u32) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStringExt;
    let mut buffer = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: the buffer is valid for writes of its length; confstr writes at most that much.
    let len = unsafe {
        libc::confstr(
            libc::_CS_DARWIN_USER_TEMP_DIR,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    // `len` counts the terminating NUL; 0 is an error, more than the buffer a truncation.
    if len == 0 || len > buffer.len() {
        return None;
    }
    buffer.truncate(len - 1);
    let dir = PathBuf::from(std::ffi::OsString::from_vec(buffer));
    dir.is_absolute().then_some(dir)
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
    pub(crate) async fn bind(addr: &EndpointAddr) -> Result<Listener, ListenError> {
        let our_uid = effective_uid();
        let place = &addr.first;
        match &place.private_dir {
            Some(dir) => ensure_private_dir(dir, our_uid)?,
            None => check_socket_parent(&place.socket_path, our_uid)?,
        }

        let lock_path = with_suffix(&place.socket_path, ".lock");
        let lock = open_lock_file(&lock_path)?;
        let locked = try_lock_exclusive(&lock)
            .map_err(|err| ListenError::io(format!("cannot lock {}", lock_path.display()), err))?;
        if !locked {
            return Err(ListenError::AlreadyRunning {
                endpoint: place.shown(),
            });
        }
        // A hub at a later place (started while it came first, say in /tmp before a login made
        // /run/user) owns the endpoint too: clients would find either one.
        for other in &addr.more {
            if hub_answers_at(other, our_uid).await {
                return Err(ListenError::AlreadyRunning {
                    endpoint: other.shown(),
                });
            }
        }

        let socket_path = &place.socket_path;
        remove_stale_socket(socket_path)?;
        let listener = UnixListener::bind(socket_path).map_err(|err| {
            ListenError::io(format!("cannot bind {}", socket_path.display()), err)
        })?;
        let meta = fs::symlink_metadata(socket_path).map_err(|err| {
            ListenError::io(format!("cannot stat {}", socket_path.display()), err)
        })?;
        // Built before the chmod, so that a failed chmod still removes the socket on drop.
        let bound = Listener {
            listener,
            socket_path: socket_path.clone(),
            socket_id: (meta.dev(), meta.ino()),
            _lock: lock,
            our_uid,
        };
        fs::set_permissions(socket_path, fs::Permissions::from_mode(0o600)).map_err(|err| {
            ListenError::io(format!("cannot chmod {}", socket_path.display()), err)
        })?;
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
        let place = &addr.first;
        match &place.private_dir {
            Some(dir) => ensure_private_dir(dir, our_uid),
            None => check_socket_parent(&place.socket_path, our_uid),
        }
        .map_err(into_io)?;
        let lock_path = with_suffix(&place.socket_path, ".autostart.lock");
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
/// Standard input as a non-blocking pipe, when it is a pipe (a copy of the descriptor, so the
/// standard one stays open for whoever else uses it).
pub(crate) fn release_large_allocations() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        /// Blocks from this size on are mapped on their own and unmapped when freed.
        const THRESHOLD: libc::c_int = 256 * 1024;
        // SAFETY: mallopt only sets an allocator parameter; a fixed threshold also turns off
        // glibc's dynamic adjustment of it.
        let set = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) };
        if set != 1 {
            tracing::debug!("mallopt(M_MMAP_THRESHOLD) refused; large blocks stay in the arenas");
        }
    }
}

pub(crate) fn stdin_pipe() -> Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>> {
    let file = standard_pipe(0)?;
    tokio::net::unix::pipe::Receiver::from_file(file)
        .ok()
        .map(|pipe| Box::new(pipe) as Box<dyn tokio::io::AsyncRead + Unpin + Send>)
}

/// Standard output as a non-blocking pipe, when it is a pipe of its own: not when standard error
/// is the same pipe (`2>&1`), whose writes must keep blocking.
pub(crate) fn stdout_pipe() -> Option<Box<dyn tokio::io::AsyncWrite + Unpin + Send>> {
    let same_as_stderr = match (fs::metadata("/dev/stdout"), fs::metadata("/dev/stderr")) {
        (Ok(out), Ok(err)) => out.ino() == err.ino() && out.dev() == err.dev(),
        _ => true,
    };
    if same_as_stderr {
        return None;
    }
    let file = standard_pipe(1)?;
    tokio::net::unix::pipe::Sender::from_file(file)
        .ok()
        .map(|pipe| Box::new(pipe) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>)
}

/// A close-on-exec copy of standard descriptor `fd` when it is a pipe.
fn standard_pipe(fd: i32) -> Option<File> {
    use std::os::fd::FromRawFd as _;
    // SAFETY: fcntl on a standard descriptor; a failure is reported as -1.
    let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if copy < 0 {
        return None;
    }
    // SAFETY: `copy` is a new descriptor that nothing else owns.
    let file = unsafe { File::from_raw_fd(copy) };
    let is_pipe = file.metadata().is_ok_and(|meta| meta.file_type().is_fifo());
    is_pipe.then_some(file)
}

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

/// A new file only we can read and write (0600), not following a symlink; an existing one is
/// removed first (it may be a stale temporary file of ours).
pub(crate) fn create_private_file(path: &Path) -> io::Result<File> {
    match fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(path)
}

/// `path` with `suffix` appended to its file name.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Connects at the first place where a hub answers, after checking that the place is ours and
/// before anything is sent, that the process that accepted us runs as us.
pub(crate) async fn connect(addr: &EndpointAddr) -> Result<Stream, ConnectError> {
    let our_uid = effective_uid();
    for place in addr.places() {
        if !check_place(place, our_uid)? {
            continue;
        }
        let stream = match Stream::connect(&place.socket_path).await {
            Ok(stream) => stream,
            Err(err) => match ConnectError::classify(&place.shown(), err) {
                None => continue,
                Some(err) => return Err(err),
            },
        };
        check_peer(&stream, place, our_uid)?;
        return Ok(stream);
    }
    Err(ConnectError::NotRunning {
        endpoint: addr.to_string(),
        looked_at: addr.candidates(),
    })
}

/// Checks that `place` is provably ours, before anything connects to it: its directory ours
/// and not writable by group or others (so nobody else can put a socket there), and its socket
/// file ours. `Ok(false)` when the directory or the socket does not exist.
///
/// Root passes for root's own places like anyone else; it is not trusted to others' sockets.
fn check_place(place: &Place, our_uid: u32) -> Result<bool, ConnectError> {
    let dir = place.dir();
    let untrusted = |path: &Path, reason: String| ConnectError::Untrusted {
        path: path.display().to_string(),
        reason,
    };
    // A private directory must itself be a directory, not a link to one (as `listen` demands);
    // an explicit path's parent may be reached through links.
    let stat = match place.private_dir {
        Some(_) => fs::symlink_metadata(dir),
        None => fs::metadata(dir),
    };
    let meta = match stat {
        Ok(meta) => meta,
        Err(err) => {
            return match ConnectError::classify(&dir.display().to_string(), err) {
                None => Ok(false),
                Some(err) => Err(err),
            };
        }
    };
    if !meta.file_type().is_dir() {
        return Err(untrusted(
            dir,
            "it is not a directory (or is a symbolic link)".to_owned(),
        ));
    }
    if meta.uid() != our_uid {
        return Err(untrusted(
            dir,
            format!(
                "the directory is owned by uid {}, not by us (uid {our_uid})",
                meta.uid()
            ),
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(untrusted(
            dir,
            format!(
                "the directory's mode is {mode:03o}, so other users could put a socket there; run `chmod 700 {}` or remove it",
                dir.display()
            ),
        ));
    }
    let socket = match fs::symlink_metadata(&place.socket_path) {
        Ok(meta) => meta,
        Err(err) => {
            return match ConnectError::classify(&place.shown(), err) {
                None => Ok(false),
                Some(err) => Err(err),
            };
        }
    };
    if socket.uid() != our_uid {
        return Err(untrusted(
            &place.socket_path,
            format!(
                "the socket is owned by uid {}, not by us (uid {our_uid})",
                socket.uid()
            ),
        ));
    }
    Ok(true)
}

/// Checks that the process that accepted our connection runs as us.
fn check_peer(stream: &Stream, place: &Place, our_uid: u32) -> Result<(), ConnectError> {
    let reason = match stream.peer_cred() {
        Ok(cred) if cred.uid() == our_uid => return Ok(()),
        Ok(cred) => format!(
            "the process listening there runs as uid {}, not as us (uid {our_uid})",
            cred.uid()
        ),
        Err(err) => format!("cannot tell which user listens there: {err}"),
    };
    Err(ConnectError::Untrusted {
        path: place.shown(),
        reason,
    })
}

/// Whether a hub of ours owns `place`: it holds the place's lock, or answers on its socket.
///
/// A place that fails `connect`'s trust checks is not ours and does not count (it is logged);
/// `connect` reports it by itself if it ever gets that far.
async fn hub_answers_at(place: &Place, our_uid: u32) -> bool {
    match check_place(place, our_uid) {
        Ok(true) => {}
        Ok(false) => return false,
        Err(err) => {
            tracing::warn!(error = %err, "ignoring a place where another hub could be");
            return false;
        }
    }
    if lock_is_held(&with_suffix(&place.socket_path, ".lock")) {
        return true;
    }
    match Stream::connect(&place.socket_path).await {
        Ok(stream) => check_peer(&stream, place, our_uid).is_ok(),
        Err(_) => false,
    }
}

/// Whether another process holds the `flock` on an existing lock file. Never creates the file.
fn lock_is_held(lock_path: &Path) -> bool {
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(lock_path);
    // Taking the lock for a moment is how to ask; it is released when `file` closes.
    file.is_ok_and(|file| matches!(try_lock_exclusive(&file), Ok(false)))
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
            "it is owned by uid {}, not by us (uid {our_uid}); remove it, or pass --endpoint a socket path in a directory of yours",
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

    #[test]
    fn a_private_file_is_0600_and_replaces_the_old_one_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        fs::write(&path, "old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        crate::write_private_file(&path, b"token = \"s3cret\"\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "token = \"s3cret\"\n");
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            [std::ffi::OsString::from("config.toml")],
            "no temporary file is left"
        );
    }

    /// The facts of uid 1000, with or without a usable `/run/user/1000`.
    fn env(run_user_dir: Option<&str>) -> EndpointEnv {
        EndpointEnv {
            exai_endpoint: None,
            run_user_dir: run_user_dir.map(PathBuf::from),
            shared_tmp: PathBuf::from(SHARED_TMP),
            user: "1000".to_owned(),
        }
    }

    fn socket_path(name: &str, env: &EndpointEnv) -> Result<PathBuf, EndpointError> {
        EndpointAddr::resolve(name, env).map(|addr| addr.first.socket_path)
    }

    fn candidates(name: &str, env: &EndpointEnv) -> Vec<String> {
        match EndpointAddr::resolve(name, env) {
            Ok(addr) => addr.candidates(),
            Err(err) => panic!("resolving {name:?} failed: {err}"),
        }
    }

    #[test]
    fn bare_names_look_in_run_user_first_then_in_tmp() {
        let addr = EndpointAddr::resolve("exai-hub-v1", &env(Some("/run/user/1000"))).unwrap();
        assert_eq!(
            addr.first.socket_path,
            Path::new("/run/user/1000/exai/exai-hub-v1.sock")
        );
        assert_eq!(
            addr.first.private_dir.as_deref(),
            Some(Path::new("/run/user/1000/exai"))
        );
        assert_eq!(
            addr.candidates(),
            [
                "/run/user/1000/exai/exai-hub-v1.sock",
                "/tmp/exai-1000/exai-hub-v1.sock"
            ]
        );
        assert_eq!(addr.to_string(), "/run/user/1000/exai/exai-hub-v1.sock");
    }

    #[test]
    fn without_run_user_bare_names_live_only_in_a_per_uid_dir_in_tmp() {
        assert_eq!(
            candidates("exai-hub-v1", &env(None)),
            ["/tmp/exai-1000/exai-hub-v1.sock"]
        );
        assert_eq!(
            candidates("exai-hub-v1", &env(Some("relative/run"))),
            ["/tmp/exai-1000/exai-hub-v1.sock"]
        );
    }

    /// Set in the child that [`the_environment_plays_no_part`] starts.
    const CHILD: &str = "EXAI_IPC_TEST_ENV_CHILD";

    #[test]
    fn the_environment_plays_no_part() {
        // The facts read from this process name the same places as facts written down by
        // hand; the test then runs itself again with XDG_RUNTIME_DIR and TMPDIR pointing
        // elsewhere (never mutating this process's environment) and must pass there too.
        if std::env::var_os(CHILD).is_none() {
            let elsewhere = tempfile::tempdir().unwrap();
            let output = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "unix::tests::the_environment_plays_no_part"])
                .env(CHILD, "1")
                .env("XDG_RUNTIME_DIR", elsewhere.path())
                .env("TMPDIR", elsewhere.path())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "the child with another env: {}\n{stdout}",
                output.status
            );
        }
        let mut from_process = EndpointEnv::from_process().unwrap();
        from_process.exai_endpoint = None;
        assert_eq!(from_process.shared_tmp, Path::new("/tmp"));
        let by_hand = EndpointEnv {
            exai_endpoint: None,
            run_user_dir: run_user_dir(),
            shared_tmp: PathBuf::from("/tmp"),
            user: effective_uid().to_string(),
        };
        assert_eq!(from_process, by_hand);
        let expected = match &by_hand.run_user_dir {
            Some(dir) => vec![
                dir.join("exai/hub.sock").display().to_string(),
                format!("/tmp/exai-{}/hub.sock", effective_uid()),
            ],
            None => vec![format!("/tmp/exai-{}/hub.sock", effective_uid())],
        };
        assert_eq!(candidates("hub", &from_process), expected);
    }

    #[test]
    fn the_run_user_probe_accepts_only_a_private_directory_of_ours() {
        // Whatever it found, it is ours, a directory, and closed to writes by others.
        if let Some(dir) = run_user_dir() {
            let meta = fs::symlink_metadata(&dir).unwrap();
            assert!(meta.is_dir() && meta.uid() == effective_uid() && meta.mode() & 0o022 == 0);
            if cfg!(not(target_os = "macos")) {
                assert_eq!(dir, PathBuf::from(format!("/run/user/{}", effective_uid())));
            }
        }
    }

    #[test]
    fn explicit_paths_are_used_as_is_alone_and_must_be_absolute_and_short() {
        let addr = EndpointAddr::resolve("/srv/me/hub.sock", &env(Some("/run/user/1000"))).unwrap();
        assert_eq!(addr.first.socket_path, Path::new("/srv/me/hub.sock"));
        assert_eq!(addr.first.private_dir, None);
        assert_eq!(addr.candidates(), ["/srv/me/hub.sock"]);
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
    fn an_unusable_shared_tmp_or_user_is_an_error() {
        let mut bad_temp = env(None);
        bad_temp.shared_tmp = PathBuf::from("tmp");
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
