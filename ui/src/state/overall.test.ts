import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { UpstreamState } from "../api";
import { server, session, snapshot, upstream } from "../test/fixtures";
import { applySnapshot, initialState } from "./hub";
import { daemonOf, overallState, overallTone, type Tone } from "./overall";

/** The cases the hub's own test checks too (`exai_hub::overall`). */
interface SharedCase {
  case: string;
  daemon: UpstreamState | null;
  configured: boolean;
  ready: number;
  degraded: number;
  unseen_lost: number;
  restarting?: number;
  crash_loop?: number;
  tone: Tone;
}
const sharedCases: SharedCase[] = JSON.parse(readFileSync(new URL("../../../crates/exai-hub/src/overall_cases.json", import.meta.url), "utf8"));

describe("overallTone, the rule the tray shares", () => {
  it("has the shared cases", () => expect(sharedCases.length).toBeGreaterThanOrEqual(10));
  it.each(sharedCases)("$case: $tone", (c) => {
    const windows = { ready: c.ready, degraded: c.degraded, unseenLost: c.unseen_lost };
    const servers = { restarting: c.restarting ?? 0, crashLoop: c.crash_loop ?? 0 };
    expect(overallTone(daemonOf(c.daemon, c.configured), windows, servers)).toBe(c.tone);
  });
});

const state = (...args: Parameters<typeof snapshot>) => applySnapshot(initialState, snapshot(...args));

describe("overallState", () => {
  it("is grey while loading and when no editor is connected", () => {
    expect(overallState(initialState, "connecting").tone).toBe("grey");
    expect(overallState(state(), "open")).toMatchObject({ tone: "grey", label: "No editor connected" });
    // A closed window is not a connected editor.
    expect(overallState(state({ sessions: [session("a", { state: "closed" })] }), "open").tone).toBe("grey");
  });

  it("is green when every connected editor is ready", () => {
    expect(overallState(state({ sessions: [session("a"), session("b")] }), "open")).toMatchObject({ tone: "green", label: "All ready" });
  });

  it("is amber while the daemon connects or a session is degraded", () => {
    expect(overallState(state({ upstream: upstream({ state: "connecting" }), sessions: [session("a")] }), "open")).toMatchObject({
      tone: "amber",
      label: "Connecting to daemon",
    });
    // With no editor there is nothing to judge yet, as on the tray.
    expect(overallState(state({ upstream: upstream({ state: "connecting" }) }), "open")).toMatchObject({ tone: "grey", label: "No editor connected" });
    expect(overallState(state({ sessions: [session("a", { state: "degraded" })] }), "open")).toMatchObject({ tone: "amber", label: "1 session degraded" });
  });

  it("is red when the daemon is down or refuses the token, or a session is lost", () => {
    expect(overallState(state({ upstream: upstream({ state: "down" }) }), "open")).toMatchObject({ tone: "red", label: "Daemon down" });
    expect(overallState(state({ upstream: upstream({ state: "unauthorized" }) }), "open")).toMatchObject({ tone: "red", label: "Token rejected" });
    expect(overallState(state({ sessions: [session("a"), session("b", { state: "lost" }), session("c", { state: "lost" })] }), "open")).toMatchObject({
      tone: "red",
      label: "2 sessions lost",
    });
  });

  it("puts a lost session above a connecting daemon, and the hub link above everything", () => {
    const lostWhileConnecting = state({ upstream: upstream({ state: "connecting" }), sessions: [session("a", { state: "lost" })] });
    expect(overallState(lostWhileConnecting, "open").tone).toBe("red");
    const allReady = state({ sessions: [session("a")] });
    expect(overallState(allReady, "down")).toMatchObject({ tone: "red", label: "Hub unreachable" });
    expect(overallState(allReady, "unauthorized")).toMatchObject({ tone: "red", label: "Access refused" });
  });

  it("is amber, not red, when no daemon was ever configured, as on the tray", () => {
    const unconfigured = (sessions: ReturnType<typeof session>[]) =>
      applySnapshot(initialState, snapshot({ host: { kind: "tray", pid: 1, dashboard_url: null, daemon_configured: false }, upstream: upstream({ state: "down" }), sessions }));
    expect(overallState(unconfigured([session("a", { state: "degraded" })]), "open")).toMatchObject({ tone: "amber", label: "No daemon configured" });
    expect(overallState(unconfigured([]), "open")).toMatchObject({ tone: "grey", label: "No editor connected" });
    expect(overallState(unconfigured([]), "open").detail).toContain("EXAI_WS_URL");
    expect(overallState(unconfigured([session("a", { state: "lost" })]), "open")).toMatchObject({ tone: "red", label: "1 session lost" });
  });
});

describe("overallState with wrapped servers", () => {
  it("is amber while a server restarts and red while one is in crash-loop, naming it", () => {
    const ready = state({ sessions: [session("a")], servers: [server(1)] });
    expect(overallState(ready, "open").tone).toBe("green");
    const restarting = state({ sessions: [session("a")], servers: [server(1, { state: "restarting" })] });
    expect(overallState(restarting, "open")).toMatchObject({ tone: "amber", label: "server-everything restarting" });
    const looping = state({ sessions: [session("a")], servers: [server(1, { state: "restarting" }), server(2, { name: "server-memory", state: "crash-loop" })] });
    expect(overallState(looping, "open")).toMatchObject({ tone: "red", label: "server-memory crash-loop" });
    // With its windows gone, a server still in crash-loop keeps the pill red.
    expect(overallState(state({ servers: [server(2, { state: "crash-loop", windows: [] })] }), "open").tone).toBe("red");
  });
});
