// When the first-run card shows and what it says: pure functions of the hub's state, tested by
// vitest (firstrun-state.test.ts). The card itself is firstrun.ts.

import type { ConfigSource, HostInfo, UpstreamConfig, UpstreamStatus, UpstreamTestOutcome } from "../api";

/** Why the card shows, or null when the daemon is fine (or still being dialled). */
export type FirstRunReason = "unconfigured" | "unreachable" | "unauthorized";

export function firstRunReason(host: HostInfo | null, upstream: UpstreamStatus | null): FirstRunReason | null {
  if (!host || !upstream || upstream.state === "connected") return null;
  if (upstream.state === "unauthorized") return "unauthorized";
  if (!host.daemon_configured) return "unconfigured";
  return upstream.state === "down" ? "unreachable" : null;
}

/** The two sentences every reason starts with: what the daemon is, and what to do. */
export const DAEMON_TEXT =
  "The EXAI daemon is the Python server of AI tools that this hub connects every editor window to; it usually listens at ws://127.0.0.1:8079 (often ws://127.0.0.1:3010 under Docker). " +
  "Start it, enter its address and token below, press Test, then Save: the hub reconnects at once and keeps the settings in config.toml.";

export function firstRunTitle(reason: FirstRunReason, url: string): string {
  switch (reason) {
    case "unconfigured":
      return "Connect the hub to your EXAI daemon";
    case "unreachable":
      return `The EXAI daemon does not answer at ${url}`;
    case "unauthorized":
      return `The EXAI daemon at ${url} rejected the token`;
  }
}

const SOURCE_NAME: Record<ConfigSource, string> = {
  default: "the default",
  file: "config.toml",
  environment: "the environment",
  flag: "the command line",
};

/** Notes under the fields when the environment or a flag decides instead of the file. */
export function sourceNotes(config: UpstreamConfig): string[] {
  const notes: string[] = [];
  if (config.url_source === "environment") {
    notes.push("The address comes from EXAI_WS_URL (or EXAI_WS_HOST/EXAI_WS_PORT) in this program's environment, which wins over config.toml.");
  } else if (config.url_source === "flag") {
    notes.push("The address comes from --upstream on the command line, which wins over config.toml.");
  }
  if (config.token_source === "environment") {
    notes.push("The token comes from EXAI_WS_TOKEN in this program's environment, which wins over config.toml.");
  }
  return notes;
}

/** What the token field's placeholder says: never the token, only whether there is one. */
export function tokenPlaceholder(config: UpstreamConfig | null): string {
  if (!config?.token_set) return "none (leave empty if the daemon has no token)";
  return `unchanged (a token is set, from ${SOURCE_NAME[config.token_source]})`;
}

/** The token as the hub's API takes it: null keeps the saved one, "" removes it. */
export function tokenField(value: string, remove: boolean): string | null {
  if (remove) return "";
  return value.trim() === "" ? null : value;
}

export function testTone(outcome: UpstreamTestOutcome): "ok" | "error" {
  return outcome === "ok" ? "ok" : "error";
}
