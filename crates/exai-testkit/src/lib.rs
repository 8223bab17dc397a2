//! Test support only: a fake EXAI daemon that behaves like the real one, awkward parts included.
//!
//! [`TestDaemon`] listens on `127.0.0.1:0` and speaks the daemon's WebSocket protocol as
//! described in `exai-daemon-protocol.md`: the hello handshake and its close codes, strictly
//! serial handling per connection, bare error frames without `op` or `request_id`, the global
//! in-flight table keyed by request id (including ids stuck forever after a failing tool), the
//! 300 s result cache, per-session rate limits, per-IP connection limits and the 32 MiB frame
//! limit. A test double that is politer than the real daemon proves nothing, so none of these
//! quirks are optional here; the only knobs are the ones listed in [`DaemonConfig`].
//!
//! Tests must never sleep to synchronise. The daemon therefore exposes deterministic hooks:
//! [`TestDaemon::wait_until`] resolves when a predicate over [`DaemonStats`] holds (driven by a
//! watch channel updated on every change), and the `gate` tool blocks until
//! [`TestDaemon::open_gate`] is called, with [`TestDaemon::wait_gate_started`] to know it runs.
//!
//! This crate must not be a dependency of anything but tests. It owns no global state: every
//! daemon is independent, and dropping a [`TestDaemon`] stops all of its tasks.
//!
//! Module map:
//! - `daemon`: the public handle, the accept loop, stop/restart and connection admission.
//! - `session`: one connection: reader, handshake, the serial request loop and op dispatch.
//! - `calls`: tool calls: in-flight table, cache, running a tool and relaying its frames.
//! - `state`: state shared by all connections (stats, in-flight table, cache, gates, buckets).
//! - `tools`: the built-in tools and their behaviour.
//! - `guard`: the one failure guard every test binary uses.
//! - `shim`: a raw shim (framed connection, hello, answers) for hub tests.

mod calls;
mod daemon;
pub mod guard;
mod session;
pub mod shim;
mod state;
mod tools;

use std::time::Duration;

pub use daemon::TestDaemon;
pub use tools::default_tools;

/// The real daemon's largest accepted frame (`EXAI_WS_MAX_BYTES`), 32 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// How the fake daemon behaves. Start from `DaemonConfig::default()` and override fields.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    /// The daemon's token. `None` or shorter than 16 characters turns auth off, as the real
    /// daemon silently does.
    pub token: Option<String>,
    /// Live connections allowed per client IP; the next one is closed with 1008
    /// "Too many connections from your IP". Default 10.
    pub max_connections_per_ip: usize,
    /// Live connections allowed in all; the next one is closed with 1013. Default 1000.
    pub max_connections: usize,
    /// Token bucket per hello session id, counting every frame after the hello. Default on,
    /// with the real daemon's numbers: [`RateLimit::DAEMON_SESSION`].
    pub rate_limit: Option<RateLimit>,
    /// Token bucket per client IP, shared by every connection from that address (everything
    /// from 127.0.0.1 together): hellos take from it, frames after the hello need it. Default
    /// on, with the real daemon's numbers: [`RateLimit::DAEMON_IP`]. Its refusal states the
    /// wait rounded to a tenth of a second, so a wait under 50 ms reads "retry after 0.0s", as
    /// the real daemon's does.
    pub ip_rate_limit: Option<RateLimit>,
    /// How often a running tool reports `progress`. The real daemon uses 5 s; default 50 ms.
    pub progress_interval: Duration,
    /// How long a new connection may take to send its hello (close 4002). Default 15 s.
    pub hello_timeout: Duration,
    /// Send `stream_complete` before `call_tool_res`. Default true; false mimics newer builds.
    pub send_stream_complete: bool,
    /// Send every successful `call_tool_res` twice, as some newer builds do. Default false.
    pub duplicate_final: bool,
    /// Answer identical tool name and arguments within 300 s from the cache. Default true.
    pub cache: bool,
    /// The advertised tools. Default [`default_tools`].
    pub tools: Vec<ToolSpec>,
    /// WebSocket-level pings sent by the daemon (the real one: every 30 s). Default `None`.
    pub ping_interval: Option<Duration>,
    /// Largest incoming message or frame; a bigger one is closed with 1009. Default 32 MiB.
    pub max_message_bytes: usize,
    /// Tool runs at once across all connections; the rest queue silently. Default 24.
    pub max_concurrent_tools: usize,
    /// Acknowledge the hello, then close the connection at once (a daemon that is restarting
    /// or broken). Default false.
    pub close_after_hello: bool,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        DaemonConfig {
            token: None,
            max_connections_per_ip: 10,
            max_connections: 1000,
            rate_limit: Some(RateLimit::DAEMON_SESSION),
            ip_rate_limit: Some(RateLimit::DAEMON_IP),
            progress_interval: Duration::from_millis(50),
            hello_timeout: Duration::from_secs(15),
            send_stream_complete: true,
            duplicate_final: false,
            cache: true,
            tools: default_tools(),
            ping_interval: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            max_concurrent_tools: 24,
            close_after_hello: false,
        }
    }
}

/// A token bucket: `burst` frames at once, refilled at `per_sec` frames per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Bucket capacity, and its content when a session first appears.
    pub burst: u32,
    /// Refill rate in frames per second.
    pub per_sec: f64,
}

impl RateLimit {
    /// The real daemon's limit per hello session (its `rate_limiter.py` defaults).
    pub const DAEMON_SESSION: RateLimit = RateLimit {
        burst: 50,
        per_sec: 5.0,
    };
    /// The real daemon's limit per client IP.
    pub const DAEMON_IP: RateLimit = RateLimit {
        burst: 100,
        per_sec: 10.0,
    };
}

/// One advertised tool, as `list_tools_res` reports it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolSpec {
    /// Tool name without any `_EXAI-WS` suffix.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// JSON schema of the arguments, sent as `inputSchema`.
    pub input_schema: serde_json::Value,
}

impl ToolSpec {
    /// Builds a spec. A name that is not a built-in tool runs a generic tool whose result
    /// text is `{"tool":<name>,"arguments":<arguments>}`.
    pub fn new(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: serde_json::Value,
    ) -> ToolSpec {
        ToolSpec {
            name: name.into(),
            description: description.into(),
            input_schema,
        }
    }
}

/// A snapshot of what the daemon has seen and done. See [`TestDaemon::stats`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DaemonStats {
    /// Connections admitted (WebSocket handshake done, within the connection limits).
    pub connections_accepted: u64,
    /// Admitted connections still open.
    pub live_connections: usize,
    /// Live connections that completed the hello.
    pub authenticated: usize,
    /// Every session id acknowledged in a `hello_ack`, in order (generated ones included).
    pub hello_session_ids: Vec<String>,
    /// Every `request_id` received, in order. An id-less call is recorded as `"unknown"`,
    /// the id the daemon uses for it.
    pub request_ids: Vec<String>,
    /// `call_tool` and `tool_call` frames handled.
    pub calls: u64,
    /// `list_tools` frames handled.
    pub list_tools: u64,
    /// `ping` frames handled (protocol pings, not WebSocket pings).
    pub pings: u64,
    /// Tool executions running now, across all connections.
    pub running_calls: usize,
    /// Largest number of calls one connection handled at once. Must never exceed 1.
    pub max_running_calls_per_connection: usize,
    /// Close codes the daemon sent, in order.
    pub closes: Vec<u16>,
    /// `OVER_CAPACITY` error frames sent.
    pub over_capacity: u64,
    /// Call frames whose `request_id` an earlier call already used (id-less calls count as
    /// `"unknown"`). Other ops naming a call's id, such as `cancel`, are not counted.
    pub reused_request_ids: u64,
    /// `call_tool_res` frames sent (duplicates, cached, in-flight and validation errors included).
    pub results_sent: u64,
}
