// The header's status pill: one colour and a few words for everything at once.
//
// The colour follows the one rule the tray icon follows too (`crates/exai-hub/src/overall.rs`;
// both are tested against `crates/exai-hub/src/overall_cases.json`):
//   red    the daemon is down or rejected the token, a session is lost (until dismissed), or
//          a wrapped server is in crash-loop
//   grey   no editor connected (or still loading)
//   amber  a wrapped server is restarting
//   green  the daemon is connected and every connected editor is ready
//   amber  otherwise: connecting, a degraded session, or no daemon configured yet
// Before that rule, the page's own link to the hub: refused or dropped is red.

import type { LinkState, ServerStatus, UpstreamState } from "../api";
import type { HubState } from "./hub";

export type Tone = "green" | "amber" | "red" | "grey";

/** The daemon as the rule sees it (`exai_hub::overall::Daemon`). */
export type Daemon = "starting" | "connecting" | "connected" | "down" | "not_configured" | "unauthorized";

/** Editor windows as the rule counts them (`exai_hub::overall::Windows`). */
export interface Windows {
  ready: number;
  degraded: number;
  /** Lost and not looked at; on the dashboard, every lost session still listed. */
  unseenLost: number;
}

/** Wrapped servers as the rule counts them (`exai_hub::overall::Servers`). */
export interface Servers {
  restarting: number;
  crashLoop: number;
}

export const NO_SERVERS: Servers = { restarting: 0, crashLoop: 0 };

export function countServers(servers: Iterable<ServerStatus>): Servers {
  const counted = { restarting: 0, crashLoop: 0 };
  for (const server of servers) {
    if (server.state === "restarting") counted.restarting += 1;
    if (server.state === "crash-loop") counted.crashLoop += 1;
  }
  return counted;
}

export interface Overall {
  tone: Tone;
  /** A few words for the pill. */
  label: string;
  /** A sentence for the tooltip / screen readers. */
  detail: string;
}

/** `Daemon::of`: an unreachable daemon nobody configured is not an outage. */
export function daemonOf(state: UpstreamState | null, configured: boolean): Daemon {
  if (state === null) return "starting";
  if (state === "down" && !configured) return "not_configured";
  return state;
}

/** The rule (`exai_hub::overall::tone`). */
export function overallTone(daemon: Daemon, windows: Windows, servers: Servers = NO_SERVERS): Tone {
  if (daemon === "down" || daemon === "unauthorized") return "red";
  if (windows.unseenLost > 0 || servers.crashLoop > 0) return "red";
  if (windows.ready + windows.degraded === 0) return "grey";
  if (servers.restarting > 0) return "amber";
  if (daemon === "connected" && windows.degraded === 0) return "green";
  return "amber";
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

const NOT_CONFIGURED = "No EXAI daemon is configured: set EXAI_WS_URL (or url under [upstream] in the config file) to the daemon's address.";

export function overallState(state: HubState, link: LinkState | "connecting"): Overall {
  if (link === "unauthorized") {
    return { tone: "red", label: "Access refused", detail: "The hub refused this page's token; open the URL the hub printed." };
  }
  if (link === "down") {
    return { tone: "red", label: "Hub unreachable", detail: "The connection to the hub dropped; reconnecting." };
  }
  if (!state.loaded || !state.upstream) {
    return { tone: "grey", label: "Connecting…", detail: "Waiting for the hub's first snapshot." };
  }
  const sessions = [...state.sessions.values()];
  const windows: Windows = {
    ready: sessions.filter((s) => s.state === "ready").length,
    degraded: sessions.filter((s) => s.state === "degraded").length,
    // The page lists every lost session until it is dismissed: none counts as looked at.
    unseenLost: sessions.filter((s) => s.state === "lost").length,
  };
  const live = windows.ready + windows.degraded;
  const upstream = state.upstream;
  const daemon = daemonOf(upstream.state, state.host?.daemon_configured ?? true);
  const serverList = [...state.servers.values()];
  const tone = overallTone(daemon, windows, countServers(serverList));
  const looping = serverList.find((server) => server.state === "crash-loop");
  const restarting = serverList.find((server) => server.state === "restarting");

  // The words name the first cause of the colour, in the rule's order.
  if (daemon === "unauthorized") {
    return { tone, label: "Token rejected", detail: `The EXAI daemon at ${upstream.url} rejected the token; fix EXAI_WS_TOKEN.` };
  }
  if (daemon === "down") {
    return { tone, label: "Daemon down", detail: `The EXAI daemon at ${upstream.url} is unreachable; retrying.` };
  }
  if (windows.unseenLost > 0) {
    return { tone, label: `${plural(windows.unseenLost, "session")} lost`, detail: `${plural(windows.unseenLost, "editor window")} went away without a goodbye.` };
  }
  if (looping) {
    return { tone, label: `${looping.name} crash-loop`, detail: `The wrapped server ${looping.name} failed again and again soon after starting and is not restarted until asked: see Servers.` };
  }
  if (live === 0) {
    const why = {
      starting: "The hub is starting.",
      connecting: `The hub is connecting to the EXAI daemon at ${upstream.url}.`,
      connected: "The daemon is connected.",
      not_configured: NOT_CONFIGURED,
    }[daemon];
    return { tone, label: "No editor connected", detail: `${why} No editor window uses the hub yet.` };
  }
  if (restarting) {
    return { tone, label: `${restarting.name} restarting`, detail: `The wrapped server ${restarting.name} failed and is being started again.` };
  }
  if (daemon === "not_configured") {
    return { tone, label: "No daemon configured", detail: NOT_CONFIGURED };
  }
  if (daemon === "connecting" || daemon === "starting") {
    return { tone, label: "Connecting to daemon", detail: `Connecting to the EXAI daemon at ${upstream.url}.` };
  }
  if (windows.degraded > 0) {
    return { tone, label: `${plural(windows.degraded, "session")} degraded`, detail: "Some sessions cannot reach the daemon." };
  }
  return { tone, label: "All ready", detail: `${plural(live, "editor window")} connected; the daemon is connected.` };
}
