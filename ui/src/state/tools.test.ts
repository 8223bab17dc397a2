import { describe, expect, it } from "vitest";
import { filterTools, toolsSummary } from "./tools";

const TOOLS = [
  { name: "chat", description: "Returns \"echo: <prompt>\" after one progress frame." },
  { name: "echo", description: "Returns `text` immediately." },
  { name: "fail", description: "Always raises, leaving its request id stuck forever." },
  { name: "slow", description: "Runs for `ms` milliseconds with progress." },
];

describe("the tool filter", () => {
  it("keeps every tool for an empty filter", () => {
    expect(filterTools(TOOLS, "  ")).toEqual(TOOLS);
  });

  it("matches names and descriptions, any case, every word", () => {
    expect(filterTools(TOOLS, "ECHO").map((tool) => tool.name)).toEqual(["chat", "echo"]);
    expect(filterTools(TOOLS, "progress").map((tool) => tool.name)).toEqual(["chat", "slow"]);
    expect(filterTools(TOOLS, "progress ms").map((tool) => tool.name)).toEqual(["slow"]);
    expect(filterTools(TOOLS, "nothing-like-this")).toEqual([]);
  });

  it("says how many are shown", () => {
    expect(toolsSummary(4, 4, true)).toBe("4 tools");
    expect(toolsSummary(4, 1, true)).toBe("1 of 4 tools");
    expect(toolsSummary(1, 1, true)).toBe("1 tool");
    expect(toolsSummary(0, 0, false)).toContain("once the daemon is connected");
    expect(toolsSummary(0, 0, true)).toBe("The daemon offers no tools.");
  });
});
