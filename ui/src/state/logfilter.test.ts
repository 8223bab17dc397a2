import { describe, expect, it } from "vitest";
import { log } from "../test/fixtures";
import { defaultLogFilter, filterLogs, HUB_ONLY, isFiltering, levelRank } from "./logfilter";

const A = "00000000000000a1";
const records = [
  log(1, { level: "DEBUG", message: "polling nothing" }),
  log(2, { level: "INFO", message: "session connected", session: A }),
  log(3, { level: "WARN", message: "session lost: the shim went away", session: A }),
  log(4, { level: "ERROR", message: "accept failed", target: "exai_hub" }),
  log(5, { level: "INFO", message: "hub listening", target: "exai_hub" }),
];
const seqs = (filter: Partial<typeof defaultLogFilter>) => filterLogs(records, { ...defaultLogFilter, ...filter }).map((r) => r.seq);

describe("log filters", () => {
  it("show everything by default", () => {
    expect(seqs({})).toEqual([1, 2, 3, 4, 5]);
    expect(isFiltering(defaultLogFilter)).toBe(false);
  });

  it("hide lines below the minimum level", () => {
    expect(seqs({ minLevel: "INFO" })).toEqual([2, 3, 4, 5]);
    expect(seqs({ minLevel: "WARN" })).toEqual([3, 4]);
    expect(seqs({ minLevel: "ERROR" })).toEqual([4]);
  });

  it("narrow by session, or to the hub's own lines", () => {
    expect(seqs({ session: A })).toEqual([2, 3]);
    expect(seqs({ session: HUB_ONLY })).toEqual([1, 4, 5]);
  });

  it("search message and target, case-insensitively, ignoring surrounding spaces", () => {
    expect(seqs({ text: "  SESSION " })).toEqual([2, 3]);
    expect(seqs({ text: "exai_hub" })).toEqual([1, 2, 3, 4, 5]);
    expect(seqs({ text: "listening" })).toEqual([5]);
    expect(isFiltering({ ...defaultLogFilter, text: "x" })).toBe(true);
  });

  it("combine", () => {
    expect(seqs({ minLevel: "WARN", session: A, text: "lost" })).toEqual([3]);
  });

  it("rank unknown levels as INFO", () => {
    expect(levelRank("NOTICE")).toBe(levelRank("INFO"));
    expect(levelRank("warn")).toBe(levelRank("WARN"));
  });
});
