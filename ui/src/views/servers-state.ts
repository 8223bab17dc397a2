// The Servers page's pure rules: what each wrapped server's row says, from the hub's
// `ServerStatus` and the sessions that use it. No DOM; tested in servers-state.test.ts.

import type { ServerState, ServerStatus, SessionInfo } from "../api";
import { formatCount } from "../format";
import { sessionLabel } from "../state/hub";

export const SERVER_STATE_TEXT: Record<ServerState, string> = {
  starting: "Starting",
  ready: "Ready",
  restarting: "Restarting",
  "crash-loop": "Crash-loop",
  stopped: "Stopped",
};

/** The dot colour for a state, in the tones the session and daemon dots use. */
export const SERVER_STATE_TONE: Record<ServerState, string> = {
  starting: "connecting",
  ready: "ready",
  restarting: "degraded",
  "crash-loop": "lost",
  stopped: "closed",
};

/** How many stderr lines a row shows before "show all". */
export const STDERR_SHOWN = 3;

export interface ServerRow {
  id: number;
  name: string;
  command: string;
  state: ServerState;
  stateText: string;
  tone: string;
  pid: string;
  memory: string;
  /** The windows using it, by label ("2: api, web"). */
  windows: string;
  restarts: string;
  policy: string;
  /** The last few stderr lines, oldest first; `stderrMore` says how many more there are. */
  stderr: readonly string[];
  stderrMore: number;
  lastError: string | null;
}

/** Bytes as the dashboard shows memory: `48.5 MiB`. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return "–";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function windowsText(server: ServerStatus, sessions: ReadonlyMap<string, SessionInfo>): string {
  if (server.windows.length === 0) return "none";
  const labels = server.windows.map((id) => {
    const session = sessions.get(id);
    return session ? sessionLabel(session) || `pid ${session.pid}` : `session ${id}`;
  });
  return `${server.windows.length}: ${labels.join(", ")}`;
}

export function serverRow(server: ServerStatus, sessions: ReadonlyMap<string, SessionInfo>): ServerRow {
  const shown = server.stderr.slice(-STDERR_SHOWN);
  return {
    id: server.id,
    name: server.name,
    command: server.command,
    state: server.state,
    stateText: SERVER_STATE_TEXT[server.state],
    tone: SERVER_STATE_TONE[server.state],
    pid: server.pid === null ? "–" : String(server.pid),
    memory: formatBytes(server.memory_bytes),
    windows: windowsText(server, sessions),
    restarts: formatCount(server.restarts),
    policy: server.policy,
    stderr: shown,
    stderrMore: server.stderr.length - shown.length,
    lastError: server.last_error,
  };
}

/** The page's count beside its title: `2 running · 1 in crash-loop`. */
export function serversSummary(servers: readonly ServerStatus[]): string {
  if (servers.length === 0) return "";
  const running = servers.filter((server) => server.pid !== null).length;
  const looping = servers.filter((server) => server.state === "crash-loop").length;
  return `${running} running${looping > 0 ? ` · ${looping} in crash-loop` : ""}`;
}

/** How to wrap a server, for the empty state: an editor entry before and after. */
export const WRAP_EXAMPLE = {
  before: '{ "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"] }',
  after: '{ "command": "exai-shim", "args": ["--", "npx", "-y", "@modelcontextprotocol/server-memory"] }',
};
