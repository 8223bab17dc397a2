//! Detached and tied children on Unix; see `crate::process` for the contract.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};

pub(crate) fn exec_replace(command: &mut Command) -> io::Error {
    command.exec()
}

pub(crate) fn spawn_detached(command: &mut Command) -> io::Result<Child> {
    // SAFETY: the hook calls only setsid(2) and what `close_inherited_fds_on_exec` calls, all
    // async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(io::Error::last_os_error());
            }
            close_inherited_fds_on_exec();
            Ok(())
        });
    }
    command.spawn()
}

/// Marks every descriptor above the standard three close-on-exec, in the child between fork
/// and exec: one that whoever started us left inheritable (an editor's pipe, say) then does not
/// reach a program that outlives us. Everything std, tokio and this crate open is close-on-exec
/// already; std's own exec-error pipe stays usable. On Linux 5.11 and later one `close_range`
/// does it; on older kernels (`ENOSYS` before 5.9, `EINVAL` for the flag before 5.11) or under a
/// seccomp filter that refuses it, [`mark_each_cloexec`] does it one descriptor at a time.
/// Elsewhere descriptors are left as they are.
fn close_inherited_fds_on_exec() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: close_range(2) takes no pointers; a failure changes nothing.
        let marked = unsafe {
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            )
        } == 0;
        if !marked {
            mark_each_cloexec();
        }
    }
}

/// The fallback for [`close_inherited_fds_on_exec`]: marks each descriptor above 2 that
/// `/proc/self/fd` lists (or, without `/proc`, each number below the descriptor limit).
///
/// Runs between fork and exec, so it is async-signal-safe: raw system calls, a buffer on the
/// stack, no allocation and no panicking index.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn mark_each_cloexec() {
    // SAFETY: a NUL-terminated path; the descriptor is close-on-exec itself.
    let dir = unsafe {
        libc::open(
            c"/proc/self/fd".as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if dir < 0 {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: the pointer is to a live rlimit.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return;
        }
        let end = libc::c_int::try_from(limit.rlim_cur).unwrap_or(libc::c_int::MAX);
        for fd in 3..end {
            set_cloexec(fd);
        }
        return;
    }
    // linux_dirent64: d_ino (8 bytes), d_off (8), d_reclen (2), d_type (1), then the name,
    // NUL-terminated; records are d_reclen bytes long.
    const NAME: usize = 19;
    let mut buffer = [0u8; 4096];
    loop {
        // SAFETY: the buffer is ours and as long as we say.
        let read =
            unsafe { libc::syscall(libc::SYS_getdents64, dir, buffer.as_mut_ptr(), buffer.len()) };
        let Ok(read) = usize::try_from(read) else {
            break;
        };
        if read == 0 {
            break;
        }
        let mut records = buffer.get(..read).unwrap_or_default();
        while let Some(&[low, high]) = records.get(16..18) {
            let length = usize::from(u16::from_ne_bytes([low, high]));
            let (Some(record), Some(rest)) = (records.get(..length), records.get(length..)) else {
                break;
            };
            if let Some(fd) = record.get(NAME..).and_then(parse_fd)
                && fd > 2
                && fd != dir
            {
                set_cloexec(fd);
            }
            if length == 0 {
                break;
            }
            records = rest;
        }
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(dir) };
}

/// A descriptor number from a NUL-terminated directory entry name; `None` for `.` and `..`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn parse_fd(name: &[u8]) -> Option<libc::c_int> {
    let mut fd: libc::c_int = 0;
    let mut digits = 0;
    for &byte in name.iter().take_while(|&&byte| byte != 0) {
        let digit = libc::c_int::from(byte.checked_sub(b'0').filter(|&digit| digit <= 9)?);
        fd = fd.checked_mul(10)?.checked_add(digit)?;
        digits += 1;
    }
    (digits > 0).then_some(fd)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_cloexec(fd: libc::c_int) {
    // SAFETY: fcntl(2) with F_GETFD / F_SETFD takes and returns ints; a closed descriptor
    // fails with EBADF and changes nothing.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFD);
        if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
            libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
        }
    }
}

pub(crate) fn spawn_tied(command: &mut Command) -> io::Result<(Child, Tie)> {
    command.process_group(0);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        // SAFETY: getpid has no preconditions.
        let parent = unsafe { libc::getpid() };
        // SAFETY: the hook calls only prctl(2), getppid(2), kill(2) and what
        // `close_inherited_fds_on_exec` calls, all async-signal-safe, and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then no signal will come.
                if libc::getppid() != parent {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
                close_inherited_fds_on_exec();
                Ok(())
            });
        }
        let child = spawner::spawn(command)?;
        Ok((child, Tie))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        let child = command.spawn()?;
        Ok((child, Tie))
    }
}

/// What ties a child to us on Unix: its process group, which is its pid.
#[derive(Debug)]
pub(crate) struct Tie;

impl Tie {
    /// Kills the child's process group. Call only while the child is not yet reaped, so that
    /// its pid (the group's id) still names it.
    pub(crate) fn kill(&self, child: &mut Child) -> io::Result<()> {
        let pgid = libc::pid_t::try_from(child.id())
            .map_err(|_| io::Error::other("the child's pid is out of range"))?;
        // SAFETY: kill(2) with a negative pid signals that process group; no memory is passed.
        if unsafe { libc::kill(-pgid, libc::SIGKILL) } == -1 {
            let err = io::Error::last_os_error();
            // ESRCH: the group is gone already (the child exited and nothing else was in it).
            if err.raw_os_error() != Some(libc::ESRCH) {
                return Err(err);
            }
        }
        Ok(())
    }
}

/// One thread, alive for the whole process, that forks every tied child.
///
/// Linux sends `PR_SET_PDEATHSIG` when the thread that forked the child exits, so a child forked
/// on a tokio blocking-pool thread would be killed when the pool retires that thread (after ten
/// idle seconds). Forking here ties the child to the process instead.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod spawner {
    use std::io;
    use std::process::{Child, Command};
    use std::sync::OnceLock;
    use std::sync::mpsc;

    type Reply = (Command, io::Result<Child>);
    type Request = (Command, mpsc::SyncSender<Reply>);

    static SPAWNER: OnceLock<Option<mpsc::Sender<Request>>> = OnceLock::new();

    fn start() -> Option<mpsc::Sender<Request>> {
        let (requests, incoming) = mpsc::channel::<Request>();
        let started = std::thread::Builder::new()
            .name("exai-spawner".to_owned())
            .spawn(move || {
                for (mut command, reply) in incoming {
                    let result = command.spawn();
                    // The caller waits for the reply; if it is gone, dropping the child is all
                    // there is to do (it runs on, tied to this process).
                    let _ = reply.send((command, result));
                }
            });
        match started {
            Ok(_detached) => Some(requests),
            Err(err) => {
                tracing::warn!(error = %err, "cannot start the spawner thread; tied children are forked by the calling thread");
                None
            }
        }
    }

    /// Spawns `command` on the spawner thread and gives it back afterwards.
    pub(super) fn spawn(command: &mut Command) -> io::Result<Child> {
        let Some(requests) = SPAWNER.get_or_init(start) else {
            return command.spawn();
        };
        let owned = std::mem::replace(command, Command::new(""));
        let (reply, replied) = mpsc::sync_channel(1);
        if let Err(mpsc::SendError((owned, _))) = requests.send((owned, reply)) {
            // The spawner is gone (it never panics, but be safe): spawn here.
            *command = owned;
            return command.spawn();
        }
        match replied.recv() {
            Ok((owned, result)) => {
                *command = owned;
                result
            }
            Err(_) => Err(io::Error::other("the spawner thread went away")),
        }
    }
}
