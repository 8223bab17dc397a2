// The Servers page in a real browser against the real `exai hub --dashboard`, with a real
// `exai-shim -- node .../server-everything stdio` driven by the MCP TypeScript SDK: the empty
// state says how to wrap a server, the wrapped server's row shows its pid, memory and window,
// the window's row names the server, and Restart starts a new process while the window keeps
// working.
//
// Run: `npm run e2e` (after `npm run build`, `npm --prefix ci/servers ci` and `cargo build -p
// exai-cli -p exai-shim -p exai-testkit --bins`). Chromium comes from the system
// (/usr/bin/chromium, or $CHROMIUM). Synchronisation is by Playwright's auto-waiting with
// bounded timeouts, never by sleeping.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { chromium } from "playwright-core";
import { binary, isolatedEnv, repoRoot, Started, tempDir } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PROMPT_MS = 15_000;
const EVERYTHING = path.join(repoRoot, "ci/servers/node_modules/@modelcontextprotocol/server-everything/dist/index.js");

/** A raw POST with exactly these headers (a page cannot set `Host` or drop `Origin`). */
function rawPost(url, headers) {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: "POST", headers: { "Content-Length": "0", ...headers } },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode, body }));
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error(`POST ${url} timed out`)));
    request.on("error", reject);
    request.end();
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("servers page in a browser", { skip: existsSync(EVERYTHING) ? false : `server-everything is not installed: run \`npm --prefix ci/servers ci\`` }, () => {
  const endpoint = `e2e-servers-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const label = `wrapped-${endpoint}`;
  const dirs = [];
  let hub, context, page, env, dashboardUrl, origin, token, client;
  const consoleErrors = [];

  before(async () => {
    const runtimeDir = await tempDir("exai-e2e-run-");
    const configDir = await tempDir("exai-e2e-config-");
    const profileDir = await tempDir("exai-e2e-chromium-");
    dirs.push(runtimeDir, configDir, profileDir);
    env = isolatedEnv(runtimeDir, configDir);
    // No daemon: a wrapped server does not need one.
    hub = new Started("exai hub", binary("exai"), ["hub", "--dashboard", "--upstream", "ws://127.0.0.1:9", "--endpoint", endpoint], env);
    [, dashboardUrl] = await hub.waitForLine(/EXAI dashboard: (http:\/\/\S+)/);
    const url = new URL(dashboardUrl);
    origin = url.origin;
    token = url.searchParams.get("token");
    context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport: { width: 960, height: 640 } });
  });

  after(async () => {
    await context?.close();
    await client?.close();
    await hub?.stop("SIGTERM");
    if (hub) assert.equal(hub.running, false, `exai hub (pid ${hub.pid}) still runs`);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    assert.deepEqual(consoleErrors, [], "no console errors");
  });

  it("says how to wrap a server while there is none", async () => {
    page = await context.newPage();
    page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
    await page.goto(dashboardUrl);
    await page.locator("a.nav-link", { hasText: "Servers" }).click();
    const empty = page.locator(".servers-empty");
    await empty.waitFor({ timeout: PROMPT_MS });
    assert.match(await empty.textContent(), /exai-shim -- COMMAND ARGS/);
    assert.match(await empty.textContent(), /"exai-shim", "args": \["--", "npx"/);
  });

  it("shows the wrapped server's row, and the window's row names it", async () => {
    const transport = new StdioClientTransport({
      command: binary("exai-shim"),
      args: ["--endpoint", endpoint, "--name", label, "--", "node", EVERYTHING, "stdio"],
      env,
      stderr: "pipe",
    });
    client = new Client({ name: "vscode-e2e", version: "1.96.0-e2e" }, { capabilities: {} });
    await client.connect(transport);

    const row = page.locator('tr.server-row[data-name="server-everything"][data-state="ready"]');
    await row.waitFor({ timeout: PROMPT_MS });
    assert.match(await row.locator(".server-command").textContent(), /^node .*server-everything.* stdio$/);
    assert.match(await row.locator(".col-pid").textContent(), /^\d+$/);
    assert.equal(await row.locator(".col-windows").textContent(), `1: ${label}`);
    assert.equal(await row.locator(".col-policy").textContent(), "shared");
    assert.equal(await row.locator(".col-restarts").textContent(), "0");
    await page.locator(".servers-empty").waitFor({ state: "hidden", timeout: PROMPT_MS });

    // A fresh snapshot carries the resident memory, read by the hub from the system.
    await page.reload();
    await page.locator('tr.server-row[data-name="server-everything"] .col-memory', { hasText: "MiB" }).waitFor({ timeout: PROMPT_MS });

    await page.locator("a.nav-link", { hasText: "Sessions" }).click();
    const server = page.locator(`tr[data-name="${label}"] .session-server`);
    await server.waitFor({ timeout: PROMPT_MS });
    assert.equal(await server.textContent(), "server: server-everything");
    await server.click();
    await page.locator("tr.server-row").first().waitFor({ timeout: PROMPT_MS });
  });

  it("refuses a restart without the token or from another site, and names an unknown server", async () => {
    const host = new URL(origin).host;
    const auth = { Authorization: `Bearer ${token}`, Host: host };
    assert.equal((await rawPost(`${origin}/api/servers/1/restart`, { Host: host })).status, 401);
    assert.equal((await rawPost(`${origin}/api/servers/1/restart`, { ...auth, Origin: "http://evil.example" })).status, 403);
    assert.equal((await rawPost(`${origin}/api/servers/999/restart`, auth)).status, 404);
    assert.equal((await rawPost(`${origin}/api/servers/nope/restart`, auth)).status, 400);
  });

  it("restarts the server from its Restart button: a new pid, the window keeps working", async () => {
    const row = page.locator('tr.server-row[data-name="server-everything"]');
    const before = Number(await row.locator(".col-pid").textContent());
    assert.ok(alive(before), `server-everything runs as pid ${before}`);
    await row.locator("button.server-restart").click();
    await page.waitForFunction(
      (old) => {
        const row = document.querySelector('tr.server-row[data-name="server-everything"]');
        const pid = Number(row?.querySelector(".col-pid")?.textContent);
        return row?.getAttribute("data-state") === "ready" && pid > 0 && pid !== old;
      },
      before,
      { timeout: PROMPT_MS },
    );
    const after = Number(await row.locator(".col-pid").textContent());
    assert.notEqual(after, before);
    assert.equal(await row.locator(".col-restarts").textContent(), "1");
    assert.equal(alive(before), false, `the old process ${before} is gone`);
    assert.ok(alive(after), `the new process ${after} runs`);
    const result = await client.callTool({ name: "echo", arguments: { message: "after the restart" } });
    assert.equal(result.content[0].text, "Echo: after the restart");
  });
});
