// What the dashboard knows about the hub, and the pure functions that change it: a snapshot to
// start from, `HubEvent`s applied on top, bounded log and request buffers. No DOM, no I/O; the
// store (store.ts) holds the current value and tells the views.

import { hubIdentity, isRestart, type HubIdentity } from "./link";
import type {
  HostInfo,
  HubEvent,
  LogRecord,
  RequestRecord,
  ServerStatus,
  SessionInfo,
  Snapshot,
  UpstreamStatus,
} from "../api";

/** Log lines kept in memory (the tail the log view shows). */
export const LOG_LIMIT = 2000;
/** Requests kept per session for its timeline (the hub keeps the same number). */
export const REQUEST_LIMIT = 100;

export interface HubState {
  /** A snapshot has been applied; before that the views show "connecting". */
  loaded: boolean;
  hubVersion: string | null;
  endpoint: string | null;
  host: HostInfo | null;
  upstream: UpstreamStatus | null;
  /** By id, in the hub's order (oldest first); new sessions are appended. */
  sessions: ReadonlyMap<string, SessionInfo>;
  /** Wrapped servers' instances by id, oldest first. */
  servers: ReadonlyMap<number, ServerStatus>;
  /** Recent requests by session, oldest first, at most REQUEST_LIMIT each. */
  requests: ReadonlyMap<string, readonly RequestRecord[]>;
  /** Oldest first, at most LOG_LIMIT, strictly increasing `seq`. */
  logs: readonly LogRecord[];
  /** Events were missed (`lagged`); a fresh snapshot and logs are needed. */
  stale: boolean;
  /** The hub process the snapshot came from. */
  identity: HubIdentity | null;
  /** The last time a snapshot came from another hub process than the one before (a restart). */
  restarted: { from: HubIdentity; to: HubIdentity } | null;
}

export const initialState: HubState = {
  loaded: false,
  hubVersion: null,
  endpoint: null,
  host: null,
  upstream: null,
  sessions: new Map(),
  servers: new Map(),
  requests: new Map(),
  logs: [],
  stale: false,
  identity: null,
  restarted: null,
};

/**
 * Replaces everything the snapshot covers; keeps request timelines of sessions still there.
 * A snapshot from another hub process (a restart) starts over: the old hub's log sequence
 * numbers and request timelines mean nothing to the new one.
 */
export function applySnapshot(state: HubState, snapshot: Snapshot): HubState {
  const identity = hubIdentity(snapshot);
  if (isRestart(state.identity, identity)) {
    state = { ...initialState, restarted: { from: state.identity!, to: identity } };
  }
  const sessions = new Map(snapshot.sessions.map((session) => [session.id, session]));
  const requests = new Map([...state.requests].filter(([id]) => sessions.has(id)));
  return {
    ...state,
    identity,
    loaded: true,
    hubVersion: snapshot.hub_version,
    endpoint: snapshot.endpoint,
    host: snapshot.host ?? null,
    upstream: snapshot.upstream,
    sessions,
    servers: new Map((snapshot.servers ?? []).map((server) => [server.id, server])),
    requests,
    stale: false,
  };
}

/** Applies one event. Events for sessions we do not know are taken as appearances. */
export function applyEvent(state: HubState, event: HubEvent): HubState {
  switch (event.type) {
    case "session_appeared":
    case "session_changed":
      return { ...state, sessions: withSession(state.sessions, event.session) };
    case "session_gone": {
      if (!state.sessions.has(event.id) && !state.requests.has(event.id)) return state;
      const sessions = new Map(state.sessions);
      sessions.delete(event.id);
      const requests = new Map(state.requests);
      requests.delete(event.id);
      return { ...state, sessions, requests };
    }
    case "upstream_changed":
      return { ...state, upstream: event.upstream };
    case "request_finished":
      return { ...state, requests: withRequests(state, event.request.session, [event.request]) };
    case "log":
      return { ...state, logs: mergeLogs(state.logs, [event.record]) };
    case "lagged":
      return { ...state, stale: true };
    case "notice":
    case "focus_requested":
      // Side effects for the shell (toasts, navigation); nothing to remember.
      return state;
    case "server_changed":
      return { ...state, servers: withServer(state.servers, event.server) };
  }
}

/**
 * Replaces a server's status. Events carry no resident memory (the hub reads it from the
 * system for snapshots only): the last known figure stays while the process is the same one.
 */
export function withServer(servers: ReadonlyMap<number, ServerStatus>, server: ServerStatus): ReadonlyMap<number, ServerStatus> {
  const known = servers.get(server.id);
  const memory = server.memory_bytes ?? (known && known.pid === server.pid && server.pid !== null ? known.memory_bytes : null);
  const next = new Map(servers);
  next.set(server.id, { ...server, memory_bytes: memory });
  return next;
}

function withSession(sessions: ReadonlyMap<string, SessionInfo>, session: SessionInfo) {
  const next = new Map(sessions);
  next.set(session.id, session);
  return next;
}

/** Adds requests to a known session's timeline, without duplicates, keeping the newest. */
export function withRequests(
  state: HubState,
  session: string,
  records: readonly RequestRecord[],
): ReadonlyMap<string, readonly RequestRecord[]> {
  // A record for a session we never saw (or already forgot) would never be freed.
  if (!state.sessions.has(session)) return state.requests;
  const known = state.requests.get(session) ?? [];
  const merged = mergeRequests(known, records);
  if (merged === known) return state.requests;
  const next = new Map(state.requests);
  next.set(session, merged);
  return next;
}

function requestKey(record: RequestRecord): string {
  return `${record.started_at}|${record.method}|${record.tool ?? ""}|${record.duration_ms}`;
}

/** Union of two request lists by identity, ordered by finish time, the last REQUEST_LIMIT. */
export function mergeRequests(
  known: readonly RequestRecord[],
  incoming: readonly RequestRecord[],
): readonly RequestRecord[] {
  const seen = new Set(known.map(requestKey));
  const fresh = incoming.filter((record) => !seen.has(requestKey(record)));
  if (fresh.length === 0) return known;
  const finished = (record: RequestRecord) => record.started_at + record.duration_ms;
  const merged = [...known, ...fresh].sort((a, b) => finished(a) - finished(b));
  return merged.slice(-REQUEST_LIMIT);
}

/**
 * Union of two log lists by `seq`, oldest first, the last LOG_LIMIT. The common case (one
 * newer record) appends without sorting.
 */
export function mergeLogs(known: readonly LogRecord[], incoming: readonly LogRecord[]): readonly LogRecord[] {
  if (incoming.length === 0) return known;
  const last = known.length > 0 ? known[known.length - 1].seq : -1;
  if (incoming.length === 1 && incoming[0].seq === last) {
    // The hub counted a repeat of its newest line: the same seq with a higher `repeat`.
    return [...known.slice(0, -1), incoming[0]];
  }
  let merged: LogRecord[];
  if (incoming.every((record, index) => record.seq > (index === 0 ? last : incoming[index - 1].seq))) {
    merged = known.concat(incoming);
  } else {
    const bySeq = new Map(known.map((record) => [record.seq, record]));
    for (const record of incoming) bySeq.set(record.seq, record);
    merged = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }
  return merged.length > LOG_LIMIT ? merged.slice(merged.length - LOG_LIMIT) : merged;
}

/** What the session row is called: its `--name`, else the editor's name. */
export function sessionLabel(session: SessionInfo): string {
  return session.name ?? session.client?.name ?? "";
}

/** Sessions with a connected shim (ready or degraded). */
export function liveSessions(state: HubState): SessionInfo[] {
  return [...state.sessions.values()].filter((s) => s.state === "ready" || s.state === "degraded");
}
