//! Starting processes: a tied child dies with whoever started it, a detached one outlives it.
//! Each test ends what it started, by pid.

use std::io::BufReader;

use exai_ipc::process::spawn_tied;
use exai_ipc::wait_for_exit;

use crate::helper::{Helper, Mode};
use crate::support::within;

/// Whether `pid` is a live process (not a zombie).
fn is_running(pid: u32) -> bool {
    os::is_running(pid)
}

#[cfg(unix)]
mod os {
    pub fn is_running(pid: u32) -> bool {
        // State is the field after the parenthesised command name; `Z` is a zombie.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) => false,
        }
    }

    /// SIGKILLs `pid` (or, negative, a process group) that this test started.
    pub fn kill(pid: i64) {
        let pid = libc::pid_t::try_from(pid).expect("pid in range");
        // SAFETY: kill(2) takes no pointers.
        let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill {pid}: {}", std::io::Error::last_os_error());
    }
}

#[cfg(windows)]
mod os {
    use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
    use windows_sys::Win32::Foundation::STILL_ACTIVE;
    use windows_sys::Win32::System::JobObjects::{
        AssignProcessToJobObject, CreateJobObjectW, JOB_OBJECT_LIMIT,
        JOB_OBJECT_LIMIT_BREAKAWAY_OK, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
        JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JobObjectExtendedLimitInformation,
        SetInformationJobObject,
    };
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_TERMINATE,
        TerminateProcess,
    };

    fn open(pid: u32, access: u32) -> Option<OwnedHandle> {
        // SAFETY: no pointers are passed.
        let raw = unsafe { OpenProcess(access, 0, pid) };
        // SAFETY: a non-null handle from OpenProcess is ours to close.
        (!raw.is_null()).then(|| unsafe { OwnedHandle::from_raw_handle(raw) })
    }

    pub fn is_running(pid: u32) -> bool {
        let Some(process) = open(pid, PROCESS_QUERY_LIMITED_INFORMATION) else {
            return false;
        };
        let mut code = 0u32;
        // SAFETY: the handle is valid; the out pointer is valid.
        let ok = unsafe { GetExitCodeProcess(process.as_raw_handle(), &mut code) };
        ok != 0 && code == STILL_ACTIVE as u32
    }

    /// Ends `pid`, which this test started.
    pub fn terminate(pid: u32) {
        let process = open(pid, PROCESS_TERMINATE).expect("open the process to end it");
        // SAFETY: the handle is valid and has PROCESS_TERMINATE.
        let ok = unsafe { TerminateProcess(process.as_raw_handle(), 1) };
        assert_ne!(
            ok,
            0,
            "TerminateProcess: {}",
            std::io::Error::last_os_error()
        );
    }

    /// A job object standing in for an editor's: it kills its processes when closed, and lets
    /// them break away or not.
    pub fn editor_job(breakaway_ok: bool) -> OwnedHandle {
        // SAFETY: default security, no name.
        let raw = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        assert!(!raw.is_null(), "{}", std::io::Error::last_os_error());
        // SAFETY: we own the new handle.
        let job = unsafe { OwnedHandle::from_raw_handle(raw) };
        let mut flags: JOB_OBJECT_LIMIT = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
        if breakaway_ok {
            flags |= JOB_OBJECT_LIMIT_BREAKAWAY_OK;
        }
        let mut limits = JOBOBJECT_EXTENDED_LIMIT_INFORMATION::default();
        limits.BasicLimitInformation.LimitFlags = flags;
        // SAFETY: a valid structure of the size passed.
        let ok = unsafe {
            SetInformationJobObject(
                job.as_raw_handle(),
                JobObjectExtendedLimitInformation,
                (&limits as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
                std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
            )
        };
        assert_ne!(ok, 0, "{}", std::io::Error::last_os_error());
        job
    }

    pub fn assign(job: &OwnedHandle, child: &std::process::Child) {
        // SAFETY: both handles are valid.
        let ok = unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) };
        assert_ne!(ok, 0, "{}", std::io::Error::last_os_error());
    }
}

#[cfg(any(target_os = "linux", windows))]
#[tokio::test]
async fn a_tied_child_dies_when_the_process_that_started_it_is_killed() {
    let mut helper = Helper::start(Mode::Tied, None, |_| {});
    let pid = helper.read_pid();
    assert!(is_running(pid), "the tied child is running");
    helper.child.kill().expect("kill the helper");
    helper.child.wait().expect("reap the helper");
    within("the tied child to die with its parent", wait_for_exit(pid)).await;
}

#[tokio::test]
async fn dropping_a_tied_child_ends_it_and_everything_it_started() {
    let mut command = crate::helper::command(Mode::Plain, None);
    let mut tied = spawn_tied(&mut command).expect("spawn_tied");
    let helper_pid = tied.id();
    let mut stdout = BufReader::new(tied.child_mut().stdout.take().expect("stdout"));
    let grandchild = crate::helper::read_pid(&mut stdout);
    assert!(is_running(grandchild), "the grandchild is running");
    drop(tied);
    within("the tied child to end", wait_for_exit(helper_pid)).await;
    within(
        "the tied child's own child to end",
        wait_for_exit(grandchild),
    )
    .await;
}

#[tokio::test]
async fn a_tied_child_that_exits_by_itself_is_reaped() {
    let mut command = if cfg!(windows) {
        let mut cmd = std::process::Command::new("cmd");
        cmd.args(["/c", "exit 3"]);
        cmd
    } else {
        let mut sh = std::process::Command::new("sh");
        sh.args(["-c", "exit 3"]);
        sh
    };
    let mut tied = spawn_tied(&mut command).expect("spawn_tied");
    let status = tied.wait().expect("wait");
    assert_eq!(status.code(), Some(3));
    // Dropping it now signals nothing: the pid may already name another process.
    drop(tied);
}

/// Linux sends the parent-death signal when the forking *thread* ends; the fork happens on a
/// thread that lives as long as the process, so a child started from a short-lived thread
/// (tokio's blocking pool retires idle threads) lives on.
#[cfg(target_os = "linux")]
#[test]
fn a_tied_child_outlives_the_thread_that_started_it() {
    use std::io::{BufRead, Write};
    let (tid, mut tied) = std::thread::spawn(|| {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        let mut cat = std::process::Command::new("cat");
        cat.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped());
        (tid, spawn_tied(&mut cat).expect("spawn_tied"))
    })
    .join()
    .expect("the starting thread");
    // The kernel sends parent-death signals before it unlinks the exited thread from
    // /proc/self/task, so once the entry is gone any such signal has been sent.
    let task = std::path::PathBuf::from(format!("/proc/self/task/{tid}"));
    let started = std::time::Instant::now();
    while task.exists() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "thread {tid} never went away"
        );
        std::thread::yield_now();
    }
    let child = tied.child_mut();
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdin.write_all(b"still here\n").expect("write to cat");
    stdin.flush().expect("flush");
    let mut line = String::new();
    stdout.read_line(&mut line).expect("read from cat");
    assert_eq!(line, "still here\n", "the tied child was killed");
}

#[cfg(unix)]
#[tokio::test]
async fn a_tied_child_leads_its_own_process_group() {
    let tied = spawn_tied(&mut crate::helper::sleeper()).expect("spawn_tied");
    let pid = libc::pid_t::try_from(tied.id()).expect("pid");
    // SAFETY: getpgid takes no pointers.
    assert_eq!(unsafe { libc::getpgid(pid) }, pid);
    drop(tied);
    within("the dropped child to end", wait_for_exit(pid as u32)).await;
}

/// An editor's terminal closing, or Ctrl-C in it, signals the editor's process group; the hub
/// the shim started runs in a session of its own, with null stdin and stdout, and lives on.
#[cfg(unix)]
#[tokio::test]
async fn a_detached_child_survives_its_parents_process_group_being_killed() {
    use std::os::unix::process::CommandExt;
    let mut helper = Helper::start(Mode::Detached, None, |command| {
        command.process_group(0);
    });
    helper.go();
    let pid = helper.read_pid();
    let helper_group = i64::from(helper.child.id());
    os::kill(-helper_group);
    helper.child.wait().expect("reap the helper");

    assert!(is_running(pid), "the detached child died with its parent");
    let raw = libc::pid_t::try_from(pid).expect("pid");
    // SAFETY: getsid takes no pointers.
    assert_eq!(
        unsafe { libc::getsid(raw) },
        raw,
        "it leads its own session"
    );
    #[cfg(target_os = "linux")]
    for fd in [0, 1] {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).expect("readlink");
        assert_eq!(target, std::path::Path::new("/dev/null"), "fd {fd}");
    }
    os::kill(i64::from(pid));
    within("the detached child to end", wait_for_exit(pid)).await;
}

/// An editor that runs its MCP servers in a job object closes it on exit; a hub the shim
/// started breaks away when the job allows it.
#[cfg(windows)]
#[tokio::test]
async fn a_detached_child_breaks_away_from_its_parents_job() {
    let job = os::editor_job(true);
    let mut helper = Helper::start(Mode::Detached, None, |_| {});
    os::assign(&job, &helper.child);
    helper.go();
    let pid = helper.read_pid();
    drop(job);
    helper.child.wait().expect("the helper dies with its job");
    assert!(is_running(pid), "the detached child died with the job");
    os::terminate(pid);
    within("the detached child to end", wait_for_exit(pid)).await;
}

/// When the job forbids breakaway the child still starts, inside the job (and so ends with it).
#[cfg(windows)]
#[tokio::test]
async fn a_detached_child_starts_inside_a_job_that_forbids_breakaway() {
    let job = os::editor_job(false);
    let mut helper = Helper::start(Mode::Detached, None, |_| {});
    os::assign(&job, &helper.child);
    helper.go();
    let pid = helper.read_pid();
    assert!(is_running(pid), "the detached child started");
    drop(job);
    helper.child.wait().expect("the helper dies with its job");
    within("the child to end with the job", wait_for_exit(pid)).await;
}

/// The editor reads the shim's stdout until it closes; a hub that kept a copy of that pipe
/// would keep it open for as long as the hub runs. So the detached child must hold none of
/// its parent's standard handles (Windows would pass every inheritable one along).
#[tokio::test]
async fn a_detached_child_holds_none_of_its_parents_stdio() {
    let mut helper = Helper::start(Mode::Detached, None, |_| {});
    helper.go();
    let pid = helper.read_pid();
    // Read on a thread: if the pipe stayed open this would block until the child ended.
    let reader = std::thread::spawn(move || helper.finish_and_read_to_end());
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || done.send(reader.join()));
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), finished).await;
    kill_detached(pid);
    within("the detached child to end", wait_for_exit(pid)).await;
    let rest = outcome
        .expect("the parent's stdout stayed open: the detached child holds it")
        .expect("the reader thread");
    rest.expect("the helper");
}

/// Ends a detached child that a test caused to start, by its pid.
pub fn kill_detached(pid: u32) {
    #[cfg(unix)]
    os::kill(i64::from(pid));
    #[cfg(windows)]
    os::terminate(pid);
}

/// A descriptor someone left inheritable (not close-on-exec) stays with us: a hub that
/// outlives us must not keep it open.
#[cfg(target_os = "linux")]
#[test]
fn a_detached_child_gets_no_inheritable_descriptor_beyond_the_standard_three() {
    assert_no_descriptor_leaks_into_a_detached_child(None);
}

/// The same on kernels without `close_range` (before 5.9: `ENOSYS`) or without its
/// `CLOSE_RANGE_CLOEXEC` flag (5.9 and 5.10: `EINVAL`), played on any kernel by a seccomp filter
/// in the child that refuses the call with that error.
#[cfg(target_os = "linux")]
#[test]
fn a_detached_child_gets_no_inheritable_descriptor_where_close_range_is_refused() {
    for errno in [libc::ENOSYS, libc::EINVAL] {
        assert_no_descriptor_leaks_into_a_detached_child(Some(errno));
    }
}

/// Leaves a descriptor inheritable, starts `ls /proc/self/fd` detached (with `close_range`
/// failing with `refuse_close_range`, if set) and checks the listing.
#[cfg(target_os = "linux")]
#[track_caller]
fn assert_no_descriptor_leaks_into_a_detached_child(refuse_close_range: Option<libc::c_int>) {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let file = tempfile::tempfile().expect("tempfile");
    // SAFETY: F_DUPFD takes an int and returns a new descriptor without close-on-exec.
    let leaked = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_DUPFD, 100) };
    assert!(leaked >= 100, "{}", std::io::Error::last_os_error());
    let mut ls = std::process::Command::new("sh");
    ls.args(["-c", "exec ls /proc/self/fd >&2"]);
    if let Some(errno) = refuse_close_range {
        let filter = refuse_syscall(libc::SYS_close_range, errno);
        // SAFETY: the hook calls only prctl(2) on a program on its own stack; it runs before
        // spawn_detached's own hook, which it added later.
        unsafe {
            ls.pre_exec(move || {
                let mut program = filter;
                let fprog = libc::sock_fprog {
                    len: program.len() as libc::c_ushort,
                    filter: program.as_mut_ptr(),
                };
                if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                    || libc::prctl(
                        libc::PR_SET_SECCOMP,
                        libc::SECCOMP_MODE_FILTER,
                        &fprog as *const libc::sock_fprog,
                    ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let spawned = exai_ipc::process::spawn_detached(&mut ls, std::process::Stdio::piped());
    // SAFETY: closing the descriptor we just made.
    unsafe { libc::close(leaked) };
    let mut child = spawned.expect("spawn_detached");
    let mut listing = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut listing)
        .expect("read the listing");
    child.wait().expect("reap ls");
    let fds: Vec<&str> = listing.split_whitespace().collect();
    assert!(
        !fds.contains(&leaked.to_string().as_str()),
        "fd {leaked} reached the child (close_range refused with {refuse_close_range:?}): {fds:?}"
    );
    assert!(fds.contains(&"2"), "{fds:?}");
}

/// A seccomp program that fails system call `number` with `errno` and allows everything else.
/// It checks no architecture: it lives only in a test's short-lived child.
#[cfg(target_os = "linux")]
fn refuse_syscall(number: libc::c_long, errno: libc::c_int) -> [libc::sock_filter; 4] {
    let statement = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    [
        // Load seccomp_data.nr, at offset 0.
        statement(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0),
        // Equal: the next statement; otherwise skip it.
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 0,
            jf: 1,
            k: number as u32,
        },
        statement(
            libc::BPF_RET | libc::BPF_K,
            libc::SECCOMP_RET_ERRNO | errno as u32,
        ),
        statement(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW),
    ]
}
