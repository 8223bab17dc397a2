// The Connect page in a real browser against the real `exai hub --dashboard`, with HOME (and
// XDG_CONFIG_HOME) in a temporary folder: clicking Connect for Cursor writes the exai server
// into that home's ~/.cursor/mcp.json next to the server already there, after a backup.
//
// Run: `npm run e2e` (after `npm run build` and `cargo build -p exai-cli -p exai-shim -p
// exai-testkit --bins`). Chromium comes from the system (/usr/bin/chromium, or $CHROMIUM).
// Synchronisation is by Playwright's auto-waiting with bounded timeouts, never by sleeping.

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { binary, isolatedEnv, Started, tempDir } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PROMPT_MS = 10_000;

const CURSOR_BEFORE = `{
  // my servers
  "mcpServers": {
    "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"] },
  },
}
`;

describe("connect page in a browser", () => {
  const endpoint = `e2e-connect-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const dirs = [];
  let home, hub, context, page, dashboardUrl;

  before(async () => {
    home = await tempDir("exai-e2e-home-");
    const runtimeDir = await tempDir("exai-e2e-run-");
    const profileDir = await tempDir("exai-e2e-chromium-");
    dirs.push(home, runtimeDir, profileDir);
    // The hub's whole world is the temporary home: the editors' files, its own config.
    const env = { ...isolatedEnv(runtimeDir, path.join(home, ".config")), HOME: home, USERPROFILE: home };
    delete env.CODEX_HOME;
    await mkdir(path.join(home, ".cursor"), { recursive: true });
    await writeFile(path.join(home, ".cursor", "mcp.json"), CURSOR_BEFORE);

    // No daemon: the Connect page does not need one.
    hub = new Started("exai hub", binary("exai"), ["hub", "--dashboard", "--upstream", "ws://127.0.0.1:9", "--endpoint", endpoint], env);
    [, dashboardUrl] = await hub.waitForLine(/EXAI dashboard: (http:\/\/\S+)/);
    context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport: { width: 960, height: 640 } });
  });

  after(async () => {
    await context?.close();
    await hub?.stop("SIGTERM");
    if (hub) assert.equal(hub.running, false, `exai hub (pid ${hub.pid}) still runs`);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("lists the editors, connects Cursor with one click, and keeps the snippets", async () => {
    page = await context.newPage();
    const errors = [];
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    // The printed link, as a user opens it: the page keeps the token in memory, so we move
    // to the Connect page without reloading.
    const response = await page.goto(dashboardUrl);
    assert.notEqual(response.status(), 503, `exai was built without ui/dist: ${await response.text()}`);
    await page.waitForURL((url) => !url.searchParams.has("token"), { timeout: PROMPT_MS });
    await page.evaluate(() => (location.hash = "#/connect"));

    const cursorFile = path.join(home, ".cursor", "mcp.json");
    const cursor = page.locator('.editor-row[data-editor="cursor"]');
    await cursor.waitFor({ timeout: PROMPT_MS });
    assert.match(await cursor.innerText(), /Not connected/);
    assert.ok((await cursor.innerText()).replace(/\s/g, "").includes(cursorFile.replace(/\s/g, "")), await cursor.innerText());
    for (const editor of ["code", "claude-desktop", "claude-code", "windsurf", "zed", "codex"]) {
      assert.equal(await page.locator(`.editor-row[data-editor="${editor}"]`).count(), 1, editor);
    }

    await cursor.getByRole("button", { name: "Connect Cursor" }).click();
    const result = page.locator('.editor-row[data-editor="cursor"] .connect-result', { hasText: "Added the exai server" });
    await result.waitFor({ timeout: PROMPT_MS });
    const message = await result.innerText();
    assert.match(message, /exai-backup-\d{8}-\d{6}/, message);

    // The file: the old server and the comment kept, exai beside them, running a real shim.
    const written = await readFile(cursorFile, "utf8");
    assert.ok(written.startsWith(`{\n  // my servers\n  "mcpServers": {\n    "memory": { "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"] },\n    "exai": {\n`), written);
    assert.match(written, /"command": ".*exai-shim"/);
    assert.match(written, /"args": \["--name", "cursor", "--endpoint", "[^"]+"\]/);
    const backups = (await readdir(path.join(home, ".cursor"))).filter((name) => name.startsWith("mcp.json.exai-backup-"));
    assert.equal(backups.length, 1, String(backups));
    assert.ok(message.includes(backups[0]), message);
    assert.equal(await readFile(path.join(home, ".cursor", backups[0]), "utf8"), CURSOR_BEFORE);

    // The row now says so, and offers Reconnect; a second click writes nothing new.
    const connected = page.locator('.editor-row[data-editor="cursor"][data-connected="true"]');
    await connected.waitFor({ timeout: PROMPT_MS });
    assert.match(await connected.locator(".editor-state").innerText(), /^Connected/);
    await connected.getByRole("button", { name: "Reconnect Cursor" }).click();
    await page.locator('.editor-row[data-editor="cursor"] .connect-result', { hasText: "already connected" }).waitFor({ timeout: PROMPT_MS });
    assert.equal(await readFile(cursorFile, "utf8"), written);
    assert.equal((await readdir(path.join(home, ".cursor"))).length, 2, "no second backup");

    // The copy-paste snippets are still below, VS Code's user one pointing at mcp.json.
    await page.getByRole("tab", { name: "VS Code (every workspace)" }).click();
    await page.locator(".snippet", { hasText: "user mcp.json" }).waitFor({ timeout: PROMPT_MS });
    assert.deepEqual(errors, []);
  });
});
