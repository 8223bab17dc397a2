import { describe, expect, it } from "vitest";
import type { HostInfo, UpstreamConfig, UpstreamStatus } from "../api";
import { DAEMON_TEXT, firstRunReason, firstRunTitle, sourceNotes, testTone, tokenField, tokenPlaceholder } from "./firstrun-state";

const host = (daemon_configured: boolean): HostInfo => ({ kind: "tray", pid: 1, dashboard_url: null, daemon_configured });
const upstream = (state: UpstreamStatus["state"]): UpstreamStatus =>
  ({ url: "ws://127.0.0.1:8079", state }) as UpstreamStatus;
const config = (extra: Partial<UpstreamConfig> = {}): UpstreamConfig => ({
  url: "ws://127.0.0.1:8079",
  url_source: "default",
  token_set: false,
  token_source: "default",
  config_path: "/home/me/.config/exai/config.toml",
  config_exists: false,
  ...extra,
});

describe("the first-run card", () => {
  it("shows while no daemon is configured, or the configured one is down or refuses the token", () => {
    expect(firstRunReason(null, null)).toBeNull();
    expect(firstRunReason(host(false), upstream("connecting"))).toBe("unconfigured");
    expect(firstRunReason(host(false), upstream("down"))).toBe("unconfigured");
    expect(firstRunReason(host(false), upstream("connected"))).toBeNull();
    expect(firstRunReason(host(true), upstream("connecting"))).toBeNull();
    expect(firstRunReason(host(true), upstream("down"))).toBe("unreachable");
    expect(firstRunReason(host(true), upstream("unauthorized"))).toBe("unauthorized");
    expect(firstRunReason(host(false), upstream("unauthorized"))).toBe("unauthorized");
    expect(firstRunReason(host(true), upstream("connected"))).toBeNull();
  });

  it("says what the daemon is and what to do in two sentences, and names the URL when it fails", () => {
    expect(DAEMON_TEXT.split(/(?<=\.) /)).toHaveLength(2);
    expect(DAEMON_TEXT).toContain("ws://127.0.0.1:8079");
    expect(DAEMON_TEXT).toContain("3010");
    expect(firstRunTitle("unreachable", "ws://h:1")).toContain("ws://h:1");
    expect(firstRunTitle("unauthorized", "ws://h:1")).toContain("token");
  });

  it("never shows a token, only whether one is set and where from", () => {
    expect(tokenPlaceholder(config())).toMatch(/^none/);
    expect(tokenPlaceholder(config({ token_set: true, token_source: "file" }))).toBe("unchanged (a token is set, from config.toml)");
    expect(tokenField("", false)).toBeNull();
    expect(tokenField("  ", false)).toBeNull();
    expect(tokenField("abc", false)).toBe("abc");
    expect(tokenField("abc", true)).toBe("");
  });

  it("says when the environment or a flag wins over the file", () => {
    expect(sourceNotes(config())).toEqual([]);
    expect(sourceNotes(config({ url_source: "environment" }))[0]).toContain("EXAI_WS_URL");
    expect(sourceNotes(config({ url_source: "flag" }))[0]).toContain("--upstream");
    expect(sourceNotes(config({ token_set: true, token_source: "environment" }))[0]).toContain("EXAI_WS_TOKEN");
    expect(testTone("ok")).toBe("ok");
    expect(testTone("refused")).toBe("error");
  });
});
