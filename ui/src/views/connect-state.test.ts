import { describe, expect, it } from "vitest";
import type { EditorStatus, WrapPreview, WrapServer } from "../api";
import { editorView, shareView } from "./connect-state";

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

function server(overrides: Partial<WrapServer>): WrapServer {
  return {
    name: "memory",
    project: null,
    outcome: "wrapped",
    changed: true,
    reason: "wrapped",
    before: "npx -y @modelcontextprotocol/server-memory",
    after: "/usr/bin/exai-shim --name cursor -- npx -y @modelcontextprotocol/server-memory",
    env_keys: [],
    ...overrides,
  };
}

function preview(overrides: Partial<WrapPreview>): WrapPreview {
  return {
    editor: "cursor",
    title: "Cursor",
    path: "/home/me/.cursor/mcp.json",
    exists: true,
    shim_path: "/usr/bin/exai-shim",
    shim_found: true,
    wrap: [],
    unwrap: [],
    problem: null,
    ...overrides,
  };
}

const remote = server({ name: "linear", outcome: "remote", changed: false, reason: "left: a remote server (URL); only stdio servers (command and args) are shared", before: "", after: "" });

describe("shareView", () => {
  it("offers Wrap with each server before and after, env names only, and what is left and why", () => {
    const view = shareView(
      preview({
        wrap: [server({ env_keys: ["API_KEY", "REGION"] }), remote, server({ name: "git", project: "/home/me/api", before: "uvx mcp-server-git", after: "/usr/bin/exai-shim --name cursor -- uvx mcp-server-git" })],
        unwrap: [server({ outcome: "not_wrapped", changed: false, reason: "left: does not run through exai-shim" })],
      }),
    );
    expect(view.offer).toBe(true);
    expect([view.nWrap, view.nUnwrap, view.canWrap, view.canUnwrap]).toEqual([2, 0, true, false]);
    expect(view.summary).toBe("2 servers in Cursor's file can run through exai-shim, so every window shares one instance of each.");
    expect(view.rows[0]).toEqual({
      name: "memory",
      project: null,
      changed: true,
      before: "npx -y @modelcontextprotocol/server-memory",
      after: "/usr/bin/exai-shim --name cursor -- npx -y @modelcontextprotocol/server-memory",
      env: "env kept: API_KEY, REGION (values not shown)",
      left: null,
    });
    expect(view.rows[1].left).toBe("a remote server (URL); only stdio servers (command and args) are shared");
    expect(view.rows[2].project).toBe("/home/me/api");
    expect(view.refusal).toBeNull();
    expect(view.wrapText).toBe("Wrap 2 servers");
  });

  it("refuses Wrap while the shim is missing, saying where it was expected", () => {
    const view = shareView(preview({ shim_found: false, shim_path: "/opt/exai/exai-shim", wrap: [server({})] }));
    expect(view.offer).toBe(true);
    expect(view.canWrap).toBe(false);
    expect(view.refusal).toMatch(/^\/opt\/exai\/exai-shim does not exist/);
  });

  it("offers Unwrap once every server is wrapped, listing what it restores", () => {
    const wrapped = server({ outcome: "already_wrapped", changed: false, reason: "left: already runs through exai-shim", before: "/usr/bin/exai-shim -- npx x", after: "/usr/bin/exai-shim -- npx x" });
    const view = shareView(preview({ wrap: [wrapped, remote], unwrap: [server({ outcome: "unwrapped", reason: "unwrapped", before: "/usr/bin/exai-shim -- npx x", after: "npx x" }), remote] }));
    expect([view.offer, view.canWrap, view.canUnwrap, view.nUnwrap]).toEqual([true, false, true, 1]);
    expect(view.summary).toBe("1 server in Cursor's file runs through exai-shim; Unwrap gives each its own command back.");
    expect(view.rows[0].after).toBe("npx x");
    expect(view.unwrapText).toBe("Unwrap 1 server");
  });

  it("offers nothing without a file, with an unreadable one, or with only remote servers", () => {
    expect(shareView(preview({ exists: false })).offer).toBe(false);
    expect(shareView(preview({ problem: "not JSON", wrap: [server({})] })).offer).toBe(false);
    expect(shareView(preview({ wrap: [remote], unwrap: [remote] })).offer).toBe(false);
  });
});
