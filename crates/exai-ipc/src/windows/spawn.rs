//! Detached and tied children on Windows; see `crate::process` for the contract.
//!
//! Why `CREATE_NO_WINDOW` rather than `DETACHED_PROCESS` for a detached hub: both keep the
//! editor's console (if any) away from it, but a detached process has no console at all, so any
//! console program it starts later without `CREATE_NO_WINDOW` would open a visible window. With
//! `CREATE_NO_WINDOW` the hub gets its own invisible console, which such children share
//! silently. (The two flags do not combine: Windows ignores `CREATE_NO_WINDOW` next to
//! `DETACHED_PROCESS`.) A GUI program such as the tray ignores both.
//!
//! Why a suspended start for a tied child: `std` does not expose `PROC_THREAD_ATTRIBUTE_JOB_LIST`
//! on stable Rust, so the child cannot be created inside the job. Assigning it right after a
//! normal start would leave a window in which it could start a grandchild outside the job, or
//! in which our death would leave it untied. Created suspended, it runs no code before it is in
//! the job; then its one thread is resumed (found through a Toolhelp snapshot, because `std`
//! keeps the thread handle from `CreateProcessW` to itself).

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::process::{Child, Command};
use std::ptr;

use windows_sys::Win32::Foundation::{
    ERROR_ACCESS_DENIED, HANDLE_FLAG_INHERIT, INVALID_HANDLE_VALUE, SetHandleInformation,
};
use windows_sys::Win32::System::Console::{
    GetStdHandle, STD_ERROR_HANDLE, STD_INPUT_HANDLE, STD_OUTPUT_HANDLE,
};
use windows_sys::Win32::System::Diagnostics::ToolHelp::{
    CreateToolhelp32Snapshot, TH32CS_SNAPTHREAD, THREADENTRY32, Thread32First, Thread32Next,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
    SetInformationJobObject, TerminateJobObject,
};
use windows_sys::Win32::System::Threading::{
    CREATE_BREAKAWAY_FROM_JOB, CREATE_NEW_PROCESS_GROUP, CREATE_NO_WINDOW, CREATE_SUSPENDED,
    OpenThread, ResumeThread, THREAD_SUSPEND_RESUME,
};

/// The exit code of processes ended through their job.
const KILLED_EXIT_CODE: u32 = 1;

pub(crate) fn exec_replace(_command: &mut Command) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "Windows cannot replace a process with another program",
    )
}

pub(crate) fn spawn_detached(command: &mut Command) -> io::Result<Child> {
    keep_std_handles_to_ourselves();
    let flags = CREATE_NEW_PROCESS_GROUP | CREATE_NO_WINDOW;
    command.creation_flags(flags | CREATE_BREAKAWAY_FROM_JOB);
    match command.spawn() {
        Err(err) if err.raw_os_error() == Some(ERROR_ACCESS_DENIED as i32) => {
            // We run in a job that forbids breakaway (some editors and terminals do this): the
            // child can only start inside it, and will end when the job does.
            tracing::warn!(
                "cannot start the program outside this process's job object (the job forbids breakaway); it will stop when the editor does"
            );
            command.creation_flags(flags);
            command.spawn()
        }
        result => result,
    }
}

pub(crate) fn spawn_tied(command: &mut Command) -> io::Result<(Child, Tie)> {
    keep_std_handles_to_ourselves();
    let job = kill_on_close_job()?;
    command.creation_flags(CREATE_NO_WINDOW | CREATE_SUSPENDED);
    let mut child = command.spawn()?;
    let tied = assign_and_resume(&job, &child);
    if let Err(err) = tied {
        // Never leave a suspended child behind.
        let _ = child.kill();
        let _ = child.wait();
        return Err(err);
    }
    Ok((child, Tie { job }))
}

/// Makes this process's own standard handles non-inheritable.
///
/// `std` starts children with handle inheritance on, so every inheritable handle in this process
/// goes along, and the standard handles we were started with are inheritable (that is how we
/// got them). A shim's stdout is the editor's pipe: a hub holding a copy would keep the editor
/// from ever seeing it close. The child still gets exactly the standard handles its `Command`
/// names, because `std` passes those as fresh inheritable duplicates. (Choosing the handles
/// with `PROC_THREAD_ATTRIBUTE_HANDLE_LIST` would also cover handles someone else left
/// inheritable, but `std` offers that only on nightly.)
fn keep_std_handles_to_ourselves() {
    for which in [STD_INPUT_HANDLE, STD_OUTPUT_HANDLE, STD_ERROR_HANDLE] {
        // SAFETY: no pointers are passed; the handle is not closed, only its flag changed.
        unsafe {
            let handle = GetStdHandle(which);
            if !handle.is_null() && handle != INVALID_HANDLE_VALUE {
                SetHandleInformation(handle, HANDLE_FLAG_INHERIT, 0);
            }
        }
    }
}

/// A new, unnamed job object that kills its processes when its last handle closes.
fn kill_on_close_job() -> io::Result<OwnedHandle> {
    // SAFETY: null attributes (not inheritable, default security) and no name.
    let raw = unsafe { CreateJobObjectW(ptr::null(), ptr::null()) };
    if raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CreateJobObjectW succeeded, so we own this handle.
    let job = unsafe { OwnedHandle::from_raw_handle(raw) };
    let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
    limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    // SAFETY: `limits` is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION of the size passed.
    let ok = unsafe {
        SetInformationJobObject(
            job.as_raw_handle(),
            JobObjectExtendedLimitInformation,
            (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(job)
}

fn assign_and_resume(job: &OwnedHandle, child: &Child) -> io::Result<()> {
    // SAFETY: both handles are valid for the call.
    if unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) } == 0 {
        return Err(io::Error::last_os_error());
    }
    resume_threads_of(child.id())
}

/// Resumes every thread of the suspended process `pid` (there is one: its primary thread).
fn resume_threads_of(pid: u32) -> io::Result<()> {
    // SAFETY: no pointers are passed.
    let raw = unsafe { CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0) };
    if raw == INVALID_HANDLE_VALUE || raw.is_null() {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the snapshot handle is ours to close.
    let snapshot = unsafe { OwnedHandle::from_raw_handle(raw) };
    let mut entry = THREADENTRY32 {
        dwSize: std::mem::size_of::<THREADENTRY32>() as u32,
        ..Default::default()
    };
    let mut resumed = 0;
    // SAFETY: `entry` is valid and its dwSize is set.
    let mut more = unsafe { Thread32First(snapshot.as_raw_handle(), &mut entry) } != 0;
    while more {
        if entry.th32OwnerProcessID == pid {
            // SAFETY: no pointers are passed.
            let thread = unsafe { OpenThread(THREAD_SUSPEND_RESUME, 0, entry.th32ThreadID) };
            if thread.is_null() {
                return Err(io::Error::last_os_error());
            }
            // SAFETY: OpenThread succeeded, so we own this handle.
            let thread = unsafe { OwnedHandle::from_raw_handle(thread) };
            // SAFETY: the handle is valid and has THREAD_SUSPEND_RESUME.
            if unsafe { ResumeThread(thread.as_raw_handle()) } == u32::MAX {
                return Err(io::Error::last_os_error());
            }
            resumed += 1;
        }
        // SAFETY: as above.
        more = unsafe { Thread32Next(snapshot.as_raw_handle(), &mut entry) } != 0;
    }
    if resumed == 0 {
        return Err(io::Error::other(format!(
            "found no thread of the new process {pid} to resume"
        )));
    }
    Ok(())
}

/// What ties a child to us on Windows: the only handle to its kill-on-close job.
#[derive(Debug)]
pub(crate) struct Tie {
    job: OwnedHandle,
}

impl Tie {
    /// Ends every process in the job.
    pub(crate) fn kill(&self, _child: &mut Child) -> io::Result<()> {
        // SAFETY: the job handle is valid.
        if unsafe { TerminateJobObject(self.job.as_raw_handle(), KILLED_EXIT_CODE) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}
