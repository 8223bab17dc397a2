// The v2 TypeScript client (`@modelcontextprotocol/client`) with `versionNegotiation: { mode:
// "auto" }` (2026-07-28) as the window of a wrapped server: `exai-shim -- node server-everything
// stdio` (ci/servers). server-everything speaks the handshake era with the hub; the hub answers
// the client's `server/discover` from the server's `initialize` and gives each result what the
// SDK's 2026-07-28 schema requires, so a missing member fails the request itself.
//
// Run: `npm test` in ci/sdk (after the cargo build and `npm ci --prefix ci/servers`).

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { guard, Hub, repoRoot, unique } from "./support.mjs";

const EVERYTHING = path.join(repoRoot, "ci/servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");

describe("the v2 TypeScript client speaking 2026-07-28 to a wrapped server", () => {
  let hub;
  let client;

  before(async () => {
    hub = await Hub.start();
  });

  after(async () => {
    await client?.close();
    await hub?.stop();
  });

  it("discovers server-everything, lists, calls and gets progress", async (t) => {
    if (!existsSync(EVERYTHING)) {
      if (process.env.CI === "true") assert.fail("server-everything is not installed: run `npm ci --prefix ci/servers`");
      t.skip("server-everything is not installed: run `npm ci --prefix ci/servers`");
      return;
    }
    const label = unique("node-v2-wrapped");
    const shim = hub.shim(label);
    const server = { command: shim.command, args: [...shim.args, "--", process.execPath, EVERYTHING, "stdio"] };
    client = new Client({ name: "exai-sdk-test", version: "1.0.0" }, { versionNegotiation: { mode: "auto" } });
    await guard("connect", client.connect(new StdioClientTransport({ ...server, stderr: "pipe" })));
    assert.equal(client.getNegotiatedProtocolVersion(), "2026-07-28");
    assert.equal(client.getServerVersion()?.name, "mcp-servers/everything");

    const { tools } = await guard("tools/list", client.listTools());
    const names = tools.map((tool) => tool.name);
    assert.ok(names.includes("echo") && names.includes("trigger-long-running-operation"), names.join(", "));
    const payload = `héllo ✓ 日本 ${unique("echo")}`;
    const echo = await guard("echo", client.callTool({ name: "echo", arguments: { message: payload } }));
    assert.deepEqual(echo.content, [{ type: "text", text: `Echo: ${payload}` }]);

    const seen = [];
    const long = await guard(
      "a call with progress",
      client.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 3 } },
        { onprogress: (update) => seen.push(update.progress) },
      ),
    );
    assert.match(long.content[0].text, /completed/);
    // These SDKs handle notifications a tick after responses and may drop the last one.
    assert.ok(seen.length >= 2 && seen.every((value, index) => value === index + 1), JSON.stringify(seen));

    const sessions = (await hub.sessionsNamed(label)).filter((session) => session.requests > 0);
    assert.equal(sessions.length, 1, JSON.stringify(sessions));
    assert.equal(sessions[0].protocol_version, "2026-07-28");
  });
});
