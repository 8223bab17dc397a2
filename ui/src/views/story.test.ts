import { describe, expect, it } from "vitest";
import { log, request, session } from "../test/fixtures";
import { ARGS_SHOWN, logLineText, lostStory, repeatText, requestRow, showsTarget, truncate } from "./story";

describe("request rows", () => {
  it("show the arguments, the duration and the outcome", () => {
    const row = requestRow(request("a", 1_700_000_000_000, { arguments: '{"text":"hi"}', duration_ms: 1500 }));
    expect(row).toMatchObject({ outcome: "ok", method: "tools/call", tool: "echo", args: '{"text":"hi"}', duration: "1.5 s", cached: null, rateLimited: null, error: null });
    expect(row.durationTitle).toBe("took 1.5 s");
  });

  it("say a call came from the cache, so a fast duration is not the tool's", () => {
    const row = requestRow(request("a", 0, { duration_ms: 1.1, from_cache: true }));
    expect(row.cached).toBe("cached");
    expect(row.duration).toBe("1.1 ms");
    expect(row.durationTitle).toContain("answered from the daemon's cache");
  });

  it("show the rate-limit wait and the error text", () => {
    const row = requestRow(request("a", 0, { ok: false, error: "EXAI daemon error: boom", rate_limited_ms: 300 }));
    expect(row.outcome).toBe("error");
    expect(row.error).toBe("EXAI daemon error: boom");
    expect(row.rateLimited).toBe("rate limit 300 ms");
    expect(row.durationTitle).toContain("300 ms waiting for the daemon's rate limit");
    expect(requestRow(request("a", 0, { ok: false, error: null })).error).toBe("failed without a message");
  });

  it("leave out empty arguments and cut long ones", () => {
    expect(requestRow(request("a", 0, { arguments: "{}" })).args).toBeNull();
    expect(requestRow(request("a", 0, { method: "tools/list", tool: null })).args).toBeNull();
    const long = `{"text":"${"日".repeat(400)}"}`;
    const args = requestRow(request("a", 0, { arguments: long })).args!;
    expect([...args]).toHaveLength(ARGS_SHOWN);
    expect(args.endsWith("…")).toBe(true);
    expect(truncate("short", 10)).toBe("short");
  });

  it("mark cancelled requests", () => {
    expect(requestRow(request("a", 0, { cancelled: true, ok: true })).outcome).toBe("cancelled");
  });
});

describe("log lines", () => {
  it("count repeats as ×N", () => {
    expect(repeatText(log(1))).toBeNull();
    expect(repeatText(log(1, { repeat: 4 }))).toBe("×4");
    expect(repeatText(log(1, { repeat: 12345 }))).toBe("×12\u202f345");
  });

  it("show the module only on debug lines", () => {
    expect(showsTarget(log(1, { level: "WARN" }))).toBe(false);
    expect(showsTarget(log(1, { level: "DEBUG" }))).toBe(true);
    const copied = logLineText(log(1, { level: "WARN", message: "A connection to the daemon was lost.", repeat: 3, session: "abc" }), "api");
    expect(copied).toMatch(/ WARN  \[api\] A connection to the daemon was lost\. \(×3\)$/);
    expect(copied).not.toContain("exai_hub");
    expect(logLineText(log(1, { level: "DEBUG" }), null)).toContain("exai_hub::upstream");
  });
});

describe("a lost window", () => {
  it("says why it is lost and what it was doing", () => {
    const story = lostStory(session("a", { state: "lost", doing: ["tools/call gate"], in_flight: 1, lost_reason: "its shim went away without a goodbye (killed)" }))!;
    expect(story.why).toBe("Its shim went away without a goodbye (killed).");
    expect(story.doing).toBe("It was running tools/call gate; that request was cancelled and the editor got no answer.");
    expect(story.title).toMatch(/^Lost at \d\d:\d\d:\d\d$/);
  });

  it("says it was idle, and counts what it did not name", () => {
    expect(lostStory(session("a", { state: "lost" }))!.doing).toBe("It was idle: no request was running.");
    expect(lostStory(session("a", { state: "lost" }))!.why).toBe("Its shim went away without a goodbye.");
    const busy = lostStory(session("a", { state: "lost", doing: ["tools/call a", "tools/call b"], in_flight: 5 }))!;
    expect(busy.doing).toBe("It was running tools/call a, tools/call b and 3 more; those requests were cancelled and the editor got no answer.");
  });

  it("is nothing for a window that is not lost", () => {
    expect(lostStory(session("a", { state: "ready" }))).toBeNull();
  });
});
