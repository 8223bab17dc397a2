//! Failures: a killed shim, a killed hub, a dead daemon, a wrong token, bad input.

use crate::support::*;
use exai_hub::api::{HubEvent, SessionState, UpstreamState};
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, PROTOCOL_VERSION, Role};
use serde_json::{Value, json};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_util::codec::Encoder as _;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shim_killed_mid_call_is_marked_lost_and_its_result_dropped() {
    let env = Env::new(daemon()).await;
    let hub = env
        .hub(HubOptions {
            pool_size: 1,
            ..HubOptions::default()
        })
        .await;
    let doomed = env.window("doomed").await;
    let pid = doomed.pid.expect("shim pid");
    let call = tokio::spawn(async move {
        let _ = doomed.call("gate", json!({"key": "k1"})).await;
        doomed
    });
    guard("the gate call to start", env.daemon.wait_gate_started("k1")).await;
    // SIGKILL the shim we started, by its own pid: no goodbye reaches the hub.
    // SAFETY: kill(2) with a pid this test spawned and still owns (not yet reaped).
    let killed = unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    assert_eq!(killed, 0, "kill the shim");
    let lost = hub.wait_session("doomed", SessionState::Lost).await;
    assert!(
        lost.doing.iter().any(|doing| doing.contains("gate")),
        "what it was doing: {lost:?}"
    );
    // The daemon still finishes the tool; the hub drops the result and the pool carries on.
    env.daemon.open_gate("k1");
    let other = env.window("survivor").await;
    assert_eq!(
        other.call_text("echo", json!({"text": "still fine"})).await,
        "still fine"
    );
    call.abort();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_hub_fails_the_call_at_once_and_a_restarted_hub_serves_the_same_window() {
    let env = Env::new(daemon()).await;
    let options = HubOptions::default();
    let mut hub = env.hub_process(&options);
    let window = {
        // The shim retries while the hub process starts.
        env.window("survivor").await
    };
    assert_eq!(
        window.call_text("echo", json!({"text": "before"})).await,
        "before"
    );
    let call = window.call("gate", json!({"key": "h1"}));
    let killer = async {
        env.daemon.wait_gate_started("h1").await;
        hub.start_kill().expect("kill the hub we started");
        hub.wait().await.expect("reap the hub");
    };
    let (result, ()) = guard("the in-flight call to fail", async {
        tokio::join!(call, killer)
    })
    .await;
    let error = format!("{:?}", result.expect_err("the in-flight call fails"));
    assert!(error.contains("hub"), "the error names the hub: {error}");
    env.daemon.open_gate("h1");
    // A new hub process on the same endpoint; the same shim resumes its session there.
    let _hub = env.hub_process(&options);
    let text = guard("a call through the restarted hub", async {
        loop {
            match window.call("echo", json!({"text": "after"})).await {
                Ok(result) => return first_text(&result),
                // Until the shim has reconnected, calls fail fast with "not running".
                Err(_) => tokio::task::yield_now().await,
            }
        }
    })
    .await;
    assert_eq!(text, "after");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_daemon_degrades_sessions_with_fast_clear_errors_and_recovers() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let window = env.window("patient").await;
    assert_eq!(window.call_text("echo", json!({"text": "up"})).await, "up");
    env.daemon.stop().await;
    hub.wait_session("patient", SessionState::Degraded).await;
    let error = guard(
        "a fast failure",
        window.call("echo", json!({"text": "down"})),
    )
    .await
    .expect_err("the daemon is down");
    let message = format!("{error:?}");
    assert!(
        message.contains(&env.daemon.url()),
        "the error names the daemon URL: {message}"
    );
    env.daemon.restart().await.expect("restart the daemon");
    hub.wait_session("patient", SessionState::Ready).await;
    assert_eq!(
        window.call_text("echo", json!({"text": "back"})).await,
        "back"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_daemon_restart_windows_are_ready_again_at_once_and_the_old_error_clears() {
    let env = Env::new(daemon()).await;
    // The product's own backoff (200 ms doubling to 30 s), not the fast one tests use.
    let options = HubOptions {
        real_backoff: true,
        ..HubOptions::default()
    };
    let hub = env.hub(options).await;
    let window = env.window("patient").await;
    assert_eq!(window.call_text("echo", json!({"text": "up"})).await, "up");
    env.daemon.stop().await;
    hub.wait_session("patient", SessionState::Degraded).await;
    // A window is connected, so attempts stay at most 1 s apart: eight refused in a row take a
    // few seconds. Doubling to 30 s, the eighth would come after about 50 s, past the guard.
    let down = hub
        .wait_for("eight refused attempts in a row", |snapshot| {
            snapshot
                .upstream
                .error_history
                .last()
                .is_some_and(|error| error.count >= 8)
        })
        .await;
    let cause = down
        .upstream
        .last_error
        .clone()
        .expect("the status says why");
    env.daemon.restart().await.expect("restart the daemon");
    hub.wait_session("patient", SessionState::Ready).await;
    let snapshot = hub.handle.snapshot().await.expect("snapshot");
    assert_eq!(
        snapshot.upstream.last_error, None,
        "the old error clears once connected"
    );
    assert!(
        snapshot
            .upstream
            .error_history
            .iter()
            .any(|error| error.message == cause && error.count >= 8),
        "the history keeps it: {:?}",
        snapshot.upstream.error_history
    );
    assert_eq!(
        window.call_text("echo", json!({"text": "back"})).await,
        "back"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_unauthorized_not_a_retry_storm() {
    let mut config = daemon();
    config.token = Some("the-right-token-0123456789".into());
    let env = Env::new(config).await;
    let secret = "a-wrong-token-that-must-never-show";
    let hub = env
        .hub(HubOptions {
            token: Some(secret.into()),
            ..HubOptions::default()
        })
        .await;
    let snapshot = hub.wait_upstream(UpstreamState::Unauthorized).await;
    let window = env.window("locked-out").await;
    let error = format!(
        "{:?}",
        window
            .call("echo", json!({"text": "x"}))
            .await
            .expect_err("unauthorized")
    );
    assert!(error.contains("token"), "{error}");
    assert!(!error.contains(secret), "the token never appears in errors");
    // Every request says so, with what to set: the tool list too, not "unreachable".
    for error in [
        window
            .call("echo", json!({"text": "y"}))
            .await
            .expect_err("unauthorized"),
        window
            .client
            .peer()
            .list_tools(None)
            .await
            .expect_err("unauthorized"),
    ] {
        let rmcp::ServiceError::McpError(error) = &error else {
            panic!("expected a JSON-RPC error, got {error:?}");
        };
        assert_eq!(error.code.0, -32002, "{error:?}");
        assert!(
            error.message.contains("rejected the token") && error.message.contains("EXAI_WS_TOKEN"),
            "{error:?}"
        );
    }
    let status =
        serde_json::to_string(&hub.handle.snapshot().await.expect("snapshot")).expect("json");
    assert!(
        !status.contains(secret),
        "the token never appears in status"
    );
    assert!(!format!("{snapshot:?}").contains(secret));
    let accepted = env.daemon.stats().connections_accepted;
    assert!(accepted <= 8, "no retry storm: {accepted} connections");
    hub.stop().await;
}

/// Raw stdio, for input no SDK would send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_lines_get_json_rpc_errors_and_the_shim_carries_on() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let mut shim = env
        .shim_command("raw")
        .args(["--max-line-bytes", "1024"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut stdin = shim.stdin.take().expect("stdin");
    let mut lines = BufReader::new(shim.stdout.take().expect("stdout")).lines();
    let mut exchange = async |line: String| -> Value {
        stdin.write_all(line.as_bytes()).await.expect("write");
        stdin.write_all(b"\r\n").await.expect("write");
        let answer = guard("an answer", lines.next_line())
            .await
            .expect("read")
            .expect("a line");
        assert!(!answer.contains('\r'));
        serde_json::from_str(&answer).expect("every stdout line is JSON")
    };
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}});
    assert_eq!(
        exchange(init.to_string()).await["result"]["protocolVersion"],
        "2025-06-18"
    );
    let answer = exchange("{this is not json".into()).await;
    assert_eq!(answer["error"]["code"], -32700);
    let oversized = json!({"jsonrpc":"2.0","id":"big-1","method":"tools/call","params":{"name":"echo","arguments":{"text":"x".repeat(4096)}}});
    let answer = exchange(oversized.to_string()).await;
    assert_eq!(answer["error"]["code"], -32600);
    assert_eq!(
        answer["id"], "big-1",
        "the id of an over-long line is recovered"
    );
    let answer =
        exchange(json!({"jsonrpc":"2.0","id":5,"method":"resources/list"}).to_string()).await;
    assert_eq!(
        answer["error"]["code"], -32601,
        "unserved methods are refused, not ignored"
    );
    let answer = exchange(json!({"jsonrpc":"2.0","id":"s","method":"ping"}).to_string()).await;
    assert_eq!(answer, json!({"jsonrpc":"2.0","id":"s","result":{}}));
    drop(stdin);
    let status = guard("the shim to exit on stdin EOF", shim.wait())
        .await
        .expect("wait");
    assert!(status.success());
    let events = hub.handle.subscribe();
    let _ = events;
    hub.wait_for("the raw session to close", |snapshot| {
        snapshot
            .sessions
            .iter()
            .all(|s| s.name.as_deref() != Some("raw"))
    })
    .await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_goodbye_closes_the_session_quietly() {
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let events = hub.handle.subscribe();
    let window = env.window("polite").await;
    let id = hub.wait_session("polite", SessionState::Ready).await.id;
    window.client.cancel().await.expect("close the client");
    let closed = hub
        .wait_event(
            "the session to go",
            events,
            |event| matches!(event, HubEvent::SessionGone { id: gone } if *gone == id),
        )
        .await;
    assert!(matches!(closed, HubEvent::SessionGone { .. }));
    hub.stop().await;
}

/// Another user cannot use the hub, even when file permissions would let it connect: that
/// user's shim refuses an endpoint that is not its own before sending anything, and a raw client
/// that sends a hello anyway is refused by the hub's peer check. Needs root to run a process as
/// another user (CI runs as root); without root the directory and socket permissions are the
/// only guard and this test checks just those.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_connection_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let env = Env::new(daemon()).await;
    let hub = env.hub(HubOptions::default()).await;
    let socket = env.endpoint();
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the socket is private to its user");
    if !is_root() {
        skipped_needs_root(
            "resilience::another_users_connection_is_refused",
            "checked the socket mode only",
        );
        return;
    }
    // Open the door on purpose, so only the hub's own uid check stands in the way.
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))
        .expect("chmod socket");
    // Run a copy from our own directory: the checkout may sit where nobody cannot read.
    // `cp` writes it in its own process: a copy written by this (multi-threaded) process could
    // leave its write descriptor in a child another test forks meanwhile, and exec would then
    // fail with "Text file busy".
    let shim_copy = env.dir.path().join("exai-shim");
    let copied = tokio::process::Command::new("cp")
        .arg(bin("exai-shim"))
        .arg(&shim_copy)
        .status()
        .await
        .expect("run cp");
    assert!(copied.success(), "copy the shim: {copied}");
    let mut shim = tokio::process::Command::new(&shim_copy)
        .args([
            "--endpoint",
            &socket,
            "--name",
            "intruder",
            "--connect-timeout",
            "2",
        ])
        .env("EXAI_LOG", "warn")
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn a shim as nobody");
    let mut stdin = shim.stdin.take().expect("stdin");
    let mut lines = BufReader::new(shim.stdout.take().expect("stdout")).lines();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .await
        .expect("write");
    let answer = guard("the refusal", lines.next_line())
        .await
        .expect("read")
        .expect("a line");
    let answer: Value = serde_json::from_str(&answer).expect("JSON");
    let message = answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains("not trusted") && message.contains("owned by uid 0"),
        "{answer}"
    );
    drop(stdin);

    // A client that skips the shim's checks still meets the hub's own.
    let hello = Frame::control(&ClientMsg::Hello(Hello {
        protocol_version: PROTOCOL_VERSION,
        role: Role::Shim,
        pid: 1,
        parent_pid: None,
        cwd: None,
        name: Some("intruder".to_owned()),
        resume: None,
        server: None,
    }));
    let mut hello_bytes = tokio_util::bytes::BytesMut::new();
    FrameCodec::default()
        .encode(hello, &mut hello_bytes)
        .expect("encode the hello");
    let child = fork_hello_as_nobody(std::path::Path::new(&socket), &hello_bytes);
    let status = guard(
        "the raw client's answer",
        tokio::task::spawn_blocking(move || reap(child)),
    )
    .await
    .expect("join");
    assert_eq!(
        status, 0,
        "the raw client's exit (0: refused with the reason; 10+: a failed step)"
    );
    let snapshot = hub.handle.snapshot().await.expect("snapshot");
    assert!(
        snapshot
            .sessions
            .iter()
            .all(|s| s.name.as_deref() != Some("intruder")),
        "no session for another user"
    );
    hub.stop().await;
}

/// Forks a child that becomes uid/gid 65534, connects to `socket_path`, sends `hello`, reads the
/// answer to the end and exits 0 if it refuses "only the user who started it".
///
/// Other exit codes say how far it got: 10 setgid, 11 setuid, 12 socket, 13 connect, 14 write,
/// 15 the answer did not say so.
fn fork_hello_as_nobody(socket_path: &std::path::Path, hello: &[u8]) -> libc::pid_t {
    use std::os::unix::ffi::OsStrExt as _;
    const NOBODY: u32 = 65534;
    const NEEDLE: &[u8] = b"only the user who started it";
    // Everything the child uses is prepared here: after fork in a multi-threaded process the
    // child may only call async-signal-safe functions.
    // SAFETY: sockaddr_un is plain old data, for which all zeroes is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let path_bytes = socket_path.as_os_str().as_bytes();
    assert!(
        path_bytes.len() < addr.sun_path.len(),
        "socket path too long"
    );
    for (slot, byte) in addr.sun_path.iter_mut().zip(path_bytes) {
        *slot = *byte as libc::c_char;
    }
    let addr_len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let mut answer = vec![0u8; 64 * 1024];

    // SAFETY: the child branch below calls only async-signal-safe functions, then `_exit`.
    match unsafe { libc::fork() } {
        -1 => panic!("fork failed: {}", std::io::Error::last_os_error()),
        0 => unsafe {
            if libc::setgid(NOBODY) != 0 {
                libc::_exit(10);
            }
            if libc::setuid(NOBODY) != 0 {
                libc::_exit(11);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                libc::_exit(12);
            }
            let sockaddr = (&raw const addr).cast::<libc::sockaddr>();
            if libc::connect(fd, sockaddr, addr_len) != 0 {
                libc::_exit(13);
            }
            let mut sent = 0;
            while sent < hello.len() {
                let n = libc::write(fd, hello[sent..].as_ptr().cast(), hello.len() - sent);
                if n <= 0 {
                    libc::_exit(14);
                }
                sent += n as usize;
            }
            let mut len = 0;
            while len < answer.len() {
                let n = libc::read(fd, answer[len..].as_mut_ptr().cast(), answer.len() - len);
                if n <= 0 {
                    break;
                }
                len += n as usize;
            }
            let found = answer[..len].windows(NEEDLE.len()).any(|w| w == NEEDLE);
            libc::_exit(if found { 0 } else { 15 })
        },
        child => child,
    }
}

/// Waits for the child and returns its exit code (or -1 when it died by a signal).
fn reap(child: libc::pid_t) -> i32 {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out pointer; `child` is our own child.
        let rc = unsafe { libc::waitpid(child, &mut status, 0) };
        if rc == child {
            break;
        }
        assert_eq!(
            std::io::Error::last_os_error().kind(),
            std::io::ErrorKind::Interrupted,
            "waitpid"
        );
    }
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_hub_cleanly_and_tells_the_shims() {
    let env = Env::new(daemon()).await;
    let mut hub = env.hub_process(&HubOptions::default());
    let window = env.window("told").await;
    assert_eq!(window.call_text("echo", json!({"text": "up"})).await, "up");
    let call = window.call("gate", json!({"key": "t1"}));
    let stopper = async {
        env.daemon.wait_gate_started("t1").await;
        let pid = hub.id().expect("hub pid") as libc::pid_t;
        // SAFETY: kill(2) on the hub process this test spawned and has not reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
        hub.wait().await.expect("reap the hub")
    };
    let (result, status) = guard("the hub to stop", async { tokio::join!(call, stopper) }).await;
    assert!(status.success(), "a clean exit on SIGTERM: {status:?}");
    let error = format!(
        "{:?}",
        result.expect_err("the in-flight call is failed, not left hanging")
    );
    assert!(
        error.contains("stopped") || error.contains("shutting down"),
        "{error}"
    );
    env.daemon.open_gate("t1");
}
