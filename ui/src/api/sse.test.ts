import { describe, expect, it } from "vitest";
import { SseParser } from "./sse";

describe("SseParser", () => {
  it("yields one message per blank-line-terminated block, skipping comments", () => {
    const parser = new SseParser();
    expect(parser.push(': keep-alive\n\ndata: {"type":"lagged","missed":1}\n\n')).toEqual([
      { event: "message", data: '{"type":"lagged","missed":1}' },
    ]);
  });

  it("joins data lines and names events", () => {
    const parser = new SseParser();
    expect(parser.push("event: resync\ndata: fell behind\ndata: again\n\n")).toEqual([
      { event: "resync", data: "fell behind\nagain" },
    ]);
    // The event name does not leak into the next message.
    expect(parser.push("data: x\n\n")).toEqual([{ event: "message", data: "x" }]);
  });

  it("reassembles messages split anywhere, including inside CRLF", () => {
    const text = 'data: {"a":1}\r\n\r\ndata:no-space\r\rdata: three\n\n';
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new SseParser();
      const messages = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(messages, `cut at ${cut}`).toEqual([
        { event: "message", data: '{"a":1}' },
        { event: "message", data: "no-space" },
        { event: "message", data: "three" },
      ]);
    }
  });

  it("dispatches nothing for a block without data, and keeps an unfinished block", () => {
    const parser = new SseParser();
    expect(parser.push("event: resync\n\n")).toEqual([]);
    expect(parser.push("data: half")).toEqual([]);
    expect(parser.push("\n\n")).toEqual([{ event: "message", data: "half" }]);
  });
});
