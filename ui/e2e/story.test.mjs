// The dashboard tells the story, in a real browser against the real `exai hub --dashboard`, real
// `exai-shim` processes driven by the MCP TypeScript SDK and the testkit's fake daemon: a failed
// call is one WARN sentence in the Logs view naming the window, the tool and the error (twice:
// one line, ×2); request rows show the arguments, the error, the cache flag and the duration,
// and no cell overlaps another from 640 to 1600 px (screenshots at 640 and 1280 px go to docs/);
// the daemon card lists its tools with a filter; a SIGKILLed window's page says what it was
// doing and why it is lost; a stopped, restarted and re-tokened hub is noticed by the page.
//
// Run: `npm run e2e` (after `npm run build` and `cargo build -p exai-cli -p exai-shim -p
// exai-testkit --bins`). Synchronisation is by Playwright's auto-waiting and waitForFunction
// with bounded timeouts, never by sleeping.

import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { binary, isolatedEnv, repoRoot, Shim, Started, tempDir } from "./support.mjs";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PROMPT_MS = 10_000;
const EDITOR = { name: "vscode-story", version: "1.96.0-e2e" };
/** The widths the dashboard must fit without overlap or clipping. */
const WIDTHS = [640, 800, 960, 1280, 1600];

describe("the dashboard tells the story", () => {
  const endpoint = `story-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  const storyName = `story-${endpoint}`;
  const doomedName = `doomed-${endpoint}`;
  const dirs = [];
  const shims = [];
  let daemon, daemonUrl, hub, context, page, env, origin, token, storyId, doomedId;

  /** `exai hub` on this test's endpoint; `addr` and `dashboardToken` to come back where it was. */
  async function startHub(addr, dashboardToken) {
    const hubEnv = dashboardToken ? { ...env, EXAI_DASHBOARD_TOKEN: dashboardToken } : env;
    const started = new Started("exai hub", binary("exai"), ["hub", `--dashboard=${addr}`, "--upstream", daemonUrl, "--endpoint", endpoint], hubEnv);
    const [, printed] = await started.waitForLine(/EXAI dashboard: (http:\/\/\S+)/);
    return { started, url: new URL(printed) };
  }

  before(async () => {
    const runtimeDir = await tempDir("exai-story-run-");
    const configDir = await tempDir("exai-story-config-");
    const profileDir = await tempDir("exai-story-chromium-");
    dirs.push(runtimeDir, configDir, profileDir);
    env = isolatedEnv(runtimeDir, configDir);
    daemon = new Started("exai-fake-daemon", binary("exai-fake-daemon"), [], env);
    [daemonUrl] = await daemon.waitForLine(/ws:\/\/127\.0\.0\.1:\d+/);
    const first = await startHub("127.0.0.1:0");
    hub = first.started;
    origin = first.url.origin;
    token = first.url.searchParams.get("token");
    context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 } });
    page = context.pages()[0] ?? (await context.newPage());
    await page.goto(`${origin}/?token=${token}`);
    await page.waitForURL((url) => !url.searchParams.has("token"), { timeout: PROMPT_MS });
  });

  after(async () => {
    await context?.close();
    await Promise.all(shims.filter((shim) => !shim.killed).map((shim) => shim.close()));
    await hub?.stop("SIGTERM");
    await daemon?.stop("SIGTERM");
    for (const started of [hub, daemon]) {
      if (started) assert.equal(started.running, false, `${started.name} (pid ${started.pid}) still runs`);
    }
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("logs a failed call once at WARN, as a sentence naming the window, the tool and the error", async () => {
    const shim = await Shim.connect({ endpoint, label: storyName, editor: EDITOR, env });
    shims.push(shim);
    const row = page.locator(`tr[data-name="${storyName}"][data-state="ready"]`);
    await row.waitFor({ timeout: PROMPT_MS });
    storyId = await row.getAttribute("data-session");

    // One call the daemon answers, the same again (from its cache), one that fails twice.
    for (const text of ["hello story", "hello story"]) {
      const result = await shim.client.callTool({ name: "echo", arguments: { text } });
      assert.equal(result.isError ?? false, false);
    }
    for (let i = 0; i < 2; i++) {
      const failed = await shim.client.callTool({ name: "fail", arguments: { attempt: "same" } }).then(
        (result) => result.isError === true,
        () => true,
      );
      assert.ok(failed, "the fail tool fails");
    }

    await page.goto(`${origin}/#/logs`);
    const warn = page.locator(`#logs .log-line[data-level="WARN"][data-session="${storyId}"]`, { hasText: 'tool "fail" failed' });
    await warn.first().waitFor({ timeout: PROMPT_MS });
    // Both failures: one line counted twice, not two lines.
    await page.waitForFunction((id) => [...document.querySelectorAll(`#logs .log-line[data-session="${id}"][data-level="WARN"]`)].some((line) => line.dataset.repeat === "2" && line.textContent.includes("×2")), storyId, { timeout: PROMPT_MS });
    assert.equal(await warn.count(), 1, "one line for the same failure twice");
    const text = await warn.first().locator(".log-message").textContent();
    assert.match(text, new RegExp(`^Window "${storyName}" \\(${EDITOR.name}, pid \\d+\\): tool "fail" failed: .+`), text);
    // Sentences: no Debug noise, and no module path on a WARN line.
    const all = await page.locator("#logs .log-line").allTextContents();
    for (const line of all) {
      assert.doesNotMatch(line, /Some\(|=\[\]|doing=|error=/, line);
    }
    assert.equal(await page.locator('#logs .log-line[data-level="WARN"] .log-target').first().textContent(), "");
  });

  it("shows each request's arguments, error, cache flag and duration", async () => {
    await page.goto(`${origin}/#/session/${storyId}`);
    const rows = page.locator(".timeline .request");
    await page.waitForFunction(() => document.querySelectorAll(".timeline .request").length >= 4, null, { timeout: PROMPT_MS });
    const echo = rows.filter({ hasText: "echo" });
    assert.equal(await echo.count(), 2);
    for (const index of [0, 1]) {
      assert.equal(await echo.nth(index).locator(".request-args").textContent(), '{"text":"hello story"}');
      assert.match(await echo.nth(index).locator(".request-duration").textContent(), /^\d+(\.\d+)? (ms|s)$/);
    }
    // The second echo came from the daemon's cache, and says so.
    const cached = page.locator('.timeline .request[data-cached="true"]');
    assert.equal(await cached.count(), 1);
    assert.equal(await cached.locator(".flag-cached").textContent(), "cached");
    assert.match(await cached.locator(".request-duration").getAttribute("title"), /answered from the daemon's cache/);
    const failed = page.locator('.timeline .request[data-outcome="error"]');
    assert.equal(await failed.count(), 2);
    assert.equal(await failed.first().locator(".request-args").textContent(), '{"attempt":"same"}');
    assert.ok((await failed.first().locator(".request-error").textContent()).length > 0, "the error text is shown");
  });

  it("has no overlapping or clipped cells in the request rows from 640 to 1600 px; screenshots at 640 and 1280 px", async () => {
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 800 });
      await page.waitForFunction((w) => window.innerWidth === w, width);
      const problems = await page.evaluate(() => {
        const found = [];
        const visible = (element) => {
          const box = element.getBoundingClientRect();
          return box.width > 0 && box.height > 0 && getComputedStyle(element).display !== "none";
        };
        for (const row of document.querySelectorAll(".timeline .request")) {
          const rowBox = row.getBoundingClientRect();
          const cells = [...row.querySelectorAll(":scope > *, :scope > .request-details > *")].filter(visible).filter((cell) => !cell.classList.contains("request-details"));
          for (const [i, a] of cells.entries()) {
            const boxA = a.getBoundingClientRect();
            if (boxA.left < rowBox.left - 0.5 || boxA.right > rowBox.right + 0.5) found.push(`${a.className} sticks out of its row`);
            // Text cut by overflow without an ellipsis is clipped; the arguments and the method
            // end in an ellipsis by design, their full text in a tooltip.
            if (!a.matches(".request-args, .request-what, .request-bar") && a.scrollWidth > a.clientWidth + 1) found.push(`${a.className} is clipped (${a.scrollWidth} > ${a.clientWidth})`);
            for (const b of cells.slice(i + 1)) {
              if (a.contains(b) || b.contains(a)) continue;
              const boxB = b.getBoundingClientRect();
              const overlap = Math.min(boxA.right, boxB.right) - Math.max(boxA.left, boxB.left) > 0.5 && Math.min(boxA.bottom, boxB.bottom) - Math.max(boxA.top, boxB.top) > 0.5;
              if (overlap) found.push(`${a.className} "${a.textContent}" overlaps ${b.className} "${b.textContent}"`);
            }
          }
        }
        if (document.documentElement.scrollWidth > window.innerWidth) found.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${window.innerWidth})`);
        return found;
      });
      assert.deepEqual(problems, [], `at ${width} px`);
      if (width === 640 || width === 1280) {
        await page.screenshot({ path: path.join(repoRoot, "docs", `dashboard-${width}.png`), fullPage: true });
      }
    }
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it("lists the daemon's tools with a filter", async () => {
    await page.goto(`${origin}/#/`);
    const tools = page.locator("#daemon-tools");
    await tools.locator("summary").click();
    await page.waitForFunction(() => document.querySelectorAll("#daemon-tools .tool-item").length === 7, null, { timeout: PROMPT_MS });
    assert.match(await tools.locator('.tool-item[data-tool="echo"] .tool-description').textContent(), /Returns `text` immediately/);
    await page.fill("#tools-filter", "progress");
    await page.waitForFunction(() => document.querySelectorAll("#daemon-tools .tool-item").length === 3, null, { timeout: PROMPT_MS });
    const names = await tools.locator(".tool-name").allTextContents();
    assert.deepEqual(names, ["chat", "gate", "slow"]);
    assert.equal(await tools.locator(".tools-status").textContent(), "3 of 7 tools");
    await page.fill("#tools-filter", "");
  });

  it("says what a SIGKILLed window was doing and why it is lost", async () => {
    const doomed = await Shim.connect({ endpoint, label: doomedName, editor: EDITOR, env });
    shims.push(doomed);
    const row = page.locator(`tr[data-name="${doomedName}"]`);
    await row.waitFor({ timeout: PROMPT_MS });
    doomedId = await row.getAttribute("data-session");
    await page.goto(`${origin}/#/session/${doomedId}`);
    // A call that runs until its gate opens, which never happens: the window is busy.
    void doomed.client.callTool({ name: "gate", arguments: { key: `never-${endpoint}` } }).catch(() => {});
    await page.locator(".facts div", { hasText: "tools/call gate" }).waitFor({ timeout: PROMPT_MS });

    doomed.kill();
    const lost = page.locator(".lost-card");
    await lost.waitFor({ timeout: PROMPT_MS });
    assert.match(await lost.locator("h3").textContent(), /^Lost at \d\d:\d\d:\d\d$/);
    assert.match(await lost.locator(".lost-why").textContent(), /went away without a goodbye/);
    assert.match(await lost.locator(".lost-doing").textContent(), /^It was running tools\/call gate; that request was cancelled/);
    assert.equal(await page.locator(".errors-list", { hasText: "No errors." }).count(), 0, "not \"No errors\" for a lost window");
    await page.goto(`${origin}/#/logs`);
    await page.locator(`#logs .log-line[data-level="WARN"][data-session="${doomedId}"]`, { hasText: "lost while running tools/call gate" }).waitFor({ timeout: PROMPT_MS });
  });

  it("notices a stopped hub, a restarted one and a new token, and says how to reopen the page", async () => {
    await page.goto(`${origin}/#/`);
    await page.locator(`tr[data-name="${storyName}"][data-state="ready"]`).waitFor({ timeout: PROMPT_MS });
    const before = await page.locator(".footer").textContent();
    const port = new URL(origin).port;

    // Stopped: after a short grace the page says the hub is not answering, and dims what it shows.
    await hub.stop("SIGTERM");
    await page.locator('.banner[data-kind="down"]', { hasText: "has not answered since" }).waitFor({ timeout: PROMPT_MS });
    assert.match(await page.locator(".banner").textContent(), /EXAI dashboard: http:\/\/127\.0\.0\.1:PORT\/\?token=…/);
    assert.equal(await page.locator("main.stale").count(), 1);

    // Restarted where it was, with the same token: the page follows the new hub and says so.
    const same = await startHub(`127.0.0.1:${port}`, token);
    hub = same.started;
    await page.locator('.banner[data-kind="restarted"]', { hasText: "The hub restarted" }).waitFor({ timeout: 45_000 });
    assert.match(await page.locator(".banner").textContent(), new RegExp(`now pid ${hub.pid}`));
    assert.equal(await page.locator("main.stale").count(), 0);
    await page.waitForFunction((old) => document.querySelector(".footer")?.textContent !== old, before, { timeout: PROMPT_MS });
    // The surviving window's shim comes back to the new hub by itself.
    await page.locator(`tr[data-name="${storyName}"]`).waitFor({ timeout: PROMPT_MS });

    // Restarted with a new token: refused, and the page says which address to open.
    await hub.stop("SIGTERM");
    const renewed = await startHub(`127.0.0.1:${port}`, null);
    hub = renewed.started;
    assert.notEqual(renewed.url.searchParams.get("token"), token);
    const refused = page.locator('.banner[data-kind="unauthorized"]');
    await refused.waitFor({ timeout: 45_000 });
    assert.match(await refused.textContent(), new RegExp(`Open the address the hub printed on its terminal \\(EXAI dashboard: ${origin.replaceAll(".", "\\.")}/\\?token=…\\)`));
    assert.equal(await page.locator("main.stale").count(), 1);
  });
});
