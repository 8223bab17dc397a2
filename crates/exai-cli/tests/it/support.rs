//! Test support: a fake EXAI daemon, a hub (in process or as the real `exai hub` process), and
//! editor windows that are real `exai-shim` processes driven by the official Rust MCP SDK.

use exai_hub::api::{HubEvent, SessionInfo, SessionState, Snapshot, UpstreamState};
use exai_hub::config::{ExaiConfig, HubConfig, Secret};
use exai_hub::{Hub, HubHandle};
use exai_testkit::{DaemonConfig, TestDaemon};
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation,
    ProgressNotificationParam, ProtocolVersion,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::Notify;

pub use exai_testkit::guard::{GUARD, guard, guard_for};

/// Path of a workspace binary built next to `exai`.
pub fn bin(name: &str) -> PathBuf {
    let exai = Path::new(env!("CARGO_BIN_EXE_exai"));
    let path = exai.with_file_name(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (`cargo test --workspace` does)",
        path.display()
    );
    path
}

/// Hub settings tests commonly change.
#[derive(Clone)]
pub struct HubOptions {
    pub pool_size: usize,
    pub token: Option<String>,
    pub call_timeout: Duration,
    /// Keep the product's reconnect backoff instead of the fast one tests use.
    pub real_backoff: bool,
}

impl Default for HubOptions {
    fn default() -> HubOptions {
        HubOptions {
            pool_size: 4,
            token: None,
            call_timeout: Duration::from_secs(30),
            real_backoff: false,
        }
    }
}

/// A fake daemon plus a unique endpoint in a private temp dir.
pub struct Env {
    pub daemon: TestDaemon,
    pub dir: tempfile::TempDir,
}

impl Env {
    pub async fn new(daemon: DaemonConfig) -> Env {
        let daemon = TestDaemon::start(daemon)
            .await
            .expect("start the test daemon");
        let dir = tempfile::tempdir().expect("tempdir");
        Env { daemon, dir }
    }

    /// The endpoint: a socket path inside this test's own directory.
    pub fn endpoint(&self) -> String {
        self.dir.path().join("hub.sock").display().to_string()
    }

    pub fn hub_config(&self, options: &HubOptions) -> HubConfig {
        let real = ExaiConfig::default();
        let (min_backoff, max_backoff) = if options.real_backoff {
            (real.min_backoff, real.max_backoff)
        } else {
            (Duration::from_millis(20), Duration::from_millis(200))
        };
        HubConfig {
            endpoint: Some(self.endpoint()),
            exai: ExaiConfig {
                url: self.daemon.url(),
                token: options.token.clone().map(Secret::new),
                pool_size: options.pool_size,
                call_timeout: options.call_timeout,
                min_backoff,
                max_backoff,
                unauthorized_backoff: Duration::from_secs(60),
                ..real
            },
            ..HubConfig::default()
        }
    }

    /// Starts a hub inside the test process.
    pub async fn hub(&self, options: HubOptions) -> TestHub {
        self.hub_with(options, |_| {}).await
    }

    /// Starts a hub inside the test process, with `edit` applied to its config.
    pub async fn hub_with(
        &self,
        options: HubOptions,
        edit: impl FnOnce(&mut HubConfig),
    ) -> TestHub {
        let mut config = self.hub_config(&options);
        edit(&mut config);
        let (handle, task) = Hub::new(config, None).await.expect("start the hub");
        let task = tokio::spawn(task.run());
        TestHub {
            handle,
            task: Some(task),
        }
    }

    /// Starts the real `exai hub` binary.
    pub fn hub_process(&self, options: &HubOptions) -> tokio::process::Child {
        self.hub_command(options).spawn().expect("spawn exai hub")
    }

    /// The command that runs the real `exai hub` on this env's endpoint and daemon.
    pub fn hub_command(&self, options: &HubOptions) -> Command {
        let mut command = Command::new(bin("exai"));
        command
            .args([
                "hub",
                "--endpoint",
                &self.endpoint(),
                "--upstream",
                &self.daemon.url(),
            ])
            .args(["--pool", &options.pool_size.to_string()])
            .arg("--config")
            .arg(self.dir.path().join("absent-config.toml"))
            .env_remove("EXAI_WS_URL")
            .env_remove("EXAI_WS_TOKEN")
            .env_remove("EXAI_ENDPOINT")
            .env("EXAI_LOG", "warn")
            .kill_on_drop(true);
        // An explicit config file that does not exist is an error; write an empty one.
        std::fs::write(self.dir.path().join("absent-config.toml"), "").expect("write config");
        command
    }

    /// A shim command for this env's endpoint.
    pub fn shim_command(&self, name: &str) -> Command {
        let mut command = Command::new(bin("exai-shim"));
        command
            .args(["--endpoint", &self.endpoint(), "--name", name])
            .env_remove("EXAI_ENDPOINT")
            .env("EXAI_LOG", "warn");
        command
    }

    /// Opens an editor window: a real shim process driven by the MCP SDK (handshake era).
    pub async fn window(&self, name: &str) -> Window {
        self.window_with(name, ProtocolVersion::V_2025_11_25).await
    }

    pub async fn window_with(&self, name: &str, version: ProtocolVersion) -> Window {
        let handler = Recorder::for_test(name, version);
        let transport = TokioChildProcess::new(self.shim_command(name)).expect("spawn exai-shim");
        let pid = transport.id();
        let client = guard("the MCP handshake", handler.clone().serve(transport))
            .await
            .expect("MCP handshake through the shim");
        Window {
            client,
            recorder: handler,
            pid,
        }
    }
}

/// An in-process hub.
pub struct TestHub {
    pub handle: HubHandle,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl TestHub {
    /// Waits until a snapshot satisfies `pred`; driven by hub events, not polling.
    pub async fn wait_for(&self, what: &'static str, pred: impl Fn(&Snapshot) -> bool) -> Snapshot {
        let mut events = self.handle.subscribe();
        guard(what, async {
            loop {
                let snapshot = self.handle.snapshot().await.expect("snapshot");
                if pred(&snapshot) {
                    return snapshot;
                }
                // Any event may change the answer; wait for the next one.
                if events.next().await.is_none() {
                    panic!("the hub stopped while waiting for {what}");
                }
            }
        })
        .await
    }

    /// Waits for the session named `name` to reach `state`.
    pub async fn wait_session(&self, name: &str, state: SessionState) -> SessionInfo {
        let snapshot = self
            .wait_for("a session state", |snapshot| {
                snapshot
                    .sessions
                    .iter()
                    .any(|s| s.name.as_deref() == Some(name) && s.state == state)
            })
            .await;
        snapshot
            .sessions
            .into_iter()
            .find(|s| s.name.as_deref() == Some(name))
            .expect("session")
    }

    pub async fn wait_upstream(&self, state: UpstreamState) -> Snapshot {
        self.wait_for("an upstream state", |snapshot| {
            snapshot.upstream.state == state
        })
        .await
    }

    /// Collects events until `pred` matches one.
    pub async fn wait_event(
        &self,
        what: &'static str,
        mut events: exai_hub::Subscription,
        pred: impl Fn(&HubEvent) -> bool,
    ) -> HubEvent {
        guard(what, async {
            loop {
                match events.next().await {
                    Some(event) if pred(&event) => return event,
                    Some(_) => {}
                    None => panic!("the hub stopped while waiting for {what}"),
                }
            }
        })
        .await
    }

    pub async fn stop(mut self) {
        self.handle.shutdown();
        if let Some(task) = self.task.take() {
            guard("hub shutdown", task)
                .await
                .expect("hub task")
                .expect("hub result");
        }
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// One editor window: the SDK client plus what it received.
pub struct Window {
    pub client: RunningService<RoleClient, Recorder>,
    pub recorder: Recorder,
    pub pid: Option<u32>,
}

impl Window {
    pub async fn call(
        &self,
        tool: &str,
        arguments: serde_json::Value,
    ) -> Result<rmcp::model::CallToolResult, rmcp::ServiceError> {
        let serde_json::Value::Object(arguments) = arguments else {
            panic!("arguments must be an object")
        };
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = Some(arguments);
        self.client.peer().call_tool(params).await
    }

    /// Sends a `tools/call` and returns the SDK's handle (for progress tokens and cancellation).
    pub async fn send_call(
        &self,
        tool: &str,
        arguments: serde_json::Value,
        options: rmcp::service::PeerRequestOptions,
    ) -> rmcp::service::RequestHandle<RoleClient> {
        let mut params = CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments.as_object().cloned();
        let request =
            rmcp::model::ClientRequest::CallToolRequest(rmcp::model::Request::new(params));
        self.client
            .peer()
            .send_request_with_option(request, options)
            .await
            .expect("send a tools/call")
    }

    /// The text of the first content item of a successful call.
    pub async fn call_text(&self, tool: &str, arguments: serde_json::Value) -> String {
        let result = guard("a tool call", self.call(tool, arguments))
            .await
            .expect("tool call");
        assert_ne!(
            result.is_error,
            Some(true),
            "tool reported an error: {result:?}"
        );
        first_text(&result)
    }
}

pub fn first_text(result: &rmcp::model::CallToolResult) -> String {
    let value = serde_json::to_value(&result.content).expect("content json");
    value[0]["text"].as_str().expect("text content").to_owned()
}

/// The client handler: records progress and list-changed notifications.
#[derive(Clone)]
pub struct Recorder {
    name: String,
    version: ProtocolVersion,
    pub progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    pub progress_seen: Arc<Notify>,
    pub list_changed: Arc<Notify>,
}

impl Recorder {
    pub fn for_test(name: &str, version: ProtocolVersion) -> Recorder {
        Recorder {
            name: name.to_owned(),
            version,
            progress: Arc::default(),
            progress_seen: Arc::default(),
            list_changed: Arc::default(),
        }
    }
}

impl ClientHandler for Recorder {
    fn get_info(&self) -> ClientConfig {
        let mut config = ClientConfig::default();
        config.protocol_version = self.version.clone();
        config.capabilities = ClientCapabilities::default();
        config.client_info = Implementation::new(format!("test-editor-{}", self.name), "1.2.3");
        config
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.lock().expect("progress lock").push(params);
        self.progress_seen.notify_waiters();
        self.progress_seen.notify_one();
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.list_changed.notify_one();
    }
}

/// Default daemon for most tests.
pub fn daemon() -> DaemonConfig {
    DaemonConfig::default()
}

/// Says that `test` skipped a check it needs root for, as the one line `scripts/test.sh` counts:
/// `SKIPPED (needs root): <test>: <what>`. Written to stderr directly rather than with
/// `eprintln!`, so the test harness's output capture cannot hide it; CI runs as root, and there
/// any such line fails the run.
#[cfg(unix)]
pub fn skipped_needs_root(test: &str, what: &str) {
    use std::io::Write as _;
    let line = format!("SKIPPED (needs root): {test}: {what}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Whether this process runs as root: only root can act as another user.
#[cfg(unix)]
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `server-everything`'s entry point, when installed (`npm ci --prefix ci/servers`). Missing:
/// under CI (`CI=true`) the test fails; elsewhere it says so loudly and the test returns.
pub fn everything(test: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "../../ci/servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    );
    if path.is_file() {
        return Some(path);
    }
    let message = format!(
        "SKIPPED (server-everything not installed: run `npm ci --prefix ci/servers`): {test}"
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{message}");
    None
}
