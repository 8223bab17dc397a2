import { describe, expect, it } from "vitest";
import type { HubEvent } from "../api";
import { log, request, session, snapshot, upstream } from "../test/fixtures";
import {
  applyEvent,
  applySnapshot,
  initialState,
  LOG_LIMIT,
  mergeLogs,
  REQUEST_LIMIT,
  sessionLabel,
  type HubState,
} from "./hub";

function apply(state: HubState, ...events: HubEvent[]): HubState {
  return events.reduce(applyEvent, state);
}

const A = "00000000000000a1";
const B = "00000000000000b1";

describe("applySnapshot", () => {
  it("loads sessions in the hub's order and the upstream", () => {
    const state = applySnapshot(initialState, snapshot({ sessions: [session(B), session(A)], upstream: upstream({ tools: 3 }) }));
    expect(state.loaded).toBe(true);
    expect([...state.sessions.keys()]).toEqual([B, A]);
    expect(state.upstream?.tools).toBe(3);
    expect(state.hubVersion).toBe("0.1.0");
    expect(state.host?.kind).toBe("headless");
  });

  it("forgets request timelines of sessions that are gone and clears a lag", () => {
    let state = applySnapshot(initialState, snapshot({ sessions: [session(A), session(B)] }));
    state = apply(
      state,
      { type: "request_finished", request: request(A, 1) },
      { type: "request_finished", request: request(B, 2) },
      { type: "lagged", missed: 3 },
    );
    expect(state.stale).toBe(true);
    state = applySnapshot(state, snapshot({ sessions: [session(B)] }));
    expect(state.stale).toBe(false);
    expect([...state.requests.keys()]).toEqual([B]);
  });
});

describe("applyEvent", () => {
  const loaded = applySnapshot(initialState, snapshot({ sessions: [session(A)] }));

  it("appends appearing sessions and replaces changed ones in place", () => {
    const state = apply(
      loaded,
      { type: "session_appeared", session: session(B, { name: "beta" }) },
      { type: "session_changed", session: session(A, { state: "lost", doing: ["tools/call echo"] }) },
    );
    expect([...state.sessions.keys()]).toEqual([A, B]);
    expect(state.sessions.get(A)?.state).toBe("lost");
    expect(state.sessions.get(B)?.name).toBe("beta");
  });

  it("takes a change for an unknown session as its appearance", () => {
    const state = apply(loaded, { type: "session_changed", session: session(B) });
    expect(state.sessions.has(B)).toBe(true);
  });

  it("removes a gone session with its timeline, and ignores an unknown one", () => {
    let state = apply(loaded, { type: "request_finished", request: request(A, 1) }, { type: "session_gone", id: A });
    expect(state.sessions.size).toBe(0);
    expect(state.requests.size).toBe(0);
    const again = applyEvent(state, { type: "session_gone", id: A });
    expect(again).toBe(state);
  });

  it("replaces the upstream status", () => {
    const state = apply(loaded, { type: "upstream_changed", upstream: upstream({ state: "down", last_error: "refused" }) });
    expect(state.upstream?.state).toBe("down");
    expect(state.upstream?.last_error).toBe("refused");
  });

  it("keeps the last REQUEST_LIMIT requests per known session, without duplicates", () => {
    let state = loaded;
    for (let i = 0; i < REQUEST_LIMIT + 5; i++) state = applyEvent(state, { type: "request_finished", request: request(A, i * 10) });
    state = applyEvent(state, { type: "request_finished", request: request(A, (REQUEST_LIMIT + 4) * 10) });
    const timeline = state.requests.get(A) ?? [];
    expect(timeline).toHaveLength(REQUEST_LIMIT);
    expect(timeline[0].started_at).toBe(50);
    expect(timeline.at(-1)?.started_at).toBe((REQUEST_LIMIT + 4) * 10);
  });

  it("drops requests of sessions it does not know, so nothing leaks", () => {
    const state = applyEvent(loaded, { type: "request_finished", request: request(B, 1) });
    expect(state.requests.has(B)).toBe(false);
  });

  it("appends logs, bounded to LOG_LIMIT, and skips a repeated seq", () => {
    let state = loaded;
    for (let seq = 1; seq <= LOG_LIMIT + 10; seq++) state = applyEvent(state, { type: "log", record: log(seq) });
    state = applyEvent(state, { type: "log", record: log(LOG_LIMIT + 10) });
    expect(state.logs).toHaveLength(LOG_LIMIT);
    expect(state.logs[0].seq).toBe(11);
    expect(state.logs.at(-1)?.seq).toBe(LOG_LIMIT + 10);
  });

  it("marks the state stale on a lag and leaves it alone for shell-only events", () => {
    expect(applyEvent(loaded, { type: "lagged", missed: 1 }).stale).toBe(true);
    expect(applyEvent(loaded, { type: "focus_requested", session: A })).toBe(loaded);
    expect(
      applyEvent(loaded, { type: "notice", notice: { kind: "daemon_down", title: "t", body: "b", sessions: [] } }),
    ).toBe(loaded);
  });
});

describe("mergeLogs", () => {
  it("unites a fetched tail with lines that arrived as events, in seq order", () => {
    const merged = mergeLogs([log(5), log(6)], [log(3), log(4), log(5)]);
    expect(merged.map((record) => record.seq)).toEqual([3, 4, 5, 6]);
  });

  it("returns the same array when there is nothing new", () => {
    const known = [log(1)];
    expect(mergeLogs(known, [])).toBe(known);
  });
});

describe("sessionLabel", () => {
  it("is the --name, else the editor's name, else empty", () => {
    expect(sessionLabel(session(A, { name: "api" }))).toBe("api");
    expect(sessionLabel(session(A))).toBe("Visual Studio Code");
    expect(sessionLabel(session(A, { client: null }))).toBe("");
  });
});
