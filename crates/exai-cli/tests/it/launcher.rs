//! An endpoint every launcher finds: the real `exai hub` on a bare endpoint name, and real
//! `exai-shim` processes started with the environments editors and launchers give them (`env -i`
//! with only `PATH`, the MCP SDKs' default `HOME LOGNAME PATH SHELL TERM USER`, and
//! `XDG_RUNTIME_DIR` and `TMPDIR` pointing elsewhere), each completing MCP `initialize` and
//! `tools/list` through that hub. A shim that finds nothing says every place it looked, and one
//! pointed at a place that is not provably ours refuses it before sending anything.
//!
//! Each test uses its own random bare name, so its socket sits beside the user's real one (in
//! `/run/user/<uid>/exai` or `/tmp/exai-<uid>`) without touching it; the lock files a hub leaves
//! there are removed when the test ends.

use crate::support::*;
use exai_ipc::Endpoint;
use rmcp::ServiceExt;
use rmcp::model::ProtocolVersion;
use rmcp::transport::TokioChildProcess;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"launcher-test","version":"1"}}}"#;

/// A bare endpoint name no other test or run uses.
fn random_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "exai-launch-{}-{}-{:08x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    )
}

/// The socket path of a bare name, as this (normally launched) test process resolves it.
fn socket_of(name: &str) -> PathBuf {
    let endpoint = Endpoint::named(name).expect("resolve the bare name");
    PathBuf::from(endpoint.to_string())
}

/// The environments launchers give a shim.
#[derive(Clone, Copy, Debug)]
enum Launch {
    /// `env -i PATH=...`: nothing but `PATH`.
    OnlyPath,
    /// What the official Python and TypeScript MCP SDKs pass by default.
    SdkDefault,
    /// Our own environment, but `XDG_RUNTIME_DIR` and `TMPDIR` pointing at other directories.
    ElsewhereDirs,
}

/// Directories for [`Launch::ElsewhereDirs`], kept for the test's life.
struct Elsewhere {
    runtime: tempfile::TempDir,
    tmp: tempfile::TempDir,
}

impl Elsewhere {
    fn new() -> Elsewhere {
        Elsewhere {
            runtime: tempfile::tempdir().expect("tempdir"),
            tmp: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Points `command` at these directories, as a launcher with its own idea of them would.
    fn apply(&self, command: &mut Command) {
        command
            .env("XDG_RUNTIME_DIR", self.runtime.path())
            .env("TMPDIR", self.tmp.path());
    }

    /// Nothing of ours was put there.
    fn assert_untouched(&self) {
        for dir in [self.runtime.path(), self.tmp.path()] {
            let entries: Vec<_> = std::fs::read_dir(dir)
                .expect("read dir")
                .map(|entry| entry.expect("entry").file_name())
                .collect();
            assert!(entries.is_empty(), "{} got {entries:?}", dir.display());
        }
    }
}

/// A shim command for `name`, started the way `launch` starts it.
fn shim_command(name: &str, launch: Launch, elsewhere: &Elsewhere) -> Command {
    let mut command = Command::new(bin("exai-shim"));
    command.args(["--endpoint", name, "--connect-timeout", "20"]);
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into());
    match launch {
        Launch::OnlyPath => {
            command.env_clear().env("PATH", path);
        }
        Launch::SdkDefault => {
            command.env_clear().env("PATH", path);
            for key in ["HOME", "LOGNAME", "SHELL", "TERM", "USER"] {
                let value = std::env::var_os(key).unwrap_or_else(|| "x".into());
                command.env(key, value);
            }
        }
        Launch::ElsewhereDirs => {
            command
                .env_remove("EXAI_ENDPOINT")
                .env_remove("EXAI_AUTOSTART");
            elsewhere.apply(&mut command);
        }
    }
    command
}

/// The real `exai hub` on a bare name, ended by its pid when the test ends.
struct HubProcess {
    child: Child,
    socket: PathBuf,
}

impl HubProcess {
    /// Starts it with the test's own environment, adjusted by `adjust`.
    fn start(env: &Env, name: &str, adjust: impl FnOnce(&mut Command)) -> HubProcess {
        let config = env.dir.path().join(format!("{name}.toml"));
        std::fs::write(&config, "").expect("write config");
        let mut command = Command::new(bin("exai"));
        command
            .args(["hub", "--endpoint", name, "--upstream", &env.daemon.url()])
            .arg("--config")
            .arg(&config)
            .env_remove("EXAI_WS_URL")
            .env_remove("EXAI_WS_TOKEN")
            .env_remove("EXAI_ENDPOINT")
            .env("EXAI_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true);
        adjust(&mut command);
        HubProcess {
            child: command.spawn().expect("spawn exai hub"),
            socket: socket_of(name),
        }
    }

    /// SIGTERM, wait, and remove the lock file it leaves beside its socket.
    async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            // SAFETY: kill(2) on the hub this test spawned and has not reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        }
        let status = guard("the hub to stop", self.child.wait())
            .await
            .expect("wait for the hub");
        assert!(status.success(), "the hub's exit: {status:?}");
        assert!(!self.socket.exists(), "the hub removes its socket");
        remove_lock_files(&self.socket);
    }
}

fn remove_lock_files(socket: &Path) {
    for suffix in [".lock", ".autostart.lock"] {
        let mut lock = socket.as_os_str().to_owned();
        lock.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(lock));
    }
}

/// Opens an MCP client over a shim started by `command`, and lists the tools through the hub.
async fn initialize_and_list(command: Command, what: &str) {
    let transport = TokioChildProcess::new(command).expect("spawn exai-shim");
    let handler = Recorder::for_test(what, ProtocolVersion::V_2025_11_25);
    let client = guard("initialize through the shim", handler.serve(transport))
        .await
        .unwrap_or_else(|err| panic!("initialize through a shim launched with {what}: {err}"));
    let tools = guard("tools/list", client.peer().list_all_tools())
        .await
        .unwrap_or_else(|err| panic!("tools/list through a shim launched with {what}: {err}"));
    assert!(
        tools.iter().any(|tool| tool.name == "echo"),
        "{what}: {tools:?}"
    );
    guard("closing the client", client.cancel())
        .await
        .expect("close the client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shims_from_every_launcher_reach_a_hub_on_a_bare_name() {
    let env = Env::new(daemon()).await;
    let name = random_name();
    let hub = HubProcess::start(&env, &name, |_| {});
    let elsewhere = Elsewhere::new();
    for launch in [Launch::OnlyPath, Launch::SdkDefault, Launch::ElsewhereDirs] {
        let what = format!("{launch:?}");
        initialize_and_list(shim_command(&name, launch, &elsewhere), &what).await;
    }
    assert!(
        hub.socket.exists(),
        "the hub listens at {}",
        hub.socket.display()
    );
    elsewhere.assert_untouched();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_started_with_other_runtime_and_temp_dirs_listens_in_the_same_place() {
    let env = Env::new(daemon()).await;
    let name = random_name();
    let hub_dirs = Elsewhere::new();
    let hub = HubProcess::start(&env, &name, |command| hub_dirs.apply(command));
    let shim_dirs = Elsewhere::new();
    for launch in [Launch::OnlyPath, Launch::ElsewhereDirs] {
        let what = format!("{launch:?} against a hub with its own XDG_RUNTIME_DIR and TMPDIR");
        initialize_and_list(shim_command(&name, launch, &shim_dirs), &what).await;
    }
    assert!(
        hub.socket.exists(),
        "the hub listens at {}",
        hub.socket.display()
    );
    hub_dirs.assert_untouched();
    shim_dirs.assert_untouched();
    hub.stop().await;
}

/// Sends `initialize` to a shim and returns the error message it answers with.
async fn initialize_error(mut command: Command) -> String {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    let mut shim = command.spawn().expect("spawn exai-shim");
    let mut stdin = shim.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(shim.stdout.take().expect("stdout")).lines();
    stdin
        .write_all(format!("{INITIALIZE}\n").as_bytes())
        .await
        .expect("write initialize");
    let line = guard("the error answer", stdout.next_line())
        .await
        .expect("read stdout")
        .expect("one line");
    drop(stdin);
    let status = guard("the shim to leave", shim.wait()).await.expect("wait");
    assert!(status.success(), "{status:?}");
    let answer: Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(answer["id"], 1, "{answer}");
    answer["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {answer}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shim_that_finds_no_hub_lists_every_place_it_looked() {
    let name = random_name();
    let elsewhere = Elsewhere::new();
    let mut command = shim_command(&name, Launch::OnlyPath, &elsewhere);
    command.args(["--connect-timeout", "0.2"]);
    let message = initialize_error(command).await;
    assert!(message.contains("EXAI hub is not running"), "{message}");
    let candidates = Endpoint::named(&name).expect("resolve").candidates();
    assert!(!candidates.is_empty());
    for place in &candidates {
        assert!(message.contains(place.as_str()), "{place} not in {message}");
    }
}

/// A socket somebody else could have put there (its directory is open to everyone) is refused
/// by the shim before it sends a byte, with a message saying what was wrong. Needs no root.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shim_refuses_an_endpoint_in_a_world_writable_directory_and_sends_nothing() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let socket = dir.path().join("hub.sock");
    let squatter = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    squatter.set_nonblocking(true).expect("nonblocking");
    let mut command = Command::new(bin("exai-shim"));
    command
        .arg("--endpoint")
        .arg(&socket)
        .args(["--connect-timeout", "0.2"])
        .env_remove("EXAI_ENDPOINT")
        .env_remove("EXAI_AUTOSTART");
    let message = initialize_error(command).await;
    assert!(
        message.contains("not trusted")
            && message.contains(&dir.path().display().to_string())
            && message.contains("777"),
        "{message}"
    );
    let accepted = squatter.accept();
    assert!(
        matches!(&accepted, Err(err) if err.kind() == std::io::ErrorKind::WouldBlock),
        "the shim must not even connect: {accepted:?}"
    );
}
