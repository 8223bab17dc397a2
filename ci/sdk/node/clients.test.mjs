// The official MCP TypeScript SDKs as users get them, through real `exai-shim` processes against
// a real `exai hub` and the fake daemon: the v1 `@modelcontextprotocol/sdk` Client with its
// defaults, and the v2 `@modelcontextprotocol/client` with its defaults (legacy handshake) and
// with `versionNegotiation: { mode: "auto" }` (2026-07-28). Each lists the tools, calls one and
// checks the payload, gets progress, cancels a call (the hub records it cancelled) and still
// works afterwards. The SDKs validate results against their schemas for the negotiated version,
// so a result missing a required field fails the request itself.
//
// Run: `npm test` in ci/sdk (after `cargo build -p exai-cli -p exai-shim -p exai-testkit --bins`).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client as ClientV1 } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport as StdioV1 } from "@modelcontextprotocol/sdk/client/stdio.js";
import { Client as ClientV2 } from "@modelcontextprotocol/client";
import { StdioClientTransport as StdioV2 } from "@modelcontextprotocol/client/stdio";
import { guard, Hub, unique } from "./support.mjs";

const INFO = { name: "exai-sdk-test", version: "1.0.0" };

/** Each SDK's way of calling a tool with request options (v1 takes a result schema first). */
const SDKS = {
  v1: {
    connect: async (server) => {
      // No `env`: the SDK starts the shim with its default minimal environment.
      const client = new ClientV1(INFO);
      await client.connect(new StdioV1({ ...server, stderr: "pipe" }));
      return client;
    },
    call: (client, params, options) => client.callTool(params, undefined, options),
  },
  v2: {
    connect: async (server) => {
      const client = new ClientV2(INFO);
      await client.connect(new StdioV2({ ...server, stderr: "pipe" }));
      return client;
    },
    call: (client, params, options) => client.callTool(params, options),
  },
  "v2-auto": {
    connect: async (server) => {
      const client = new ClientV2(INFO, { versionNegotiation: { mode: "auto" } });
      await client.connect(new StdioV2({ ...server, stderr: "pipe" }));
      return client;
    },
    call: (client, params, options) => client.callTool(params, options),
  },
};

function text(result) {
  assert.equal(result.isError ?? false, false, JSON.stringify(result));
  assert.equal(result.content?.[0]?.type, "text", JSON.stringify(result));
  return result.content[0].text;
}

/** The session that made the calls (v2's auto mode probes once on a short-lived sibling shim). */
async function windowSession(hub, label) {
  const sessions = await hub.sessionsNamed(label);
  assert.ok(sessions.length > 0, `no session named ${label}`);
  return sessions.reduce((most, session) => (session.requests > most.requests ? session : most));
}

describe("official TypeScript SDK clients through exai-shim", () => {
  let hub;
  const clients = [];

  before(async () => {
    hub = await Hub.start();
  });

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    await hub?.stop();
  });

  const cases = [
    ["v1 @modelcontextprotocol/sdk Client with defaults", "v1", "2025-11-25"],
    ["v2 @modelcontextprotocol/client Client with defaults", "v2", "2025-11-25"],
    ["v2 @modelcontextprotocol/client Client with versionNegotiation auto", "v2-auto", "2026-07-28"],
  ];
  for (const [title, sdk, version] of cases) {
    it(`${title} negotiates ${version}, lists, calls, gets progress and cancels`, async () => {
      const { connect, call } = SDKS[sdk];
      const label = unique(`node-${sdk}`);
      const client = await guard(`${sdk} connect`, connect(hub.shim(label)));
      clients.push(client);
      if (client.getNegotiatedProtocolVersion) {
        assert.equal(client.getNegotiatedProtocolVersion(), version);
      }
      assert.equal(client.getServerVersion()?.name, "exai-hub");

      const { tools } = await guard("tools/list", client.listTools());
      const names = tools.map((tool) => tool.name);
      assert.ok(names.includes("echo") && names.includes("slow"), names.join(", "));

      // The payload comes back as sent (non-ASCII, quotes, a newline).
      const payload = `héllo "wörld" ✓ 日本\n${unique("echo")}`;
      assert.equal(text(await guard("echo", call(client, { name: "echo", arguments: { text: payload } }))), payload);

      // Progress while `slow` runs (every 50 ms), then its streamed chunk; a unique chunk keeps
      // the daemon's result cache out of it.
      const chunk = unique("chunk");
      const seen = [];
      const slow = call(client, { name: "slow", arguments: { ms: 300, chunks: [chunk] } }, { onprogress: (update) => seen.push(update) });
      assert.equal(text(await guard("slow with progress", slow)), '{"slept_ms":300}');
      assert.ok(seen.length >= 2, JSON.stringify(seen));
      const values = seen.map((update) => update.progress);
      assert.deepEqual(values, [...new Set(values)].sort((a, b) => a - b), "progress increases");
      // (The streamed chunk is the last progress before the result; these SDKs handle
      // notifications a tick after responses and may drop it, so it is not required here. The
      // raw-line test in ci/sdk/python checks it arrives.)
      assert.ok(seen.every((update) => typeof update.message === "string" && update.message.length > 0), JSON.stringify(seen));

      // Cancellation: abort once the call is known to run (its first progress).
      const controller = new AbortController();
      const cancelled = call(
        client,
        { name: "slow", arguments: { ms: 3000, chunks: [unique("cancel")] } },
        { signal: controller.signal, onprogress: () => controller.abort("the test cancels") },
      );
      await assert.rejects(guard("the aborted call settling", cancelled));
      const record = await hub.waitCancelled(label, "slow");
      assert.equal(record.ok, true);
      assert.ok(record.duration_ms < 3000, JSON.stringify(record));

      // The window still works, and the hub saw the version the SDK negotiated.
      const after = unique("after");
      assert.equal(text(await guard("echo after the cancel", call(client, { name: "echo", arguments: { text: after } }))), after);
      const session = await windowSession(hub, label);
      assert.equal(session.protocol_version, version);
      assert.equal(session.state, "ready");
    });
  }
});
