// Helpers for the desktop test (tray.test.mjs): processes we start and stop by pid, waits that
// are bounded and say what did not happen, the desktop probes (probe.py over D-Bus and AT-SPI,
// xwininfo, ImageMagick) and real shims driven by the official MCP TypeScript SDK.
//
// Nothing here sleeps to synchronise: a wait either follows a process's output or asks the
// desktop again until its condition holds or its deadline passes, like Playwright's expect.poll.

import { execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is `ci/desktop/support.mjs`). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** `$CARGO_TARGET_DIR` (relative to the repo root), else `<repo>/target`. */
export const targetDir = path.resolve(repoRoot, process.env.CARGO_TARGET_DIR ?? "target");
/** Debian's python3 (python3-gi lives there), not whatever python3 comes first on PATH. */
export const PYTHON = process.env.EXAI_DESKTOP_PYTHON ?? "/usr/bin/python3";
const PROBE = path.join(repoRoot, "ci", "desktop", "probe.py");
export const NOTIFYD = path.join(repoRoot, "ci", "desktop", "notifyd.py");

// The MCP SDK comes from the dashboard's node_modules (`npm --prefix ui ci`): ESM ignores
// NODE_PATH, so it is resolved from ui/package.json.
const uiRequire = createRequire(path.join(repoRoot, "ui", "package.json"));
let sdk;
function mcpSdk() {
  if (!sdk) {
    try {
      sdk = {
        Client: uiRequire("@modelcontextprotocol/sdk/client/index.js").Client,
        StdioClientTransport: uiRequire("@modelcontextprotocol/sdk/client/stdio.js").StdioClientTransport,
      };
    } catch (error) {
      throw new Error(`the MCP SDK is missing from ui/node_modules: run \`npm --prefix ui ci\` (${error.message})`);
    }
  }
  return sdk;
}

/** The path of a debug binary; fails with what to build when it is missing. */
export function binary(name) {
  const file = path.join(targetDir, "debug", name);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run \`cargo build -p exai-tray -p exai-shim -p exai-cli -p exai-testkit --bins\` first`);
  }
  return file;
}

/** A fresh private directory (mkdtemp makes it 0700). */
export function tempDir(prefix) {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

const ANSI = /\x1b\[[0-9;]*m/g;

/** Resolves after `ms` with `value`; only for giving up on a wait, never to wait for something. */
function deadline(ms) {
  let timer;
  const promise = new Promise((resolve) => (timer = setTimeout(resolve, ms)));
  return { promise, cancel: () => clearTimeout(timer) };
}

/** A process we started: its output (ANSI colours removed), waits on lines, a bounded stop. */
export class Started {
  constructor(name, command, args, { env, stdin = "pipe" } = {}) {
    this.name = name;
    this.stdout = "";
    this.stderr = "";
    this.child = spawn(command, args, { env, stdio: [stdin, "pipe", "pipe"] });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    this.spawnError = null;
    this.child.once("error", (error) => (this.spawnError = error));
    for (const stream of ["stdout", "stderr"]) {
      this.child[stream].setEncoding("utf8");
      this.child[stream].on("data", (chunk) => {
        this[stream] += chunk.replace(ANSI, "");
        this.child.emit("output");
      });
    }
  }

  get pid() {
    return this.child.pid;
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Both streams, for failure messages (the last 6000 characters of each). */
  get output() {
    const tail = (text) => (text.length > 6000 ? `…${text.slice(-6000)}` : text);
    return `--- ${this.name} stdout ---\n${tail(this.stdout)}\n--- ${this.name} stderr ---\n${tail(this.stderr)}`;
  }

  /** Both streams in full, for the log files. */
  get fullOutput() {
    return `--- ${this.name} (pid ${this.pid}) stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }

  /**
   * Resolves with the first match of `pattern` in `stream` (from the start of the output, so a
   * line printed before the call counts); fails when the process exits first or after `timeoutMs`.
   */
  waitFor(pattern, { stream = "stdout", timeoutMs = 15_000, what } = {}) {
    const describe = what ?? `a line matching ${pattern} on ${stream}`;
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this[stream].match(pattern);
        if (match) finish(null, match);
      };
      const onExit = (code, signal) => {
        check();
        finish(new Error(`${this.name} (pid ${this.pid}) exited (${code ?? signal}) before ${describe}\n${this.output}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`${this.name} (pid ${this.pid}): no ${describe} within ${timeoutMs} ms\n${this.output}`)),
        timeoutMs,
      );
      let done = false;
      const finish = (error, match) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.child.off("output", check);
        this.child.off("exit", onExit);
        if (error) reject(error);
        else resolve(match);
      };
      this.child.on("output", check);
      this.child.once("exit", onExit);
      check();
      if (!this.running) onExit(this.child.exitCode, this.child.signalCode);
    });
  }

  /** Waits for the exit; fails after `timeoutMs` (the process is left to the caller). */
  async waitExit(timeoutMs, what = "exit") {
    const late = deadline(timeoutMs);
    const result = await Promise.race([this.exited, late.promise.then(() => "late")]);
    late.cancel();
    if (result === "late") throw new Error(`${this.name} (pid ${this.pid}) did not ${what} within ${timeoutMs} ms\n${this.output}`);
    return result;
  }

  /** Sends `signal` to our pid and waits for the exit; SIGKILL after `graceMs`. */
  async stop(signal = "SIGTERM", graceMs = 5000) {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    const late = deadline(graceMs);
    if ((await Promise.race([this.exited, late.promise.then(() => "late")])) === "late") {
      this.child.kill("SIGKILL");
    }
    late.cancel();
    return this.exited;
  }
}

/** Runs a command to its end; resolves with its stdout, rejects with its stderr. */
export function run(command, args, { env, timeoutMs = 15_000, encoding = "utf8" } = {}) {
  return new Promise((resolve, reject) => {
    execFile(command, args, { env, timeout: timeoutMs, encoding, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) {
        const why = error.killed ? `killed after ${timeoutMs} ms` : `exit ${error.code ?? error.signal}`;
        reject(new Error(`${path.basename(command)} ${args.join(" ")}: ${why}: ${String(stderr).trim()}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

/**
 * Asks `probe` until it returns something truthy (which is returned), at most `timeoutMs`.
 * On time-out the error says `what` did not happen and shows the last answer (or error).
 */
export async function waitUntil(what, probe, { timeoutMs = 10_000, intervalMs = 100, show = (last) => JSON.stringify(last) } = {}) {
  const started = performance.now();
  let last;
  let lastError;
  for (;;) {
    try {
      last = await probe();
      lastError = undefined;
      if (last) return last;
    } catch (error) {
      lastError = error;
    }
    if (performance.now() - started > timeoutMs) {
      const seen = lastError ? `last error: ${lastError.message}` : `last seen: ${show(last)}`;
      throw new Error(`${what}: did not happen within ${timeoutMs} ms (${seen})`);
    }
    // The pause between two looks at the desktop, not a wait for the event itself.
    await deadline(intervalMs).promise;
  }
}

/** `probe.py` with the session bus and display of this test. */
export async function probe(env, ...args) {
  return JSON.parse(await run(PYTHON, [PROBE, ...args.map(String)], { env }));
}

/** Every node of an accessibility tree (depth first), with its ancestors' names. */
export function* nodes(tree) {
  yield tree;
  for (const child of tree.children) yield* nodes(child);
}

/** All text of a subtree, names and text content, one string (for "does it show X"). */
export function textOf(tree) {
  return [...nodes(tree)].map((node) => `${node.name} ${node.text}`.trim()).filter(Boolean).join(" | ");
}

/** The X11 windows whose name is `title`, with their id, size and map state. */
export async function x11Windows(env, title) {
  const tree = await run("xwininfo", ["-root", "-tree"], { env });
  const windows = [];
  for (const line of tree.split("\n")) {
    const match = line.match(/^\s*(0x[0-9a-f]+) "(.*)": \(.*\)\s+(\d+)x(\d+)\+(-?\d+)\+(-?\d+)/);
    if (!match || match[2] !== title) continue;
    const info = await run("xwininfo", ["-id", match[1]], { env });
    windows.push({
      id: match[1],
      width: Number(match[3]),
      height: Number(match[4]),
      mapState: info.match(/Map State: (\w+)/)?.[1],
    });
  }
  return windows;
}

/** A PNG of an X11 window (`root` for the whole screen), from ImageMagick's `import`. */
export function capture(env, window) {
  return run("import", ["-window", window, "png:-"], { env, encoding: "buffer" });
}

/**
 * A capture taken once two consecutive captures are identical, so what is saved is a settled
 * frame rather than one caught mid-paint.
 */
export async function settledCapture(env, window, timeoutMs = 5_000) {
  let previous = await capture(env, window);
  return waitUntil(`a settled frame of window ${window}`, async () => {
    const next = await capture(env, window);
    const same = next.equals(previous);
    previous = next;
    return same && next;
  }, { timeoutMs, intervalMs: 50, show: () => "every two captures differed" });
}

/** A real `exai-shim` for one editor window, driven by the MCP SDK's client. */
export class Shim {
  static async connect({ endpoint, label, editor, env, cwd }) {
    const { Client, StdioClientTransport } = mcpSdk();
    const transport = new StdioClientTransport({
      command: binary("exai-shim"),
      args: ["--endpoint", endpoint, "--name", label],
      env,
      cwd,
      stderr: "pipe",
    });
    const shim = new Shim(label, transport);
    const client = new Client(editor, { capabilities: {} });
    client.onclose = () => (shim.closed = true);
    await client.connect(transport); // spawns the shim and runs the initialize handshake
    shim.client = client;
    shim.pid = transport.pid;
    return shim;
  }

  constructor(label, transport) {
    this.label = label;
    this.transport = transport;
    this.stderr = "";
    this.closed = false;
    // The pipe exists before the process starts (stderr: "pipe").
    transport.stderr.setEncoding("utf8");
    transport.stderr.on("data", (chunk) => (this.stderr += chunk.replace(ANSI, "")));
  }

  get running() {
    try {
      process.kill(this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGKILL by pid: no goodbye, as when an editor crashes. */
  kill() {
    process.kill(this.pid, "SIGKILL");
  }

  /** Closes stdin (the shim says goodbye and exits); the SDK escalates to signals if it must. */
  async close() {
    await this.client?.close();
  }
}
