//! Autostart end to end: with `EXAI_AUTOSTART=hub` and no hub, shims started at once start one
//! real `exai hub` (found next to `exai-shim`), which serves them all and outlives them.
//!
//! Each test has its own bare endpoint name (its socket sits beside the user's, in the per-user
//! directory that no environment variable moves), and its own state, config and home
//! directories, so the hub it starts finds nothing of the user's. The lock files left beside the
//! socket are removed when the test ends. Every hub a test started is ended by its pid (SIGTERM,
//! then SIGKILL), also when the test fails.

use crate::support::*;
use rmcp::ServiceExt;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// The line a shim logs when it started the hub.
const STARTED: &str = "autostart: started exai hub (pid ";

/// A private world for one test: runtime, state, config and home directories.
struct World {
    dir: tempfile::TempDir,
    endpoint: String,
    daemon_url: String,
}

impl World {
    fn new(daemon_url: String) -> World {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["run", "state", "config", "home"] {
            std::fs::create_dir(dir.path().join(sub)).expect("mkdir");
        }
        let endpoint = format!(
            "exai-autostart-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        World {
            dir,
            endpoint,
            daemon_url,
        }
    }

    fn path(&self, sub: &str) -> PathBuf {
        self.dir.path().join(sub)
    }

    /// Points `command` at this world: its directories, the daemon, a quiet config.
    fn isolate<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command
            .env("XDG_RUNTIME_DIR", self.path("run"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("HOME", self.path("home"))
            .env("EXAI_WS_URL", &self.daemon_url)
            .env_remove("EXAI_WS_HOST")
            .env_remove("EXAI_WS_PORT")
            .env_remove("EXAI_WS_TOKEN")
            .env_remove("EXAI_ENDPOINT")
            .env_remove("EXAI_SHIM_LOG_FILE")
    }

    /// A shim for this world's endpoint that logs to `<name>.log`.
    fn shim(&self, name: &str, autostart: Option<&str>) -> Command {
        let mut command = Command::new(bin("exai-shim"));
        command
            .args(["--endpoint", &self.endpoint, "--name", name])
            .args(["--connect-timeout", "20", "--log-file"])
            .arg(self.shim_log(name))
            .env("EXAI_LOG", "info");
        self.isolate(&mut command);
        match autostart {
            Some(mode) => command.env("EXAI_AUTOSTART", mode),
            None => command.env_remove("EXAI_AUTOSTART"),
        };
        command
    }

    fn shim_log(&self, name: &str) -> PathBuf {
        self.path(&format!("{name}.log"))
    }

    fn autostart_log(&self) -> PathBuf {
        self.path("state/exai/logs/hub-autostart.log")
    }

    /// `exai status --json` for this world's endpoint: the snapshot, or `None` with no hub.
    async fn status(&self) -> Option<Value> {
        let mut command = Command::new(bin("exai"));
        command.args(["status", "--json", "--endpoint", &self.endpoint]);
        self.isolate(&mut command);
        let output = guard("exai status", command.stdin(Stdio::null()).output())
            .await
            .expect("run exai status");
        match output.status.code() {
            Some(0) => Some(serde_json::from_slice(&output.stdout).expect("one JSON object")),
            Some(3) => None,
            other => panic!(
                "exai status: {other:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }
}

impl Drop for World {
    fn drop(&mut self) {
        // The hubs have stopped by now (`StartedHubs` is dropped first); only their lock files
        // are left beside the socket.
        let Ok(endpoint) = exai_ipc::Endpoint::named(&self.endpoint) else {
            return;
        };
        for socket in endpoint.candidates() {
            for suffix in [".lock", ".autostart.lock"] {
                let _ = std::fs::remove_file(format!("{socket}{suffix}"));
            }
        }
    }
}

/// An editor window on a shim started with `command`.
async fn window(name: &str, command: Command) -> Window {
    let recorder = Recorder::for_test(name, ProtocolVersion::V_2025_11_25);
    let transport = rmcp::transport::TokioChildProcess::new(command).expect("spawn exai-shim");
    let pid = transport.id();
    let client = guard(
        "the MCP handshake through an autostarting shim",
        recorder.clone().serve(transport),
    )
    .await
    .expect("MCP handshake");
    Window {
        client,
        recorder,
        pid,
    }
}

/// The pids in every `STARTED` line of a log, in order.
fn started_pids(log: &str) -> Vec<u32> {
    log.match_indices(STARTED)
        .filter_map(|(at, _)| {
            let digits: String = log[at + STARTED.len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect()
}

/// The pid of the hub that answered `exai status`.
fn status_pid(status: &Value) -> Option<u32> {
    status["host"]["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

fn signal(pid: u32, signal: libc::c_int) -> bool {
    // SAFETY: kill(2) takes no pointers; the pid is a process this test caused to start.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// Every hub the test caused to start, by pid, ended when dropped: so also when an assertion
/// fails or a window times out before the test reaches [`StartedHubs::stop`].
///
/// Made before the first shim starts. It knows the pids the test hands it (as soon as the test
/// learns them, before it asserts anything about them) and, when dropped, also every pid in a
/// `STARTED` line of the world's shim logs, since a panic may come before the test read them.
/// Each is sent SIGTERM, waited for, and sent SIGKILL if it has not gone by then.
struct StartedHubs {
    /// The world's directory, where the shim logs are.
    logs: PathBuf,
    pids: Vec<u32>,
}

impl StartedHubs {
    fn new(world: &World) -> StartedHubs {
        StartedHubs {
            logs: world.dir.path().to_path_buf(),
            pids: Vec::new(),
        }
    }

    /// Records `pids` as started by the test.
    fn adopt(&mut self, pids: impl IntoIterator<Item = u32>) {
        for pid in pids {
            if !self.pids.contains(&pid) {
                self.pids.push(pid);
            }
        }
    }

    /// Ends every hub recorded and waits for each; nothing is left for the drop.
    async fn stop(mut self) {
        for pid in std::mem::take(&mut self.pids) {
            // Gone already (ESRCH) is fine: the test asserts about the hubs it expects.
            signal(pid, libc::SIGTERM);
            guard("a hub to stop", exai_ipc::wait_for_exit(pid)).await;
        }
        self.logs = PathBuf::new();
    }

    /// The pids in the shim logs now (no panicking: this runs in `drop`).
    fn in_logs(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir(&self.logs) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .flat_map(|log| started_pids(&log))
            .collect()
    }
}

impl Drop for StartedHubs {
    fn drop(&mut self) {
        let found = self.in_logs();
        self.adopt(found);
        if self.pids.is_empty() {
            return;
        }
        let pids = std::mem::take(&mut self.pids);
        for &pid in &pids {
            signal(pid, libc::SIGTERM);
        }
        // Waiting needs a runtime of its own: this may run on one of the test's runtime threads
        // (which cannot block on another runtime) or while it unwinds.
        let waited = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                for pid in pids {
                    let exited = exai_ipc::wait_for_exit(pid);
                    if tokio::time::timeout(GUARD, exited).await.is_err() {
                        signal(pid, libc::SIGKILL);
                        let _ = tokio::time::timeout(GUARD, exai_ipc::wait_for_exit(pid)).await;
                    }
                }
            });
            Some(())
        })
        .join();
        if !matches!(waited, Ok(Some(()))) {
            #[allow(clippy::print_stderr, reason = "a drop cannot fail the test; say why")]
            {
                eprintln!("autostart: could not wait for the started hubs to end");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_shims_at_once_start_one_hub_that_serves_both_and_outlives_them() {
    let env = Env::new(daemon()).await;
    let world = World::new(env.daemon.url());
    assert!(world.status().await.is_none(), "no hub yet");

    let mut hubs = StartedHubs::new(&world);
    let started = Instant::now();
    let (left, right) = tokio::join!(
        window("left", world.shim("left", Some("hub"))),
        window("right", world.shim("right", Some("hub"))),
    );
    let opened = started.elapsed();

    let logs = [
        read(&world.shim_log("left")),
        read(&world.shim_log("right")),
    ];
    let starters: Vec<u32> = logs.iter().flat_map(|log| started_pids(log)).collect();
    hubs.adopt(starters.iter().copied());
    assert_eq!(
        starters.len(),
        1,
        "exactly one hub was started, once:\n{}",
        logs.join("\n---\n")
    );
    let hub = starters[0];

    for (window, name) in [(&left, "left"), (&right, "right")] {
        let text = format!("{name} through the autostarted hub ✓");
        assert_eq!(window.call_text("echo", json!({"text": text})).await, text);
    }
    let status = world.status().await.expect("the autostarted hub answers");
    hubs.adopt(status_pid(&status));
    assert_eq!(status["host"]["kind"], "headless", "{status}");
    assert_eq!(status["host"]["pid"], hub, "{status}");
    assert_eq!(status["upstream"]["url"], env.daemon.url(), "{status}");
    let mut names: Vec<&str> = status["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|session| session["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["left", "right"], "{status}");
    let autostart_log = read(&world.autostart_log());
    assert_eq!(
        autostart_log.matches("--- exai-shim (pid ").count(),
        1,
        "one start in the autostart log:\n{autostart_log}"
    );
    assert!(
        autostart_log.contains(&format!("hub --endpoint {}", world.endpoint)),
        "{autostart_log}"
    );

    // The editors go away for good; the hub stays for the next window.
    for window in [&left, &right] {
        let pid = window.pid.expect("shim pid");
        assert!(signal(pid, libc::SIGKILL), "kill the shim {pid}");
        guard("the shim to die", exai_ipc::wait_for_exit(pid)).await;
    }
    let status = world.status().await.expect("the hub outlived its shims");
    hubs.adopt(status_pid(&status));
    assert_eq!(status["host"]["pid"], hub, "{status}");

    // A later window finds it running and starts nothing.
    let later = window("later", world.shim("later", Some("hub"))).await;
    let later_log = read(&world.shim_log("later"));
    hubs.adopt(started_pids(&later_log));
    assert_eq!(
        later.call_text("echo", json!({"text": "again"})).await,
        "again"
    );
    assert!(
        !later_log.contains(STARTED),
        "a running hub is used, not started again"
    );

    hubs.stop().await;
    #[allow(clippy::print_stderr, reason = "the measurement the report quotes")]
    {
        eprintln!("autostart: two windows initialized through a new hub in {opened:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_autostart_the_shim_says_the_hub_is_not_running_and_starts_nothing() {
    let env = Env::new(daemon()).await;
    let world = World::new(env.daemon.url());
    let mut hubs = StartedHubs::new(&world);
    let mut command = world.shim("plain", None);
    command
        .args(["--connect-timeout", "0.2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut shim = command.spawn().expect("spawn exai-shim");
    let mut stdin = shim.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(shim.stdout.take().expect("stdout")).lines();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}\n")
        .await
        .expect("write a request");
    let line = guard("the error answer", stdout.next_line())
        .await
        .expect("read stdout")
        .expect("one line");
    let answer: Value = serde_json::from_str(&line).expect("JSON");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("EXAI hub is not running") && message.contains("start it with `exai hub`"),
        "{answer}"
    );
    drop(stdin);
    let status = guard("the shim to leave", shim.wait()).await.expect("wait");
    assert!(status.success(), "{status:?}");
    let status = world.status().await;
    hubs.adopt(status.as_ref().and_then(status_pid));
    assert!(status.is_none(), "no hub was started: {status:?}");
    assert!(!world.autostart_log().exists(), "nothing was started");
    hubs.stop().await;
}
