// A Server-Sent Events parser for a stream read with fetch (EventSource cannot send an
// Authorization header, and the dashboard's token travels only there). Follows the WHATWG
// "event stream interpretation" for the fields the hub sends: `event`, `data`, comments.

export interface SseMessage {
  /** The `event:` field, or "message" when none was given. */
  event: string;
  /** The `data:` lines, joined with "\n". */
  data: string;
}

/** Feeds text chunks in, gets whole messages out. Chunks may split lines anywhere. */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private sawData = false;

  /** Parses one chunk; returns the messages it completed. */
  push(chunk: string): SseMessage[] {
    this.buffer += chunk;
    const messages: SseMessage[] = [];
    for (;;) {
      const end = lineEnd(this.buffer);
      if (end === null) break;
      const line = this.buffer.slice(0, end.at);
      this.buffer = this.buffer.slice(end.at + end.length);
      const message = this.line(line);
      if (message) messages.push(message);
    }
    return messages;
  }

  private line(line: string): SseMessage | null {
    if (line === "") {
      // A blank line dispatches what was gathered (nothing, if no data line came).
      const message = this.sawData ? { event: this.event || "message", data: this.data.join("\n") } : null;
      this.event = "";
      this.data = [];
      this.sawData = false;
      return message;
    }
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") this.event = value;
    else if (field === "data") {
      this.data.push(value);
      this.sawData = true;
    }
    return null;
  }
}

/**
 * Where the first line ends: CRLF, LF or CR. A CR at the very end of the buffer may be the
 * first half of a CRLF, so it waits for the next chunk.
 */
function lineEnd(buffer: string): { at: number; length: number } | null {
  for (let index = 0; index < buffer.length; index++) {
    const char = buffer[index];
    if (char === "\n") return { at: index, length: 1 };
    if (char === "\r") {
      if (index + 1 === buffer.length) return null;
      return { at: index, length: buffer[index + 1] === "\n" ? 2 : 1 };
    }
  }
  return null;
}
