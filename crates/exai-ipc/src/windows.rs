//! The Windows backend: pipe names, the pipe's security descriptor and the accept loop over pipe
//! instances. Process watching and stop requests live in `windows/process.rs`.
//!
//! It must not decide policy, and it relies on the operating system for the peer check:
//! - The pipe name is `\\.\pipe\<name>-<user>`, because the pipe namespace is machine-wide. The
//!   user comes from `GetUserNameW`, never from `USERNAME`, so every launcher's environment gives
//!   the same name.
//! - Every instance carries the DACL `D:P(A;;GA;;;<our SID>)(A;;GA;;;SY)`: only this user and
//!   `SYSTEM` may open it, so [`PeerInfo::same_user`] is always true here. Remote clients are
//!   rejected.
//! - The first instance is created with `FILE_FLAG_FIRST_PIPE_INSTANCE`. If the name is already
//!   taken that fails with `ERROR_ACCESS_DENIED`, which we report as an already-running hub.
//! - Before that, the listener claims a named mutex derived from the pipe name (same DACL) and
//!   holds it for its whole life: a second hub finds it and is refused even where
//!   `FILE_FLAG_FIRST_PIPE_INSTANCE` is not enforced (Wine 8.0 ignores it, which is where our
//!   CI runs the Windows builds). The OS closes the mutex when the process dies, so it is never
//!   stale. The pipe flag still guards against a squatter that never took the mutex.
//! - Clients open the pipe with tokio's default `SECURITY_IDENTIFICATION` quality of service,
//!   so a hostile server cannot impersonate them.

#![cfg(windows)]

mod process;
pub(crate) mod spawn;

use std::ffi::{OsString, c_void};
use std::os::windows::ffi::OsStringExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use std::{fmt, io, ptr};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::windows::named_pipe::{
    ClientOptions, NamedPipeClient, NamedPipeServer, ServerOptions,
};
use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, ERROR_ALREADY_EXISTS, ERROR_PIPE_BUSY, GetLastError, HANDLE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows_sys::Win32::Security::{
    GetTokenInformation, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, TOKEN_QUERY, TOKEN_USER,
    TokenUser,
};
use windows_sys::Win32::System::Pipes::{GetNamedPipeClientProcessId, GetNamedPipeServerProcessId};
use windows_sys::Win32::System::Threading::{
    CreateMutexW, GetCurrentProcess, OpenProcess, OpenProcessToken,
    PROCESS_QUERY_LIMITED_INFORMATION,
};
use windows_sys::Win32::System::WindowsProgramming::GetUserNameW;

use crate::endpoint::check_bare_name;
use crate::{ConnectError, EndpointEnv, EndpointError, ListenError, PeerInfo};

pub(crate) use process::{parent_pid, stop_requested, wait_for_exit};

const PIPE_PREFIX: &str = r"\\.\pipe\";
/// The longest pipe name Windows accepts.
const MAX_PIPE_NAME_LEN: usize = 256;
/// How long a client waits between tries while every pipe instance is busy.
const BUSY_RETRY_DELAY: Duration = Duration::from_millis(50);
/// How many times a client retries a busy pipe (about two seconds in all).
const BUSY_RETRIES: u32 = 40;

/// Where a Windows endpoint lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EndpointAddr {
    pipe_name: String,
}

impl EndpointAddr {
    /// Turns a name into a pipe name. Pure: no system calls.
    pub(crate) fn resolve(name: &str, env: &EndpointEnv) -> Result<EndpointAddr, EndpointError> {
        let invalid = |reason: &str| EndpointError::InvalidName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        };
        let has_prefix = name
            .get(..PIPE_PREFIX.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(PIPE_PREFIX));
        let pipe_name = if has_prefix {
            let rest = &name[PIPE_PREFIX.len()..];
            if rest.is_empty() || rest.contains(['\\', '\0']) {
                return Err(invalid("a pipe name needs a final part without '\\'"));
            }
            name.to_owned()
        } else if name.contains(['/', '\\', ':']) {
            return Err(invalid(r"pass a bare name or a full \\.\pipe\ name"));
        } else {
            check_bare_name(name)?;
            let user = sanitise_user(&env.user);
            if user.is_empty() {
                return Err(EndpointError::UnknownUser {
                    reason: "the user name is empty".to_owned(),
                });
            }
            format!("{PIPE_PREFIX}{name}-{user}")
        };
        if pipe_name.chars().count() > MAX_PIPE_NAME_LEN {
            return Err(invalid("a pipe name is at most 256 characters"));
        }
        Ok(EndpointAddr { pipe_name })
    }
}

impl EndpointAddr {
    /// The one place a pipe can be.
    pub(crate) fn candidates(&self) -> Vec<String> {
        vec![self.pipe_name.clone()]
    }
}

impl fmt::Display for EndpointAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pipe_name)
    }
}

/// Keeps letters, digits, `-`, `_` and `.` of a user name and replaces anything else with `_`.
fn sanitise_user(user: &str) -> String {
    let keep = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
    user.chars()
        .map(|c| if keep(c) { c } else { '_' })
        .collect()
}

/// Unused on Windows: pipes live in their own namespace.
pub(crate) const SHARED_TMP: &str = "";

/// Windows has no runtime directory; pipes live in their own namespace.
pub(crate) fn run_user_dir() -> Option<std::path::PathBuf> {
    None
}

/// The user name from `GetUserNameW`: the process token's user, whatever the environment says.
pub(crate) fn current_user() -> Result<String, EndpointError> {
    // UNLEN (256) plus the terminating NUL.
    let mut buffer = [0u16; 257];
    let mut len = buffer.len() as u32;
    // SAFETY: the buffer and its length are valid for the call.
    if unsafe { GetUserNameW(buffer.as_mut_ptr(), &mut len) } == 0 {
        return Err(EndpointError::UnknownUser {
            reason: format!("GetUserNameW failed: {}", io::Error::last_os_error()),
        });
    }
    Ok(wide_to_string(&buffer))
}

/// The SDDL for every pipe instance: full access for the current user and `SYSTEM`, nobody else.
pub fn pipe_sddl() -> io::Result<String> {
    let sid = current_user_sid()?;
    Ok(format!("D:P(A;;GA;;;{sid})(A;;GA;;;SY)"))
}

/// The current user's SID in string form, read from the process token.
fn current_user_sid() -> io::Result<String> {
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing.
    token_user_sid(unsafe { GetCurrentProcess() })
}

/// The SID of the user process `pid` runs as, in string form.
fn process_user_sid(pid: u32) -> io::Result<String> {
    // SAFETY: plain call; a null handle means failure.
    let raw = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: OpenProcess succeeded, so we own this handle.
    let process = unsafe { OwnedHandle::from_raw_handle(raw) };
    token_user_sid(process.as_raw_handle())
}

/// The SID of the user whose token `process` carries, in string form.
fn token_user_sid(process: HANDLE) -> io::Result<String> {
    let mut raw_token: HANDLE = ptr::null_mut();
    // SAFETY: `process` is a valid process handle; the out pointer is valid.
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut raw_token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: OpenProcessToken succeeded, so we own this handle.
    let token = unsafe { OwnedHandle::from_raw_handle(raw_token) };

    let mut len = 0u32;
    // SAFETY: a null buffer of length 0 asks only for the needed length; failure is expected.
    unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            ptr::null_mut(),
            0,
            &mut len,
        )
    };
    if len == 0 {
        return Err(io::Error::last_os_error());
    }
    // A `u64` buffer gives TOKEN_USER the pointer alignment it needs.
    let mut buffer = vec![0u64; (len as usize).div_ceil(8)];
    // SAFETY: the buffer holds at least `len` bytes.
    let ok = unsafe {
        GetTokenInformation(
            token.as_raw_handle(),
            TokenUser,
            buffer.as_mut_ptr().cast::<c_void>(),
            len,
            &mut len,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: GetTokenInformation filled the aligned buffer with a TOKEN_USER.
    let token_user = unsafe { &*buffer.as_ptr().cast::<TOKEN_USER>() };

    let mut wide: *mut u16 = ptr::null_mut();
    // SAFETY: the SID points into `buffer`, which outlives the call.
    if unsafe { ConvertSidToStringSidW(token_user.User.Sid, &mut wide) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success `wide` is a NUL-terminated string that we must LocalFree.
    let sid = unsafe {
        let len = (0..).take_while(|&i| *wide.add(i) != 0).count();
        let text = wide_to_string(std::slice::from_raw_parts(wide, len));
        LocalFree(wide.cast());
        text
    };
    Ok(sid)
}

fn wide_to_string(wide: &[u16]) -> String {
    let end = wide
        .iter()
        .position(|&unit| unit == 0)
        .unwrap_or(wide.len());
    OsString::from_wide(&wide[..end])
        .to_string_lossy()
        .into_owned()
}

/// A self-relative security descriptor built from SDDL, freed with `LocalFree`.
struct SecurityDescriptor(PSECURITY_DESCRIPTOR);

// SAFETY: the descriptor is a private heap block that is never written after creation, so it may
// be read from any thread.
unsafe impl Send for SecurityDescriptor {}
// SAFETY: as above; it is only ever read.
unsafe impl Sync for SecurityDescriptor {}

impl SecurityDescriptor {
    fn from_sddl(sddl: &str) -> io::Result<SecurityDescriptor> {
        let wide: Vec<u16> = sddl.encode_utf16().chain(std::iter::once(0)).collect();
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; the out pointer is valid.
        let ok = unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                wide.as_ptr(),
                SDDL_REVISION_1,
                &mut descriptor,
                ptr::null_mut(),
            )
        };
        if ok == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(SecurityDescriptor(descriptor))
    }

    /// Non-inheritable security attributes that point at this descriptor.
    fn attributes(&self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
            lpSecurityDescriptor: self.0,
            bInheritHandle: 0,
        }
    }

    /// Creates the named mutex `name` with this descriptor, if nobody has it yet.
    ///
    /// `Ok(None)` means it already exists, or belongs to someone who denies us access: either
    /// way another process owns the endpoint.
    fn create_mutex(&self, name: &str) -> io::Result<Option<OwnedHandle>> {
        let attributes = self.attributes();
        let wide: Vec<u16> = name.encode_utf16().chain(std::iter::once(0)).collect();
        // SAFETY: `attributes`, the descriptor it points to and `wide` outlive the call.
        let raw = unsafe { CreateMutexW(&attributes, 0, wide.as_ptr()) };
        // SAFETY: no preconditions; read before any other call can overwrite it.
        let last_error = unsafe { GetLastError() };
        if raw.is_null() {
            if last_error == ERROR_ACCESS_DENIED {
                return Ok(None);
            }
            return Err(io::Error::from_raw_os_error(last_error as i32));
        }
        // SAFETY: CreateMutexW succeeded, so we own this handle.
        let handle = unsafe { OwnedHandle::from_raw_handle(raw) };
        if last_error == ERROR_ALREADY_EXISTS {
            return Ok(None);
        }
        Ok(Some(handle))
    }

    /// Creates one instance of the pipe with this descriptor.
    fn create_instance(&self, pipe_name: &str, first: bool) -> io::Result<NamedPipeServer> {
        let mut attributes = self.attributes();
        // SAFETY: `attributes` and the descriptor it points to outlive the call.
        unsafe {
            ServerOptions::new()
                .first_pipe_instance(first)
                .reject_remote_clients(true)
                .create_with_security_attributes_raw(
                    pipe_name,
                    (&mut attributes as *mut SECURITY_ATTRIBUTES).cast::<c_void>(),
                )
        }
    }
}

impl Drop for SecurityDescriptor {
    fn drop(&mut self) {
        // SAFETY: the descriptor came from ConvertStringSecurityDescriptorToSecurityDescriptorW.
        unsafe { LocalFree(self.0) };
    }
}

impl fmt::Debug for SecurityDescriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityDescriptor(..)")
    }
}

/// The name of a mutex tied to `pipe_name`: `Global\exai-<kind>-<pipe>`. Kind `endpoint` marks
/// the pipe as owned by a running listener, kind `autostart` a shim starting a hub for it.
///
/// Pipe names are case-insensitive and mutex names are not, so the name is lower-cased. Object
/// names may not contain `\` after the namespace and are limited to `MAX_PATH`, so only the
/// pipe's final part is used, shortened with a hash when it is very long.
fn lock_name(kind: &str, pipe_name: &str) -> String {
    let tail = pipe_name
        .get(PIPE_PREFIX.len()..)
        .unwrap_or(pipe_name)
        .to_lowercase()
        .replace('\\', "_");
    const KEEP: usize = 200;
    let tail = if tail.chars().count() <= KEEP {
        tail
    } else {
        // FNV-1a: stable across builds and processes, which `DefaultHasher` does not promise.
        let hash = tail.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let head: String = tail.chars().take(KEEP).collect();
        format!("{head}-{hash:016x}")
    };
    format!(r"Global\exai-{kind}-{tail}")
}

/// The pipe instance waiting for the next client, plus what is needed to make more.
#[derive(Debug)]
pub(crate) struct Listener {
    pipe_name: String,
    security: SecurityDescriptor,
    waiting: NamedPipeServer,
    /// Held for the listener's life; see the module documentation.
    _lock: OwnedHandle,
}

impl Listener {
    pub(crate) async fn bind(addr: &EndpointAddr) -> Result<Listener, ListenError> {
        let sddl = pipe_sddl()
            .map_err(|err| ListenError::io("cannot read the current user's SID", err))?;
        let security = SecurityDescriptor::from_sddl(&sddl).map_err(|err| {
            ListenError::io(
                format!("cannot build a security descriptor from {sddl}"),
                err,
            )
        })?;
        let already_running = || ListenError::AlreadyRunning {
            endpoint: addr.to_string(),
        };
        let lock = security
            .create_mutex(&lock_name("endpoint", &addr.pipe_name))
            .map_err(|err| ListenError::io(format!("cannot claim {}", addr.pipe_name), err))?
            .ok_or_else(already_running)?;
        let waiting = security
            .create_instance(&addr.pipe_name, true)
            .map_err(|err| {
                if err.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) {
                    already_running()
                } else {
                    ListenError::io(format!("cannot create the pipe {}", addr.pipe_name), err)
                }
            })?;
        Ok(Listener {
            pipe_name: addr.pipe_name.clone(),
            security,
            waiting,
            _lock: lock,
        })
    }

    pub(crate) async fn accept(&mut self) -> io::Result<(Stream, PeerInfo)> {
        if let Err(err) = self.waiting.connect().await {
            // A client that came and went can leave the instance unusable; start the next
            // accept from a fresh one.
            self.waiting = self.security.create_instance(&self.pipe_name, false)?;
            return Err(err);
        }
        // The next instance exists before we return, so clients never find the name missing.
        let next = self.security.create_instance(&self.pipe_name, false)?;
        let connected = std::mem::replace(&mut self.waiting, next);
        let mut pid = 0u32;
        // SAFETY: the handle is a connected server end owned by `connected`.
        let ok = unsafe { GetNamedPipeClientProcessId(connected.as_raw_handle(), &mut pid) };
        let peer = PeerInfo {
            pid: (ok != 0).then_some(pid),
            uid: None,
            // The pipe's DACL admits only this user and SYSTEM, so the OS has checked already.
            same_user: true,
        };
        Ok((Stream::Server(connected), peer))
    }
}

/// Held while this process starts a hub for a pipe: a named mutex that exists only as long as
/// its creator keeps it open (see [`lock_name`]).
///
/// Holding is creating: a mutex's ownership belongs to a thread, and the shim's tokio tasks may
/// move, so the lock is the object's existence, as for the listener's mutex, not its ownership.
#[derive(Debug)]
pub(crate) struct AutostartLock {
    _mutex: OwnedHandle,
}

impl AutostartLock {
    pub(crate) fn try_acquire(addr: &EndpointAddr) -> io::Result<AutostartLock> {
        let security = SecurityDescriptor::from_sddl(&pipe_sddl()?)?;
        match security.create_mutex(&lock_name("autostart", &addr.pipe_name))? {
            Some(mutex) => Ok(AutostartLock { _mutex: mutex }),
            None => Err(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!("another process is starting a hub for {}", addr.pipe_name),
            )),
        }
    }
}

/// `%LOCALAPPDATA%\exai\logs`.
/// Windows' anonymous pipes have no overlapped I/O: standard input stays on tokio's blocking
/// threads.
/// The Windows heap returns large blocks to the system by itself.
pub(crate) fn release_large_allocations() {}

pub(crate) fn stdin_pipe() -> Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>> {
    None
}

/// As [`stdin_pipe`].
pub(crate) fn stdout_pipe() -> Option<Box<dyn tokio::io::AsyncWrite + Unpin + Send>> {
    None
}

pub(crate) fn log_dir() -> Option<std::path::PathBuf> {
    let local = std::path::PathBuf::from(std::env::var_os("LOCALAPPDATA")?);
    local.is_absolute().then(|| local.join("exai").join("logs"))
}

/// A new file for a secret: it inherits the ACL of the per-user folder it is created in
/// (`%APPDATA%`), which only the user and SYSTEM may read; an existing one is removed first.
pub(crate) fn create_private_file(path: &std::path::Path) -> io::Result<std::fs::File> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
        _ => {}
    }
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Opens the pipe, retrying for a bounded time while every instance is busy.
pub(crate) async fn connect(addr: &EndpointAddr) -> Result<Stream, ConnectError> {
    let mut busy_retries = 0;
    loop {
        match ClientOptions::new().open(&addr.pipe_name) {
            Ok(client) => {
                check_server_user(&client, &addr.pipe_name)?;
                return Ok(Stream::Client(client));
            }
            Err(err)
                if err.raw_os_error() == Some(ERROR_PIPE_BUSY as i32)
                    && busy_retries < BUSY_RETRIES =>
            {
                busy_retries += 1;
                tokio::time::sleep(BUSY_RETRY_DELAY).await;
            }
            Err(err) => {
                return Err(
                    ConnectError::classify(&addr.pipe_name, err).unwrap_or_else(|| {
                        ConnectError::NotRunning {
                            endpoint: addr.pipe_name.clone(),
                            looked_at: addr.candidates(),
                        }
                    }),
                );
            }
        }
    }
}

/// Refuses a pipe whose server runs as another user, before anything is sent: pipe names are
/// public, so another user could have created ours first (the hub's first-instance flag stops
/// that only while the hub runs).
fn check_server_user(client: &NamedPipeClient, pipe_name: &str) -> Result<(), ConnectError> {
    let untrusted = |reason: String| ConnectError::Untrusted {
        path: pipe_name.to_owned(),
        reason,
    };
    let mut server_pid = 0u32;
    // SAFETY: the client's handle is valid for the call; the out pointer is valid.
    if unsafe { GetNamedPipeServerProcessId(client.as_raw_handle(), &mut server_pid) } == 0 {
        return Err(untrusted(format!(
            "cannot tell which process serves the pipe: {}",
            io::Error::last_os_error()
        )));
    }
    let ours = current_user_sid()
        .map_err(|error| untrusted(format!("cannot read this process's user: {error}")))?;
    let theirs = process_user_sid(server_pid).map_err(|error| {
        untrusted(format!(
            "cannot read the user of the pipe's server (pid {server_pid}): {error}"
        ))
    })?;
    if theirs != ours {
        return Err(untrusted(format!(
            "the pipe's server (pid {server_pid}) runs as {theirs}, not as this user ({ours})"
        )));
    }
    Ok(())
}

/// Either end of a pipe connection.
#[derive(Debug)]
pub(crate) enum Stream {
    /// The hub's end.
    Server(NamedPipeServer),
    /// The shim's end.
    Client(NamedPipeClient),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Server(pipe) => Pin::new(pipe).poll_read(cx, buf),
            Stream::Client(pipe) => Pin::new(pipe).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Server(pipe) => Pin::new(pipe).poll_write(cx, buf),
            Stream::Client(pipe) => Pin::new(pipe).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Server(pipe) => Pin::new(pipe).poll_flush(cx),
            Stream::Client(pipe) => Pin::new(pipe).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Server(pipe) => Pin::new(pipe).poll_shutdown(cx),
            Stream::Client(pipe) => Pin::new(pipe).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(user: &str) -> EndpointEnv {
        EndpointEnv {
            exai_endpoint: None,
            run_user_dir: None,
            shared_tmp: std::path::PathBuf::new(),
            user: user.to_owned(),
        }
    }

    #[test]
    fn bare_names_get_the_user_appended() {
        let addr = EndpointAddr::resolve("exai-hub-v1", &env("Jane Doe")).unwrap();
        assert_eq!(addr.pipe_name, r"\\.\pipe\exai-hub-v1-Jane_Doe");
    }

    #[test]
    fn lock_names_are_case_folded_and_bounded() {
        assert_eq!(
            lock_name("endpoint", r"\\.\pipe\EXAI-hub-v1-Jane"),
            r"Global\exai-endpoint-exai-hub-v1-jane"
        );
        assert_eq!(
            lock_name("autostart", r"\\.\pipe\EXAI-hub-v1-Jane"),
            r"Global\exai-autostart-exai-hub-v1-jane"
        );
        let long = format!(r"\\.\pipe\{}", "x".repeat(240));
        let name = lock_name("autostart", &long);
        assert!(name.len() < 260, "{name}");
        assert_ne!(
            name,
            lock_name("autostart", &format!(r"\\.\pipe\{}", "x".repeat(241)))
        );
    }

    /// The SID of this process's user, as a byte vector.
    fn our_sid() -> Vec<u8> {
        let sddl = current_user_sid().expect("our SID");
        sid_bytes(&sddl)
    }

    fn sid_bytes(text: &str) -> Vec<u8> {
        use windows_sys::Win32::Security::Authorization::ConvertStringSidToSidW;
        use windows_sys::Win32::Security::{GetLengthSid, PSID};
        let wide: Vec<u16> = text.encode_utf16().chain(std::iter::once(0)).collect();
        let mut sid: PSID = ptr::null_mut();
        // SAFETY: `wide` is NUL-terminated; the out pointer is valid.
        assert_ne!(
            unsafe { ConvertStringSidToSidW(wide.as_ptr(), &mut sid) },
            0,
            "{text}"
        );
        // SAFETY: `sid` is a valid SID until LocalFree.
        unsafe {
            let len = GetLengthSid(sid) as usize;
            let bytes = std::slice::from_raw_parts(sid.cast::<u8>(), len).to_vec();
            LocalFree(sid);
            bytes
        }
    }

    /// Reads a DACL back as (ACE type, access mask, SID bytes), and whether it is protected.
    fn dacl_entries(descriptor: PSECURITY_DESCRIPTOR) -> (Vec<(u8, u32, Vec<u8>)>, bool) {
        use windows_sys::Win32::Security::{
            ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, GetAce, GetLengthSid,
            GetSecurityDescriptorControl, GetSecurityDescriptorDacl, SE_DACL_PROTECTED,
        };
        let mut present = 0;
        let mut defaulted = 0;
        let mut acl: *mut ACL = ptr::null_mut();
        // SAFETY: `descriptor` is valid; the out pointers are valid.
        let ok = unsafe {
            GetSecurityDescriptorDacl(descriptor, &mut present, &mut acl, &mut defaulted)
        };
        assert_ne!(ok, 0, "{}", io::Error::last_os_error());
        assert_ne!(present, 0, "the descriptor has a DACL");
        assert!(!acl.is_null(), "a NULL DACL would admit everyone");
        let mut control = 0u16;
        let mut revision = 0u32;
        // SAFETY: as above.
        let ok = unsafe { GetSecurityDescriptorControl(descriptor, &mut control, &mut revision) };
        assert_ne!(ok, 0, "{}", io::Error::last_os_error());
        // SAFETY: `acl` points at a valid ACL inside the descriptor.
        let count = u32::from(unsafe { (*acl).AceCount });
        let entries = (0..count)
            .map(|index| {
                let mut ace: *mut c_void = ptr::null_mut();
                // SAFETY: index < AceCount; the out pointer is valid.
                assert_ne!(unsafe { GetAce(acl, index, &mut ace) }, 0);
                // SAFETY: every ACE starts with an ACE_HEADER.
                let header = unsafe { &*ace.cast::<ACE_HEADER>() };
                // SAFETY: allowed and denied ACEs share this layout; SidStart begins the SID.
                let (mask, sid) = unsafe {
                    let allowed = &*ace.cast::<ACCESS_ALLOWED_ACE>();
                    let sid = std::ptr::addr_of!(allowed.SidStart)
                        .cast_mut()
                        .cast::<c_void>();
                    let len = GetLengthSid(sid) as usize;
                    (
                        allowed.Mask,
                        std::slice::from_raw_parts(sid.cast::<u8>(), len).to_vec(),
                    )
                };
                (header.AceType, mask, sid)
            })
            .collect();
        (entries, control & SE_DACL_PROTECTED != 0)
    }

    #[test]
    fn the_pipe_descriptor_admits_exactly_this_user_and_system() {
        use windows_sys::Win32::Foundation::GENERIC_ALL;
        // winnt.h; windows-sys has it only behind the large SystemServices feature.
        const ACCESS_ALLOWED_ACE_TYPE: u8 = 0;
        let sddl = pipe_sddl().expect("SDDL");
        assert!(
            sddl.starts_with("D:P("),
            "protected DACL, no inherited entries: {sddl}"
        );
        assert!(
            !sddl.contains("WD") && !sddl.contains("AN"),
            "no Everyone/Anonymous: {sddl}"
        );
        let descriptor = SecurityDescriptor::from_sddl(&sddl).expect("parse our SDDL");
        let (entries, protected) = dacl_entries(descriptor.0);
        assert!(protected, "SE_DACL_PROTECTED is set");
        let allowed = ACCESS_ALLOWED_ACE_TYPE;
        assert_eq!(
            entries,
            vec![
                (allowed, GENERIC_ALL, our_sid()),
                (allowed, GENERIC_ALL, sid_bytes("S-1-5-18")),
            ],
            "{sddl}"
        );
    }

    #[test]
    fn the_live_pipe_carries_our_descriptor() {
        use windows_sys::Win32::Security::Authorization::{GetSecurityInfo, SE_KERNEL_OBJECT};
        use windows_sys::Win32::Security::DACL_SECURITY_INFORMATION;
        let name = format!(r"\\.\pipe\exai-unit-{}-{}", std::process::id(), line!());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let _guard = runtime.enter();
        let addr = EndpointAddr { pipe_name: name };
        let listener = runtime.block_on(Listener::bind(&addr)).expect("bind");
        let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
        // SAFETY: the handle is our live pipe instance; the out pointers are valid or null.
        let status = unsafe {
            GetSecurityInfo(
                listener.waiting.as_raw_handle(),
                SE_KERNEL_OBJECT,
                DACL_SECURITY_INFORMATION,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
                &mut descriptor,
            )
        };
        assert_eq!(
            status,
            0,
            "GetSecurityInfo: {}",
            io::Error::from_raw_os_error(status as i32)
        );
        let (entries, _protected) = dacl_entries(descriptor);
        // SAFETY: GetSecurityInfo allocated it with LocalAlloc.
        unsafe { LocalFree(descriptor) };
        let sids: Vec<Vec<u8>> = entries.into_iter().map(|(_, _, sid)| sid).collect();
        assert_eq!(sids, vec![our_sid(), sid_bytes("S-1-5-18")]);
    }

    #[test]
    fn full_pipe_names_are_used_as_is() {
        let addr = EndpointAddr::resolve(r"\\.\pipe\custom", &env("jane")).unwrap();
        assert_eq!(addr.pipe_name, r"\\.\pipe\custom");
        assert!(EndpointAddr::resolve(r"C:\x", &env("jane")).is_err());
        assert!(EndpointAddr::resolve(r"\\.\pipe\", &env("jane")).is_err());
    }
}
