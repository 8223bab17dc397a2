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
    /// The last connection or protocol error, in words.
    pub last_error: Option<String>,
}

/// The state of one editor session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
pub struct ClientInfo {
    /// e.g. `Visual Studio Code`.
    pub name: String,
    /// e.g. `1.96.0`.
    pub version: String,
}

/// One editor session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session id.
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
    /// How many times the shim reconnected to resume this session.
    pub resumes: u64,
}

/// Everything at once: what `exai status --json` prints and what a new dashboard starts from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The hub's version.
    pub hub_version: String,
    /// The local endpoint shims connect to.
    pub endpoint: String,
    /// The upstream.
    pub upstream: UpstreamStatus,
    /// Sessions, oldest first; lost ones stay for a while.
    pub sessions: Vec<SessionInfo>,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The session it came from.
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
}

/// A log record from the hub's tracing ring.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Monotonic sequence number, to de-duplicate snapshot and stream.
    pub seq: u64,
    /// When it was logged.
    pub at: UnixMillis,
    /// `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
    pub level: String,
    /// The tracing target (module path).
    pub target: String,
    /// The message, with structured fields appended as `key=value`.
    pub message: String,
    /// The session it concerns, when a `session` field or span says so.
    pub session: Option<SessionId>,
}

/// Something that happened in the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        id: SessionId,
    },
    /// The upstream's status changed.
    UpstreamChanged {
        /// The status as it is now.
        upstream: UpstreamStatus,
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
    /// The subscriber fell behind and missed events; take a fresh snapshot.
    Lagged {
        /// How many events were missed.
        missed: u64,
    },
}
