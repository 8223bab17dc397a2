//! Starting other programs the two ways the product needs, so that nobody else has to know the
//! platform rules:
//!
//! - [`spawn_detached`]: the shim starting a hub that must outlive it. The child gets its own
//!   session (Unix) or process group with a hidden console of its own (Windows), stdin and stdout
//!   on the null device, stderr where the caller says, and on Windows it breaks away from the
//!   editor's job object when the job allows it.
//! - [`spawn_tied`]: a hub starting a helper that must die with it. On Windows the child is
//!   assigned to a job object that kills it when the [`TiedChild`] is dropped or the hub dies,
//!   and it never opens a console window. On Linux it gets `PR_SET_PDEATHSIG = SIGKILL` and its
//!   own process group, which dropping the [`TiedChild`] kills.
//!
//! The hub and the tray start nothing with `std::process::Command::spawn` directly: everything
//! goes through here, so that no console window flashes up and nothing outlives the hub by
//! accident.
//!
//! Only the three standard handles cross over. Everything this workspace, std and tokio open is
//! close-on-exec (Unix) or not inheritable (Windows). What whoever started us left inheritable
//! is kept back too: on Linux every descriptor above 2 is made close-on-exec in the child
//! (`close_range`, or one by one from `/proc/self/fd` on kernels before 5.11), and on Windows our own standard handles (an editor's pipes, for the shim)
//! are made non-inheritable before `CreateProcess`, so a hub never holds an editor's pipe open.
//! Other handles someone else left inheritable on Windows would still pass; choosing the list
//! (`PROC_THREAD_ATTRIBUTE_HANDLE_LIST`) needs an API that `std` has only on nightly.

use std::io;
use std::process::{Child, Command, ExitStatus, Stdio};

use crate::backend;

/// Starts `command` so that it outlives this process: its own session or process group, stdin
/// and stdout on the null device, stderr on `stderr` (a log file, typically).
///
/// The returned [`Child`] is only a handle: dropping it neither kills nor waits for the program.
/// On Unix, someone should eventually `wait` for it if this process lives on after the child
/// exits, or it stays a zombie until this process exits.
///
/// Unix: `setsid()` in the child before `exec`, so no terminal signal (a closing terminal's
/// `SIGHUP`, Ctrl-C) reaches it; do not also set a process group on `command`.
/// Windows: `CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW`, plus `CREATE_BREAKAWAY_FROM_JOB`
/// (retried without it when the job we run in forbids breakaway; the child then dies with the
/// job, which is logged). Any creation flags already set on `command` are replaced.
pub fn spawn_detached(command: &mut Command, stderr: Stdio) -> io::Result<Child> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    backend::spawn::spawn_detached(command)
}

/// Starts `command` tied to this process: it dies when the returned [`TiedChild`] is dropped,
/// and (on Windows and Linux) when this process dies, however it dies.
///
/// Windows: a job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` holds the child and anything
/// it starts; only the [`TiedChild`] has the job's handle, so dropping it, or this process
/// ending, kills the lot. The child is created suspended, assigned to the job, then resumed,
/// so it cannot start a grandchild outside the job first. `CREATE_NO_WINDOW` keeps a console
/// program from opening a window. Any creation flags already set on `command` are replaced.
///
/// Unix: the child leads a new process group, which dropping the [`TiedChild`] kills. On Linux
/// it also gets `PR_SET_PDEATHSIG = SIGKILL`. The kernel sends that signal when the *thread*
/// that forked the child ends, not the process, so the fork happens on one dedicated thread that
/// lives as long as the process; it is safe to call this from any thread, including tokio's
/// blocking pool. Other Unixes (macOS) have no parent-death signal: there the child outlives a
/// hub that crashes.
///
/// Stdio is left as `command` says (inherited by default).
pub fn spawn_tied(command: &mut Command) -> io::Result<TiedChild> {
    let (child, tie) = backend::spawn::spawn_tied(command)?;
    Ok(TiedChild {
        child,
        tie,
        reaped: false,
    })
}

/// Replaces this process with `command` (same pid, same standard handles), as `exec` does on
/// Unix; returns only when that failed. Windows has no such call: there it always fails with
/// [`io::ErrorKind::Unsupported`], and the caller goes on as itself.
///
/// For `exai-tray` on Linux, which becomes its toolkit-free host at start (`exai-tray-host`)
/// while keeping the pid that autostart entries, installers and a second instance know.
pub fn exec_replace(command: &mut Command) -> io::Error {
    backend::spawn::exec_replace(command)
}

/// A child started by [`spawn_tied`]. Dropping it kills the child (and, on Windows, everything
/// the child started; on Unix, its process group) and reaps it.
#[derive(Debug)]
pub struct TiedChild {
    child: Child,
    tie: backend::spawn::Tie,
    /// Whether the child has been waited for: from then on its pid (and process group id on
    /// Unix) may name another process, so drop must not signal it.
    reaped: bool,
}

impl TiedChild {
    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The underlying [`Child`], for its stdio pipes. Wait for it through [`TiedChild::wait`]
    /// or [`TiedChild::try_wait`], so that drop knows it was reaped.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Waits for the child to exit.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait()?;
        self.reaped = true;
        Ok(status)
    }

    /// Returns the exit status if the child has exited, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        self.reaped |= status.is_some();
        Ok(status)
    }

    /// Kills the child (and its job or process group) and waits for it.
    pub fn kill(&mut self) -> io::Result<ExitStatus> {
        if !self.reaped {
            self.tie.kill(&mut self.child)?;
        }
        self.wait()
    }
}

impl Drop for TiedChild {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        if let Err(err) = self.kill() {
            tracing::debug!(pid = self.child.id(), error = %err, "cannot end a tied child");
        }
    }
}
