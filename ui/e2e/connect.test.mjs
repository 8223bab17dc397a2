// The Connect page in a real browser against the real `exai hub --dashboard`, with HOME (and
// XDG_CONFIG_HOME) in a temporary folder: clicking Connect for Cursor writes the exai server
// into that home's ~/.cursor/mcp.json next to the server already there, after a backup; and
// "Share these servers through EXAI" previews Claude Code's servers (its projects' too) with
// env names but no values, Wrap rewrites ~/.claude.json, Unwrap gives the same servers back.
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

const SECRET = "pg-s3cret-never-on-the-page";

/** ~/.claude.json as Claude Code keeps it: a user server, and a project with its own. */
function claudeJson(project) {
  return `${JSON.stringify(
    {
      numStartups: 12,
      mcpServers: { context7: { type: "stdio", command: "npx", args: ["-y", "@upstash/context7-mcp"], env: {} } },
      projects: {
        [project]: {
          allowedTools: [],
          history: [{ display: "list the tables", pastedContents: {} }],
          mcpServers: {
            postgres: { type: "stdio", command: "npx", args: ["-y", "@modelcontextprotocol/server-postgres", "postgresql://localhost/api"], env: { PGPASSWORD: SECRET } },
            linear: { type: "sse", url: "https://mcp.linear.app/sse" },
          },
          hasTrustDialogAccepted: true,
        },
      },
    },
    null,
    2,
  )}\n`;
}

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
    await writeFile(path.join(home, ".claude.json"), claudeJson(path.join(home, "src", "api")));

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

  it("previews Claude Code's servers, wraps them into ~/.claude.json, and unwraps them", async () => {
    const errors = [];
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));
    // Open the page afresh, so it reads the files again.
    await page.evaluate(() => (location.hash = "#/"));
    await page.evaluate(() => (location.hash = "#/connect"));
    const file = path.join(home, ".claude.json");
    const project = path.join(home, "src", "api");
    const before = await readFile(file, "utf8");
    const card = page.locator('.share-editor[data-editor="claude-code"]');
    await card.waitFor({ timeout: PROMPT_MS });
    const preview = await card.innerText();
    assert.match(preview, /2 servers in Claude Code's file can run through exai-shim/);
    const context7 = await card.locator('.share-server[data-server="context7"]').innerText();
    assert.match(context7, /npx -y @upstash\/context7-mcp\s*→\s*\S*exai-shim --name claude-code --endpoint \S+ -- npx -y @upstash\/context7-mcp/);
    const postgres = card.locator('.share-server[data-server="postgres"]');
    assert.equal(await postgres.getAttribute("data-project"), project);
    assert.match(await postgres.innerText(), /env kept: PGPASSWORD \(values not shown\)/);
    assert.match(await card.locator('.share-server[data-server="linear"]').innerText(), /left alone: a remote server/);
    assert.ok(!preview.includes(SECRET), preview);
    assert.ok(!(await page.content()).includes(SECRET), "an env value reached the page");
    assert.equal(await card.getByRole("button", { name: "Unwrap Claude Code's servers" }).count(), 0);

    await card.getByRole("button", { name: "Wrap Claude Code's servers" }).click();
    const wrappedMessage = page.locator('.share-editor[data-editor="claude-code"] .share-result', { hasText: "Wrapped 2 servers" });
    await wrappedMessage.waitFor({ timeout: PROMPT_MS });
    const wrapped = JSON.parse(await readFile(file, "utf8"));
    const original = JSON.parse(before);
    const user = wrapped.mcpServers.context7;
    assert.match(user.command, /exai-shim$/);
    assert.deepEqual(user.args.slice(user.args.indexOf("--")), ["--", "npx", "-y", "@upstash/context7-mcp"]);
    const inProject = wrapped.projects[project].mcpServers.postgres;
    assert.equal(inProject.command, user.command);
    assert.deepEqual(inProject.args.slice(inProject.args.indexOf("--") + 1), ["npx", ...original.projects[project].mcpServers.postgres.args]);
    assert.deepEqual(inProject.env, { PGPASSWORD: SECRET });
    assert.deepEqual(wrapped.projects[project].mcpServers.linear, original.projects[project].mcpServers.linear);
    assert.deepEqual(wrapped.projects[project].history, original.projects[project].history);
    const backups = (await readdir(home)).filter((name) => name.startsWith(".claude.json.exai-backup-"));
    assert.equal(backups.length, 1, String(backups));
    assert.equal(await readFile(path.join(home, backups[0]), "utf8"), before);
    assert.ok((await wrappedMessage.innerText()).includes(backups[0]));

    // Now Unwrap is offered, and gives the file back as it was.
    const unwrap = page.locator('.share-editor[data-editor="claude-code"]').getByRole("button", { name: "Unwrap Claude Code's servers" });
    await unwrap.waitFor({ timeout: PROMPT_MS });
    await unwrap.click();
    await page.locator('.share-editor[data-editor="claude-code"] .share-result', { hasText: "Unwrapped 2 servers" }).waitFor({ timeout: PROMPT_MS });
    // The same servers and everything else (arguments written on several lines come back on one).
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")), original);
    assert.ok(!(await page.content()).includes(SECRET), "an env value reached the page");
    assert.deepEqual(errors, []);
  });
});
