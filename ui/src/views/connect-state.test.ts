import { describe, expect, it } from "vitest";
import type { EditorStatus } from "../api";
import { editorView } from "./connect-state";

function status(overrides: Partial<EditorStatus>): EditorStatus {
  return {
    editor: "cursor",
    title: "Cursor",
    path: "/home/me/.cursor/mcp.json",
    exists: true,
    connected: true,
    command: "/usr/bin/exai-shim",
    command_exists: true,
    up_to_date: true,
    problem: null,
    ...overrides,
  };
}

describe("editorView", () => {
  it("says connected when the entry is what connecting would write", () => {
    expect(editorView(status({}))).toEqual({ tone: "green", text: "Connected", action: "Reconnect" });
  });

  it("offers Connect when there is no entry, saying when there is no file yet", () => {
    expect(editorView(status({ connected: false, command: null, command_exists: false, up_to_date: false }))).toEqual({
      tone: "grey",
      text: "Not connected",
      action: "Connect",
    });
    expect(editorView(status({ exists: false, connected: false, command: null, command_exists: false })).text).toBe(
      "Not connected (no config file yet)",
    );
  });

  it("is red for an entry whose shim is gone and amber for another shim", () => {
    const gone = editorView(status({ command: "/src/exai/target/debug/exai-shim", command_exists: false, up_to_date: false }));
    expect(gone.tone).toBe("red");
    expect(gone.text).toContain("/src/exai/target/debug/exai-shim does not exist");
    expect(gone.action).toBe("Reconnect");
    const other = editorView(status({ command: "/opt/exai/exai-shim", up_to_date: false }));
    expect(other).toMatchObject({ tone: "amber", action: "Reconnect" });
    expect(other.text).toContain("/opt/exai/exai-shim");
  });

  it("shows why a file cannot be read", () => {
    const view = editorView(status({ connected: false, problem: "/home/me/.cursor/mcp.json is not valid JSON: line 4, column 5" }));
    expect(view).toMatchObject({ tone: "red", action: "Connect" });
    expect(view.text).toContain("line 4, column 5");
  });
});
