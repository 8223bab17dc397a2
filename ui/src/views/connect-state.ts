// What the Connect page says about one editor's config file (pure, so it is unit-tested):
// the colour, the words and the button, from the backend's `EditorStatus`.

import type { EditorStatus, WrapPreview, WrapServer } from "../api";

export type EditorTone = "green" | "amber" | "red" | "grey";

export interface EditorView {
  tone: EditorTone;
  /** One short sentence. */
  text: string;
  /** The button: connect for the first time, or write the entry again. */
  action: "Connect" | "Reconnect";
}

export function editorView(status: EditorStatus): EditorView {
  if (status.problem) {
    return { tone: "red", text: `Cannot read this file: ${status.problem}`, action: status.connected ? "Reconnect" : "Connect" };
  }
  if (!status.connected) {
    return {
      tone: "grey",
      text: status.exists ? "Not connected" : "Not connected (no config file yet)",
      action: "Connect",
    };
  }
  const command = status.command ?? "its command";
  if (!status.command_exists) {
    return { tone: "red", text: `Connected, but ${command} does not exist: reconnect to fix it`, action: "Reconnect" };
  }
  if (!status.up_to_date) {
    return { tone: "amber", text: `Connected to another exai-shim (${command}): reconnect to use this one`, action: "Reconnect" };
  }
  return { tone: "green", text: "Connected", action: "Reconnect" };
}

/** One server in the "Share these servers through EXAI" preview. */
export interface ShareRow {
  name: string;
  /** The project folder (Claude Code's per-project servers), or null. */
  project: string | null;
  /** Whether the button rewrites it. */
  changed: boolean;
  /** The command line now, and afterwards (equal when it is left). */
  before: string;
  after: string;
  /** `env kept: A, B (values not shown)`, or null without env; never a value. */
  env: string | null;
  /** Why it is left alone (`already runs through exai-shim`), or null when it changes. */
  left: string | null;
}

export interface ShareView {
  /** Whether the page offers sharing for this editor at all. */
  offer: boolean;
  /** The servers as the next action would treat them: Wrap's preview, else Unwrap's. */
  rows: ShareRow[];
  /** How many servers Wrap and Unwrap would rewrite. */
  nWrap: number;
  nUnwrap: number;
  /** Wrap needs servers to wrap and an existing shim; Unwrap needs wrapped servers. */
  canWrap: boolean;
  canUnwrap: boolean;
  /** One sentence above the list. */
  summary: string;
  /** Why Wrap is refused (the shim is missing), or null. */
  refusal: string | null;
  /** The buttons' words: `Wrap 2 servers`, `Unwrap 1 server`. */
  wrapText: string;
  unwrapText: string;
}

function servers(n: number): string {
  return n === 1 ? "1 server" : `${n} servers`;
}

function shareRow(server: WrapServer): ShareRow {
  return {
    name: server.name,
    project: server.project,
    changed: server.changed,
    before: server.before,
    after: server.after,
    env: server.env_keys.length > 0 ? `env kept: ${server.env_keys.join(", ")} (values not shown)` : null,
    left: server.changed ? null : server.reason.replace(/^left: /, ""),
  };
}

/** What the share card shows for one editor, from the backend's preview. */
export function shareView(preview: WrapPreview): ShareView {
  const nWrap = preview.wrap.filter((server) => server.changed).length;
  const nUnwrap = preview.unwrap.filter((server) => server.changed).length;
  const offer = preview.exists && !preview.problem && (nWrap > 0 || nUnwrap > 0);
  const refusal =
    nWrap > 0 && !preview.shim_found
      ? `${preview.shim_path} does not exist, and every wrapped server would fail to start without it: install EXAI or build it (scripts/run.sh) first.`
      : null;
  const summary =
    nWrap > 0
      ? `${servers(nWrap)} in ${preview.title}'s file can run through exai-shim, so every window shares one instance of each.${nUnwrap > 0 ? ` ${servers(nUnwrap)} already ${nUnwrap === 1 ? "does" : "do"}.` : ""}`
      : `${servers(nUnwrap)} in ${preview.title}'s file ${nUnwrap === 1 ? "runs" : "run"} through exai-shim; Unwrap gives each its own command back.`;
  return {
    offer,
    rows: (nWrap > 0 ? preview.wrap : preview.unwrap).map(shareRow),
    nWrap,
    nUnwrap,
    canWrap: nWrap > 0 && preview.shim_found,
    canUnwrap: nUnwrap > 0,
    summary,
    refusal,
    wrapText: `Wrap ${servers(nWrap)}`,
    unwrapText: `Unwrap ${servers(nUnwrap)}`,
  };
}
