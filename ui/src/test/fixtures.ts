// Builders for hub API values in unit tests: complete, valid values with the fields a test
// cares about overridden.

import type { LogRecord, RequestRecord, ServerStatus, SessionInfo, Snapshot, UpstreamStatus } from "../api";

export function upstream(change: Partial<UpstreamStatus> = {}): UpstreamStatus {
  return {
    url: "ws://127.0.0.1:8079",
    state: "connected",
    connections: 4,
    busy: 0,
    pool_size: 4,
    tools: 7,
    queued: 0,
    reconnects: 0,
    last_error: null,
    error_history: [],
    rate_limit: "10 frames/s, burst 100 per IP, 5 frames/s, burst 50 per session",
    rate_limited: 0,
    over_capacity: 0,
    ...change,
  };
}

export function session(id: string, change: Partial<SessionInfo> = {}): SessionInfo {
  return {
    id,
    name: null,
    client: { name: "Visual Studio Code", version: "1.96.0" },
    protocol_version: "2025-06-18",
    pid: 4242,
    parent_pid: 4200,
    peer_pid: 4242,
    cwd: "/home/me/project",
    state: "ready",
    connected_at: 1_700_000_000_000,
    last_activity: 1_700_000_000_000,
    requests: 0,
    errors: 0,
    in_flight: 0,
    recent_latency_ms: null,
    last_error: null,
    doing: [],
    lost_reason: null,
    resumes: 0,
    server: null,
    ...change,
  };
}

export function server(id: number, change: Partial<ServerStatus> = {}): ServerStatus {
  return {
    id,
    name: "server-everything",
    command: "npx -y @modelcontextprotocol/server-everything",
    pid: 5000 + id,
    state: "ready",
    policy: "shared",
    windows: ["a"],
    restarts: 0,
    memory_bytes: 52_428_800,
    last_error: null,
    stderr: [],
    ...change,
  };
}

export function snapshot(change: Partial<Snapshot> = {}): Snapshot {
  return {
    hub_version: "0.1.0",
    endpoint: "exai-hub-v1",
    host: { kind: "headless", pid: 1, dashboard_url: null, daemon_configured: true },
    upstream: upstream(),
    sessions: [],
    started_at: 1_700_000_000_000,
    servers: [],
    ...change,
  };
}

export function log(seq: number, change: Partial<LogRecord> = {}): LogRecord {
  return { seq, at: 1_700_000_000_000 + seq, level: "INFO", target: "exai_hub::upstream", message: `line ${seq}`, session: null, repeat: 1, ...change };
}

export function request(sessionId: string, startedAt: number, change: Partial<RequestRecord> = {}): RequestRecord {
  return {
    session: sessionId,
    method: "tools/call",
    tool: "echo",
    started_at: startedAt,
    duration_ms: 12.5,
    ok: true,
    error: null,
    cancelled: false,
    rate_limited_ms: 0,
    arguments: null,
    from_cache: false,
    ...change,
  };
}
