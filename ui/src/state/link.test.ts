import { describe, expect, it } from "vitest";
import { log, request, session, snapshot } from "../test/fixtures";
import { applyEvent, applySnapshot, initialState, mergeLogs } from "./hub";
import { DOWN_GRACE_MS, hubIdentity, isRestart, linkNotice, restartMessage } from "./link";

const ORIGIN = "http://127.0.0.1:4321";

describe("a restarted hub", () => {
  it("is another pid or start time, not the same hub answering again", () => {
    const first = hubIdentity(snapshot());
    expect(isRestart(null, first)).toBe(false);
    expect(isRestart(first, hubIdentity(snapshot()))).toBe(false);
    expect(isRestart(first, hubIdentity(snapshot({ host: { ...snapshot().host, pid: 2 } })))).toBe(true);
    expect(isRestart(first, hubIdentity(snapshot({ started_at: 1_700_000_999_000 })))).toBe(true);
  });

  it("makes the page start over: the old hub's logs and requests go", () => {
    let state = applySnapshot(initialState, snapshot({ sessions: [session("a")] }));
    state = { ...state, logs: mergeLogs(state.logs, [log(1), log(2)]) };
    state = applyEvent(state, { type: "request_finished", request: request("a", 5) });
    const again = applySnapshot(state, snapshot({ sessions: [session("a")] }));
    expect(again.logs).toHaveLength(2);
    expect(again.restarted).toBeNull();

    const restarted = applySnapshot(state, snapshot({ host: { ...snapshot().host, pid: 77 }, started_at: 1_700_000_500_000, sessions: [session("a")] }));
    expect(restarted.logs).toEqual([]);
    expect(restarted.requests.size).toBe(0);
    expect(restarted.sessions.has("a")).toBe(true);
    expect(restarted.restarted).toEqual({ from: { pid: 1, startedAt: 1_700_000_000_000 }, to: { pid: 77, startedAt: 1_700_000_500_000 } });
    expect(restartMessage(restarted.restarted!.from, restarted.restarted!.to)).toMatch(/^The hub restarted at \d\d:\d\d:\d\d \(pid 1, now pid 77\)/);
  });
});

describe("the link notice", () => {
  it("says nothing while events flow", () => {
    expect(linkNotice("open", null, 0, ORIGIN)).toBeNull();
    expect(linkNotice("connecting", null, 0, ORIGIN)).toBeNull();
  });

  it("says reconnecting for a short drop, then that the hub stopped and how to reopen the page", () => {
    const short = linkNotice("down", 1000, 1000 + DOWN_GRACE_MS - 1, ORIGIN)!;
    expect(short.stale).toBe(false);
    expect(short.message).toContain("reconnecting");
    const long = linkNotice("down", 1000, 1000 + DOWN_GRACE_MS, ORIGIN)!;
    expect(long.stale).toBe(true);
    expect(long.message).toContain(`The hub at ${ORIGIN} has not answered since`);
    expect(long.message).toContain("EXAI dashboard: http://127.0.0.1:PORT/?token=…");
  });

  it("says a refused token means a restarted hub, with the link to open", () => {
    const notice = linkNotice("unauthorized", 1000, 1000, ORIGIN)!;
    expect(notice.stale).toBe(true);
    expect(notice.message).toContain("restarted with a new one");
    expect(notice.message).toContain("Open the address the hub printed");
    expect(notice.message).toContain(`EXAI dashboard: ${ORIGIN}/?token=…`);
  });
});

describe("repeated log lines", () => {
  it("replace the line with the same seq instead of adding one", () => {
    const known = mergeLogs([], [log(1), log(2, { message: "lost" })]);
    const merged = mergeLogs(known, [log(2, { message: "lost", repeat: 3 })]);
    expect(merged.map((record) => [record.seq, record.repeat])).toEqual([[1, 1], [2, 3]]);
    // An update of an older line (another line came in between) is merged by seq too.
    const older = mergeLogs(mergeLogs(merged, [log(3)]), [log(2, { message: "lost", repeat: 4 })]);
    expect(older.map((record) => [record.seq, record.repeat])).toEqual([[1, 1], [2, 4], [3, 1]]);
  });
});
