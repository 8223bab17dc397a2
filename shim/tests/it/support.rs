//! Test support: the real `exai-shim` binary in a child process, and a minimal fake hub on a real
//! local socket in a per-test temporary directory.
//!
//! Every wait is on an event (a frame, a line, an exit); [`guard`] only turns a hang into a
//! failure. Every line the shim writes to stdout is checked to be one JSON value without `\r`.

use bytes::Bytes;
use exai_proto::{ClientMsg, Frame, FrameCodec, Hello, HubMsg, SessionId};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio_util::codec::Framed;

/// Awaits `future`, failing the test if it takes longer than exai-testkit's guard.
#[track_caller]
pub fn guard<F: Future>(future: F) -> impl Future<Output = F::Output> {
    guard_at(Location::caller(), future)
}

/// [`guard`] reporting `caller` as the place that waited.
async fn guard_at<F: Future>(caller: &'static Location<'static>, future: F) -> F::Output {
    exai_testkit::guard::guard_at("this step", caller, exai_testkit::guard::GUARD, future).await
}

/// A temporary directory holding the hub socket for one test.
pub struct Place {
    dir: tempfile::TempDir,
}

impl Place {
    /// A fresh, private directory.
    pub fn new() -> Place {
        Place {
            dir: tempfile::tempdir().expect("create a temporary directory"),
        }
    }

    /// The directory itself (used as the shim's working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The socket path the shim is pointed at with `--endpoint`.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("hub.sock")
    }

    /// Starts a fake hub listening on [`Place::socket`].
    pub async fn hub(&self) -> FakeHub {
        let endpoint = exai_ipc::Endpoint::named(self.socket().to_str().expect("UTF-8 temp path"))
            .expect("resolve the test endpoint");
        let listener = exai_ipc::listen(&endpoint)
            .await
            .expect("listen on the test endpoint");
        FakeHub {
            listener,
            next_session: 0x51,
        }
    }

    /// Spawns the shim with `--endpoint` set to this place and `extra` flags.
    pub fn shim(&self, extra: &[&str]) -> Shim {
        let mut command = Command::new(env!("CARGO_BIN_EXE_exai-shim"));
        command.arg("--endpoint").arg(self.socket()).args(extra);
        Shim::spawn(command, self.dir())
    }
}

/// The hub side of the socket: accepts shims and answers their handshake.
pub struct FakeHub {
    listener: exai_ipc::Listener,
    next_session: u64,
}

impl FakeHub {
    /// Accepts the next shim, reads its `Hello` and answers `Welcome` with a fresh session id.
    #[track_caller]
    pub fn accept(&mut self) -> impl Future<Output = (HubConn, Hello)> + '_ {
        let caller = Location::caller();
        async move {
            let (mut conn, hello) = self.accept_hello_at(caller).await;
            self.next_session += 1;
            conn.send_control(&HubMsg::Welcome {
                session_id: SessionId(self.next_session),
                hub_version: "fake".to_owned(),
                resume_secret: Some(format!("secret-{:x}", self.next_session)),
            })
            .await;
            (conn, hello)
        }
    }

    /// Accepts the next shim and reads its `Hello`, leaving the answer to the test.
    #[track_caller]
    pub fn accept_hello(&mut self) -> impl Future<Output = (HubConn, Hello)> + '_ {
        self.accept_hello_at(Location::caller())
    }

    async fn accept_hello_at(&mut self, caller: &'static Location<'static>) -> (HubConn, Hello) {
        let accepted = guard_at(caller, self.listener.accept())
            .await
            .unwrap_or_else(|error| panic!("accept failed at {caller}: {error}"));
        let mut conn = HubConn {
            framed: Framed::new(accepted.stream, FrameCodec::default()),
        };
        match conn.recv_control_at(caller).await {
            ClientMsg::Hello(hello) => (conn, hello),
            other => panic!("expected Hello at {caller}, got {other:?}"),
        }
    }

    /// The session id the last `Welcome` carried.
    pub fn last_session(&self) -> SessionId {
        SessionId(self.next_session)
    }
}

/// One accepted shim connection, seen from the hub.
pub struct HubConn {
    framed: Framed<exai_ipc::Stream, FrameCodec>,
}

impl HubConn {
    /// The next frame; panics at end of stream.
    async fn recv_at(&mut self, caller: &'static Location<'static>) -> Frame {
        match guard_at(caller, self.framed.next()).await {
            Some(Ok(frame)) => frame,
            Some(Err(error)) => panic!("malformed frame at {caller}: {error}"),
            None => panic!("the shim closed the connection, waiting at {caller}"),
        }
    }

    /// The next frame, which must be an MCP line.
    #[track_caller]
    pub fn recv_line(&mut self) -> impl Future<Output = Bytes> + '_ {
        let caller = Location::caller();
        async move {
            match self.recv_at(caller).await {
                Frame::Line(line) => line,
                other => panic!("expected a line at {caller}, got {other:?}"),
            }
        }
    }

    /// The next frame, which must be a control message from the shim.
    #[track_caller]
    pub fn recv_control(&mut self) -> impl Future<Output = ClientMsg> + '_ {
        self.recv_control_at(Location::caller())
    }

    async fn recv_control_at(&mut self, caller: &'static Location<'static>) -> ClientMsg {
        match self.recv_at(caller).await {
            Frame::Control(payload) => Frame::decode_control(&payload)
                .unwrap_or_else(|error| panic!("bad ClientMsg at {caller}: {error}")),
            other => panic!("expected a control message at {caller}, got {other:?}"),
        }
    }

    /// Waits for the shim to close its side of the connection.
    #[track_caller]
    pub fn expect_eof(&mut self) -> impl Future<Output = ()> + '_ {
        let caller = Location::caller();
        async move {
            if let Some(frame) = guard_at(caller, self.framed.next()).await {
                panic!("expected end of stream at {caller}, got {frame:?}");
            }
        }
    }

    /// Sends one MCP line to the shim.
    pub async fn send_line(&mut self, line: &[u8]) {
        self.framed
            .send(Frame::Line(Bytes::copy_from_slice(line)))
            .await
            .expect("send a line to the shim");
    }

    /// Sends a control message to the shim.
    pub async fn send_control(&mut self, msg: &HubMsg) {
        self.framed
            .send(Frame::control(msg))
            .await
            .expect("send a control message to the shim");
    }
}

/// The shim child process with its stdin, stdout and collected stderr.
pub struct Shim {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Shim {
    /// Spawns `command` (the shim, or a parent that starts it) with piped stdio in `cwd`.
    pub fn spawn(mut command: Command, cwd: &Path) -> Shim {
        command
            .current_dir(cwd)
            .env_remove("EXAI_ENDPOINT")
            .env_remove("EXAI_SHIM_LOG_FILE")
            .env("EXAI_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn the shim");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk).await {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("stderr buffer")
                    .extend_from_slice(&chunk[..n]);
            }
        });
        Shim {
            stdin: child.stdin.take(),
            stdout: BufReader::new(child.stdout.take().expect("piped stdout")),
            stderr,
            child,
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the child is still running")
    }

    /// Writes raw bytes to the shim's stdin.
    pub async fn write(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        guard(stdin.write_all(bytes))
            .await
            .expect("write to the shim");
        guard(stdin.flush()).await.expect("flush the shim's stdin");
    }

    /// Writes one line (a `\n` is appended) to the shim's stdin.
    pub async fn send(&mut self, line: &[u8]) {
        let mut framed = Vec::with_capacity(line.len() + 1);
        framed.extend_from_slice(line);
        framed.push(b'\n');
        self.write(&framed).await;
    }

    /// Reads one stdout line (without `\n`), checking it is JSON and has no `\r`.
    #[track_caller]
    pub fn recv_line(&mut self) -> impl Future<Output = Vec<u8>> + '_ {
        self.recv_line_at(Location::caller())
    }

    async fn recv_line_at(&mut self, caller: &'static Location<'static>) -> Vec<u8> {
        let mut line = Vec::new();
        let n = guard_at(caller, self.stdout.read_until(b'\n', &mut line))
            .await
            .expect("read the shim's stdout");
        assert!(
            n > 0,
            "the shim closed stdout, waiting at {caller}; stderr:\n{}",
            self.stderr()
        );
        assert_eq!(line.pop(), Some(b'\n'), "a stdout line must end with \\n");
        assert_json_line(&line);
        line
    }

    /// Reads one stdout line and parses it.
    #[track_caller]
    pub fn recv_json(&mut self) -> impl Future<Output = serde_json::Value> + '_ {
        let caller = Location::caller();
        async move {
            let line = self.recv_line_at(caller).await;
            serde_json::from_slice(&line).expect("checked by recv_line")
        }
    }

    /// Closes the shim's stdin, as an editor does when it shuts the server down.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the shim to exit, then checks that everything left on stdout is JSON lines.
    #[track_caller]
    pub fn exit(self) -> impl Future<Output = ExitStatus> {
        self.exit_at(Location::caller())
    }

    async fn exit_at(mut self, caller: &'static Location<'static>) -> ExitStatus {
        let status = guard_at(caller, self.child.wait())
            .await
            .expect("wait for the shim");
        let mut rest = Vec::new();
        guard_at(caller, self.stdout.read_to_end(&mut rest))
            .await
            .expect("read the rest of stdout");
        for line in rest.split_inclusive(|&byte| byte == b'\n') {
            assert_eq!(line.last(), Some(&b'\n'), "unterminated stdout line");
            assert_json_line(&line[..line.len() - 1]);
        }
        status
    }

    /// Everything the shim logged so far.
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().expect("stderr buffer")).into_owned()
    }
}

/// Asserts that `line` is exactly one JSON value with no carriage return.
#[track_caller]
pub fn assert_json_line(line: &[u8]) {
    assert!(!line.contains(&b'\r'), "stdout must never carry \\r");
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(line) {
        panic!(
            "stdout line is not JSON ({error}): {}",
            String::from_utf8_lossy(&line[..line.len().min(200)])
        );
    }
}

/// Asserts a JSON-RPC error response with this id and code, returning its message.
#[track_caller]
pub fn assert_error(response: &serde_json::Value, id: serde_json::Value, code: i64) -> String {
    assert_eq!(response["jsonrpc"], "2.0", "{response}");
    assert_eq!(response["id"], id, "{response}");
    assert_eq!(response["error"]["code"], code, "{response}");
    response["error"]["message"]
        .as_str()
        .expect("an error message")
        .to_owned()
}
