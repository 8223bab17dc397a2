import { describe, expect, it } from "vitest";
import { baseName, formatDuration, formatElapsed, rateLimitText } from "./format";
import { upstream } from "./test/fixtures";

describe("formatDuration", () => {
  it("picks a unit and precision by size", () => {
    expect(formatDuration(0.42)).toBe("0.42 ms");
    expect(formatDuration(12.34)).toBe("12.3 ms");
    expect(formatDuration(850.4)).toBe("850 ms");
    expect(formatDuration(4210)).toBe("4.2 s");
    expect(formatDuration(185_000)).toBe("3 m 05 s");
    expect(formatDuration(2 * 3_600_000 + 3 * 60_000)).toBe("2 h 03 m");
  });

  it("shows a dash for nonsense", () => {
    expect(formatDuration(-1)).toBe("–");
    expect(formatDuration(Number.NaN)).toBe("–");
  });
});

describe("formatElapsed", () => {
  it("counts whole seconds, minutes, hours and days", () => {
    expect(formatElapsed(0)).toBe("0 s");
    expect(formatElapsed(59_999)).toBe("59 s");
    expect(formatElapsed(60_000)).toBe("1 m 00 s");
    expect(formatElapsed(3_600_000 + 5 * 60_000 + 59_000)).toBe("1 h 05 m");
    expect(formatElapsed(3 * 86_400_000 + 4 * 3_600_000)).toBe("3 d 4 h");
  });

  it("treats clock skew (a start in the future) as zero", () => {
    expect(formatElapsed(-5000)).toBe("0 s");
  });
});

describe("baseName", () => {
  it("takes the last component of Unix and Windows paths", () => {
    expect(baseName("/home/me/project/")).toBe("project");
    expect(baseName("C:\\work\\api")).toBe("api");
    expect(baseName("/")).toBe("/");
  });
});

describe("rateLimitText", () => {
  it("says nothing until the rate limit did something", () => {
    expect(rateLimitText(upstream())).toBe("");
  });

  it("names what waits and what the daemon refused", () => {
    const text = rateLimitText(upstream({ rate_limited: 12, over_capacity: 3, rate_limit: "10 frames/s, burst 100 per IP" }));
    expect(text).toContain("12 waiting for the daemon's rate limit (10 frames/s, burst 100 per IP)");
    expect(text).toContain("refused 3 frame(s)");
  });
});
