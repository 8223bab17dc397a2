//! The hub's public contract with whoever watches it: the dashboard, the tray, `exai status`.
//!
//! These types (and `exai-proto`'s) are the only ones in the hub that derive `Serialize`: a
//! serializable type is a boundary. Field names are `snake_case` in JSON; changing one breaks the
//! dashboard and scripts that read `exai status --json`.

use exai_proto::SessionId;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
pub type UnixMillis = u64;

/// The state of the upstream (the EXAI daemon pool).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum UpstreamState {
    /// Trying to connect; no connection is up yet.
    Connecting,
    /// At least one pooled connection is up and authenticated.
    Connected,
    /// No connection is up; retrying with backoff.
    Down,
    /// The daemon rejected the token; retrying slowly.
    Unauthorized,
}

/// What the upstream is doing, as the dashboard and `exai status` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpstreamStatus {
    /// The daemon URL (never with the token).
    pub url: String,
    /// Overall state.
    pub state: UpstreamState,
    /// Pooled connections that are up.
    pub connections: usize,
    /// Of those, how many run a call now.
    pub busy: usize,
    /// Configured pool size.
    pub pool_size: usize,
    /// Tools in the catalog (0 before the first fetch).
    pub tools: usize,
    /// Calls waiting for a free connection.
    pub queued: usize,
    /// How many times a pooled connection was (re)established after the first.
    pub reconnects: u64,
    /// The last connection or protocol error, in words; cleared once the daemon is connected
    /// again (the error stays in `error_history`).
    pub last_error: Option<String>,
    /// Earlier errors, oldest first, at most 8; a repeat of the newest only raises its count.
    pub error_history: Vec<UpstreamErrorRecord>,
    /// The rate limit the hub keeps under, in words (`10 frames/s, burst 100 per IP, ...`);
    /// `None` when pacing is off.
    pub rate_limit: Option<String>,
    /// Calls held back right now by that rate limit (the hub paces what it sends).
    pub rate_limited: usize,
    /// How often the daemon still refused a frame as over capacity; each one was retried.
    pub over_capacity: u64,
}

/// One error in the upstream's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpstreamErrorRecord {
    /// When it last happened.
    pub at: UnixMillis,
    /// The error, in words.
    pub message: String,
    /// How many times in a row it happened.
    pub count: u64,
}

/// The state of one editor session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Connected and the upstream is connected (green).
    Ready,
    /// Connected but the upstream is not (amber).
    Degraded,
    /// The shim vanished without a goodbye (red): crash, kill, editor crash.
    Lost,
    /// The shim said goodbye (grey).
    Closed,
}

/// The editor, as its `initialize` (or `_meta.clientInfo`) named itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ClientInfo {
    /// e.g. `Visual Studio Code`.
    pub name: String,
    /// e.g. `1.96.0`.
    pub version: String,
}

/// One editor session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct SessionInfo {
    /// The session id.
    #[cfg_attr(test, ts(as = "String"))]
    pub id: SessionId,
    /// The user's label (`--name`), if any.
    pub name: Option<String>,
    /// The editor, once it said who it is.
    pub client: Option<ClientInfo>,
    /// The MCP protocol version negotiated with the editor.
    pub protocol_version: Option<String>,
    /// The shim's process id.
    pub pid: u32,
    /// The shim's parent (the editor) process id, when known.
    pub parent_pid: Option<u32>,
    /// The peer process id as the operating system reports it, when it can.
    pub peer_pid: Option<u32>,
    /// The shim's working directory.
    pub cwd: Option<String>,
    /// State.
    pub state: SessionState,
    /// When the session connected.
    pub connected_at: UnixMillis,
    /// Last message from or to the editor.
    pub last_activity: UnixMillis,
    /// Requests answered.
    pub requests: u64,
    /// Requests answered with an error (JSON-RPC error or `isError` result).
    pub errors: u64,
    /// Requests running now.
    pub in_flight: u64,
    /// Mean duration of the last few requests, in milliseconds.
    pub recent_latency_ms: Option<f64>,
    /// The last error, in words.
    pub last_error: Option<String>,
    /// What the session was doing when it was lost or closed (the methods/tools in flight).
    pub doing: Vec<String>,
    /// Why the window is lost, in words (how its shim's connection ended); `None` unless lost.
    #[serde(default)]
    pub lost_reason: Option<String>,
    /// How many times the shim reconnected to resume this session.
    pub resumes: u64,
    /// The wrapped MCP server this window stands for (its name, as in [`ServerStatus::name`]);
    /// `None`: the EXAI daemon's tools.
    #[serde(default)]
    pub server: Option<String>,
}

impl SessionInfo {
    /// What to call the window: its `--name`, else the editor's name, else its pid.
    pub fn label(&self) -> String {
        match (&self.name, &self.client) {
            (Some(name), _) => name.clone(),
            (None, Some(client)) => client.name.clone(),
            (None, None) => format!("pid {}", self.pid),
        }
    }
}

/// What runs the hub.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    /// `exai hub`, in a terminal, on a server, or started by a shim.
    #[default]
    Headless,
    /// The tray app, `exai-tray`.
    Tray,
}

/// The process that runs the hub, so a second one can say who is already there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct HostInfo {
    /// Tray app or headless.
    pub kind: HostKind,
    /// Its process id.
    pub pid: u32,
    /// The dashboard's address, without its token, when one is served over HTTP.
    pub dashboard_url: Option<String>,
    /// A daemon URL was configured (file, environment or flag); when not, an unreachable
    /// daemon counts as "not configured yet" rather than "down" in the overall colour.
    /// (Absent from an older hub's snapshot: then `false`.)
    #[serde(default)]
    pub daemon_configured: bool,
}

/// Everything at once: what `exai status --json` prints and what a new dashboard starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Snapshot {
    /// The hub's version.
    pub hub_version: String,
    /// The local endpoint shims connect to.
    pub endpoint: String,
    /// What runs the hub.
    pub host: HostInfo,
    /// The upstream.
    pub upstream: UpstreamStatus,
    /// Sessions, oldest first; lost ones stay for a while.
    pub sessions: Vec<SessionInfo>,
    /// When this hub started. With `host.pid`, it tells a page that a hub restarted under it.
    /// (Absent from an older hub's snapshot: then 0.)
    #[serde(default)]
    pub started_at: UnixMillis,
    /// Wrapped MCP servers (`exai-shim -- COMMAND ...`), oldest first. (Absent from an older
    /// hub's snapshot: then empty.)
    #[serde(default)]
    pub servers: Vec<ServerStatus>,
}

/// The state of a wrapped server's instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "kebab-case")]
pub enum ServerState {
    /// Started; the hub's `initialize` is not answered yet.
    Starting,
    /// Initialized and serving windows.
    Ready,
    /// It failed; the hub starts it again after a backoff.
    Restarting,
    /// It failed 5 times in a row soon after starting; no restart until a window asks again.
    CrashLoop,
    /// Not running: idle (no window for the idle time) or never started.
    Stopped,
}

/// One instance of a wrapped MCP server, as `exai status` and the dashboard show it. Never an
/// environment value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ServerStatus {
    /// The instance's number in this hub (1, 2, ...).
    pub id: u64,
    /// A short name: the package or program (`server-everything`).
    pub name: String,
    /// The command and arguments (no environment).
    pub command: String,
    /// The process id while it runs.
    pub pid: Option<u32>,
    /// State.
    pub state: ServerState,
    /// The share policy: `shared`, `workspace` or `window`.
    pub policy: String,
    /// The windows using it.
    #[cfg_attr(test, ts(as = "Vec<String>"))]
    pub windows: Vec<SessionId>,
    /// How many times it was restarted: after a failure, or by the operator.
    pub restarts: u64,
    /// Resident memory in bytes, where the system tells it (Linux).
    pub memory_bytes: Option<u64>,
    /// Why it last failed, in words.
    pub last_error: Option<String>,
    /// Its last stderr lines (at most 20), oldest first.
    pub stderr: Vec<String>,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct RequestRecord {
    /// The session it came from.
    #[cfg_attr(test, ts(as = "String"))]
    pub session: SessionId,
    /// The MCP method (`tools/call`, `tools/list`, ...).
    pub method: String,
    /// The tool, for `tools/call`.
    pub tool: Option<String>,
    /// When it started.
    pub started_at: UnixMillis,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// Whether it succeeded.
    pub ok: bool,
    /// The error, in words, when it failed.
    pub error: Option<String>,
    /// Cancelled by the editor (no answer was sent).
    pub cancelled: bool,
    /// Milliseconds the request was held back by the daemon's rate limit (0: not at all).
    pub rate_limited_ms: u64,
    /// The tool's arguments as compact JSON, cut to [`ARGUMENTS_SHOWN`] bytes (ending in `…`
    /// when cut); `None` for other methods.
    #[serde(default)]
    pub arguments: Option<String>,
    /// The daemon answered from its cache (or from an identical call in flight): the duration
    /// is the cache's, not the tool's.
    #[serde(default)]
    pub from_cache: bool,
}

/// How much of a call's arguments a [`RequestRecord`] keeps, in bytes.
pub const ARGUMENTS_SHOWN: usize = 200;

/// One tool in the daemon's catalog, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ToolInfo {
    /// The tool's name, as editors call it.
    pub name: String,
    /// What it does, in the daemon's words (empty when it gave none).
    pub description: String,
}

/// A log record from the hub's tracing ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct LogRecord {
    /// Monotonic sequence number, to de-duplicate snapshot and stream.
    pub seq: u64,
    /// When it was logged.
    pub at: UnixMillis,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The tracing target (module path).
    pub target: String,
    /// The message as a sentence; structured fields follow in parentheses as `key: value`
    /// (`None`, empty values and the session left out, `Some(..)` and quotes taken off).
    pub message: String,
    /// The session it concerns, when a `session` field or span says so.
    #[cfg_attr(test, ts(as = "Option<String>"))]
    pub session: Option<SessionId>,
    /// How many times in a row the same line (level, target, session, message) was logged;
    /// a repeat raises this on the one record (same `seq`, `at` of the latest) instead of
    /// adding a line. 1: once.
    #[serde(default = "one")]
    pub repeat: u64,
}

fn one() -> u64 {
    1
}

/// Something that happened in the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubEvent {
    /// A session connected (or resumed after its hub restarted).
    SessionAppeared {
        /// The session.
        session: SessionInfo,
    },
    /// A session's state or counters changed.
    SessionChanged {
        /// The session as it is now.
        session: SessionInfo,
    },
    /// A session was removed from the registry (closed, or lost long enough ago).
    SessionGone {
        /// Its id.
        #[cfg_attr(test, ts(as = "String"))]
        id: SessionId,
    },
    /// The upstream's status changed.
    UpstreamChanged {
        /// The status as it is now.
        upstream: UpstreamStatus,
    },
    /// A wrapped server's instance changed state, pid, windows or restarts.
    ServerChanged {
        /// The instance as it is now.
        server: ServerStatus,
    },
    /// A request finished.
    RequestFinished {
        /// What it was and how it ended.
        request: RequestRecord,
    },
    /// A log record.
    Log {
        /// The record.
        record: LogRecord,
    },
    /// Something the operator should hear about now (the tray shows it as a toast).
    ///
    /// Already merged and debounced: a burst of lost windows is one notice, a flapping daemon
    /// does not produce one per flap.
    Notice {
        /// What to say.
        notice: Notice,
    },
    /// Someone (a second tray app) asked the embedder to show its dashboard.
    FocusRequested {
        /// The session to show, if any.
        #[cfg_attr(test, ts(as = "Option<String>"))]
        session: Option<SessionId>,
    },
    /// The subscriber fell behind and missed events; take a fresh snapshot.
    Lagged {
        /// How many events were missed.
        missed: u64,
    },
}

/// What a [`Notice`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum NoticeKind {
    /// One or more editor windows went away without a goodbye.
    SessionsLost,
    /// The daemon has been unreachable for a while.
    DaemonDown,
    /// The daemon rejected the token.
    TokenRejected,
    /// The daemon is reachable again after a `daemon_down` or `token_rejected` notice.
    DaemonBack,
    /// A wrapped server entered crash-loop (it is not restarted until asked).
    ServerCrashLoop,
}

/// A message for the operator, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Notice {
    /// What it is about.
    pub kind: NoticeKind,
    /// One short line, e.g. `EXAI: window "api" lost`.
    pub title: String,
    /// The details: labels, editors, pids, what they were doing, what to do.
    pub body: String,
    /// The sessions it concerns.
    #[cfg_attr(test, ts(as = "Vec<String>"))]
    pub sessions: Vec<SessionId>,
}

/// One ready-to-paste editor configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Snippet {
    /// A stable key: `vscode`, `vscode-user`, `cursor`, `claude-desktop`, `augment`.
    pub editor: String,
    /// What the user sees, e.g. `VS Code (this workspace)`.
    pub title: String,
    /// Where it goes, e.g. `.vscode/mcp.json in your project`.
    pub target: String,
    /// The snippet's language (`json`).
    pub language: String,
    /// The snippet itself.
    pub content: String,
}

/// Everything the "Connect an editor" page shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConnectInfo {
    /// The absolute path of `exai-shim` the snippets use.
    pub shim_path: String,
    /// Whether that file exists (when not, the page says how to build or install it).
    pub shim_found: bool,
    /// The non-default hub endpoint the snippets pass to the shim (`--endpoint`), if any.
    pub endpoint: Option<String>,
    /// One snippet per editor and place.
    pub snippets: Vec<Snippet>,
}

/// Whether one editor's config file has the `exai` server (`exai connect --status`, the
/// Connect page's list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct EditorStatus {
    /// A stable key: `code`, `cursor`, `claude-desktop`, `claude-code`, `windsurf`, `zed`, `codex`.
    pub editor: String,
    /// What the user sees, e.g. `VS Code`.
    pub title: String,
    /// The config file, absolute.
    pub path: String,
    /// Whether that file exists.
    pub exists: bool,
    /// Whether it has an `exai` entry.
    pub connected: bool,
    /// The command the `exai` entry runs, when there is one.
    pub command: Option<String>,
    /// Whether that command is an existing file.
    pub command_exists: bool,
    /// Whether the entry is exactly what connecting would write now (nothing to do).
    pub up_to_date: bool,
    /// Why the file could not be read (not JSON, not TOML, unreadable), in words.
    pub problem: Option<String>,
}

/// What connecting an editor did (`exai connect <editor>`, the Connect page's button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct ConnectResult {
    /// The editor's key, as in [`EditorStatus::editor`].
    pub editor: String,
    /// The file written (or that would be, for a dry run).
    pub path: String,
    /// Whether the file changed (false: the entry was already there, nothing was written).
    pub changed: bool,
    /// Where the file was copied before it was changed (none when it did not exist or did not
    /// change).
    pub backup: Option<String>,
    /// One sentence for the user: what was done, where, and what to do next.
    pub message: String,
    /// The editor's status afterwards.
    pub status: EditorStatus,
}

/// Which way "Share these servers through EXAI" rewrites an editor's servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WrapDirection {
    /// `COMMAND ARGS` becomes `exai-shim ... -- COMMAND ARGS`.
    Wrap,
    /// Back to `COMMAND ARGS`.
    Unwrap,
}

/// What wrapping (or unwrapping) does to one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum WrapOutcome {
    /// Now runs through the shim.
    Wrapped,
    /// Runs its own command again.
    Unwrapped,
    /// Already runs through the shim; left as it is.
    AlreadyWrapped,
    /// Does not run through the shim, so there is nothing to unwrap.
    NotWrapped,
    /// A remote server (a URL): the editor connects to it itself, nothing to share.
    Remote,
    /// EXAI's own entry.
    Exai,
    /// Not an entry the shim can stand for ([`WrapServer::reason`] says why).
    Unsupported,
}

/// One server of an editor's file in the wrap preview. Never an `env` value: only the names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WrapServer {
    /// Its name in the file.
    pub name: String,
    /// The project folder it belongs to (Claude Code's `projects.<dir>.mcpServers`), `None`
    /// for the file's own servers.
    pub project: Option<String>,
    /// What happens to it.
    pub outcome: WrapOutcome,
    /// Whether its entry is rewritten.
    pub changed: bool,
    /// In words: `wrapped`, or `left: <why>`.
    pub reason: String,
    /// The command line it runs now (empty for a remote server).
    pub before: String,
    /// The command line it runs afterwards (equal to `before` when it is left).
    pub after: String,
    /// The names of the variables in its `env`, sorted (kept as they are; values never shown).
    pub env_keys: Vec<String>,
}

/// What "Share these servers through EXAI" would do to one editor's file (the Connect page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WrapPreview {
    /// The editor's key, as in [`EditorStatus::editor`].
    pub editor: String,
    /// What the user sees, e.g. `Claude Code`.
    pub title: String,
    /// The config file, absolute.
    pub path: String,
    /// Whether that file exists (no file: no servers to share).
    pub exists: bool,
    /// The shim the wrapped entries would run.
    pub shim_path: String,
    /// Whether it exists (when not, wrapping is refused: every wrapped server would fail).
    pub shim_found: bool,
    /// What wrapping would do to each server, in file order.
    pub wrap: Vec<WrapServer>,
    /// What unwrapping would do to each server, in file order.
    pub unwrap: Vec<WrapServer>,
    /// Why the file could not be read, in words.
    pub problem: Option<String>,
}

/// What wrapping or unwrapping an editor's servers did (the Connect page's Wrap and Unwrap).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct WrapEditorResult {
    /// The editor's key.
    pub editor: String,
    /// The file written.
    pub path: String,
    /// Whether the file changed.
    pub changed: bool,
    /// Where the file was copied before it was changed.
    pub backup: Option<String>,
    /// One sentence for the user: what was done, where, and what to do next.
    pub message: String,
    /// What happened to each server.
    pub servers: Vec<WrapServer>,
    /// The preview afterwards.
    pub preview: WrapPreview,
}

/// Settings of the program that shows the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Settings {
    /// Tray app or headless hub.
    pub host: HostKind,
    /// Start the tray app at login (`None`: not available here).
    pub autostart: Option<bool>,
    /// Show toasts (`None`: not available here).
    pub notifications: Option<bool>,
    /// Where the log files are, when there are log files.
    pub log_dir: Option<String>,
}

/// Where a setting in effect came from (later ones win at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ConfigSource {
    /// Not set anywhere: the built-in default.
    #[default]
    Default,
    /// `config.toml`, or saved from the dashboard into it.
    File,
    /// The environment (`EXAI_WS_URL`, `EXAI_WS_TOKEN`, ...), which wins over the file.
    Environment,
    /// A command-line flag (`--upstream`), which wins over everything.
    Flag,
}

/// The daemon's connection settings as the first-run card and Settings show them. Never the
/// token itself: only whether one is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpstreamConfig {
    /// The daemon URL in effect.
    pub url: String,
    /// Where that URL came from.
    pub url_source: ConfigSource,
    /// Whether a token is in effect.
    pub token_set: bool,
    /// Where that token came from (`default`: none).
    pub token_source: ConfigSource,
    /// The config file the dashboard writes (`[upstream] url`, `token`), absolute; `None` when
    /// there is no home directory to put one in.
    pub config_path: Option<String>,
    /// Whether that file exists.
    pub config_exists: bool,
}

/// A new daemon URL and token from the first-run card. Only read, never written back: the
/// token is a [`Secret`](crate::config::Secret).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpstreamConfigUpdate {
    /// `ws://HOST:PORT`.
    pub url: String,
    /// `None`: keep the token as it is; an empty string: remove it; else the new token.
    #[cfg_attr(test, ts(as = "Option<String>"))]
    pub token: Option<crate::config::Secret>,
}

/// What saving the daemon's settings did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpstreamConfigSaved {
    /// The file written, absolute.
    pub path: String,
    /// One or two sentences for the user: what was written and what happens now.
    pub message: String,
    /// The settings in effect afterwards.
    pub config: UpstreamConfig,
}

/// A daemon to try once (the first-run card's Test button).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpstreamTest {
    /// `ws://HOST:PORT`.
    pub url: String,
    /// `None` or empty: the token in effect.
    #[cfg_attr(test, ts(as = "Option<String>"))]
    pub token: Option<crate::config::Secret>,
}

/// How one try of a daemon ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum UpstreamTestOutcome {
    /// It answered the hello: the URL and token work.
    Ok,
    /// Nothing listens there (connection refused).
    Refused,
    /// It answered but rejected the token.
    Unauthorized,
    /// No answer in time.
    Timeout,
    /// The URL is not a `ws://HOST:PORT` address.
    Invalid,
    /// Anything else (a name that does not resolve, not a WebSocket, ...).
    Failed,
}

/// The answer to [`UpstreamTest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct UpstreamTestResult {
    /// How it ended.
    pub outcome: UpstreamTestOutcome,
    /// The same in a sentence, with what to do.
    pub message: String,
}

#[cfg(test)]
mod typescript {
    //! `ui/src/api/types.gen.ts` is generated from these types; this test keeps it from drifting.

    use super::*;
    use ts_rs::{Config, TS};

    fn generate() -> String {
        let cfg = Config::new().with_large_int("number");
        let decls = [
            UpstreamState::decl(&cfg),
            UpstreamStatus::decl(&cfg),
            UpstreamErrorRecord::decl(&cfg),
            SessionState::decl(&cfg),
            ClientInfo::decl(&cfg),
            SessionInfo::decl(&cfg),
            HostKind::decl(&cfg),
            HostInfo::decl(&cfg),
            Snapshot::decl(&cfg),
            RequestRecord::decl(&cfg),
            ToolInfo::decl(&cfg),
            LogRecord::decl(&cfg),
            NoticeKind::decl(&cfg),
            Notice::decl(&cfg),
            HubEvent::decl(&cfg),
            Snippet::decl(&cfg),
            ConnectInfo::decl(&cfg),
            EditorStatus::decl(&cfg),
            ConnectResult::decl(&cfg),
            WrapDirection::decl(&cfg),
            WrapOutcome::decl(&cfg),
            WrapServer::decl(&cfg),
            WrapPreview::decl(&cfg),
            WrapEditorResult::decl(&cfg),
            Settings::decl(&cfg),
            ServerState::decl(&cfg),
            ServerStatus::decl(&cfg),
            ConfigSource::decl(&cfg),
            UpstreamConfig::decl(&cfg),
            UpstreamConfigUpdate::decl(&cfg),
            UpstreamConfigSaved::decl(&cfg),
            UpstreamTest::decl(&cfg),
            UpstreamTestOutcome::decl(&cfg),
            UpstreamTestResult::decl(&cfg),
        ];
        let mut out = String::from(
            "// Generated from crates/exai-hub/src/api.rs by ts-rs (cargo test -p exai-hub).\n\
             // Do not edit: change the Rust types, then run with EXAI_UPDATE_TYPES=1.\n",
        );
        for decl in decls {
            out.push_str("\nexport ");
            out.push_str(&decl);
            out.push('\n');
        }
        out
    }

    #[test]
    fn typescript_types_match_the_rust_api() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/api/types.gen.ts");
        let generated = generate();
        if std::env::var_os("EXAI_UPDATE_TYPES").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is out of date with hub::api: run `EXAI_UPDATE_TYPES=1 cargo test -p exai-hub --lib typescript` and commit it",
            path.display()
        );
    }
}
