// The header's status pill: one colour and a few words for everything at once.
//   red    the hub link, the daemon (down or token rejected) or any session is lost
//   amber  the daemon is connecting, or a session is degraded
//   grey   nothing to judge yet: no editor connected, or still loading
//   green  every connected editor is ready

import type { LinkState } from "../api";
import type { HubState } from "./hub";

export type Tone = "green" | "amber" | "red" | "grey";

export interface Overall {
  tone: Tone;
  /** A few words for the pill. */
  label: string;
  /** A sentence for the tooltip / screen readers. */
  detail: string;
}

function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

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
  const lost = sessions.filter((s) => s.state === "lost").length;
  const degraded = sessions.filter((s) => s.state === "degraded").length;
  const live = sessions.filter((s) => s.state === "ready" || s.state === "degraded").length;
  const upstream = state.upstream;

  if (upstream.state === "unauthorized") {
    return { tone: "red", label: "Token rejected", detail: `The EXAI daemon at ${upstream.url} rejected the token; fix EXAI_WS_TOKEN.` };
  }
  if (upstream.state === "down") {
    return { tone: "red", label: "Daemon down", detail: `The EXAI daemon at ${upstream.url} is unreachable; retrying.` };
  }
  if (lost > 0) {
    return { tone: "red", label: `${plural(lost, "session")} lost`, detail: `${plural(lost, "editor window")} went away without a goodbye.` };
  }
  if (upstream.state === "connecting") {
    return { tone: "amber", label: "Connecting to daemon", detail: `Connecting to the EXAI daemon at ${upstream.url}.` };
  }
  if (degraded > 0) {
    return { tone: "amber", label: `${plural(degraded, "session")} degraded`, detail: "Some sessions cannot reach the daemon." };
  }
  if (live === 0) {
    return { tone: "grey", label: "No editor connected", detail: "The daemon is connected; no editor window uses the hub yet." };
  }
  return { tone: "green", label: "All ready", detail: `${plural(live, "editor window")} connected; the daemon is connected.` };
}
