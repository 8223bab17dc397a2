// The dashboard in a real browser against the real `exai hub --dashboard`, with real
// `exai-shim` processes driven by the MCP TypeScript SDK and the testkit's fake daemon.
//
// Run: `npm run e2e` (after `npm run build` and `cargo build -p exai-cli -p exai-shim -p
// exai-testkit --bins`). Chromium comes from the system (/usr/bin/chromium, or $CHROMIUM).
// Synchronisation is by Playwright's auto-waiting with bounded timeouts, never by sleeping.

import assert from "node:assert/strict";
import { mkdir, rm } from "node:fs/promises";
import { realpathSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { binary, isolatedEnv, rawGet, Shim, Started, targetDir, tempDir } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** The tray window's default size: the dashboard must work there. */
const VIEWPORT = { width: 960, height: 640 };
/** Bound for things that should happen promptly (a row appearing, a log line streaming). */
const PROMPT_MS = 10_000;
const EDITOR = { name: "vscode-e2e", version: "1.96.0-e2e" };

const row = (label, state) => `tr[data-name="${label}"]${state ? `[data-state="${state}"]` : ""}`;

describe("dashboard in a browser", () => {
  const endpoint = `e2e-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const alpha = `alpha-${endpoint}`;
  const beta = `beta-${endpoint}`;
  /** Everything started here, stopped in `after` by pid. */
  const dirs = [];
  let daemon, hub, context, page, logsPage, env, dashboardUrl, origin, token;
  const shims = [];
  const consoleErrors = [];
  /** Every /api request the main page made, with the headers that could carry the token. */
  const apiRequests = [];

  before(async () => {
    const runtimeDir = await tempDir("exai-e2e-run-");
    const configDir = await tempDir("exai-e2e-config-");
    const profileDir = await tempDir("exai-e2e-chromium-");
    dirs.push(runtimeDir, configDir, profileDir);
    env = isolatedEnv(runtimeDir, configDir);

    daemon = new Started("exai-fake-daemon", binary("exai-fake-daemon"), [], env);
    const [daemonUrl] = await daemon.waitForLine(/ws:\/\/127\.0\.0\.1:\d+/);

    hub = new Started("exai hub", binary("exai"), ["hub", "--dashboard", "--upstream", daemonUrl, "--endpoint", endpoint], env);
    const [, printed] = await hub.waitForLine(/EXAI dashboard: (http:\/\/\S+)/);
    dashboardUrl = printed;
    const url = new URL(dashboardUrl);
    origin = url.origin;
    token = url.searchParams.get("token");
    assert.ok(token, `the printed URL carries a token: ${dashboardUrl}`);

    // A fresh profile per run: nothing from an earlier run can log us in.
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
    });
  });

  after(async () => {
    // Only what this test started, by pid; then make sure each is gone.
    await context?.close();
    await Promise.all(shims.map((shim) => shim.close()));
    await hub?.stop("SIGTERM");
    await daemon?.stop("SIGTERM");
    for (const started of [hub, daemon]) {
      if (started) assert.equal(started.running, false, `${started.name} (pid ${started.pid}) still runs`);
    }
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("serves the page to anyone but refuses the API without the bearer token (401)", async () => {
    // The built UI is public; every /api request needs `Authorization: Bearer`, and nothing
    // else counts: not the query, not a cookie.
    const host = new URL(origin).host;
    for (const headers of [
      { Host: host },
      { Host: host, Authorization: `Bearer ${"0".repeat(64)}` },
      { Host: host, Cookie: `exai_dashboard_${new URL(origin).port}=${token}` },
    ]) {
      for (const path of ["/api/snapshot", "/api/events", `/api/snapshot?token=${token}`]) {
        const answer = await rawGet(`${origin}${path}`, headers);
        assert.equal(answer.status, 401, `${path} with ${Object.keys(headers).join(", ")}: ${answer.body}`);
      }
    }
    const refused = await rawGet(`${origin}/api/snapshot`, { Host: host });
    assert.match(refused.body, /\?token=/, "the refusal says to open the URL the hub printed");

    // The page without the token, and with a wrong one: it loads, and says what to do.
    const probe = context.pages()[0] ?? (await context.newPage());
    for (const url of [`${origin}/`, `${origin}/?token=${"0".repeat(64)}`]) {
      const response = await probe.goto(url);
      assert.equal(response.status(), 200);
      assert.equal(response.headers()["set-cookie"], undefined);
      await probe.locator(".banner", { hasText: "Open the address the hub printed" }).waitFor({ timeout: PROMPT_MS });
      assert.equal(new URL(probe.url()).searchParams.has("token"), false, "the token leaves the address bar");
    }
    await probe.close();
  });

  it("refuses a foreign Origin and a foreign Host (403), and accepts the token otherwise", async () => {
    const auth = { Authorization: `Bearer ${token}` };
    const host = new URL(origin).host;
    const ok = await rawGet(`${origin}/api/snapshot`, { ...auth, Host: host, Origin: origin });
    assert.equal(ok.status, 200, ok.body);
    assert.equal(JSON.parse(ok.body).endpoint.includes(endpoint), true);
    const evilOrigin = await rawGet(`${origin}/api/snapshot`, { ...auth, Host: host, Origin: "http://evil.example" });
    assert.equal(evilOrigin.status, 403, evilOrigin.body);
    const evilHost = await rawGet(`${origin}/api/snapshot`, { ...auth, Host: `evil.example:${new URL(origin).port}` });
    assert.equal(evilHost.status, 403, evilHost.body);
  });

  it("opens with the printed URL and shows an editor window as a ready row with the editor's name", async () => {
    page = await context.newPage();
    watchConsole(page, consoleErrors);
    watchApi(page, apiRequests);
    const response = await page.goto(dashboardUrl);
    assert.notEqual(response.status(), 503, `exai was built without ui/dist: ${await response.text()}`);
    // No cookie: not set by the server, not readable by the page, not in the browser.
    assert.equal(response.headers()["set-cookie"], undefined);
    // The page takes the token out of the address bar and keeps it in memory.
    await page.waitForURL((url) => !url.searchParams.has("token"), { timeout: PROMPT_MS });
    assert.equal(await page.title(), "EXAI Tray");
    // The empty state teaches how to connect, before any editor is there.
    await page.locator(".empty-state", { hasText: "No editor connected" }).waitFor({ timeout: PROMPT_MS });
    assert.equal(await page.evaluate(() => document.cookie), "");
    assert.deepEqual(await context.cookies(), []);

    shims.push(await Shim.connect({ endpoint, label: alpha, editor: EDITOR, env }));
    const alphaRow = page.locator(row(alpha, "ready"), { hasText: EDITOR.name });
    await alphaRow.waitFor({ timeout: PROMPT_MS });
    assert.match(await alphaRow.getAttribute("data-session"), /^[0-9a-f]{16}$/);
    await page.locator(".pill[data-tone=green]").waitFor({ timeout: PROMPT_MS });
  });

  it("sends the token only as a bearer header, the event stream included", () => {
    const paths = new Set(apiRequests.map((request) => request.path));
    for (const path of ["/api/events", "/api/snapshot", "/api/logs"]) assert.ok(paths.has(path), `${path} was requested: ${[...paths]}`);
    for (const request of apiRequests) {
      assert.equal(request.authorization, `Bearer ${token}`, request.path);
      assert.equal(request.cookie, undefined, request.path);
      assert.equal(request.url.includes(token), false, `${request.path}: no token in the URL`);
    }
  });

  it("counts the window's requests live", async () => {
    const [shim] = shims;
    const requests = page.locator(`${row(alpha)} .col-requests`);
    const before = Number(await requests.textContent());
    const { tools } = await shim.client.listTools();
    assert.ok(tools.some((tool) => tool.name === "echo"), `the fake daemon's echo tool is listed: ${tools.map((t) => t.name)}`);
    const result = await shim.client.callTool({ name: "echo", arguments: { text: "hello from e2e" } });
    assert.equal(result.isError ?? false, false);
    // The answered calls move the counter without a reload.
    await page.waitForFunction(
      ([selector, count]) => Number(document.querySelector(selector)?.textContent) > count,
      [`${row(alpha)} .col-requests`, before],
      { timeout: PROMPT_MS },
    );
  });

  it("streams log lines into #logs as they happen", async () => {
    // Another tab, opened from the printed link (sessionStorage is per tab).
    logsPage = await context.newPage();
    watchConsole(logsPage, consoleErrors);
    await logsPage.goto(`${dashboardUrl}#/logs`);
    await logsPage.locator("#logs .log-line").first().waitFor({ timeout: PROMPT_MS });

    // A new window connects after the page loaded: its lines can only arrive as events.
    shims.push(await Shim.connect({ endpoint, label: beta, editor: EDITOR, env }));
    await page.locator(row(beta, "ready")).waitFor({ timeout: PROMPT_MS });
    const betaId = await page.locator(row(beta)).getAttribute("data-session");
    await logsPage.locator(`#logs .log-line[data-session="${betaId}"]`).first().waitFor({ timeout: PROMPT_MS });
  });

  // How soon is measured (the diagnostic), not asserted: a timed assertion fails on a busy machine.
  // Nothing here polls: the hub sees the socket close and the page gets the event.
  it("turns a killed window's row lost as soon as its shim dies, and logs the loss", async (t) => {
    const shim = shims[1];
    const betaId = await page.locator(row(beta)).getAttribute("data-session");
    const lostLine = logsPage.locator(`#logs .log-line[data-level="WARN"][data-session="${betaId}"]`, { hasText: "lost" });
    assert.equal(await lostLine.count(), 0, "no loss is logged before the kill");

    const killedAt = performance.now();
    shim.kill();
    await page.waitForSelector(row(beta, "lost"), { state: "attached", timeout: PROMPT_MS });
    const elapsedMs = performance.now() - killedAt;
    t.diagnostic(`the row turned lost ${elapsedMs.toFixed(0)} ms after SIGKILL`);

    // The lost row stands out and offers Dismiss; the other window stays ready.
    assert.equal(await page.locator(`${row(beta, "lost")}.row-lost button`, { hasText: "Dismiss" }).isVisible(), true);
    assert.equal(await page.locator(row(alpha, "ready")).count(), 1);
    await page.locator(".pill[data-tone=red]", { hasText: "lost" }).waitFor({ timeout: PROMPT_MS });
    await lostLine.first().waitFor({ timeout: PROMPT_MS });
  });

  it("keeps working after a reload, from this tab's sessionStorage and without a cookie", async () => {
    await page.reload();
    await page.locator(row(alpha, "ready")).waitFor({ timeout: PROMPT_MS });
    await page.locator(row(beta, "lost")).waitFor({ timeout: PROMPT_MS });
    assert.equal(new URL(page.url()).searchParams.has("token"), false);
    assert.equal(await page.evaluate(() => document.cookie), "");
    assert.deepEqual(await context.cookies(), []);
  });

  it("takes a screenshot of the sessions view with a ready and a lost window", async () => {
    const dir = path.join(targetDir, "screenshots");
    await mkdir(dir, { recursive: true });
    await page.locator(row(alpha, "ready")).waitFor({ timeout: PROMPT_MS });
    await page.locator(row(beta, "lost")).waitFor({ timeout: PROMPT_MS });
    await page.screenshot({ path: path.join(dir, "dashboard-browser.png"), fullPage: true });
  });

  it("filters the log by level, text and session", async () => {
    const lines = logsPage.locator("#logs .log-line");
    const alphaId = await page.locator(row(alpha)).getAttribute("data-session");
    const betaId = await page.locator(row(beta)).getAttribute("data-session");
    assert.ok((await logsPage.locator('#logs .log-line[data-level="INFO"]').count()) > 0, "INFO lines are there to hide");

    // Level: warnings and errors only.
    await logsPage.selectOption("#log-level", "WARN");
    await logsPage.waitForFunction(() => {
      const levels = [...document.querySelectorAll("#logs .log-line")].map((line) => line.dataset.level);
      return levels.length > 0 && levels.every((level) => level === "WARN" || level === "ERROR");
    }, null, { timeout: PROMPT_MS });
    await logsPage.selectOption("#log-level", "ERROR");
    await logsPage.waitForFunction(() => document.querySelectorAll('#logs .log-line:not([data-level="ERROR"])').length === 0, null, { timeout: PROMPT_MS });
    await logsPage.selectOption("#log-level", "TRACE");
    await logsPage.locator('#logs .log-line[data-level="INFO"]').first().waitFor({ timeout: PROMPT_MS });

    // Text: only lines that mention the loss.
    const before = await lines.count();
    await logsPage.fill("#log-search", "went away");
    await logsPage.waitForFunction(
      (total) => {
        const texts = [...document.querySelectorAll("#logs .log-line")].map((line) => line.textContent.toLowerCase());
        return texts.length > 0 && texts.length < total && texts.every((text) => text.includes("went away"));
      },
      before,
      { timeout: PROMPT_MS },
    );
    await logsPage.fill("#log-search", "");

    // Session: only alpha's lines.
    await logsPage.selectOption("#log-session", alphaId);
    await logsPage.waitForFunction(
      (id) => {
        const sessions = [...document.querySelectorAll("#logs .log-line")].map((line) => line.dataset.session);
        return sessions.length > 0 && sessions.every((session) => session === id);
      },
      alphaId,
      { timeout: PROMPT_MS },
    );
    assert.equal(await logsPage.locator(`#logs .log-line[data-session="${betaId}"]`).count(), 0);
    await logsPage.selectOption("#log-session", "");
  });

  it("dismisses a lost window's row", async () => {
    await page.locator(`${row(beta, "lost")} button`, { hasText: "Dismiss" }).click();
    await page.locator(row(beta)).waitFor({ state: "detached", timeout: PROMPT_MS });
    await page.locator(row(alpha, "ready")).waitFor({ timeout: PROMPT_MS });
    await page.locator(".pill[data-tone=green]").waitFor({ timeout: PROMPT_MS });
  });

  it("shows connect snippets with the real absolute path of exai-shim", async () => {
    const shimPath = realpathSync(binary("exai-shim"));
    await page.goto(`${origin}/#/connect`);
    await page.locator(".view-connect .shim-path code", { hasText: shimPath }).waitFor({ timeout: PROMPT_MS });
    const snippet = page.locator('.view-connect [role="tabpanel"]:not([hidden]) pre');
    await snippet.waitFor({ timeout: PROMPT_MS });
    assert.ok((await snippet.textContent()).includes(JSON.stringify(shimPath)), "the snippet has the JSON-quoted shim path");
    // Every editor's tab holds the same path.
    const tabs = page.locator('.view-connect [role="tab"]');
    assert.ok((await tabs.count()) >= 4, "VS Code, Cursor, Claude Desktop and Augment");
    for (let index = 0; index < (await tabs.count()); index++) {
      await tabs.nth(index).click();
      assert.ok((await snippet.textContent()).includes(shimPath), `tab ${index} has the shim path`);
    }
  });

  it("logged no console errors", () => {
    assert.deepEqual(consoleErrors, []);
  });
});

function watchApi(page, requests) {
  page.on("request", async (request) => {
    const url = new URL(request.url());
    if (!url.pathname.startsWith("/api/")) return;
    const headers = await request.allHeaders();
    requests.push({ path: url.pathname, url: request.url(), authorization: headers.authorization, cookie: headers.cookie });
  });
}

function watchConsole(page, errors) {
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(`${page.url()}: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`${page.url()}: ${error.message}`));
}
