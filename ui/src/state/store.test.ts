import { describe, expect, it } from "vitest";
import type { Api, LogRecord, Snapshot } from "../api";
import { log, session, snapshot } from "../test/fixtures";
import { Store } from "./store";

/** An Api whose snapshot and logs resolve when the test says so. */
function pendingApi() {
  let resolveSnapshot!: (value: Snapshot) => void;
  let resolveLogs!: (value: LogRecord[]) => void;
  const api = {
    snapshot: () => new Promise<Snapshot>((resolve) => (resolveSnapshot = resolve)),
    logs: () => new Promise<LogRecord[]>((resolve) => (resolveLogs = resolve)),
  } as unknown as Api;
  return { api, resolve: (snap: Snapshot, logs: LogRecord[]) => (resolveSnapshot(snap), resolveLogs(logs)) };
}

describe("Store.sync", () => {
  it("applies events that arrive during the fetch on top of the snapshot, in order", async () => {
    const store = new Store();
    let changes = 0;
    store.subscribe(() => changes++);
    const { api, resolve } = pendingApi();
    const done = store.sync(api);
    // The snapshot was taken while "a" was ready; the loss arrives before the answer does.
    store.dispatch({ type: "session_changed", session: session("a", { state: "lost" }) });
    store.dispatch({ type: "log", record: log(8) });
    expect(changes).toBe(0);
    resolve(snapshot({ sessions: [session("a")] }), [log(6), log(7), log(8)]);
    await done;
    expect(changes).toBe(1);
    expect(store.state.sessions.get("a")?.state).toBe("lost");
    expect(store.state.logs.map((record) => record.seq)).toEqual([6, 7, 8]);
  });

  it("still applies held events when the fetch fails", async () => {
    const store = new Store();
    const api = { snapshot: () => Promise.reject(new Error("down")), logs: () => Promise.resolve([]) } as unknown as Api;
    const done = store.sync(api);
    store.dispatch({ type: "session_appeared", session: session("b") });
    await expect(done).rejects.toThrow("down");
    expect(store.state.sessions.has("b")).toBe(true);
    expect(store.state.loaded).toBe(false);
  });
});
