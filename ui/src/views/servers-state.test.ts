import { describe, expect, it } from "vitest";
import { server, session } from "../test/fixtures";
import { applyEvent, applySnapshot, initialState } from "../state/hub";
import { snapshot } from "../test/fixtures";
import { formatBytes, serverRow, serversSummary, STDERR_SHOWN } from "./servers-state";

const sessions = new Map([
  ["a", session("a", { name: "api" })],
  ["b", session("b", { name: null, client: null, pid: 77 })],
]);

describe("a server's row", () => {
  it("says state, pid, memory, windows by label, restarts and policy", () => {
    const row = serverRow(server(1, { windows: ["a", "b", "c"], restarts: 2, memory_bytes: 50 * 1024 * 1024 }), sessions);
    expect(row).toMatchObject({
      name: "server-everything",
      command: "npx -y @modelcontextprotocol/server-everything",
      stateText: "Ready",
      tone: "ready",
      pid: "5001",
      memory: "50.0 MiB",
      windows: "3: api, pid 77, session c",
      restarts: "2",
      policy: "shared",
    });
  });

  it("shows a stopped server without pid or memory, and crash-loop as red", () => {
    expect(serverRow(server(1, { state: "stopped", pid: null, memory_bytes: null, windows: [] }), sessions)).toMatchObject({
      stateText: "Stopped",
      pid: "–",
      memory: "–",
      windows: "none",
    });
    expect(serverRow(server(1, { state: "crash-loop" }), sessions)).toMatchObject({ stateText: "Crash-loop", tone: "lost" });
    expect(serverRow(server(1, { state: "restarting" }), sessions).tone).toBe("degraded");
  });

  it("keeps the last stderr lines and counts the rest", () => {
    const stderr = Array.from({ length: 7 }, (_, n) => `line ${n}`);
    const row = serverRow(server(1, { stderr, last_error: "exited (exit status: 3)" }), sessions);
    expect(row.stderr).toEqual(stderr.slice(-STDERR_SHOWN));
    expect(row.stderrMore).toBe(7 - STDERR_SHOWN);
    expect(row.lastError).toBe("exited (exit status: 3)");
    expect(serverRow(server(1), sessions)).toMatchObject({ stderr: [], stderrMore: 0 });
  });

  it("formats memory in binary units", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(2048)).toBe("2.0 KiB");
    expect(formatBytes(3 * 1024 ** 3)).toBe("3.0 GiB");
  });

  it("summarises the page", () => {
    expect(serversSummary([])).toBe("");
    expect(serversSummary([server(1), server(2, { state: "crash-loop", pid: null })])).toBe("1 running · 1 in crash-loop");
  });
});

describe("servers in the dashboard state", () => {
  it("come from the snapshot and follow server_changed, keeping memory for the same process", () => {
    let state = applySnapshot(initialState, snapshot({ servers: [server(1, { memory_bytes: 1000 })] }));
    expect(state.servers.get(1)?.memory_bytes).toBe(1000);
    // Events carry no memory figure: the last one stays while the pid is the same.
    state = applyEvent(state, { type: "server_changed", server: server(1, { memory_bytes: null, windows: ["a", "b"] }) });
    expect(state.servers.get(1)).toMatchObject({ memory_bytes: 1000, windows: ["a", "b"] });
    // A new process has no figure yet.
    state = applyEvent(state, { type: "server_changed", server: server(1, { memory_bytes: null, pid: 9999 }) });
    expect(state.servers.get(1)?.memory_bytes).toBeNull();
    state = applyEvent(state, { type: "server_changed", server: server(2) });
    expect([...state.servers.keys()]).toEqual([1, 2]);
  });
});
