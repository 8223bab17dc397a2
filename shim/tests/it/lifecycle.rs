//! Starting and leaving: the `Hello`, flags, stdin EOF and parent death.

use crate::support::{Place, Shim, guard};
use exai_proto::{ClientMsg, PROTOCOL_VERSION, Role};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn hello_says_who_the_shim_is_and_stdin_eof_says_goodbye() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut shim = place.shim(&["--name", "left window"]);
    let (mut conn, hello) = hub.accept().await;

    assert_eq!(hello.protocol_version, PROTOCOL_VERSION);
    assert_eq!(hello.role, Role::Shim);
    assert_eq!(hello.pid, shim.pid());
    assert_eq!(hello.parent_pid, Some(std::process::id()));
    let cwd = std::fs::canonicalize(place.dir()).unwrap();
    assert_eq!(
        hello.cwd.as_deref().map(std::path::Path::new),
        Some(cwd.as_path())
    );
    assert_eq!(hello.name.as_deref(), Some("left window"));
    assert_eq!(hello.resume, None);

    shim.close_stdin();
    assert_eq!(
        conn.recv_control().await,
        ClientMsg::Goodbye {
            reason: Some("stdin closed".to_owned())
        }
    );
    conn.expect_eof().await;
    assert_eq!(shim.exit().await.code(), Some(0));
}

#[tokio::test]
async fn the_name_can_come_from_the_environment() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_exai-shim"));
    command
        .arg("--endpoint")
        .arg(place.socket())
        .env("EXAI_SESSION_NAME", "from env");
    let mut shim = Shim::spawn(command, place.dir());
    let (_conn, hello) = hub.accept().await;
    assert_eq!(hello.name.as_deref(), Some("from env"));
    shim.close_stdin();
    assert!(shim.exit().await.success());
}

#[tokio::test]
async fn the_shim_exits_when_its_parent_dies() {
    let place = Place::new();
    let mut hub = place.hub().await;
    // A parent we control: it starts the shim in the background (on its own stdin, which a
    // non-interactive shell would otherwise replace with /dev/null), prints its pid and waits.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"exec 3<&0; "$0" "$@" <&3 3<&- & echo "$!"; wait"#)
        .arg(env!("CARGO_BIN_EXE_exai-shim"))
        .arg("--endpoint")
        .arg(place.socket());
    let mut parent = Shim::spawn(command, place.dir());
    let parent_pid = parent.pid();
    let (mut conn, hello) = hub.accept().await;
    assert_eq!(hello.parent_pid, Some(parent_pid));

    // The shell prints the shim's pid before anything else can reach the shared stdout.
    let shim_pid = parent.recv_line().await;
    let shim_pid: u32 = std::str::from_utf8(&shim_pid).unwrap().parse().unwrap();
    assert_eq!(hello.pid, shim_pid);
    // Wait until the shim relays, so it has processed the Welcome before its parent dies.
    let changed = br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;
    conn.send_line(changed).await;
    assert_eq!(parent.recv_line().await, changed);

    // Kill only the parent, by its pid; the shim keeps its stdin open, so only the parent's
    // death can make it leave.
    let status = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(parent_pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        conn.recv_control().await,
        ClientMsg::Goodbye {
            reason: Some("parent exited".to_owned())
        }
    );
    conn.expect_eof().await;
    assert!(!parent.exit().await.success());
}

#[tokio::test]
async fn flags_help_version_and_usage_errors() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_exai-shim"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--connect-timeout SECS"));
    let version = run(&["--version"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("exai-shim "));

    for args in [
        &["--bogus"][..],
        &["--connect-timeout", "soon"],
        &["--max-line-bytes"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("exai-shim: "), "{stderr}");
    }
}

#[tokio::test]
async fn a_closed_stdout_makes_the_shim_leave_quietly() {
    let place = Place::new();
    let mut hub = place.hub().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_exai-shim"))
        .arg("--endpoint")
        .arg(place.socket())
        .current_dir(place.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let (mut conn, _hello) = hub.accept().await;
    // The editor is gone: nobody reads stdout any more, but stdin stays open.
    drop(child.stdout.take());
    conn.send_line(br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#)
        .await;
    assert_eq!(
        conn.recv_control().await,
        ClientMsg::Goodbye {
            reason: Some("stdout closed".to_owned())
        }
    );
    conn.expect_eof().await;
    let output = guard(child.wait_with_output()).await.unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn logs_go_to_the_log_file_when_one_is_set() {
    let place = Place::new();
    let log_file = place.dir().join("shim.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_exai-shim"))
        .arg("--endpoint")
        .arg(place.socket())
        .args(["--connect-timeout", "0", "--log-file"])
        .arg(&log_file)
        .env("EXAI_LOG", "warn")
        .current_dir(place.dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n")
        .await
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    guard(stdout.read_line(&mut line)).await.unwrap();
    let response: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(response["error"]["code"], -32001);
    drop(stdin);
    let output = guard(child.wait_with_output()).await.unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let log = std::fs::read_to_string(&log_file).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(log.contains("EXAI hub"), "{log}");
}
