import { describe, expect, it } from "vitest";
import { session, snapshot, upstream } from "../test/fixtures";
import { applySnapshot, initialState } from "./hub";
import { overallState } from "./overall";

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
    expect(overallState(state({ upstream: upstream({ state: "connecting" }) }), "open").tone).toBe("amber");
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
});
