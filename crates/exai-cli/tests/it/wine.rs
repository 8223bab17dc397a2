//! The Windows builds under Wine: `exai.exe hub` and several `exai-shim.exe` processes driven by
//! the official MCP SDK through their stdio, against the fake daemon running natively (Wine's
//! sockets reach Linux loopback).
//!
//! These tests need `EXAI_WINE_BIN_DIR` (the directory holding `exai.exe` and `exai-shim.exe`)
//! and a prepared Wine prefix; `ci/wine/test.sh` provides both, and checks that every test here
//! printed its `wine-ok` marker. Without `EXAI_WINE_BIN_DIR` each test says it was skipped and
//! returns, so the ordinary Linux run stays independent of Wine. `EXAI_WINE` names the Wine
//! launcher (default `wine64`; `test.sh` passes `ci/wine/run.sh`, which selects the prefix),
//! `EXAI_WINE_PARENT_EXE` the stand-in editor process built from `ci/wine/parent.c`, and
//! `EXAI_WINE_TERMINATE_EXE` the helper that ends a Windows process by pid (`terminate.c`).

use crate::support::*;
use rmcp::ServiceExt;
use rmcp::model::ProtocolVersion;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Failure guard for one step under Wine, where every process start costs real time.
const WINE_GUARD: Duration = Duration::from_secs(120);

/// Awaits `future`, failing the test with `what` if it takes longer than [`WINE_GUARD`].
async fn within<F: std::future::Future>(what: &str, future: F) -> F::Output {
    match tokio::time::timeout(WINE_GUARD, future).await {
        Ok(value) => value,
        Err(_) => panic!("timed out after {WINE_GUARD:?} waiting for {what}"),
    }
}

/// The Windows binaries, or `None` (after saying so) when this run has no Wine.
#[allow(clippy::print_stderr, reason = "the skip notice is the point")]
fn wine_bins(test: &str) -> Option<PathBuf> {
    match std::env::var_os("EXAI_WINE_BIN_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            for exe in ["exai.exe", "exai-shim.exe"] {
                assert!(
                    dir.join(exe).is_file(),
                    "{} is missing",
                    dir.join(exe).display()
                );
            }
            Some(dir)
        }
        None => {
            eprintln!("{test}: skipped: EXAI_WINE_BIN_DIR not set (ci/wine/test.sh sets it)");
            None
        }
    }
}

/// The marker `ci/wine/test.sh` counts: the test really ran under Wine and passed.
#[allow(clippy::print_stderr, reason = "the marker ci/wine/test.sh counts")]
fn wine_ok(test: &str, started: Instant) {
    eprintln!("wine-ok: {test} in {:.1}s", started.elapsed().as_secs_f64());
}

/// A `wine64 <exe>` command with a clean EXAI environment.
fn wine(exe: &Path) -> Command {
    let launcher = std::env::var_os("EXAI_WINE").unwrap_or_else(|| "wine64".into());
    let mut command = Command::new(launcher);
    command
        .arg(exe)
        .env_remove("EXAI_WS_URL")
        .env_remove("EXAI_WS_TOKEN")
        .env_remove("EXAI_ENDPOINT")
        .env("EXAI_LOG", "warn");
    command
}

/// A pipe name no other test or run uses: this process's pid plus a counter.
fn unique_endpoint() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "exai-wine-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `exai.exe hub` under Wine, killed (by its handle) when dropped.
struct WineHub {
    bins: PathBuf,
    endpoint: String,
    _child: Child,
}

impl WineHub {
    /// Starts the hub and waits for its "started" log line.
    async fn start(bins: &Path, env: &Env) -> WineHub {
        let endpoint = unique_endpoint();
        let mut child = wine(&bins.join("exai.exe"))
            .args([
                "hub",
                "--endpoint",
                &endpoint,
                "--upstream",
                &env.daemon.url(),
                "--pool",
                "4",
            ])
            .env("EXAI_LOG", "warn,exai=info,exai_cli=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn wine64 exai.exe hub");
        let stderr = child.stderr.take().expect("hub stderr");
        let mut lines = BufReader::new(stderr).lines();
        within("the Wine hub to start", async {
            let mut seen = Vec::new();
            loop {
                match lines.next_line().await.expect("read hub stderr") {
                    Some(line) if line.contains("EXAI hub started") => break,
                    Some(line) => seen.push(line),
                    None => panic!("the Wine hub exited before starting:\n{}", seen.join("\n")),
                }
            }
        })
        .await;
        // Keep draining its log so the hub never blocks on a full stderr pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        WineHub {
            bins: bins.to_owned(),
            endpoint,
            _child: child,
        }
    }

    fn shim_command(&self, name: &str) -> Command {
        let mut command = wine(&self.bins.join("exai-shim.exe"));
        command.args([
            "--endpoint",
            &self.endpoint,
            "--name",
            name,
            "--connect-timeout",
            "60",
        ]);
        command
    }

    /// An editor window: `exai-shim.exe` under Wine, driven by the MCP SDK.
    async fn window(&self, name: &str) -> Window {
        self.window_from(name, self.shim_command(name)).await
    }

    async fn window_from(&self, name: &str, command: Command) -> Window {
        wine_window(name, command).await
    }

    /// `exai.exe status --json` for this hub.
    async fn status(&self) -> Value {
        wine_status(&self.bins, &self.endpoint)
            .await
            .expect("exai.exe status: no hub is running")
    }

    /// Asks `exai.exe status` until the session named `name` satisfies `pred`, and returns it.
    /// Each answer is a fresh `status` run, so this waits on the hub's answers, not on time.
    async fn wait_session(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(Option<&Value>) -> bool,
    ) -> Value {
        within(what, async {
            loop {
                let status = self.status().await;
                let session = session_named(&status, name);
                if pred(session) {
                    return session.cloned().unwrap_or(Value::Null);
                }
            }
        })
        .await
    }
}

/// An editor window on `command` (a shim under Wine), driven by the MCP SDK.
async fn wine_window(name: &str, command: Command) -> Window {
    let recorder = Recorder::for_test(name, ProtocolVersion::V_2025_11_25);
    let transport =
        rmcp::transport::TokioChildProcess::new(command).expect("spawn the shim under Wine");
    let pid = transport.id();
    let client = within(
        "the MCP handshake through exai-shim.exe",
        recorder.clone().serve(transport),
    )
    .await
    .expect("MCP handshake through exai-shim.exe");
    Window {
        client,
        recorder,
        pid,
    }
}

/// `exai.exe status --json` for `endpoint`: the snapshot, or `None` when no hub runs there.
async fn wine_status(bins: &Path, endpoint: &str) -> Option<Value> {
    let output = within(
        "exai.exe status",
        wine(&bins.join("exai.exe"))
            .args(["status", "--json", "--endpoint", endpoint])
            .stdin(Stdio::null())
            .output(),
    )
    .await
    .expect("run exai.exe status");
    match output.status.code() {
        Some(0) => Some(
            serde_json::from_slice(&output.stdout).expect("exai.exe status prints one JSON object"),
        ),
        Some(3) => None,
        other => panic!(
            "exai.exe status: {other:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
}

fn session_named<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["sessions"]
        .as_array()?
        .iter()
        .find(|session| session["name"] == name)
}

async fn call(window: &Window, tool: &str, arguments: Value) -> rmcp::model::CallToolResult {
    let result = within("a tool call under Wine", window.call(tool, arguments))
        .await
        .expect("tool call");
    assert_ne!(
        result.is_error,
        Some(true),
        "the tool reported an error: {result:?}"
    );
    result
}

/// Kills a process this test started, by the pid we were given for it.
fn kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -KILL {pid}");
}

/// Unix path to the Windows path Wine maps it to (drive Z: is the Linux root).
fn windows_path(path: &Path) -> String {
    let absolute = std::fs::canonicalize(path).expect("canonicalize");
    format!("Z:{}", absolute.display().to_string().replace('/', "\\"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_handshake_tools_non_ascii_and_a_big_result_intact() {
    const TEST: &str = "wine_handshake_tools_non_ascii_and_a_big_result_intact";
    let Some(bins) = wine_bins(TEST) else { return };
    let started = Instant::now();
    let env = Env::new(daemon()).await;
    let hub = WineHub::start(&bins, &env).await;
    let window = hub.window("w1").await;

    let info = window.client.peer_info().expect("server info");
    assert_eq!(info.protocol_version, ProtocolVersion::V_2025_11_25);
    let tools = within("tools/list", window.client.peer().list_all_tools())
        .await
        .expect("tools/list");
    for name in ["echo", "gate", "big"] {
        assert!(
            tools.iter().any(|tool| tool.name == name),
            "{name} missing from {tools:?}"
        );
    }

    // Whatever the console code page, text crosses the Windows stdio as UTF-8, LF only.
    let text = "héllo Wörld ✓ 日本語 🚀 \u{2028} «\r» tab\tend";
    assert_eq!(
        first_text(&call(&window, "echo", json!({"text": text})).await),
        text
    );

    // A multi-megabyte result, compared with the same call made natively (Linux shim, in-process
    // hub, same daemon).
    let bytes = 5 * 1024 * 1024 + 7;
    let through_wine = first_text(&call(&window, "big", json!({"bytes": bytes})).await);
    let native_hub = env.hub(HubOptions::default()).await;
    let native = env
        .window("native")
        .await
        .call_text("big", json!({"bytes": bytes}))
        .await;
    assert_eq!(native.len(), bytes);
    assert!(!native.is_ascii(), "the big result has non-ASCII text");
    assert_eq!(through_wine.len(), bytes, "length through Wine");
    assert!(
        through_wine == native,
        "the big result differs between Wine and native"
    );

    let session = hub
        .wait_session("w1", "w1 ready in exai status", |s| {
            s.is_some_and(|s| s["state"] == "ready")
        })
        .await;
    assert_eq!(session["client"]["name"], "test-editor-w1");
    assert!(
        session["pid"].as_u64().is_some_and(|pid| pid > 0),
        "GetNamedPipeClientProcessId gave a pid: {session}"
    );
    native_hub.stop().await;
    wine_ok(TEST, started);
}

/// `count` windows at once on one Wine hub: each calls with its own text, concurrently, and
/// gets only its own answers back.
async fn concurrent_windows(test: &str, count: usize) {
    let Some(bins) = wine_bins(test) else { return };
    let started = Instant::now();
    let env = Env::new(daemon()).await;
    let hub = WineHub::start(&bins, &env).await;
    let names: Vec<String> = (0..count).map(|n| format!("w{n}")).collect();
    let windows = futures_util::future::join_all(names.iter().map(|name| hub.window(name))).await;
    let opened = started.elapsed();

    let calls = windows.iter().zip(&names).map(|(window, name)| async move {
        for round in 0..3 {
            let text = format!("{name} round {round} ✓ {}", "ü".repeat(round * 100));
            let answer = first_text(&call(window, "echo", json!({"text": text})).await);
            assert_eq!(answer, text, "{name} got someone else's answer");
        }
    });
    futures_util::future::join_all(calls).await;

    let status = hub.status().await;
    let sessions = status["sessions"].as_array().expect("sessions");
    let mut pids = Vec::new();
    for name in &names {
        let session =
            session_named(&status, name).unwrap_or_else(|| panic!("{name} missing: {status}"));
        assert_eq!(session["state"], "ready", "{session}");
        // Three echo calls, plus whatever the SDK sent on its own (such as `initialize`).
        assert!(
            session["requests"].as_u64().is_some_and(|n| n >= 3),
            "{session}"
        );
        pids.push(session["pid"].as_u64().expect("pid"));
    }
    assert_eq!(sessions.len(), count, "{status}");
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(
        pids.len(),
        count,
        "each shim is its own process with its own pipe instance"
    );
    #[allow(
        clippy::print_stderr,
        reason = "the measurement the CI budget depends on"
    )]
    {
        eprintln!(
            "{test}: {count} windows opened in {opened:?}, all calls done in {:?}",
            started.elapsed()
        );
    }
    wine_ok(test, started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_two_concurrent_windows() {
    concurrent_windows("wine_two_concurrent_windows", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_eight_concurrent_windows() {
    concurrent_windows("wine_eight_concurrent_windows", 8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_thirty_two_concurrent_windows() {
    concurrent_windows("wine_thirty_two_concurrent_windows", 32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_a_shim_killed_mid_call_is_lost_and_the_others_carry_on() {
    const TEST: &str = "wine_a_shim_killed_mid_call_is_lost_and_the_others_carry_on";
    let Some(bins) = wine_bins(TEST) else { return };
    let started = Instant::now();
    let env = Env::new(daemon()).await;
    let hub = WineHub::start(&bins, &env).await;
    let survivor = hub.window("survivor").await;
    let doomed = hub.window("doomed").await;

    let key = format!("wine-kill-{}", std::process::id());
    let pending = tokio::spawn({
        let peer = doomed.client.peer().clone();
        let key = key.clone();
        async move {
            let mut params = rmcp::model::CallToolRequestParams::new("gate");
            params.arguments = json!({"key": key, "text": "never seen"})
                .as_object()
                .cloned();
            peer.call_tool(params).await
        }
    });
    within(
        "the gate call to reach the daemon",
        env.daemon.wait_gate_started(&key),
    )
    .await;
    kill(doomed.pid.expect("the shim's wine64 pid"));

    let lost = hub
        .wait_session("doomed", "the killed shim to be marked lost", |s| {
            s.is_some_and(|s| s["state"] == "lost")
        })
        .await;
    assert_eq!(lost["state"], "lost", "{lost}");
    let answer = within("the killed window's call to fail", pending)
        .await
        .expect("join");
    assert!(
        answer.is_err(),
        "a killed shim cannot deliver an answer: {answer:?}"
    );
    env.daemon.open_gate(&key);

    assert_eq!(
        first_text(&call(&survivor, "echo", json!({"text": "still here ✓"})).await),
        "still here ✓"
    );
    let status = hub.status().await;
    assert_eq!(
        session_named(&status, "survivor").map(|s| s["state"].clone()),
        Some(json!("ready")),
        "{status}"
    );
    wine_ok(TEST, started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_a_shim_whose_parent_dies_exits_by_itself() {
    const TEST: &str = "wine_a_shim_whose_parent_dies_exits_by_itself";
    let Some(bins) = wine_bins(TEST) else { return };
    let started = Instant::now();
    let env = Env::new(daemon()).await;
    let hub = WineHub::start(&bins, &env).await;

    // The editor stand-in is a Windows process, `exai-test-parent.exe` (ci/wine/parent.c), so
    // that the shim has a Windows parent to watch, and so that the pid we get is that parent's.
    // Its stdio is ours, and we keep the shim's stdin open: only the parent watch can make it
    // leave.
    let parent = std::env::var_os("EXAI_WINE_PARENT_EXE")
        .map(PathBuf::from)
        .expect("EXAI_WINE_PARENT_EXE: the exai-test-parent.exe that ci/wine/setup.sh builds");
    let mut command = wine(&parent);
    command
        .arg(windows_path(&bins.join("exai-shim.exe")))
        .args([
            "--endpoint",
            &hub.endpoint,
            "--name",
            "orphan",
            "--connect-timeout",
            "60",
        ]);
    let window = hub.window_from("orphan", command).await;
    assert_eq!(
        first_text(&call(&window, "echo", json!({"text": "before"})).await),
        "before"
    );
    let session = hub
        .wait_session("orphan", "the orphan-to-be ready", |s| {
            s.is_some_and(|s| s["state"] == "ready")
        })
        .await;
    let shim_pid = session["pid"].as_u64().expect("the shim's Windows pid");

    kill(window.pid.expect("the parent's wine64 pid"));

    // The shim's stdout reaches EOF only when the shim itself has exited.
    let quit = within("the orphaned shim to exit", window.client.waiting())
        .await
        .expect("join");
    assert!(
        matches!(quit, rmcp::service::QuitReason::Closed),
        "{quit:?}"
    );
    let gone = hub
        .wait_session("orphan", "the orphan's session to end", |s| {
            s.is_none_or(|s| s["state"] != "ready")
        })
        .await;
    assert!(
        gone.is_null() || gone["pid"].as_u64() == Some(shim_pid),
        "{gone}"
    );
    wine_ok(TEST, started);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_a_second_hub_on_the_same_pipe_is_refused() {
    const TEST: &str = "wine_a_second_hub_on_the_same_pipe_is_refused";
    let Some(bins) = wine_bins(TEST) else { return };
    let started = Instant::now();
    let env = Env::new(daemon()).await;
    let hub = WineHub::start(&bins, &env).await;
    let output = within(
        "the second hub to give up",
        wine(&bins.join("exai.exe"))
            .args([
                "hub",
                "--endpoint",
                &hub.endpoint,
                "--upstream",
                &env.daemon.url(),
            ])
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("run a second exai.exe hub");
    assert!(!output.status.success(), "a second hub must not start");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Who runs there when the first hub answers `status`; the bare refusal when it cannot.
    assert!(
        stderr.contains("already runs the EXAI hub") || stderr.contains("already running"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&hub.endpoint),
        "the message names the pipe: {stderr}"
    );

    let window = hub.window("after-refusal").await;
    assert_eq!(
        first_text(&call(&window, "echo", json!({"text": "first hub ✓"})).await),
        "first hub ✓"
    );
    wine_ok(TEST, started);
}

/// The line a shim logs when it started the hub.
const AUTOSTARTED: &str = "autostart: started exai hub (pid ";

/// A Windows process a shim started for the test, ended by its Windows pid through
/// `exai-test-terminate.exe` when dropped, so also when the test fails.
struct WindowsPid {
    terminate: PathBuf,
    pid: u32,
}

impl WindowsPid {
    fn end(&self) -> std::process::ExitStatus {
        let launcher = std::env::var_os("EXAI_WINE").unwrap_or_else(|| "wine64".into());
        std::process::Command::new(launcher)
            .arg(&self.terminate)
            .arg(self.pid.to_string())
            .stdin(Stdio::null())
            .status()
            .expect("run exai-test-terminate.exe")
    }
}

impl Drop for WindowsPid {
    fn drop(&mut self) {
        if self.pid != 0 {
            self.end();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_two_shims_with_autostart_start_one_hub_that_outlives_them() {
    const TEST: &str = "wine_two_shims_with_autostart_start_one_hub_that_outlives_them";
    let Some(bins) = wine_bins(TEST) else { return };
    let terminate = std::env::var_os("EXAI_WINE_TERMINATE_EXE")
        .map(PathBuf::from)
        .expect(
            "EXAI_WINE_TERMINATE_EXE: the exai-test-terminate.exe that ci/wine/setup.sh builds",
        );
    assert!(
        terminate.is_file(),
        "{} is missing: run ci/wine/setup.sh",
        terminate.display()
    );
    let started = Instant::now();
    let env = Env::new(daemon()).await;
    let endpoint = unique_endpoint();
    // Shim logs in this test's own directory. (The autostart log goes to the prefix's
    // LOCALAPPDATA: Wine sets that variable itself, whatever the Linux environment says.)
    let dir = windows_path(env.dir.path());
    let shim = |name: &str| {
        let mut command = wine(&bins.join("exai-shim.exe"));
        command
            .args(["--endpoint", &endpoint, "--name", name])
            .args(["--connect-timeout", "60", "--log-file"])
            .arg(format!("{dir}\\{name}.log"))
            .env("EXAI_AUTOSTART", "hub")
            .env("EXAI_WS_URL", env.daemon.url())
            .env("EXAI_LOG", "info");
        command
    };

    let (left, right) = tokio::join!(
        wine_window("left", shim("left")),
        wine_window("right", shim("right")),
    );
    let opened = started.elapsed();
    let logs: Vec<String> = ["left", "right"]
        .iter()
        .map(|name| {
            std::fs::read_to_string(env.dir.path().join(format!("{name}.log")))
                .expect("the shim's log")
        })
        .collect();
    let pids: Vec<u32> = logs
        .iter()
        .filter_map(|log| {
            let rest = &log[log.find(AUTOSTARTED)? + AUTOSTARTED.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .collect();
    assert_eq!(
        pids.len(),
        1,
        "exactly one shim started a hub:\n{}",
        logs.join("\n---\n")
    );
    let mut hub = WindowsPid {
        terminate,
        pid: pids[0],
    };

    for (window, name) in [(&left, "left"), (&right, "right")] {
        let text = format!("{name} through the autostarted Wine hub ✓");
        assert_eq!(
            first_text(&call(window, "echo", json!({"text": text})).await),
            text
        );
    }
    let status = wine_status(&bins, &endpoint)
        .await
        .expect("the autostarted hub answers");
    assert_eq!(status["host"]["pid"], hub.pid, "{status}");
    assert_eq!(
        status["sessions"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );
    let autostart_log = std::fs::read_to_string(unix_path_in_prefix(&autostart_log_of(&logs)))
        .expect("the autostart log");
    let starts = format!("hub --endpoint {endpoint} at unix time");
    assert_eq!(
        autostart_log.matches(&starts).count(),
        1,
        "one start for this endpoint:\n{autostart_log}"
    );

    for window in [&left, &right] {
        kill(window.pid.expect("the shim's wine64 pid"));
    }
    let status = wine_status(&bins, &endpoint)
        .await
        .expect("the hub outlived its shims");
    assert_eq!(status["host"]["pid"], hub.pid, "{status}");

    let ended = hub.end();
    assert!(ended.success(), "end the hub: {ended:?}");
    hub.pid = 0;
    assert!(
        wine_status(&bins, &endpoint).await.is_none(),
        "the hub is gone"
    );
    #[allow(
        clippy::print_stderr,
        reason = "the measurement the CI budget depends on"
    )]
    {
        eprintln!("{TEST}: two windows opened through a new hub in {opened:?}");
    }
    wine_ok(TEST, started);
}

/// The autostart log's Windows path, from the shim log that says it started the hub.
fn autostart_log_of(logs: &[String]) -> String {
    let line = logs
        .iter()
        .flat_map(|log| log.lines())
        .find(|line| line.contains(AUTOSTARTED))
        .expect("a started line");
    let path = &line[line.find("its log: ").expect("the log's path") + "its log: ".len()..];
    let path = path.split_whitespace().next().expect("a path");
    assert!(
        path.ends_with(r"\exai\logs\hub-autostart.log"),
        "LOCALAPPDATA\\exai\\logs: {path}"
    );
    path.to_owned()
}

/// A `C:\...` path as the Linux path inside the Wine prefix (`$WINEPREFIX/drive_c/...`).
fn unix_path_in_prefix(windows: &str) -> PathBuf {
    let prefix = std::env::var_os("WINEPREFIX").expect("WINEPREFIX (ci/wine/env.sh sets it)");
    let rest = windows
        .strip_prefix(r"C:\")
        .or_else(|| windows.strip_prefix(r"c:\"))
        .unwrap_or_else(|| panic!("not on drive C: {windows}"));
    let mut path = PathBuf::from(prefix).join("drive_c");
    path.extend(rest.split('\\'));
    path
}

/// A wrapped stdio server on Windows, as `npx` is one: `exai-shim.exe -- wine-mcp` where
/// `wine-mcp` is a `.cmd` batch file found on the window's own `PATH` through `PATHEXT`. The
/// hub (`exai.exe`) starts it through `cmd.exe` (std's batch-file path, in a kill-on-close job,
/// `CREATE_NO_WINDOW`), and two windows share the one instance. The batch file sets
/// `EXAI_WINE_VIA` to its own name and starts `exai-test-mcp-server.exe` (`ci/wine/mcp-server.c`)
/// next to it, whose tool answers with that name and its pid: the proof it ran through the
/// `.cmd`. That no console window appears cannot be seen under Wine (see ARCHITECTURE.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wine_a_wrapped_cmd_server_found_through_pathext_is_shared() {
    const TEST: &str = "wine_a_wrapped_cmd_server_found_through_pathext_is_shared";
    let Some(bins) = wine_bins(TEST) else { return };
    let server_exe = std::env::var_os("EXAI_WINE_MCP_SERVER_EXE")
        .map(PathBuf::from)
        .expect(
            "EXAI_WINE_MCP_SERVER_EXE: the exai-test-mcp-server.exe that ci/wine/setup.sh builds",
        );
    assert!(
        server_exe.is_file(),
        "{} is missing: run ci/wine/setup.sh",
        server_exe.display()
    );
    let started = Instant::now();
    let env = Env::new(daemon()).await;
    let hub = WineHub::start(&bins, &env).await;
    // The batch file and its server in a folder of this test's own, put on the windows' PATH
    // (Wine builds a Windows process's PATH from the prefix's registry plus WINEPATH).
    let tools = env.dir.path().join("tools");
    std::fs::create_dir_all(&tools).expect("tools dir");
    std::fs::copy(&server_exe, tools.join("exai-test-mcp-server.exe")).expect("copy the server");
    std::fs::write(
        tools.join("wine-mcp.cmd"),
        "@echo off\r\nset EXAI_WINE_VIA=%~nx0\r\n\"%~dp0exai-test-mcp-server.exe\" %*\r\n",
    )
    .expect("write the batch file");
    let wrapped = |name: &str| {
        let mut command = hub.shim_command(name);
        command
            .args(["--", "wine-mcp", "--unused-flag"])
            .env("WINEPATH", windows_path(&tools));
        command
    };

    let first = hub.window_from("cmd-1", wrapped("cmd-1")).await;
    let info = first.client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|info| info.name.as_str()),
        Some("wine-cmd-server"),
        "the window sees the wrapped server, not the daemon"
    );
    let tools_listed = within("tools/list", first.client.peer().list_all_tools())
        .await
        .expect("tools/list");
    assert_eq!(
        tools_listed
            .iter()
            .map(|tool| tool.name.to_string())
            .collect::<Vec<_>>(),
        ["whoami"]
    );
    let answer = first_text(&call(&first, "whoami", json!({"text": "héllo ✓"})).await);
    let pid_of = |answer: &str| -> u64 {
        let (text, pid) = answer.split_once(" pid ").expect("a pid in the answer");
        assert_eq!(
            text.split_once(" via ").map(|(_, via)| via),
            Some("wine-mcp.cmd")
        );
        pid.parse().expect("a number")
    };
    assert!(
        answer.starts_with("héllo ✓ via wine-mcp.cmd pid "),
        "{answer}"
    );
    let server_pid = pid_of(&answer);

    let second = hub.window_from("cmd-2", wrapped("cmd-2")).await;
    let answer = first_text(&call(&second, "whoami", json!({"text": "second"})).await);
    assert!(
        answer.starts_with("second via wine-mcp.cmd pid "),
        "{answer}"
    );
    assert_eq!(pid_of(&answer), server_pid, "one shared instance");

    let status = within("one ready instance used by both windows", async {
        loop {
            let status = hub.status().await;
            let servers = status["servers"].as_array().cloned().unwrap_or_default();
            if servers.len() == 1
                && servers[0]["state"] == "ready"
                && servers[0]["windows"].as_array().map(Vec::len) == Some(2)
            {
                return status;
            }
        }
    })
    .await;
    let server = &status["servers"][0];
    assert_eq!(server["name"], "wine-mcp", "{server}");
    assert!(
        server["command"]
            .as_str()
            .is_some_and(|command| command.starts_with("wine-mcp --unused-flag")),
        "{server}"
    );
    assert!(
        server["pid"].as_u64().is_some_and(|pid| pid > 0),
        "{server}"
    );
    for name in ["cmd-1", "cmd-2"] {
        assert_eq!(
            session_named(&status, name).map(|session| &session["server"]),
            Some(&json!("wine-mcp")),
            "{status}"
        );
    }
    wine_ok(TEST, started);
}
