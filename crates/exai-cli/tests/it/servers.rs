//! Sharing any MCP server (`exai-shim -- COMMAND ...`): real `exai-shim` processes in front of
//! real servers (`@modelcontextprotocol/server-everything` from npm, installed by
//! scripts/test.sh into ci/servers; small `sh` servers for the failure cases), driven by raw
//! JSON-RPC lines (exact ids and routing are what these tests check) and by the Rust MCP SDK.

use crate::support::{Env, HubOptions, Recorder, TestHub, daemon, everything, guard};
use exai_hub::api::{ServerState, ServerStatus, SessionState, Snapshot};
use rmcp::ServiceExt as _;
use rmcp::model::ProtocolVersion;
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

/// The shim's arguments after `--` for server-everything.
fn everything_args(path: &std::path::Path) -> Vec<String> {
    vec!["node".into(), path.display().to_string(), "stdio".into()]
}

/// The same with an extra argument naming this test's directory (the server ignores it), so
/// this test's server processes can be told from those of tests running beside it.
fn marked_args(path: &std::path::Path, env: &Env) -> Vec<String> {
    let mut args = everything_args(path);
    args.push(format!("--test-marker={}", env.dir.path().display()));
    args
}

/// Fast restarts and a short idle time, so failure tests take milliseconds.
async fn hub(env: &Env, idle: Duration) -> TestHub {
    env.hub_with(HubOptions::default(), |config| {
        config.servers.min_backoff = Duration::from_millis(20);
        config.servers.max_backoff = Duration::from_millis(200);
        config.servers.idle_timeout = idle;
    })
    .await
}

/// An editor window speaking raw JSON-RPC lines to a real shim.
struct Raw {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::UnboundedReceiver<Value>,
    /// Lines received and not yet taken by a wait.
    seen: Vec<Value>,
    /// Every line received, in order.
    all: Vec<Value>,
}

impl Raw {
    async fn open(env: &Env, name: &str, flags: &[&str], server: &[String]) -> Raw {
        let mut command = env.shim_command(name);
        command
            .args(flags)
            .arg("--")
            .args(server)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn exai-shim");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value: Value = serde_json::from_str(&line).expect("the shim writes JSON lines");
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        Raw {
            stdin: child.stdin.take(),
            child,
            lines,
            seen: Vec::new(),
            all: Vec::new(),
        }
    }

    async fn send(&mut self, message: Value) {
        let mut line = serde_json::to_vec(&message).expect("json");
        line.push(b'\n');
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(&line).await.expect("write to the shim");
        stdin.flush().await.expect("flush");
    }

    /// The first line (kept or new) that satisfies `pred`; others are kept for later waits.
    async fn wait_for(&mut self, what: &'static str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(index) = self.seen.iter().position(&pred) {
            return self.seen.remove(index);
        }
        let lines = &mut self.lines;
        let seen = &mut self.seen;
        let all = &mut self.all;
        guard(what, async {
            loop {
                let line = lines.recv().await.expect("the shim's stdout closed");
                all.push(line.clone());
                if pred(&line) {
                    return line;
                }
                seen.push(line);
            }
        })
        .await
    }

    async fn response(&mut self, id: &Value) -> Value {
        let id = id.clone();
        self.wait_for("a response", move |line| {
            line.get("method").is_none() && line["id"] == id
        })
        .await
    }

    async fn request(&mut self, id: Value, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        self.response(&id).await
    }

    async fn initialize(&mut self, capabilities: Value) -> Value {
        let answer = self
            .request(
                json!(0),
                "initialize",
                json!({"protocolVersion": "2025-06-18", "capabilities": capabilities, "clientInfo": {"name": "raw-editor", "version": "1"}}),
            )
            .await;
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        answer
    }

    async fn call(&mut self, id: Value, tool: &str, arguments: Value) -> Value {
        self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        )
        .await
    }

    /// Everything the hub sent this window up to now: a ping's answer comes after anything the
    /// hub routed to the window before it, so no waiting for silence.
    async fn drain(&mut self, ping_id: &str) -> Vec<Value> {
        let id = json!(ping_id);
        self.request(id, "ping", json!({})).await;
        std::mem::take(&mut self.all)
    }

    async fn close(mut self) {
        drop(self.stdin.take());
        let _ = guard("the shim exits", self.child.wait()).await;
    }
}

fn text(result: &Value) -> String {
    result["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn servers(hub: &TestHub) -> Vec<ServerStatus> {
    hub.handle.snapshot().await.expect("snapshot").servers
}

async fn wait_servers(
    hub: &TestHub,
    what: &'static str,
    pred: impl Fn(&[ServerStatus]) -> bool,
) -> Snapshot {
    hub.wait_for(what, |snapshot| pred(&snapshot.servers)).await
}

/// Node processes whose parent is this test process (where the in-process hub runs) and whose
/// command line contains `needle` (shims, whose arguments name the server too, are not node).
fn children_running(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // The parent pid is the second field after the `(comm)`.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let ppid: u32 = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let program = cmdline.split(|&byte| byte == 0).next().unwrap_or_default();
        let node = String::from_utf8_lossy(program).ends_with("node");
        if ppid == me && node && String::from_utf8_lossy(&cmdline).contains(needle) {
            found.push(pid);
        }
    }
    found
}

#[tokio::test]
async fn four_windows_wrapping_one_command_share_one_process() {
    let Some(server) = everything("four_windows_wrapping_one_command_share_one_process") else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let args = marked_args(&server, &env);
    let marker = env.dir.path().display().to_string();
    // Real SDK clients, each through its own shim.
    let mut windows = Vec::new();
    for n in 0..4 {
        let name = format!("sdk-{n}");
        let mut command = env.shim_command(&name);
        command.arg("--").args(&args);
        let transport = TokioChildProcess::new(command).expect("spawn exai-shim");
        let handler = Recorder::for_test(&name, ProtocolVersion::V_2025_06_18);
        let client = guard("the MCP handshake", handler.serve(transport))
            .await
            .expect("MCP handshake through the shim");
        windows.push(client);
    }
    for (n, client) in windows.iter().enumerate() {
        let info = client.peer_info().expect("server info");
        let name = info.server_info.as_ref().map(|info| info.name.clone());
        assert_eq!(name.as_deref(), Some("mcp-servers/everything"));
        let mut params = rmcp::model::CallToolRequestParams::new("echo");
        params.arguments = json!({"message": format!("from {n}")}).as_object().cloned();
        let result = guard("echo", client.peer().call_tool(params))
            .await
            .expect("echo");
        let value = serde_json::to_value(&result.content).expect("content");
        assert_eq!(value[0]["text"], format!("Echo: from {n}"));
    }
    let running = children_running(&marker);
    assert_eq!(
        running.len(),
        1,
        "one server process for four windows: {running:?}"
    );
    let snapshot = wait_servers(&hub, "one ready server with 4 windows", |servers| {
        servers.len() == 1
            && servers[0].windows.len() == 4
            && servers[0].state == ServerState::Ready
    })
    .await;
    let status = &snapshot.servers[0];
    assert_eq!(status.name, "server-everything");
    assert_eq!(status.pid, Some(running[0]));
    assert_eq!(status.policy, "shared");
    assert!(status.command.starts_with("node "), "{}", status.command);
    assert!(status.memory_bytes.is_some_and(|bytes| bytes > 1 << 20));
    for session in &snapshot.sessions {
        assert_eq!(session.server.as_deref(), Some("server-everything"));
    }
    // A different argument, and `--share window`, each get an instance of their own.
    let mut other = Raw::open(
        &env,
        "other-arg",
        &[],
        &[args.clone(), vec!["--extra-arg".into()]].concat(),
    )
    .await;
    assert_eq!(
        other.initialize(json!({})).await["result"]["serverInfo"]["name"],
        "mcp-servers/everything"
    );
    let mut own = Raw::open(&env, "own", &["--share", "window"], &args).await;
    own.initialize(json!({})).await;
    let mut own2 = Raw::open(&env, "own-2", &["--share", "window"], &args).await;
    own2.initialize(json!({})).await;
    assert_eq!(children_running(&marker).len(), 4);
    let servers = servers(&hub).await;
    assert_eq!(servers.len(), 4);
    assert_eq!(servers.iter().filter(|s| s.policy == "window").count(), 2);
    for client in windows {
        let _ = client.cancel().await;
    }
    hub.stop().await;
    assert!(
        children_running(&marker).is_empty(),
        "the servers die with the hub"
    );
}

#[tokio::test]
async fn concurrent_calls_progress_and_cancel_reach_only_their_window() {
    let Some(server) = everything("concurrent_calls_progress_and_cancel_reach_only_their_window")
    else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let args = everything_args(&server);
    let mut windows = Vec::new();
    for n in 0..4 {
        let mut window = Raw::open(&env, &format!("w{n}"), &[], &args).await;
        window.initialize(json!({})).await;
        windows.push(window);
    }
    // Every window sends the same ids and the same progress token at once.
    for (n, window) in windows.iter_mut().enumerate() {
        window
            .send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get-sum", "arguments": {"a": n, "b": 100}}}))
            .await;
        window
            .send(json!({"jsonrpc": "2.0", "id": "p", "method": "tools/call", "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 0.4, "steps": 2}, "_meta": {"progressToken": 7}}}))
            .await;
        window
            .send(json!({"jsonrpc": "2.0", "id": 1.5, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": format!("window {n}")}}}))
            .await;
    }
    for (n, window) in windows.iter_mut().enumerate() {
        let sum = window.response(&json!(1)).await;
        assert!(text(&sum).contains(&format!("{}", n + 100)), "{sum}");
        let echo = window.response(&json!(1.5)).await;
        assert_eq!(text(&echo), format!("Echo: window {n}"));
        let long = window.response(&json!("p")).await;
        assert!(text(&long).contains("completed"), "{long}");
        let progress: Vec<Value> = window
            .drain("after")
            .await
            .into_iter()
            .filter(|line| line["method"] == "notifications/progress")
            .collect();
        assert_eq!(
            progress.len(),
            2,
            "each window gets its own two steps: {progress:?}"
        );
        assert!(
            progress
                .iter()
                .all(|line| line["params"]["progressToken"] == 7)
        );
    }
    // A cancel in one window while the same ids run in another.
    let (first, rest) = windows.split_at_mut(1);
    let (a, b) = (&mut first[0], &mut rest[0]);
    for window in [&mut *a, &mut *b] {
        window
            .send(json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 0.6, "steps": 3}}}))
            .await;
    }
    a.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9, "reason": "changed my mind"}}))
        .await;
    let done = b.response(&json!(9)).await;
    assert!(
        text(&done).contains("completed"),
        "the other window's call runs on: {done}"
    );
    let seen_by_a = a.drain("after-cancel").await;
    assert!(
        seen_by_a.iter().all(|line| line["id"] != 9),
        "a cancelled call is not answered: {seen_by_a:?}"
    );
    let snapshot = hub.handle.snapshot().await.expect("snapshot");
    assert_eq!(snapshot.servers.len(), 1);
    for window in windows {
        window.close().await;
    }
    hub.stop().await;
}

#[tokio::test]
async fn sampling_during_a_call_reaches_that_window_only() {
    let Some(server) = everything("sampling_during_a_call_reaches_that_window_only") else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let args = everything_args(&server);
    let mut asker = Raw::open(&env, "asker", &[], &args).await;
    asker.initialize(json!({"sampling": {}})).await;
    // Busy with a call of its own, without sampling.
    let mut busy = Raw::open(&env, "busy", &[], &args).await;
    busy.initialize(json!({})).await;
    // Sampling-capable, but nothing in flight.
    let mut idle = Raw::open(&env, "idle", &[], &args).await;
    idle.initialize(json!({"sampling": {}})).await;
    asker
        .send(json!({"jsonrpc": "2.0", "id": "s", "method": "tools/call", "params": {"name": "trigger-sampling-request", "arguments": {"prompt": "hello from asker", "maxTokens": 5}}}))
        .await;
    let asked = asker
        .wait_for("the sampling request", |line| {
            line["method"] == "sampling/createMessage"
        })
        .await;
    assert!(
        asked["params"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("hello from asker")
    );
    busy.send(json!({"jsonrpc": "2.0", "id": "b", "method": "tools/call", "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 0.2, "steps": 1}}}))
        .await;
    asker
        .send(json!({"jsonrpc": "2.0", "id": asked["id"], "result": {"role": "assistant", "content": {"type": "text", "text": "sampled by asker"}, "model": "test-model"}}))
        .await;
    let result = asker.response(&json!("s")).await;
    assert!(text(&result).contains("sampled by asker"), "{result}");
    busy.response(&json!("b")).await;
    for window in [&mut busy, &mut idle] {
        let lines = window.drain("check").await;
        assert!(
            lines
                .iter()
                .all(|line| line["method"] != "sampling/createMessage"),
            "{lines:?}"
        );
    }
    hub.stop().await;
}

#[tokio::test]
async fn subscriptions_are_shared_and_kept_per_window() {
    let Some(server) = everything("subscriptions_are_shared_and_kept_per_window") else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let args = everything_args(&server);
    let uri = "demo://resource/static/document/architecture.md";
    let mut a = Raw::open(&env, "a", &[], &args).await;
    a.initialize(json!({})).await;
    let mut b = Raw::open(&env, "b", &[], &args).await;
    b.initialize(json!({})).await;
    for window in [&mut a, &mut b] {
        let answer = window
            .request(json!("sub"), "resources/subscribe", json!({"uri": uri}))
            .await;
        assert_eq!(answer["result"], json!({}), "{answer}");
    }
    let updated = |line: &Value| line["method"] == "notifications/resources/updated";
    // The server sends updates for subscribed URIs at once, then every 5 s.
    a.call(json!("t"), "toggle-subscriber-updates", json!({}))
        .await;
    a.wait_for("an update", updated).await;
    b.wait_for("an update", updated).await;
    let answer = a
        .request(json!("un"), "resources/unsubscribe", json!({"uri": uri}))
        .await;
    assert_eq!(answer["result"], json!({}));
    a.drain("before").await;
    let next = b.wait_for("the next update", updated).await;
    assert_eq!(next["params"]["uri"], uri);
    let after: Vec<Value> = a
        .drain("after")
        .await
        .into_iter()
        .filter(|line| updated(line))
        .collect();
    assert!(
        after.is_empty(),
        "an unsubscribed window hears nothing: {after:?}"
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_killed_server_fails_its_calls_at_once_and_comes_back() {
    let Some(server) = everything("a_killed_server_fails_its_calls_at_once_and_comes_back") else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let args = everything_args(&server);
    let mut a = Raw::open(&env, "a", &[], &args).await;
    a.initialize(json!({})).await;
    let mut b = Raw::open(&env, "b", &[], &args).await;
    b.initialize(json!({})).await;
    for window in [&mut a, &mut b] {
        window
            .send(json!({"jsonrpc": "2.0", "id": "long", "method": "tools/call", "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 60, "steps": 60}}}))
            .await;
    }
    // Both calls are upstream once the server reports them in flight... the hub's registry
    // knows: wait for two in-flight requests.
    hub.wait_for("two calls in flight", |snapshot| {
        snapshot
            .sessions
            .iter()
            .map(|session| session.in_flight)
            .sum::<u64>()
            == 2
    })
    .await;
    let pid = servers(&hub).await[0].pid.expect("a pid");
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let started = std::time::Instant::now();
    for window in [&mut a, &mut b] {
        let failed = window.response(&json!("long")).await;
        let message = failed["error"]["message"]
            .as_str()
            .expect("an error")
            .to_owned();
        assert!(
            message.contains("server-everything") && message.contains("signal: 9"),
            "{message}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed at once, not at the call's end"
    );
    // Restarted: the next call works on a new process, and the windows refresh their lists.
    a.wait_for("list_changed", |line| {
        line["method"] == "notifications/tools/list_changed"
    })
    .await;
    let echo = a.call(json!(2), "echo", json!({"message": "again"})).await;
    assert_eq!(text(&echo), "Echo: again");
    let status = &servers(&hub).await[0];
    assert_eq!(status.restarts, 1);
    assert_ne!(status.pid, Some(pid));
    assert_eq!(status.state, ServerState::Ready);
    hub.stop().await;
}

#[tokio::test]
async fn a_server_that_keeps_exiting_enters_crash_loop() {
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let server: Vec<String> = ["sh", "-c", "echo 'cannot open the database' >&2; exit 3"]
        .map(String::from)
        .to_vec();
    let mut window = Raw::open(&env, "crashy", &[], &server).await;
    let answer = window
        .request(json!(0), "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e", "version": "1"}}))
        .await;
    let message = answer["error"]["message"]
        .as_str()
        .expect("an error")
        .to_owned();
    assert!(
        message.contains("crash-loop") && message.contains("exit status: 3"),
        "{message}"
    );
    assert!(message.contains("cannot open the database"), "{message}");
    let status = &servers(&hub).await[0];
    assert_eq!(status.state, ServerState::CrashLoop);
    assert_eq!(status.restarts, 4);
    assert_eq!(
        status.stderr.last().map(String::as_str),
        Some("cannot open the database")
    );
    hub.stop().await;
}

#[tokio::test]
async fn a_server_whose_stdout_is_not_json_rpc_gets_a_clear_error() {
    let Some(everything_js) =
        everything("a_server_whose_stdout_is_not_json_rpc_gets_a_clear_error")
    else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let server: Vec<String> = [
        "sh",
        "-c",
        "echo 'Server listening on port 3000'; exec sleep 60",
    ]
    .map(String::from)
    .to_vec();
    let mut window = Raw::open(&env, "chatty", &[], &server).await;
    let answer = window
        .request(json!(0), "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e", "version": "1"}}))
        .await;
    let message = answer["error"]["message"]
        .as_str()
        .expect("an error")
        .to_owned();
    assert!(
        message.contains("not JSON-RPC") && message.contains("Server listening on port 3000"),
        "{message}"
    );
    // The hub serves everyone else as before.
    let mut fine = Raw::open(&env, "fine", &[], &everything_args(&everything_js)).await;
    fine.initialize(json!({})).await;
    assert_eq!(
        text(&fine.call(json!(1), "echo", json!({"message": "ok"})).await),
        "Echo: ok"
    );
    hub.stop().await;
}

#[tokio::test]
async fn an_idle_server_stops_and_starts_again_for_the_next_window() {
    let Some(server) = everything("an_idle_server_stops_and_starts_again_for_the_next_window")
    else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_millis(200)).await;
    let args = marked_args(&server, &env);
    let marker = env.dir.path().display().to_string();
    let mut first = Raw::open(&env, "first", &[], &args).await;
    first.initialize(json!({})).await;
    let pid = servers(&hub).await[0].pid.expect("running");
    first.close().await;
    wait_servers(&hub, "the idle server stopped", |servers| {
        servers[0].state == ServerState::Stopped && servers[0].pid.is_none()
    })
    .await;
    assert!(children_running(&marker).is_empty());
    let mut second = Raw::open(&env, "second", &[], &args).await;
    second.initialize(json!({})).await;
    assert_eq!(
        text(
            &second
                .call(json!(1), "echo", json!({"message": "back"}))
                .await
        ),
        "Echo: back"
    );
    let status = &servers(&hub).await[0];
    assert_eq!(status.state, ServerState::Ready);
    assert_ne!(status.pid, Some(pid));
    assert_eq!(status.restarts, 0, "an idle stop is not a crash");
    hub.stop().await;
}

#[tokio::test]
async fn the_operators_restart_fails_calls_in_flight_and_windows_keep_working() {
    let Some(server) =
        everything("the_operators_restart_fails_calls_in_flight_and_windows_keep_working")
    else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let args = marked_args(&server, &env);
    let marker = env.dir.path().display().to_string();
    let mut a = Raw::open(&env, "a", &[], &args).await;
    a.initialize(json!({})).await;
    let mut b = Raw::open(&env, "b", &[], &args).await;
    b.initialize(json!({})).await;
    for window in [&mut a, &mut b] {
        window
            .send(json!({"jsonrpc": "2.0", "id": "long", "method": "tools/call", "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 60, "steps": 60}}}))
            .await;
    }
    hub.wait_for("two calls in flight", |snapshot| {
        snapshot
            .sessions
            .iter()
            .map(|session| session.in_flight)
            .sum::<u64>()
            == 2
    })
    .await;
    let before = servers(&hub).await.remove(0);
    let old_pid = before.pid.expect("a pid");
    assert!(
        !hub.handle.restart_server(before.id + 100),
        "no such instance"
    );
    let started = std::time::Instant::now();
    assert!(hub.handle.restart_server(before.id));
    for window in [&mut a, &mut b] {
        let failed = window.response(&json!("long")).await;
        let message = failed["error"]["message"]
            .as_str()
            .expect("an error")
            .to_owned();
        assert!(
            message.contains("server-everything") && message.contains("restarted"),
            "{message}"
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "failed at once, not at the call's end"
    );
    // Both windows keep working on the new process, and refresh their lists.
    for window in [&mut a, &mut b] {
        window
            .wait_for("list_changed", |line| {
                line["method"] == "notifications/tools/list_changed"
            })
            .await;
        let echo = window
            .call(json!(2), "echo", json!({"message": "after"}))
            .await;
        assert_eq!(text(&echo), "Echo: after");
    }
    let after = servers(&hub).await.remove(0);
    assert_eq!(after.id, before.id);
    assert_eq!(after.state, ServerState::Ready);
    assert_eq!(after.restarts, 1);
    assert_eq!(after.windows.len(), 2);
    let new_pid = after.pid.expect("a pid");
    assert_ne!(new_pid, old_pid);
    assert_eq!(
        children_running(&marker),
        vec![new_pid],
        "the old process is gone"
    );
    a.close().await;
    b.close().await;
    hub.stop().await;
}

#[tokio::test]
async fn a_restart_gives_a_crash_looping_server_a_fresh_start() {
    let Some(everything) = everything("a_restart_gives_a_crash_looping_server_a_fresh_start")
    else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    // Exits until the file exists, as a server whose database is missing would; then it is
    // server-everything.
    let flag = env.dir.path().join("fixed");
    let script = format!(
        "[ -f '{}' ] || {{ echo 'no database' >&2; exit 3; }}; exec node '{}' stdio",
        flag.display(),
        everything.display()
    );
    let server: Vec<String> = vec!["sh".into(), "-c".into(), script];
    let mut window = Raw::open(&env, "crashy", &[], &server).await;
    let answer = window
        .request(json!(0), "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e", "version": "1"}}))
        .await;
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("crash-loop"))
    );
    let looping = servers(&hub).await.remove(0);
    assert_eq!(looping.state, ServerState::CrashLoop);
    std::fs::write(&flag, b"").expect("write the flag");
    assert!(hub.handle.restart_server(looping.id));
    let snapshot = wait_servers(&hub, "the server ready after the restart", |servers| {
        servers[0].state == ServerState::Ready
    })
    .await;
    assert_eq!(snapshot.servers[0].restarts, looping.restarts + 1);
    assert!(snapshot.servers[0].pid.is_some());
    window.close().await;
    hub.stop().await;
}

/// `ci/servers/lists-server.mjs` (node, nothing installed) serving the lists in `lists`, with
/// `gate` as its start gate when given.
fn lists_server(lists: &std::path::Path, gate: Option<&std::path::Path>) -> Vec<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = vec![
        "node".to_owned(),
        root.join("ci/servers/lists-server.mjs")
            .display()
            .to_string(),
        lists.display().to_string(),
    ];
    args.extend(gate.map(|gate| gate.display().to_string()));
    args
}

/// Kills the instance's process and waits for the restarted one to be ready.
async fn kill_and_wait_restarted(hub: &TestHub) -> ServerStatus {
    let before = servers(hub).await.remove(0);
    let pid = before.pid.expect("a pid");
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    let restarts = before.restarts + 1;
    let snapshot = wait_servers(hub, "the restarted server ready", |servers| {
        servers[0].state == ServerState::Ready && servers[0].restarts == restarts
    })
    .await;
    snapshot.servers[0].clone()
}

fn methods(lines: &[Value], suffix: &str) -> Vec<String> {
    lines
        .iter()
        .filter_map(|line| line["method"].as_str())
        .filter(|method| method.ends_with(suffix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn after_a_restart_list_changed_is_sent_only_when_the_lists_differ() {
    // server-everything installed means node is there for the small server too.
    if everything("after_a_restart_list_changed_is_sent_only_when_the_lists_differ").is_none() {
        return;
    }
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let lists = env.dir.path().join("lists.json");
    let write = |tools: &[&str]| {
        let tools: Vec<Value> = tools
            .iter()
            .map(|name| json!({"name": name, "inputSchema": {"type": "object"}}))
            .collect();
        let body = json!({"tools": tools, "prompts": [{"name": "greet"}], "resources": []});
        std::fs::write(&lists, body.to_string()).expect("write the lists");
    };
    write(&["echo"]);
    let server = lists_server(&lists, None);
    let mut a = Raw::open(&env, "a", &[], &server).await;
    a.initialize(json!({})).await;
    let mut b = Raw::open(&env, "b", &[], &server).await;
    b.initialize(json!({})).await;
    a.drain("before").await;
    b.drain("before").await;

    // The same lists after a restart: no list_changed. The server answers in order, so the
    // hub's own listings are answered (and any list_changed sent) before a window's request.
    kill_and_wait_restarted(&hub).await;
    for window in [&mut a, &mut b] {
        let listed = window.request(json!("l1"), "tools/list", json!({})).await;
        assert_eq!(listed["result"]["tools"][0]["name"], "echo");
        let seen = window.drain("same").await;
        assert!(
            methods(&seen, "/list_changed").is_empty(),
            "nothing changed: {seen:?}"
        );
    }

    // Another tool after the next restart: tools/list_changed, and only that, to both.
    write(&["echo", "added"]);
    kill_and_wait_restarted(&hub).await;
    for window in [&mut a, &mut b] {
        window
            .wait_for("tools/list_changed", |line| {
                line["method"] == "notifications/tools/list_changed"
            })
            .await;
        let listed = window.request(json!("l2"), "tools/list", json!({})).await;
        assert_eq!(listed["result"]["tools"][1]["name"], "added");
        let seen = window.drain("differ").await;
        assert_eq!(
            methods(&seen, "/list_changed"),
            ["notifications/tools/list_changed"],
            "the prompts did not change: {seen:?}"
        );
    }
    a.close().await;
    b.close().await;
    hub.stop().await;
}

/// A lists-server window `a` on `hub`, whose next start waits at a FIFO gate; the server is
/// killed and the test returns once its new process is waiting at the gate (restarting, not
/// ready). Opening the gate: [`open_gate`].
async fn restarting_behind_a_gate(env: &Env, hub: &TestHub) -> (Raw, PathBuf) {
    let lists = env.dir.path().join("lists.json");
    std::fs::write(
        &lists,
        r#"{"tools":[{"name":"echo","inputSchema":{"type":"object"}}]}"#,
    )
    .expect("write the lists");
    let gate = env.dir.path().join("gate");
    let mut a = Raw::open(env, "a", &[], &lists_server(&lists, Some(&gate))).await;
    // Ready before the first line, so nothing waits at this first start.
    wait_servers(hub, "the server ready", |servers| {
        servers
            .first()
            .is_some_and(|server| server.state == ServerState::Ready)
    })
    .await;
    a.initialize(json!({})).await;
    let c_gate = std::ffi::CString::new(gate.display().to_string()).expect("a path");
    // SAFETY: a valid C string; mkfifo has no other preconditions.
    assert_eq!(unsafe { libc::mkfifo(c_gate.as_ptr(), 0o600) }, 0, "mkfifo");
    let old = servers(hub).await[0].pid.expect("a pid");
    // SAFETY: kill has no memory preconditions; the pid is our child's.
    unsafe { libc::kill(old as i32, libc::SIGKILL) };
    wait_servers(hub, "the new process waiting at its gate", |servers| {
        servers[0].state == ServerState::Restarting && servers[0].pid.is_some_and(|pid| pid != old)
    })
    .await;
    (a, gate)
}

/// Lets the gated server start: opening the FIFO for writing waits for its reader, closing it
/// ends the server's read.
async fn open_gate(gate: PathBuf) {
    let opened = tokio::task::spawn_blocking(move || std::fs::write(gate, b""));
    guard("the gate opened", opened)
        .await
        .expect("join")
        .expect("write the gate");
}

fn error_message(answer: &Value) -> String {
    answer["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("an error: {answer}"))
        .to_owned()
}

#[tokio::test]
async fn lines_wait_for_a_restarting_server_within_a_bound() {
    if everything("lines_wait_for_a_restarting_server_within_a_bound").is_none() {
        return;
    }
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let (mut a, gate) = restarting_behind_a_gate(&env, &hub).await;
    a.all.clear();
    let bound = exai_hub::servers::QUEUE_LINES;
    for n in 0..bound + 3 {
        a.send(json!({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": n}}}))
            .await;
    }
    // Beyond the bound: one error each, at once, while the server still waits at its gate.
    for n in bound..bound + 3 {
        let message = error_message(&a.response(&json!(n)).await);
        assert!(
            message.contains("lists-server") && message.contains("restarting"),
            "{message}"
        );
        assert!(message.contains(&format!("{bound} lines")), "{message}");
    }
    assert_eq!(servers(&hub).await[0].state, ServerState::Restarting);
    // The rest go up in order once it is ready, each answered once.
    open_gate(gate).await;
    for n in 0..bound {
        let answer = a.response(&json!(n)).await;
        assert_eq!(text(&answer), format!("Echo: {n}"), "{answer}");
    }
    let rest = a.drain("after").await;
    let answers = rest.iter().filter(|line| line.get("id").is_some()).count();
    assert_eq!(answers, bound + 3 + 1, "one answer per request: {rest:?}");
    a.close().await;
    hub.stop().await;
}

#[tokio::test]
async fn a_line_waiting_past_its_deadline_gets_one_error_naming_the_server() {
    if everything("a_line_waiting_past_its_deadline_gets_one_error_naming_the_server").is_none() {
        return;
    }
    let env = Env::new(daemon()).await;
    let hub = env
        .hub_with(HubOptions::default(), |config| {
            config.servers.min_backoff = Duration::from_millis(20);
            config.servers.queue_timeout = Duration::from_millis(300);
        })
        .await;
    let (mut a, gate) = restarting_behind_a_gate(&env, &hub).await;
    a.send(json!({"jsonrpc": "2.0", "id": "late", "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "late"}}}))
        .await;
    let message = error_message(&a.response(&json!("late")).await);
    assert!(
        message.contains("lists-server")
            && message.contains("restarting")
            && message.contains("0.3 s"),
        "{message}"
    );
    a.all.clear();
    open_gate(gate).await;
    let answer = a
        .call(json!("next"), "echo", json!({"message": "ready"}))
        .await;
    assert_eq!(text(&answer), "Echo: ready");
    let rest = a.drain("after").await;
    assert!(
        rest.iter().all(|line| line["id"] != "late"),
        "the expired request is not answered again: {rest:?}"
    );
    a.close().await;
    hub.stop().await;
}

#[tokio::test]
async fn a_wrapped_window_stays_ready_while_the_daemon_is_down() {
    if everything("a_wrapped_window_stays_ready_while_the_daemon_is_down").is_none() {
        return;
    }
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let lists = env.dir.path().join("lists.json");
    std::fs::write(&lists, r#"{"tools":[]}"#).expect("write the lists");
    let server = lists_server(&lists, None);
    let _daemon_window = env.window("daemon-window").await;
    let mut wrapped = Raw::open(&env, "wrapped", &[], &server).await;
    wrapped.initialize(json!({})).await;
    hub.wait_session("daemon-window", SessionState::Ready).await;
    hub.wait_session("wrapped", SessionState::Ready).await;
    env.daemon.stop().await;
    // The daemon's window is degraded; in the same pass the wrapped one would have been.
    hub.wait_session("daemon-window", SessionState::Degraded)
        .await;
    let snapshot = hub.handle.snapshot().await.expect("snapshot");
    let state = |name: &str| {
        snapshot
            .sessions
            .iter()
            .find(|s| s.name.as_deref() == Some(name))
            .map(|s| s.state)
    };
    assert_eq!(state("wrapped"), Some(SessionState::Ready));
    // A wrapped window that comes while the daemon is down is ready too, and works.
    let mut late = Raw::open(&env, "wrapped-late", &[], &server).await;
    late.initialize(json!({})).await;
    hub.wait_session("wrapped-late", SessionState::Ready).await;
    assert_eq!(
        text(
            &late
                .call(json!(1), "echo", json!({"message": "no daemon needed"}))
                .await
        ),
        "Echo: no daemon needed"
    );
    let snapshot = hub.handle.snapshot().await.expect("snapshot");
    for session in &snapshot.sessions {
        let expected = if session.server.is_some() {
            SessionState::Ready
        } else {
            SessionState::Degraded
        };
        assert_eq!(session.state, expected, "{:?}", session.name);
    }
    wrapped.close().await;
    late.close().await;
    hub.stop().await;
}

#[tokio::test]
async fn a_task_belongs_to_the_window_that_created_it() {
    let Some(server) = everything("a_task_belongs_to_the_window_that_created_it") else {
        return;
    };
    let env = Env::new(daemon()).await;
    let hub = hub(&env, Duration::from_secs(300)).await;
    let args = everything_args(&server);
    let mut a = Raw::open(&env, "a", &[], &args).await;
    a.initialize(json!({})).await;
    let mut b = Raw::open(&env, "b", &[], &args).await;
    b.initialize(json!({})).await;
    let created = a
        .request(
            json!("create"),
            "tools/call",
            json!({"name": "simulate-research-query", "arguments": {"topic": "routing"}, "task": {"ttl": 60000}}),
        )
        .await;
    let task = created["result"]["task"]["taskId"]
        .as_str()
        .unwrap_or_else(|| panic!("a task: {created}"))
        .to_owned();
    // The other window cannot see, read or cancel it.
    for method in ["tasks/get", "tasks/result", "tasks/cancel"] {
        let refused = b
            .request(json!(method), method, json!({"taskId": task}))
            .await;
        assert_eq!(refused["error"]["code"], -32602, "{method}: {refused}");
        assert!(
            refused["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("task not found") && m.contains("server-everything")),
            "{refused}"
        );
    }
    let ids = |answer: &Value| -> Vec<String> {
        answer["result"]["tasks"]
            .as_array()
            .unwrap_or_else(|| panic!("a task list: {answer}"))
            .iter()
            .filter_map(|task| task["taskId"].as_str().map(str::to_owned))
            .collect()
    };
    let listed = b.request(json!("list"), "tasks/list", json!({})).await;
    assert!(!ids(&listed).contains(&task), "{listed}");
    // Its own window can.
    let listed = a.request(json!("list"), "tasks/list", json!({})).await;
    assert!(ids(&listed).contains(&task), "{listed}");
    let got = a
        .request(json!("get"), "tasks/get", json!({"taskId": task}))
        .await;
    assert_eq!(got["result"]["taskId"], task.as_str(), "{got}");
    let cancelled = a
        .request(json!("cancel"), "tasks/cancel", json!({"taskId": task}))
        .await;
    assert_eq!(cancelled["result"]["status"], "cancelled", "{cancelled}");
    a.close().await;
    b.close().await;
    hub.stop().await;
}
