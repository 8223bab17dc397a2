//! A helper process for tests that need a second process: this test binary, started again with
//! [`HELPER_ENV`] naming what to do, running only [`helper_process_entry`].
//!
//! The helper does its one thing, reports on stdout as `<key=value>` (libtest may print other
//! text on the same line), and then blocks reading stdin until it is closed or the helper is
//! killed, so the test decides when it ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use exai_ipc::process::{spawn_detached, spawn_tied};

/// Set in the helper: what it should do (see [`Mode`]).
const HELPER_ENV: &str = "EXAI_IPC_TEST_HELPER";
/// Set in the helper: the endpoint for [`Mode::HoldLock`].
const ENDPOINT_ENV: &str = "EXAI_IPC_TEST_HELPER_ENDPOINT";

/// What a helper does before it blocks on stdin.
#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// Starts a long-running program with a plain `Command::spawn`; reports `pid`.
    Plain,
    /// Starts a long-running program with [`spawn_tied`]; reports `pid`.
    Tied,
    /// Waits for a line on stdin, then starts a long-running program with [`spawn_detached`];
    /// reports `pid`.
    Detached,
    /// Takes the autostart lock of the endpoint in [`ENDPOINT_ENV`]; reports `locked`.
    HoldLock,
    /// Takes the lock, tries a second time, lets go, takes it again; reports `cycle` as
    /// `held,free` when the second try would block and the third succeeds.
    LockCycle,
    /// Takes the lock, starts a long-running program with [`spawn_detached`], lets go, and
    /// takes it again; reports `pid` and `free` (`yes`, or the error).
    LockThenDetach,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Tied => "tied",
            Mode::Detached => "detached",
            Mode::HoldLock => "hold-lock",
            Mode::LockCycle => "lock-cycle",
            Mode::LockThenDetach => "lock-then-detach",
        }
    }
}

/// A program that runs for 30 seconds unless killed.
pub fn sleeper() -> Command {
    if cfg!(windows) {
        let mut ping = Command::new("ping");
        ping.args(["-n", "31", "127.0.0.1"]).stdout(Stdio::null());
        ping
    } else {
        let mut sleep = Command::new("sleep");
        sleep.arg("30");
        sleep
    }
}

/// The entry point of the helper process; does nothing in an ordinary test run.
#[test]
#[allow(
    clippy::print_stdout,
    reason = "the helper reports to the parent test on stdout"
)]
fn helper_process_entry() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return;
    };
    let report = |key: &str, value: &str| {
        println!("<{key}={value}>");
        let _ = std::io::stdout().flush();
    };
    let mut stdin = std::io::stdin().lock();
    // Kept alive until stdin closes.
    let mut _keep: Vec<Box<dyn std::any::Any>> = Vec::new();
    match mode.as_str() {
        "plain" => {
            let child = sleeper().spawn().expect("spawn");
            report("pid", &child.id().to_string());
            _keep.push(Box::new(child));
        }
        "tied" => {
            let child = spawn_tied(&mut sleeper()).expect("spawn_tied");
            report("pid", &child.id().to_string());
            _keep.push(Box::new(child));
        }
        "detached" => {
            let mut line = String::new();
            stdin.read_line(&mut line).expect("read the go-ahead");
            let child = spawn_detached(&mut sleeper(), Stdio::null()).expect("spawn_detached");
            report("pid", &child.id().to_string());
            _keep.push(Box::new(child));
        }
        "hold-lock" => {
            let endpoint = helper_endpoint();
            let lock = exai_ipc::AutostartLock::try_acquire(&endpoint).expect("take the lock");
            report("locked", "yes");
            _keep.push(Box::new(lock));
        }
        // These run here, in a process of their own, because a lock released in the test process
        // can look held for a moment: another test's freshly forked child holds copies of all
        // our descriptors until it execs or exits.
        "lock-cycle" => {
            let endpoint = helper_endpoint();
            let first = exai_ipc::AutostartLock::try_acquire(&endpoint).expect("first");
            let second = match exai_ipc::AutostartLock::try_acquire(&endpoint) {
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => "held",
                Err(_) => "error",
                Ok(_) => "taken-twice",
            };
            drop(first);
            let third = match exai_ipc::AutostartLock::try_acquire(&endpoint) {
                Ok(_) => "free",
                Err(_) => "still-held",
            };
            report("cycle", &format!("{second},{third}"));
        }
        "lock-then-detach" => {
            let endpoint = helper_endpoint();
            let lock = exai_ipc::AutostartLock::try_acquire(&endpoint).expect("lock");
            let child = spawn_detached(&mut sleeper(), Stdio::null()).expect("spawn_detached");
            drop(lock);
            let free = match exai_ipc::AutostartLock::try_acquire(&endpoint) {
                Ok(_) => "yes".to_owned(),
                Err(err) => format!("no ({err})"),
            };
            report("pid", &child.id().to_string());
            report("free", &free);
            _keep.push(Box::new(child));
        }
        other => panic!("unknown helper mode {other:?}"),
    }
    let _ = stdin.read_to_end(&mut Vec::new());
}

/// The command that starts a helper in `mode`, with piped stdin and stdout.
pub fn command(mode: Mode, endpoint: Option<&str>) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let mut command = Command::new(exe);
    command
        .args(["--exact", "helper::helper_process_entry", "--nocapture"])
        .args(["--test-threads", "1"])
        .env(HELPER_ENV, mode.as_str())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    if let Some(endpoint) = endpoint {
        command.env(ENDPOINT_ENV, endpoint);
    }
    command
}

/// Reads a helper's stdout until it reports `key`, and returns the value.
#[track_caller]
pub fn read(stdout: &mut BufReader<ChildStdout>, key: &str) -> String {
    let marker = format!("<{key}=");
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stdout.read_line(&mut line).expect("read the helper");
        if n == 0 {
            panic!("the helper exited without reporting {key}; it said:\n{seen}");
        }
        if let Some(start) = line.find(&marker) {
            let rest = &line[start + marker.len()..];
            let end = rest.find('>').expect("a closed marker");
            return rest[..end].to_owned();
        }
        seen.push_str(&line);
    }
}

/// Reads a reported pid.
#[track_caller]
pub fn read_pid(stdout: &mut BufReader<ChildStdout>) -> u32 {
    read(stdout, "pid").parse().expect("a pid")
}

/// The endpoint named in [`ENDPOINT_ENV`].
fn helper_endpoint() -> exai_ipc::Endpoint {
    let name = std::env::var(ENDPOINT_ENV).expect("the endpoint");
    exai_ipc::Endpoint::named(&name).expect("endpoint")
}

/// The parent's side of a running helper.
pub struct Helper {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl Helper {
    /// Starts a helper; `configure` may adjust the command (a process group, say).
    pub fn start(
        mode: Mode,
        endpoint: Option<&str>,
        configure: impl FnOnce(&mut Command),
    ) -> Helper {
        let mut command = command(mode, endpoint);
        configure(&mut command);
        let mut child = command.spawn().expect("start the helper");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("helper stdout"));
        Helper {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends the go-ahead line that [`Mode::Detached`] waits for.
    pub fn go(&mut self) {
        let stdin = self.stdin.as_mut().expect("helper stdin");
        stdin.write_all(b"go\n").expect("write to the helper");
        stdin.flush().expect("flush to the helper");
    }

    /// Reads the helper's stdout until it reports `key`, and returns the value.
    #[track_caller]
    pub fn read(&mut self, key: &str) -> String {
        read(&mut self.stdout, key)
    }

    /// Reads a reported pid.
    #[track_caller]
    pub fn read_pid(&mut self) -> u32 {
        read_pid(&mut self.stdout)
    }

    /// Closes the helper's stdin and waits for it to exit.
    pub fn finish(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for the helper");
        assert!(status.success(), "the helper failed: {status}");
    }

    /// Closes the helper's stdin, waits for it to exit, then reads its stdout to the end: the
    /// end comes only once no process holds the pipe's write side any more.
    pub fn finish_and_read_to_end(mut self) -> String {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait for the helper");
        assert!(status.success(), "the helper failed: {status}");
        let mut rest = String::new();
        self.stdout
            .read_to_string(&mut rest)
            .expect("read the helper's stdout");
        rest
    }
}
