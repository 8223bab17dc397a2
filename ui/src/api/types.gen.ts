// Generated from crates/exai-hub/src/api.rs by ts-rs (cargo test -p exai-hub).
// Do not edit: change the Rust types, then run with EXAI_UPDATE_TYPES=1.

export type UpstreamState = "connecting" | "connected" | "down" | "unauthorized";

export type UpstreamStatus = { 
/**
 * The daemon URL (never with the token).
 */
url: string, 
/**
 * Overall state.
 */
state: UpstreamState, 
/**
 * Pooled connections that are up.
 */
connections: number, 
/**
 * Of those, how many run a call now.
 */
busy: number, 
/**
 * Configured pool size.
 */
pool_size: number, 
/**
 * Tools in the catalog (0 before the first fetch).
 */
tools: number, 
/**
 * Calls waiting for a free connection.
 */
queued: number, 
/**
 * How many times a pooled connection was (re)established after the first.
 */
reconnects: number, 
/**
 * The last connection or protocol error, in words; cleared once the daemon is connected
 * again (the error stays in `error_history`).
 */
last_error: string | null, 
/**
 * Earlier errors, oldest first, at most 8; a repeat of the newest only raises its count.
 */
error_history: Array<UpstreamErrorRecord>, 
/**
 * The rate limit the hub keeps under, in words (`10 frames/s, burst 100 per IP, ...`);
 * `None` when pacing is off.
 */
rate_limit: string | null, 
/**
 * Calls held back right now by that rate limit (the hub paces what it sends).
 */
rate_limited: number, 
/**
 * How often the daemon still refused a frame as over capacity; each one was retried.
 */
over_capacity: number, };

export type UpstreamErrorRecord = { 
/**
 * When it last happened.
 */
at: number, 
/**
 * The error, in words.
 */
message: string, 
/**
 * How many times in a row it happened.
 */
count: number, };

export type SessionState = "ready" | "degraded" | "lost" | "closed";

export type ClientInfo = { 
/**
 * e.g. `Visual Studio Code`.
 */
name: string, 
/**
 * e.g. `1.96.0`.
 */
version: string, };

export type SessionInfo = { 
/**
 * The session id.
 */
id: string, 
/**
 * The user's label (`--name`), if any.
 */
name: string | null, 
/**
 * The editor, once it said who it is.
 */
client: ClientInfo | null, 
/**
 * The MCP protocol version negotiated with the editor.
 */
protocol_version: string | null, 
/**
 * The shim's process id.
 */
pid: number, 
/**
 * The shim's parent (the editor) process id, when known.
 */
parent_pid: number | null, 
/**
 * The peer process id as the operating system reports it, when it can.
 */
peer_pid: number | null, 
/**
 * The shim's working directory.
 */
cwd: string | null, 
/**
 * State.
 */
state: SessionState, 
/**
 * When the session connected.
 */
connected_at: number, 
/**
 * Last message from or to the editor.
 */
last_activity: number, 
/**
 * Requests answered.
 */
requests: number, 
/**
 * Requests answered with an error (JSON-RPC error or `isError` result).
 */
errors: number, 
/**
 * Requests running now.
 */
in_flight: number, 
/**
 * Mean duration of the last few requests, in milliseconds.
 */
recent_latency_ms: number | null, 
/**
 * The last error, in words.
 */
last_error: string | null, 
/**
 * What the session was doing when it was lost or closed (the methods/tools in flight).
 */
doing: Array<string>, 
/**
 * Why the window is lost, in words (how its shim's connection ended); `None` unless lost.
 */
lost_reason: string | null, 
/**
 * How many times the shim reconnected to resume this session.
 */
resumes: number, 
/**
 * The wrapped MCP server this window stands for (its name, as in [`ServerStatus::name`]);
 * `None`: the EXAI daemon's tools.
 */
server: string | null, };

export type HostKind = "headless" | "tray";

export type HostInfo = { 
/**
 * Tray app or headless.
 */
kind: HostKind, 
/**
 * Its process id.
 */
pid: number, 
/**
 * The dashboard's address, without its token, when one is served over HTTP.
 */
dashboard_url: string | null, 
/**
 * A daemon URL was configured (file, environment or flag); when not, an unreachable
 * daemon counts as "not configured yet" rather than "down" in the overall colour.
 * (Absent from an older hub's snapshot: then `false`.)
 */
daemon_configured: boolean, };

export type Snapshot = { 
/**
 * The hub's version.
 */
hub_version: string, 
/**
 * The local endpoint shims connect to.
 */
endpoint: string, 
/**
 * What runs the hub.
 */
host: HostInfo, 
/**
 * The upstream.
 */
upstream: UpstreamStatus, 
/**
 * Sessions, oldest first; lost ones stay for a while.
 */
sessions: Array<SessionInfo>, 
/**
 * When this hub started. With `host.pid`, it tells a page that a hub restarted under it.
 * (Absent from an older hub's snapshot: then 0.)
 */
started_at: number, 
/**
 * Wrapped MCP servers (`exai-shim -- COMMAND ...`), oldest first. (Absent from an older
 * hub's snapshot: then empty.)
 */
servers: Array<ServerStatus>, };

export type RequestRecord = { 
/**
 * The session it came from.
 */
session: string, 
/**
 * The MCP method (`tools/call`, `tools/list`, ...).
 */
method: string, 
/**
 * The tool, for `tools/call`.
 */
tool: string | null, 
/**
 * When it started.
 */
started_at: number, 
/**
 * How long it took, in milliseconds.
 */
duration_ms: number, 
/**
 * Whether it succeeded.
 */
ok: boolean, 
/**
 * The error, in words, when it failed.
 */
error: string | null, 
/**
 * Cancelled by the editor (no answer was sent).
 */
cancelled: boolean, 
/**
 * Milliseconds the request was held back by the daemon's rate limit (0: not at all).
 */
rate_limited_ms: number, 
/**
 * The tool's arguments as compact JSON, cut to [`ARGUMENTS_SHOWN`] bytes (ending in `…`
 * when cut); `None` for other methods.
 */
arguments: string | null, 
/**
 * The daemon answered from its cache (or from an identical call in flight): the duration
 * is the cache's, not the tool's.
 */
from_cache: boolean, };

export type ToolInfo = { 
/**
 * The tool's name, as editors call it.
 */
name: string, 
/**
 * What it does, in the daemon's words (empty when it gave none).
 */
description: string, };

export type LogRecord = { 
/**
 * Monotonic sequence number, to de-duplicate snapshot and stream.
 */
seq: number, 
/**
 * When it was logged.
 */
at: number, 
/**
 * `ERROR`, `WARN`, `INFO`, `DEBUG` or `TRACE`.
 */
level: string, 
/**
 * The tracing target (module path).
 */
target: string, 
/**
 * The message as a sentence; structured fields follow in parentheses as `key: value`
 * (`None`, empty values and the session left out, `Some(..)` and quotes taken off).
 */
message: string, 
/**
 * The session it concerns, when a `session` field or span says so.
 */
session: string | null, 
/**
 * How many times in a row the same line (level, target, session, message) was logged;
 * a repeat raises this on the one record (same `seq`, `at` of the latest) instead of
 * adding a line. 1: once.
 */
repeat: number, };

export type NoticeKind = "sessions_lost" | "daemon_down" | "token_rejected" | "daemon_back" | "server_crash_loop";

export type Notice = { 
/**
 * What it is about.
 */
kind: NoticeKind, 
/**
 * One short line, e.g. `EXAI: window "api" lost`.
 */
title: string, 
/**
 * The details: labels, editors, pids, what they were doing, what to do.
 */
body: string, 
/**
 * The sessions it concerns.
 */
sessions: Array<string>, };

export type HubEvent = { "type": "session_appeared", 
/**
 * The session.
 */
session: SessionInfo, } | { "type": "session_changed", 
/**
 * The session as it is now.
 */
session: SessionInfo, } | { "type": "session_gone", 
/**
 * Its id.
 */
id: string, } | { "type": "upstream_changed", 
/**
 * The status as it is now.
 */
upstream: UpstreamStatus, } | { "type": "server_changed", 
/**
 * The instance as it is now.
 */
server: ServerStatus, } | { "type": "request_finished", 
/**
 * What it was and how it ended.
 */
request: RequestRecord, } | { "type": "log", 
/**
 * The record.
 */
record: LogRecord, } | { "type": "notice", 
/**
 * What to say.
 */
notice: Notice, } | { "type": "focus_requested", 
/**
 * The session to show, if any.
 */
session: string | null, } | { "type": "lagged", 
/**
 * How many events were missed.
 */
missed: number, };

export type Snippet = { 
/**
 * A stable key: `vscode`, `vscode-user`, `cursor`, `claude-desktop`, `augment`.
 */
editor: string, 
/**
 * What the user sees, e.g. `VS Code (this workspace)`.
 */
title: string, 
/**
 * Where it goes, e.g. `.vscode/mcp.json in your project`.
 */
target: string, 
/**
 * The snippet's language (`json`).
 */
language: string, 
/**
 * The snippet itself.
 */
content: string, };

export type ConnectInfo = { 
/**
 * The absolute path of `exai-shim` the snippets use.
 */
shim_path: string, 
/**
 * Whether that file exists (when not, the page says how to build or install it).
 */
shim_found: boolean, 
/**
 * The non-default hub endpoint the snippets pass to the shim (`--endpoint`), if any.
 */
endpoint: string | null, 
/**
 * One snippet per editor and place.
 */
snippets: Array<Snippet>, };

export type EditorStatus = { 
/**
 * A stable key: `code`, `cursor`, `claude-desktop`, `claude-code`, `windsurf`, `zed`, `codex`.
 */
editor: string, 
/**
 * What the user sees, e.g. `VS Code`.
 */
title: string, 
/**
 * The config file, absolute.
 */
path: string, 
/**
 * Whether that file exists.
 */
exists: boolean, 
/**
 * Whether it has an `exai` entry.
 */
connected: boolean, 
/**
 * The command the `exai` entry runs, when there is one.
 */
command: string | null, 
/**
 * Whether that command is an existing file.
 */
command_exists: boolean, 
/**
 * Whether the entry is exactly what connecting would write now (nothing to do).
 */
up_to_date: boolean, 
/**
 * Why the file could not be read (not JSON, not TOML, unreadable), in words.
 */
problem: string | null, };

export type ConnectResult = { 
/**
 * The editor's key, as in [`EditorStatus::editor`].
 */
editor: string, 
/**
 * The file written (or that would be, for a dry run).
 */
path: string, 
/**
 * Whether the file changed (false: the entry was already there, nothing was written).
 */
changed: boolean, 
/**
 * Where the file was copied before it was changed (none when it did not exist or did not
 * change).
 */
backup: string | null, 
/**
 * One sentence for the user: what was done, where, and what to do next.
 */
message: string, 
/**
 * The editor's status afterwards.
 */
status: EditorStatus, };

export type WrapDirection = "wrap" | "unwrap";

export type WrapOutcome = "wrapped" | "unwrapped" | "already_wrapped" | "not_wrapped" | "remote" | "exai" | "unsupported";

export type WrapServer = { 
/**
 * Its name in the file.
 */
name: string, 
/**
 * The project folder it belongs to (Claude Code's `projects.<dir>.mcpServers`), `None`
 * for the file's own servers.
 */
project: string | null, 
/**
 * What happens to it.
 */
outcome: WrapOutcome, 
/**
 * Whether its entry is rewritten.
 */
changed: boolean, 
/**
 * In words: `wrapped`, or `left: <why>`.
 */
reason: string, 
/**
 * The command line it runs now (empty for a remote server).
 */
before: string, 
/**
 * The command line it runs afterwards (equal to `before` when it is left).
 */
after: string, 
/**
 * The names of the variables in its `env`, sorted (kept as they are; values never shown).
 */
env_keys: Array<string>, };

export type WrapPreview = { 
/**
 * The editor's key, as in [`EditorStatus::editor`].
 */
editor: string, 
/**
 * What the user sees, e.g. `Claude Code`.
 */
title: string, 
/**
 * The config file, absolute.
 */
path: string, 
/**
 * Whether that file exists (no file: no servers to share).
 */
exists: boolean, 
/**
 * The shim the wrapped entries would run.
 */
shim_path: string, 
/**
 * Whether it exists (when not, wrapping is refused: every wrapped server would fail).
 */
shim_found: boolean, 
/**
 * What wrapping would do to each server, in file order.
 */
wrap: Array<WrapServer>, 
/**
 * What unwrapping would do to each server, in file order.
 */
unwrap: Array<WrapServer>, 
/**
 * Why the file could not be read, in words.
 */
problem: string | null, };

export type WrapEditorResult = { 
/**
 * The editor's key.
 */
editor: string, 
/**
 * The file written.
 */
path: string, 
/**
 * Whether the file changed.
 */
changed: boolean, 
/**
 * Where the file was copied before it was changed.
 */
backup: string | null, 
/**
 * One sentence for the user: what was done, where, and what to do next.
 */
message: string, 
/**
 * What happened to each server.
 */
servers: Array<WrapServer>, 
/**
 * The preview afterwards.
 */
preview: WrapPreview, };

export type Settings = { 
/**
 * Tray app or headless hub.
 */
host: HostKind, 
/**
 * Start the tray app at login (`None`: not available here).
 */
autostart: boolean | null, 
/**
 * Show toasts (`None`: not available here).
 */
notifications: boolean | null, 
/**
 * Where the log files are, when there are log files.
 */
log_dir: string | null, };

export type ServerState = "starting" | "ready" | "restarting" | "crash-loop" | "stopped";

export type ServerStatus = { 
/**
 * The instance's number in this hub (1, 2, ...).
 */
id: number, 
/**
 * A short name: the package or program (`server-everything`).
 */
name: string, 
/**
 * The command and arguments (no environment).
 */
command: string, 
/**
 * The process id while it runs.
 */
pid: number | null, 
/**
 * State.
 */
state: ServerState, 
/**
 * The share policy: `shared`, `workspace` or `window`.
 */
policy: string, 
/**
 * The windows using it.
 */
windows: Array<string>, 
/**
 * How many times it was restarted: after a failure, or by the operator.
 */
restarts: number, 
/**
 * Resident memory in bytes, where the system tells it (Linux).
 */
memory_bytes: number | null, 
/**
 * Why it last failed, in words.
 */
last_error: string | null, 
/**
 * Its last stderr lines (at most 20), oldest first.
 */
stderr: Array<string>, };

export type ConfigSource = "default" | "file" | "environment" | "flag";

export type UpstreamConfig = { 
/**
 * The daemon URL in effect.
 */
url: string, 
/**
 * Where that URL came from.
 */
url_source: ConfigSource, 
/**
 * Whether a token is in effect.
 */
token_set: boolean, 
/**
 * Where that token came from (`default`: none).
 */
token_source: ConfigSource, 
/**
 * The config file the dashboard writes (`[upstream] url`, `token`), absolute; `None` when
 * there is no home directory to put one in.
 */
config_path: string | null, 
/**
 * Whether that file exists.
 */
config_exists: boolean, };

export type UpstreamConfigUpdate = { 
/**
 * `ws://HOST:PORT`.
 */
url: string, 
/**
 * `None`: keep the token as it is; an empty string: remove it; else the new token.
 */
token: string | null, };

export type UpstreamConfigSaved = { 
/**
 * The file written, absolute.
 */
path: string, 
/**
 * One or two sentences for the user: what was written and what happens now.
 */
message: string, 
/**
 * The settings in effect afterwards.
 */
config: UpstreamConfig, };

export type UpstreamTest = { 
/**
 * `ws://HOST:PORT`.
 */
url: string, 
/**
 * `None` or empty: the token in effect.
 */
token: string | null, };

export type UpstreamTestOutcome = "ok" | "refused" | "unauthorized" | "timeout" | "invalid" | "failed";

export type UpstreamTestResult = { 
/**
 * How it ended.
 */
outcome: UpstreamTestOutcome, 
/**
 * The same in a sentence, with what to do.
 */
message: string, };
