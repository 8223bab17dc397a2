// What the Connect page says about one editor's config file (pure, so it is unit-tested):
// the colour, the words and the button, from the backend's `EditorStatus`.

import type { EditorStatus } from "../api";

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
