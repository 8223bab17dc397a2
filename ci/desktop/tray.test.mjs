// The real tray app on a Linux desktop, headless: `exai-tray` under Xvfb in its own D-Bus
// session (ci/desktop/test.sh starts both), with a StatusNotifier watcher, a fake notification
// server, the testkit's fake daemon and real `exai-shim` processes driven by the MCP SDK.
//
// It proves, without looking at pixels: the app starts and logs it, as `exai-tray-host` (same
// pid, no GTK or WebKit mapped), its dashboard window a child process `exai-tray --window`
// whose page the AT-SPI probes read; its tray icon registers
// with the watcher and carries the menu; its window is mapped and renders the dashboard (read
// through the accessibility tree WebKitGTK exposes over AT-SPI); two editor windows work and
// show in `exai status`, the menu and the page; a killed window becomes a desktop notification
// that names it; a second `exai-tray` hands over to the first; SIGTERM quits cleanly, telling
// the remaining shim. Then a second tray on a first run (no daemon configured, started hidden
// as a login item starts it): no webview until the dashboard is opened, the first-run card,
// its Save writing config.toml (0600, the token in no log) and the hub reconnecting, the window
// released after it is closed; its memory (PSS of the whole process tree) in each state is
// printed as `tray-pss: hidden=.. MiB open=.. MiB released=.. MiB` and written to
// target/desktop-pss.txt. Last, a tray that makes no window (EXAI_TRAY_BROWSER=1, as where no
// webview can be made): "Open dashboard" starts the loopback dashboard and hands its address to
// the default browser (a fake xdg-open), which serves the page, and the API only with the token.
// Then, with the StatusNotifier watcher stopped (a desktop that shows no tray icons), a tray
// started hidden says so (a WARN line, a notification) and opens its window, and serves on. Screenshots go to target/screenshots/tray-*.png.
//
// Run: `bash ci/desktop/test.sh` (which also builds nothing: see its header for what it needs).

import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import {
  binary,
  NOTIFYD,
  probe,
  PYTHON,
  repoRoot,
  run,
  settledCapture,
  Shim,
  Started,
  targetDir,
  tempDir,
  textOf,
  nodes,
  waitUntil,
  x11Windows,
} from "./support.mjs";

const TITLE = "EXAI Tray";
const VSCODE = { name: "Visual Studio Code", version: "1.96.0" };
const CURSOR = { name: "Cursor", version: "0.45.11" };
/** Bound for what should happen promptly (a row appearing, a menu repainting). */
const PROMPT_MS = 10_000;
/** Bound for the app's start (GTK, WebKit's processes, the first page load). */
const START_MS = 30_000;
const SCREENSHOTS = path.join(targetDir, "screenshots");
/** Each process's output, written after every run (CI keeps it when something fails). */
const LOGS = path.join(targetDir, "desktop-logs");

let checks = 0;
/** One named assertion; the final line counts them. */
function check(what, condition, detail) {
  assert.ok(condition, `${what}${detail === undefined ? "" : `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`}`);
  checks += 1;
}
/** A wait that is itself a check (it fails with what did not happen); counted when it passes. */
async function counted(wait) {
  const value = await wait;
  checks += 1;
  return value;
}

/** The hidden tray's memory goal on Linux (PSS of the whole tree, release build). */
const HIDDEN_GOAL_MIB = 40;
/**
 * What the test asserts for the hidden tray: the goal itself, although this is the debug build
 * (about 22 MiB hidden; the release build about 12). On Linux the hidden tray is `exai-tray-host`
 * alone, which maps no GTK or WebKit (ARCHITECTURE.md, "A tray that costs nothing while
 * hidden"); the same tray with WebKitGTK linked in was 82 MiB (debug) and 66 MiB (release).
 */
const HIDDEN_LIMIT_MIB = HIDDEN_GOAL_MIB;

/** PSS in MiB of `pids` (from /proc/<pid>/smaps_rollup; a process that ended counts 0). */
function pssMiB(pids) {
  let kib = 0;
  for (const pid of pids) {
    try {
      kib += Number(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8").match(/^Pss:\s+(\d+) kB/m)?.[1] ?? 0);
    } catch {
      // it ended while we looked
    }
  }
  return Math.round(kib / 102.4) / 10;
}

/** `pid` and every process below it. */
function processTree(pid) {
  return [pid, ...childrenOf(pid).flatMap(processTree)];
}

/** The command name of `pid` (WebKitWebProces, WebKitNetworkPr, ...), or "" once it ended. */
function commandOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

/** The command line of `pid`, its arguments joined by spaces, or "" once it ended. */
function cmdlineOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * The dashboard window's process of the tray `pid`: on Linux the tray (which has become
 * `exai-tray-host`, same pid) runs the window as its child `exai-tray --window`. Until there is
 * one, the tray's own pid (the probes then find no page there, and their waits go on).
 */
function windowPid(pid) {
  return childrenOf(pid).find((child) => cmdlineOf(child).endsWith("--window")) ?? pid;
}

/** The shared objects `pid` has mapped (from /proc/<pid>/maps), by file name. */
function mappedLibraries(pid) {
  const names = new Set();
  for (const line of readFileSync(`/proc/${pid}/maps`, "utf8").split("\n")) {
    const file = line.split(/\s+/)[5];
    if (file?.includes(".so")) names.add(path.basename(file));
  }
  return [...names];
}

/** Whether `pid` runs (a zombie waiting for its parent to reap it has ended). */
function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** The pids whose parent is `pid` (from /proc/<pid>/stat). */
function childrenOf(pid) {
  const children = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // it ended while we looked
    }
    // Fields after the command name, which is in parentheses and may hold spaces.
    const [, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(parent) === pid) children.push(Number(entry));
  }
  return children;
}

describe("exai-tray on a headless Linux desktop", { timeout: 200_000 }, () => {
  for (const name of ["DISPLAY", "DBUS_SESSION_BUS_ADDRESS"]) {
    if (!process.env[name]) throw new Error(`${name} is not set: run this through ci/desktop/test.sh (Xvfb and a private D-Bus session)`);
  }
  const endpoint = `desk-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
  // The endpoint (and the D-Bus session) are this run's own, so window labels need not be
  // unique; they read like projects because the screenshots go into the README. Each shim runs
  // in a folder of that name, which the dashboard shows as the window's folder.
  const windows = [
    { label: "payments-api", editor: VSCODE, calls: 3 },
    { label: "web-frontend", editor: VSCODE, calls: 1 },
    { label: "docs-site", editor: CURSOR, calls: 2 },
  ];
  const [alpha, beta, gamma] = windows.map((window) => window.label);
  const dirs = [];
  /** Every process started here, stopped in `after` by pid. */
  const started = [];
  const shims = [];
  let env, trayEnv, notifyd, monitor, watcher, daemon, daemonUrl, tray, windowId, icons, projects, base, logDir;

  const start = (name, command, args, options) => {
    const process_ = new Started(name, command, args, { env, ...options });
    started.push(process_);
    return process_;
  };
  const trayItem = () => probe(env, "tray", tray.pid);
  const page = () => probe(env, "page", windowPid(tray.pid));
  const menuLabels = (item) => item.menu.map((entry) => entry.label).filter(Boolean);
  const status = async () => JSON.parse(await run(binary("exai"), ["status", "--json", "--endpoint", endpoint], { env: trayEnv }));
  /** Which of icons/tray-*.png the tray icon's current file shows, pixel for pixel. */
  const iconColour = async (file) => {
    for (const [colour, png] of Object.entries(icons)) {
      const same = await run("compare", ["-metric", "AE", file, png, "null:"], { env }).then(() => true, () => false);
      if (same) return colour;
    }
    return `none of ${Object.keys(icons)} (${file})`;
  };
  /** Waits until the page, read over AT-SPI, satisfies `holds(text, tree)`. */
  const waitForPage = (what, holds, timeoutMs = PROMPT_MS) => {
    let last;
    return waitUntil(`the dashboard shows ${what}`, async () => {
      last = await page();
      return holds(textOf(last), last) && last;
    }, { timeoutMs, show: () => (last ? textOf(last).slice(0, 3000) : "no accessible page") });
  };
  /** The table row (AT-SPI role "table row") that names `label`, as text. */
  const rowText = (tree, label) =>
    [...nodes(tree)].filter((node) => node.role === "table row").map(textOf).find((text) => text.includes(label));
  const screenshot = async (name) => {
    const root = await settledCapture(env, "root");
    await writeFile(path.join(SCREENSHOTS, `tray-${name}.png`), root);
    const window = await settledCapture(env, windowId);
    await writeFile(path.join(SCREENSHOTS, `tray-${name}-window.png`), window);
    check(`screenshot ${name} is a PNG`, root.subarray(1, 4).toString() === "PNG" && window.length > 1000);
  };

  before(async () => {
    await mkdir(SCREENSHOTS, { recursive: true });
    base = await tempDir("exai-desktop-");
    dirs.push(base);
    const home = path.join(base, "home");
    const runtime = path.join(base, "runtime");
    for (const dir of [home, runtime, ...["config", "data", "cache", "state"].map((name) => path.join(base, name))]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
    env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith("EXAI_")) delete env[key];
    Object.assign(env, {
      HOME: home,
      XDG_CONFIG_HOME: path.join(base, "config"),
      XDG_DATA_HOME: path.join(base, "data"),
      XDG_CACHE_HOME: path.join(base, "cache"),
      XDG_STATE_HOME: path.join(base, "state"),
      XDG_RUNTIME_DIR: runtime,
      EXAI_LOG: "info",
      // python3-gi's deprecation notes are not failures.
      PYTHONWARNINGS: "ignore::DeprecationWarning",
    });
    projects = path.join(base, "projects");
    for (const { label } of windows) await mkdir(path.join(projects, label), { recursive: true });
    icons = Object.fromEntries(["grey", "green", "amber", "red"].map((colour) => [colour, path.join(repoRoot, "icons", `tray-${colour}.png`)]));

    // Everything the desktop offers, each ready before the app starts.
    notifyd = start("notifyd", PYTHON, [NOTIFYD]);
    await notifyd.waitFor(/"ready": true/, { what: "ownership of org.freedesktop.Notifications" });
    // The watcher's signals, recorded from before the app starts.
    monitor = start("dbus-monitor", "dbus-monitor", ["--session", "type='signal',interface='org.kde.StatusNotifierWatcher'"]);
    await monitor.waitFor(/member=NameLost/, { what: "dbus-monitor becoming a monitor" });
    watcher = start("status-notifier-watcher", "status-notifier-watcher", []);
    await run("gdbus", ["wait", "--session", "--timeout", "10", "org.kde.StatusNotifierWatcher"], { env });
    daemon = start("exai-fake-daemon", binary("exai-fake-daemon"), []);
    [daemonUrl] = await daemon.waitFor(/ws:\/\/127\.0\.0\.1:\d+/, { what: "the daemon's URL" });
    trayEnv = { ...env, EXAI_ENDPOINT: endpoint, EXAI_WS_URL: daemonUrl };
  });

  after(async () => {
    // Only what this test started, by pid; then make sure each is gone.
    await Promise.all(shims.map((shim) => shim.close().catch(() => {})));
    for (const process_ of [...started].reverse()) await process_.stop("SIGTERM");
    await rm(LOGS, { recursive: true, force: true });
    await mkdir(LOGS, { recursive: true });
    for (const process_ of started) await writeFile(path.join(LOGS, `${process_.name.replaceAll(" ", "-")}.log`), process_.fullOutput);
    for (const shim of shims) await writeFile(path.join(LOGS, `shim-${shim.label}.log`), shim.stderr);
    for (const process_ of started) assert.equal(process_.running, false, `${process_.name} (pid ${process_.pid}) still runs`);
    for (const shim of shims) assert.equal(shim.running, false, `the shim ${shim.label} (pid ${shim.pid}) still runs`);
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
    if (process.env.EXAI_DESKTOP_CHECKS) await writeFile(process.env.EXAI_DESKTOP_CHECKS, `${checks}\n`);
  });

  it("starts and says so on stderr", async () => {
    tray = start("exai-tray", binary("exai-tray"), [], { env: trayEnv });
    const [line] = await tray.waitFor(/EXAI tray started.*/, { stream: "stderr", timeoutMs: START_MS });
    check("the start line names our endpoint", line.includes(`${endpoint}.sock`), line);
    check("the start line names the daemon", line.includes(daemonUrl), line);
    logDir = line.match(/log_dir=(\S+)/)?.[1];
    check("the log directory is this run's own", logDir?.startsWith(`${base}/`), line);
    // On Linux exai-tray became its toolkit-free host, keeping its pid.
    check("the tray's process is exai-tray-host now", commandOf(tray.pid) === "exai-tray-host", commandOf(tray.pid));
    const libraries = mappedLibraries(tray.pid);
    check("the host maps no WebKit, GTK or GDK", !libraries.some((name) => /^lib(webkit2gtk|javascriptcoregtk|gtk-3|gdk-3)/.test(name)),
      libraries.filter((name) => /webkit|gtk|gdk/.test(name)));
  });

  it("registers its tray icon with the StatusNotifier watcher, with its menu", async () => {
    const [, name] = await monitor.waitFor(/member=StatusNotifierItemRegistered\s+string "([^"]+)"/, {
      timeoutMs: START_MS,
      what: "a StatusNotifierItemRegistered signal from the watcher",
    });
    const property = await run("gdbus", [
      "call", "--session", "--dest", "org.kde.StatusNotifierWatcher", "--object-path", "/StatusNotifierWatcher",
      "--method", "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems",
    ], { env });
    check("RegisteredStatusNotifierItems lists the registered item", property.includes(`'${name.split("/")[0]}`), property);
    const item = await trayItem();
    check("the registered item belongs to the tray's process", item.pid === tray.pid, item);
    check("the item is active", item.props.Status === "Active", item.props);
    check("the icon files live in the run's own runtime dir", item.props.IconThemePath.startsWith(trayEnv.XDG_RUNTIME_DIR), item.props);
    check("the item has a menu", item.props.Menu && item.menu.length > 0, item);
    const ready = await waitUntil("the tray menu says the daemon is connected and no editor is", async () => {
      const now = await trayItem();
      const labels = menuLabels(now);
      return labels.includes(`Daemon: connected to ${daemonUrl}`) && labels.includes("No editor connected") && now;
    }, { show: (now) => now && menuLabels(now) });
    for (const label of ["Open dashboard", "Connect an editor…", "Quit EXAI Tray"]) {
      check(`the menu offers "${label}"`, menuLabels(ready).includes(label), menuLabels(ready));
    }
    check("the icon is grey with no editor", (await iconColour(ready.props.IconName)) === "grey", ready.props.IconName);
  });

  it("shows its window, which renders the dashboard", async () => {
    const [window] = await waitUntil(`a mapped X11 window titled "${TITLE}"`, async () => {
      const windows = await x11Windows(env, TITLE);
      return windows.some((w) => w.mapState === "IsViewable") && windows.filter((w) => w.mapState === "IsViewable");
    }, { timeoutMs: START_MS });
    windowId = window.id;
    check("the window has the configured size", window.width === 960 && window.height === 640, window);
    const child = windowPid(tray.pid);
    check("the window is a child process, exai-tray --window", child !== tray.pid && commandOf(child) === "exai-tray", processTree(tray.pid).map(cmdlineOf));
    check("the window process's command line carries no token", !/token/i.test(cmdlineOf(child)), cmdlineOf(child));
    const tree = await waitForPage("the daemon connected and the empty state", (text) =>
      text.includes("Daemon") && text.includes(daemonUrl) && text.includes("No editor connected yet"), START_MS);
    check("the page is the dashboard document", [...nodes(tree)].some((node) => node.role === "document web" && node.name === TITLE));
  });

  it("serves three editor windows through real shims, visible in status, menu and page", async () => {
    for (const { label, editor, calls } of windows) {
      const shim = await Shim.connect({ endpoint, label, editor, env, cwd: path.join(projects, label) });
      shims.push(shim);
      for (let call = 1; call <= calls; call += 1) {
        const text = `hello ${call} from ${label}`;
        const result = await shim.client.callTool({ name: "echo", arguments: { text } }, undefined, { timeout: PROMPT_MS });
        check(`echo ${call} through ${label}`, !result.isError && result.content?.[0]?.text === text, result);
      }
    }
    const snapshot = await status();
    check("exai status: the host is the tray", snapshot.host.kind === "tray" && snapshot.host.pid === tray.pid, snapshot.host);
    check("exai status: three sessions", snapshot.sessions.length === windows.length, snapshot.sessions);
    for (const { label, editor } of windows) {
      const session = snapshot.sessions.find((s) => s.name === label);
      check(`exai status: ${label} is ready`, session?.state === "ready", snapshot.sessions);
      check(`exai status: ${label} is ${editor.name}`, session?.client?.name === editor.name, session);
    }
    const item = await waitUntil("the tray menu lists every window as ready", async () => {
      const now = await trayItem();
      const labels = menuLabels(now);
      return windows.every(({ label, editor }) => labels.includes(`${label} (${editor.name}): ready`)) && now;
    }, { show: (now) => now && menuLabels(now) });
    check("the icon is green with every window ready", (await iconColour(item.props.IconName)) === "green", item.props.IconName);
    await counted(waitForPage("every window as a ready row", (text, tree) =>
      windows.every(({ label }) => /ready/i.test(rowText(tree, label) ?? ""))));
  });

  it("turns a killed window into a notification that names it", async (t) => {
    const [, second] = shims;
    second.kill();
    // notifyd prints one JSON line per Notify call; the label is plain ASCII, the same in JSON.
    const [json] = await notifyd.waitFor(new RegExp(`^\\{"app_name".*${beta}.*$`, "m"), {
      timeoutMs: PROMPT_MS,
      what: `a Notify call naming ${beta}`,
    });
    const notice = JSON.parse(json);
    t.diagnostic(`Notify: ${notice.summary} / ${notice.body}`);
    check("the notification names the lost window", `${notice.summary} ${notice.body}`.includes(beta), notice);
    check("the notification comes from EXAI Tray", notice.app_name === TITLE, notice);
    const snapshot = await status();
    check("exai status: the killed window is lost", snapshot.sessions.find((s) => s.name === beta)?.state === "lost", snapshot.sessions);
    for (const label of [alpha, gamma]) {
      check(`exai status: ${label} is still ready`, snapshot.sessions.find((s) => s.name === label)?.state === "ready", snapshot.sessions);
    }
    await counted(waitUntil("the tray menu shows the killed window as lost", async () => {
      const labels = menuLabels(await trayItem());
      return labels.includes(`${beta} (${VSCODE.name}): lost`) && labels.includes(`${alpha} (${VSCODE.name}): ready`) && labels;
    }));
    await counted(waitForPage("the killed window's row as lost and the others as ready", (text, tree) =>
      /lost/i.test(rowText(tree, beta) ?? "") && [alpha, gamma].every((label) => /ready/i.test(rowText(tree, label) ?? ""))));
  });

  it("takes screenshots of the sessions, session, connect and logs views", async () => {
    await screenshot("sessions");
    // A window's line in the tray menu opens that window's page, clicked as a panel clicks it.
    await probe(env, "tray-click", tray.pid, `${beta} (${VSCODE.name}): lost`);
    await counted(waitForPage(`the page of ${beta}`, (text, tree) =>
      [...nodes(tree)].some((node) => node.role === "heading" && node.text.includes(beta)) && rowText(tree, alpha) === undefined));
    await screenshot("session");
    // The tray menu's "Connect an editor…".
    await probe(env, "tray-click", tray.pid, "Connect an editor…");
    await counted(waitForPage("the connect page", (text) => text.includes("Connect an editor") && text.includes("exai-shim")));
    await screenshot("connect");
    // The page's own navigation, followed as a screen reader follows a link; the log lines are
    // read as a screen reader reads them (each a list item with its whole text).
    await probe(env, "page-action", windowPid(tray.pid), "link", "Logs");
    await counted(waitForPage("the log view with lines (the lost window's warning among them), filterable by every window", (text, tree) => {
      const log = [...nodes(tree)].find((node) => node.role === "log" && node.name === "Hub log");
      const items = log ? [...nodes(log)].filter((node) => node.role === "list item") : [];
      const lines = items.filter((node) => /\b(INFO|WARN|ERROR|DEBUG|TRACE)\b/.test(node.text)).length;
      const lostLine = items.some((node) => node.text.includes("WARN") && node.text.includes(beta) && /lost/.test(node.text));
      const sessionFilter = [...nodes(tree)].find((node) => node.role === "combo box" && node.name.startsWith("Session"));
      const options = sessionFilter ? [...nodes(sessionFilter)].filter((node) => node.role === "menu item").map((node) => node.name) : [];
      return lines > 3 && lostLine && windows.every(({ label }) => options.some((option) => option.startsWith(label)));
    }));
    await screenshot("logs");
    await probe(env, "page-action", windowPid(tray.pid), "link", "Sessions*");
    await counted(waitForPage("the sessions view again", (text, tree) => windows.every(({ label }) => rowText(tree, label) !== undefined)));
  });

  it("hands over to the running tray when started a second time", async (t) => {
    const second = start("second exai-tray", binary("exai-tray"), [], { env: trayEnv });
    const { code } = await second.waitExit(PROMPT_MS);
    t.diagnostic(`second exai-tray: ${second.stderr.split("\n").filter((line) => line.startsWith("exai-tray:")).join(" ")}`);
    check("the second tray exits 0", code === 0, second.output);
    check("the second tray says the first runs and was shown",
      second.stderr.includes(`EXAI Tray is already running (pid ${tray.pid}); showed its dashboard`), second.output);
    await counted(tray.waitFor(/another EXAI tray asked to show the dashboard/, { stream: "stderr", timeoutMs: PROMPT_MS }));
    const windows = await x11Windows(env, TITLE);
    check("still one window", windows.filter((w) => w.mapState === "IsViewable").length === 1, windows);
  });

  it("quits on SIGTERM, telling the remaining shim, and leaves nothing behind", async (t) => {
    const [first, , third] = shims;
    const children = processTree(tray.pid).slice(1);
    check("the tray runs its window process and WebKit's helper processes", children.map(commandOf).includes("exai-tray") &&
      children.map(commandOf).some((name) => name.startsWith("WebKit")), children.map(commandOf));

    tray.child.kill("SIGTERM");
    const { code, signal } = await tray.waitExit(PROMPT_MS, "exit after SIGTERM");
    check("the tray exits 0 on SIGTERM", code === 0, { code, signal, output: tray.output });
    check("the tray logged its stop", /stop requested by signal[\s\S]*hub stopped[\s\S]*EXAI tray stopped/.test(tray.stderr), tray.output);
    for (const shim of [first, third]) {
      await counted(waitUntil(`the shim ${shim.label} saying the hub stopped`, () => /EXAI hub stopped/.test(shim.stderr), {
        timeoutMs: PROMPT_MS, show: () => shim.stderr,
      }));
    }
    const askedAt = performance.now();
    const failed = await first.client.callTool({ name: "echo", arguments: { text: "anyone?" } }, undefined, { timeout: PROMPT_MS }).then(
      (result) => `answered: ${JSON.stringify(result)}`,
      (error) => error.message,
    );
    const answeredMs = performance.now() - askedAt;
    t.diagnostic(`a call after the quit: ${failed} (after ${answeredMs.toFixed(0)} ms)`);
    check("a call through the remaining shim fails at once, saying why",
      /EXAI hub/.test(failed) && !failed.startsWith("answered") && answeredMs < 2000, `${failed} (after ${answeredMs.toFixed(0)} ms)`);
    await counted(monitor.waitFor(/member=StatusNotifierItemUnregistered/, { timeoutMs: PROMPT_MS, what: "the tray icon unregistering" }));
    await counted(waitUntil("the window process and WebKit's helper processes ending", () => !children.some(alive), {
      timeoutMs: PROMPT_MS, show: () => children.filter(alive),
    }));
    const windows = await x11Windows(env, TITLE);
    check("no window is left", windows.length === 0, windows);
    const logs = readdirSync(logDir).filter((file) => file.startsWith("exai-tray."));
    check("the daily log file has the session", logs.length === 1 && readFileSync(path.join(logDir, logs[0]), "utf8").includes("EXAI tray started"), logs);
  });
  it("on a first run starts hidden with no webview, explains the daemon, saves its settings and releases the window", async (t) => {
    // A fresh user: no daemon configured anywhere, a config folder and log folder of its own.
    const firstHome = path.join(base, "first-run");
    const firstEnv = {
      ...env,
      XDG_CONFIG_HOME: path.join(firstHome, "config"),
      XDG_STATE_HOME: path.join(firstHome, "state"),
      EXAI_ENDPOINT: `${endpoint}-first`,
      // Released 2 s after it is closed rather than a minute.
      EXAI_TRAY_RELEASE_SECS: "2",
    };
    for (const dir of [firstEnv.XDG_CONFIG_HOME, firstEnv.XDG_STATE_HOME]) await mkdir(dir, { recursive: true, mode: 0o700 });
    const token = `first-run-token-${process.pid}-0123456789`;
    const tokenDaemon = start("exai-fake-daemon (token)", binary("exai-fake-daemon"), ["--token", token]);
    const [tokenUrl] = await tokenDaemon.waitFor(/ws:\/\/127\.0\.0\.1:\d+/, { what: "the daemon's URL" });

    const first = start("first-run exai-tray", binary("exai-tray"), ["--hidden"], { env: firstEnv });
    const [line] = await first.waitFor(/EXAI tray started.*/, { stream: "stderr", timeoutMs: START_MS });
    const firstLogDir = line.match(/log_dir=(\S+)/)?.[1];
    check("the first-run tray logs to its own folder", firstLogDir?.startsWith(firstHome), line);
    await counted(waitUntil("the hidden tray's icon and menu", async () => {
      const labels = menuLabels(await probe(env, "tray", first.pid));
      return labels.some((label) => label.startsWith("Daemon:")) && labels;
    }, { timeoutMs: START_MS }));
    check("no window at start with --hidden", (await x11Windows(env, TITLE)).length === 0);
    check("no WebKit process while hidden", childrenOf(first.pid).length === 0, childrenOf(first.pid).map(commandOf));
    const hidden = pssMiB(processTree(first.pid));

    // Opened from the tray menu, as a user does.
    await probe(env, "tray-click", first.pid, "Open dashboard");
    const firstPage = () => probe(env, "page", windowPid(first.pid));
    let last;
    const card = await counted(waitUntil("the first-run card with the default address filled in", async () => {
      last = await firstPage();
      const text = textOf(last);
      return text.includes("Connect the hub to your EXAI daemon") && text.includes("Python server of AI tools") &&
        [...nodes(last)].some((node) => node.role === "entry" && node.name === "Daemon address" && node.text === "ws://127.0.0.1:8079") && last;
    }, { timeoutMs: START_MS, show: () => (last ? textOf(last).slice(0, 3000) : "no accessible page") }));
    check("the card has Test, Save and Open config file", ["Test", "Save", "Open config file"].every((name) =>
      [...nodes(card)].some((node) => node.role === "push button" && node.name === name)), textOf(card).slice(0, 2000));
    const open = pssMiB(processTree(first.pid));
    const webkit = processTree(first.pid).slice(1);
    check("the dashboard runs in WebKit's processes", webkit.map(commandOf).some((name) => name.startsWith("WebKitWebProc")), webkit.map(commandOf));

    const [window] = (await x11Windows(env, TITLE)).filter((w) => w.mapState === "IsViewable");
    check("the first-run tray's window is shown", window !== undefined);
    for (const width of [1280, 640]) {
      await probe(env, "resize-window", window.id, width, 800);
      await waitUntil(`the window at ${width} px`, async () => (await x11Windows(env, TITLE)).some((w) => w.width === width));
      const png = await settledCapture(env, window.id);
      await writeFile(path.join(SCREENSHOTS, `tray-first-run-${width}.png`), png);
      check(`screenshot of the first-run card at ${width} px`, png.subarray(1, 4).toString() === "PNG");
    }

    // A wrong port first: the Test button says nothing listens there.
    /** Types into a field, then waits until the page holds it (the keys arrive on their own time). */
    const fill = async (role, name, text) => {
      await probe(env, "page-fill", windowPid(first.pid), role, name, text);
      await waitUntil(`the ${name} field holding what was typed`, async () =>
        [...nodes(await firstPage())].some((node) => node.role === role && node.name === name &&
          (role === "password text" ? [...node.text].length === text.length : node.text === text)));
    };
    await fill("entry", "Daemon address", "ws://127.0.0.1:9");
    await probe(env, "page-action", windowPid(first.pid), "push button", "Test");
    await counted(waitUntil("Test saying the connection was refused", async () => {
      last = await firstPage();
      return /Nothing listens at ws:\/\/127\.0\.0\.1:9/.test(textOf(last));
    }, { show: () => (last ? textOf(last).slice(0, 3000) : "no accessible page") }));
    // The real daemon and its token; Save.
    await fill("entry", "Daemon address", tokenUrl);
    await fill("password text", "Token", token);
    await probe(env, "page-action", windowPid(first.pid), "push button", "Test");
    await counted(waitUntil("Test saying the daemon accepted the token", async () => {
      last = await firstPage();
      return textOf(last).includes(`The daemon at ${tokenUrl} answered and accepted the token`);
    }, { show: () => (last ? textOf(last).slice(0, 2500) : "no accessible page") }));
    await probe(env, "page-action", windowPid(first.pid), "push button", "Save");
    await counted(waitUntil("the daemon card connected to the saved daemon and the first-run card gone", async () => {
      last = await firstPage();
      const text = textOf(last);
      return text.includes(tokenUrl) && /Connected/.test(text) && !text.includes("Connect the hub to your EXAI daemon") && last;
    }, { timeoutMs: PROMPT_MS, show: () => (last ? textOf(last).slice(0, 3000) : "no accessible page") }));
    const configFile = path.join(firstEnv.XDG_CONFIG_HOME, "exai", "config.toml");
    const written = readFileSync(configFile, "utf8");
    check("config.toml has the daemon's address and token under [upstream]", /\[upstream\]/.test(written) && written.includes(`url = "${tokenUrl}"`) && written.includes(`token = "${token}"`), written);
    check("config.toml is readable only by its owner (0600)", (statSync(configFile).mode & 0o777) === 0o600, (statSync(configFile).mode & 0o777).toString(8));
    check("exai status: the tray is connected to the saved daemon", await run(binary("exai"), ["status", "--json", "--endpoint", firstEnv.EXAI_ENDPOINT], { env: firstEnv })
      .then((out) => JSON.parse(out).upstream).then((up) => up.url === tokenUrl && up.state === "connected"));

    // Closed (as a window manager's close button closes it): hidden, then released.
    await probe(env, "close-window", window.id);
    await counted(first.waitFor(/dashboard window released/, { stream: "stderr", timeoutMs: PROMPT_MS }));
    await counted(waitUntil("WebKit's web process of the released window ending", () =>
      !processTree(first.pid).slice(1).some((pid) => commandOf(pid).startsWith("WebKitWebProc")), {
      timeoutMs: PROMPT_MS, show: () => processTree(first.pid).map(commandOf),
    }));
    check("no window is left after the release", (await x11Windows(env, TITLE)).length === 0);
    await counted(waitUntil("the window process ending with its window", () => !processTree(first.pid).slice(1).some(alive), {
      timeoutMs: PROMPT_MS, show: () => processTree(first.pid).map(cmdlineOf),
    }));
    const released = pssMiB(processTree(first.pid));
    const left = processTree(first.pid).slice(1).map(commandOf);

    const numbers = `tray-pss: hidden=${hidden} MiB open=${open} MiB released=${released} MiB`;
    process.stdout.write(`${numbers} (debug build; WebKit processes left after the release: ${left.join(", ") || "none"})\n`);
    t.diagnostic(numbers);
    await writeFile(path.join(targetDir, "desktop-pss.txt"), `${numbers}\n`);
    check(`the hidden tray is under ${HIDDEN_LIMIT_MIB} MiB PSS (goal for a release build: ${HIDDEN_GOAL_MIB} MiB)`, hidden < HIDDEN_LIMIT_MIB, numbers);
    check("the released tray is well below the open one", released < open - 50, numbers);

    // Reopened after the release: a new page, still the saved daemon, no first-run card.
    await probe(env, "tray-click", first.pid, "Open dashboard");
    await counted(waitUntil("a new page after the release, connected", async () => {
      const text = textOf(await firstPage());
      return text.includes(tokenUrl) && /Connected/.test(text) && !text.includes("Connect the hub to your EXAI daemon");
    }, { timeoutMs: START_MS }));

    first.child.kill("SIGTERM");
    const { code } = await first.waitExit(PROMPT_MS, "exit after SIGTERM");
    check("the first-run tray exits 0", code === 0, first.output);
    const logs = readdirSync(firstLogDir).map((file) => readFileSync(path.join(firstLogDir, file), "utf8")).join("\n");
    check("the first-run tray wrote its log", logs.includes("daemon settings saved"), logs.slice(-2000));
    check("the token is in no log file and not in the tray's output", !logs.includes(token) && !first.stderr.includes(token) && !first.stdout.includes(token));
  });

  it("opens the dashboard in the browser when it makes no window, served with its token", async () => {
    // The default browser is a fake xdg-open first on PATH (tauri-plugin-opener's `open` crate
    // tries xdg-open first) that writes down each address it is given.
    const browserHome = path.join(base, "browser");
    const bin = path.join(browserHome, "bin");
    const opened = path.join(browserHome, "opened.txt");
    const stateDir = path.join(browserHome, "state");
    for (const dir of [bin, stateDir]) await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(bin, "xdg-open"), `#!/bin/sh\nprintf '%s\\n' "$1" >> '${opened}'\n`, { mode: 0o755 });
    const browserEnv = {
      ...trayEnv,
      EXAI_ENDPOINT: `${endpoint}-browser`,
      EXAI_TRAY_BROWSER: "1",
      PATH: `${bin}:${env.PATH}`,
      XDG_STATE_HOME: stateDir,
    };
    const addresses = () => {
      try {
        return readFileSync(opened, "utf8").split("\n").filter(Boolean);
      } catch {
        return [];
      }
    };
    const browserTray = start("browser exai-tray", binary("exai-tray"), ["--hidden"], { env: browserEnv });
    await browserTray.waitFor(/EXAI tray started/, { stream: "stderr", timeoutMs: START_MS });
    const item = await counted(waitUntil("the tray menu with both ways to the dashboard", async () => {
      const labels = menuLabels(await probe(env, "tray", browserTray.pid));
      return labels.includes("Open dashboard") && labels.includes("Open dashboard in browser") && labels;
    }, { timeoutMs: START_MS }));
    check("no server listens before the dashboard is asked for", !/dashboard serving/.test(browserTray.stderr), item);

    await probe(env, "tray-click", browserTray.pid, "Open dashboard");
    const [address] = await counted(waitUntil("the browser given the dashboard's address", () => addresses().length > 0 && addresses(), {
      timeoutMs: PROMPT_MS, show: () => browserTray.stderr.slice(-2000),
    }));
    const url = new URL(address);
    const token = url.searchParams.get("token");
    check("the address is on loopback with a token", url.protocol === "http:" && url.hostname === "127.0.0.1" && /^[0-9a-f]{64}$/.test(token ?? ""), url.origin);
    const page = await fetch(address);
    check("the address serves the dashboard's page", page.status === 200 && /<html/i.test(await page.text()), page.status);
    const snapshot = await fetch(`${url.origin}/api/snapshot`, { headers: { Authorization: `Bearer ${token}` } });
    const body = await snapshot.json().catch(() => null);
    check("/api/snapshot with the token answers 200, the tray as host", snapshot.status === 200 && body?.host?.kind === "tray", { status: snapshot.status, host: body?.host });
    const settings = await fetch(`${url.origin}/api/settings`, { headers: { Authorization: `Bearer ${token}` } }).then((r) => r.json());
    check("/api/settings are the tray's", settings.host === "tray" && settings.notifications !== null, settings);
    const refused = await fetch(`${url.origin}/api/snapshot`);
    check("/api/snapshot without the token answers 401", refused.status === 401, refused.status);
    check("no window and no WebKit process were made", (await x11Windows(env, TITLE)).length === 0 && childrenOf(browserTray.pid).every((pid) => !commandOf(pid).startsWith("WebKit")),
      childrenOf(browserTray.pid).map(commandOf));

    // The menu's own entry reuses the same server.
    await probe(env, "tray-click", browserTray.pid, "Open dashboard in browser");
    const [, again] = await counted(waitUntil("the browser given the address a second time", () => addresses().length > 1 && addresses(), { timeoutMs: PROMPT_MS }));
    check("the second opening is the same server and token", again === address, { again: new URL(again).origin, first: url.origin });

    browserTray.child.kill("SIGTERM");
    const { code } = await browserTray.waitExit(PROMPT_MS, "exit after SIGTERM");
    check("the browser tray exits 0", code === 0, browserTray.output);
    const logs = readdirSync(stateDir, { recursive: true }).map((file) => path.join(stateDir, String(file)))
      .filter((file) => statSync(file).isFile()).map((file) => readFileSync(file, "utf8")).join("\n");
    check("the tray logged the browser opening", /dashboard opened in the browser/.test(browserTray.stderr) && /dashboard opened in the browser/.test(logs), browserTray.stderr.slice(-2000));
    check("the dashboard token is in no log file and not in the tray's output", !logs.includes(token) && !browserTray.stderr.includes(token) && !browserTray.stdout.includes(token));
  });

  it("with nothing to host its icon, says so and opens its window, and keeps working", async () => {
    // GNOME without its AppIndicator extension: nobody owns the StatusNotifier watcher's name.
    await watcher.stop("SIGTERM");
    await counted(waitUntil("the watcher's name released", () =>
      run("gdbus", ["call", "--session", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
        "--method", "org.freedesktop.DBus.NameHasOwner", "org.kde.StatusNotifierWatcher"], { env }).then((out) => out.includes("false"))));
    const hostless = start("hostless exai-tray", binary("exai-tray"), ["--hidden"], {
      env: { ...trayEnv, EXAI_ENDPOINT: `${endpoint}-hostless`, XDG_STATE_HOME: path.join(base, "hostless-state") },
    });
    const [warning] = await hostless.waitFor(/No system tray is showing the EXAI icon.*/, { stream: "stderr", timeoutMs: START_MS });
    check("the warning says what to install on GNOME", /AppIndicator/.test(warning), warning);
    const [json] = await notifyd.waitFor(/^\{"app_name".*no tray icon on this desktop.*$/m, { timeoutMs: PROMPT_MS, what: "the no-tray-icon notification" });
    check("the notification comes from EXAI Tray and says the window stays open", JSON.parse(json).app_name === TITLE && /dashboard window stays open/.test(JSON.parse(json).body), json);
    await counted(waitUntil(`a mapped window titled "${TITLE}" although started hidden`, async () =>
      (await x11Windows(env, TITLE)).some((w) => w.mapState === "IsViewable"), { timeoutMs: START_MS }));
    await counted(waitUntil("the window rendering the dashboard", async () => textOf(await probe(env, "page", windowPid(hostless.pid))).includes(daemonUrl), { timeoutMs: START_MS }));
    const snapshot = JSON.parse(await run(binary("exai"), ["status", "--json", "--endpoint", `${endpoint}-hostless`], { env: trayEnv }));
    check("exai status: the tray hosts the hub, connected to the daemon", snapshot.host.kind === "tray" && snapshot.upstream.state === "connected", { host: snapshot.host, upstream: snapshot.upstream.state });
    hostless.child.kill("SIGTERM");
    const { code } = await hostless.waitExit(PROMPT_MS, "exit after SIGTERM");
    check("the hostless tray exits 0", code === 0, hostless.output);
  });
});
