// Helpers for the TypeScript SDK tests: the binaries from the cargo target dir, a fake daemon and
// a real `exai hub --dashboard` on a random endpoint name (started here, stopped by pid), and the
// hub's dashboard API (JSON and Server-Sent Events) to see what the hub recorded.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (this file is `ci/sdk/node/support.mjs`). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const targetDir = path.resolve(repoRoot, process.env.CARGO_TARGET_DIR ?? "target");
const EXE = process.platform === "win32" ? ".exe" : "";
/** Bound for things that happen promptly: a failure guard, never a wait that passes. */
export const GUARD_MS = 30_000;

export function binary(name) {
  const file = path.join(targetDir, "debug", `${name}${EXE}`);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run \`cargo build -p exai-cli -p exai-shim -p exai-testkit --bins\` first`);
  }
  return file;
}

export function unique(prefix) {
  return `${prefix}-${process.pid}-${Math.random().toString(16).slice(2, 10)}`;
}

/** Rejects with `what` after `ms`; the timer never keeps the process alive. */
export function guard(what, promise, ms = GUARD_MS) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A process we started: the first stdout line that matches, its output, a bounded stop by pid. */
class Started {
  constructor(name, command, args, env) {
    this.name = name;
    this.output = "";
    this.child = spawn(command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (chunk) => (this.output = (this.output + chunk).slice(-20_000)));
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  waitForLine(pattern) {
    let stdout = "";
    let onData, onExit;
    const found = new Promise((resolve, reject) => {
      onData = (chunk) => {
        stdout += chunk;
        const match = stdout.match(pattern);
        if (match) resolve(match);
      };
      onExit = (code, signal) => reject(new Error(`${this.name} exited (${code ?? signal}) before printing ${pattern}:\n${this.output}`));
      this.child.stdout.on("data", onData);
      this.child.once("exit", onExit);
    });
    return guard(`${this.name} printing ${pattern}`, found).finally(() => {
      this.child.stdout.off("data", onData);
      this.child.off("exit", onExit);
    });
  }

  async stop() {
    if (this.running) {
      this.child.kill("SIGTERM");
      const late = await Promise.race([this.exited, new Promise((resolve) => setTimeout(() => resolve("late"), 10_000).unref())]);
      if (late === "late") this.child.kill("SIGKILL");
    }
    return this.exited;
  }
}

/** The hub's event stream: every event after `open` resolves. */
class Events {
  static async open(hub) {
    const controller = new AbortController();
    const response = await fetch(`${hub.origin}/api/events`, { headers: hub.headers, signal: controller.signal });
    assert.equal(response.status, 200);
    // The hub subscribed before it sent the headers: from here on the stream has everything.
    return new Events(response.body, controller);
  }

  constructor(body, controller) {
    this.controller = controller;
    this.queue = [];
    this.waiters = new Set();
    this.done = this.read(body);
  }

  async read(body) {
    const decoder = new TextDecoder();
    let buffer = "";
    try {
      for await (const chunk of body) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline).replace(/\r$/, "");
          buffer = buffer.slice(newline + 1);
          if (line.startsWith("data:")) this.push(JSON.parse(line.slice(5)));
        }
      }
    } catch {
      // Aborted by close(), or the hub stopped.
    }
  }

  push(event) {
    for (const waiter of this.waiters) {
      if (waiter.test(event)) {
        this.waiters.delete(waiter);
        waiter.resolve(event);
        return;
      }
    }
    this.queue.push(event);
    if (this.queue.length > 5000) this.queue.shift();
  }

  /** The first event (already received or still to come) that `test` accepts. */
  waitFor(what, test) {
    const index = this.queue.findIndex(test);
    if (index >= 0) return Promise.resolve(this.queue.splice(index, 1)[0]);
    const waiter = { test };
    const promise = new Promise((resolve) => (waiter.resolve = resolve));
    this.waiters.add(waiter);
    return guard(what, promise).finally(() => this.waiters.delete(waiter));
  }

  close() {
    this.controller.abort();
  }
}

/** A fake daemon and `exai hub --dashboard` on a fresh endpoint name. */
export class Hub {
  static async start() {
    const configHome = await mkdtemp(path.join(os.tmpdir(), "exai-sdk-config-"));
    // The hub ignores the user's own EXAI settings and config file; the endpoint's place does not
    // depend on the environment (the shims get the SDK's minimal one).
    const env = { ...process.env, XDG_CONFIG_HOME: configHome, EXAI_LOG: "info" };
    for (const key of Object.keys(env)) {
      if (key.startsWith("EXAI_") && key !== "EXAI_LOG") delete env[key];
    }
    const hub = new Hub(configHome);
    hub.daemon = new Started("exai-fake-daemon", binary("exai-fake-daemon"), [], env);
    const [url] = await hub.daemon.waitForLine(/ws:\/\/127\.0\.0\.1:\d+/);
    hub.endpoint = unique("sdk-node");
    const args = ["hub", "--upstream", url, "--endpoint", hub.endpoint, "--pool", "8", "--dashboard"];
    hub.process = new Started("exai hub", binary("exai"), args, env);
    const [, printed] = await hub.process.waitForLine(/EXAI dashboard: (http:\/\/\S+)/);
    const dashboard = new URL(printed);
    hub.origin = dashboard.origin;
    hub.headers = { Authorization: `Bearer ${dashboard.searchParams.get("token")}` };
    hub.events = await Events.open(hub);
    return hub;
  }

  constructor(configHome) {
    this.configHome = configHome;
  }

  /** How an editor's configuration starts the shim, plus this run's endpoint and a label. */
  shim(label) {
    return { command: binary("exai-shim"), args: ["--endpoint", this.endpoint, "--name", label] };
  }

  async get(route) {
    const response = await fetch(`${this.origin}${route}`, { headers: this.headers });
    assert.equal(response.status, 200, `GET ${route}`);
    return response.json();
  }

  async sessionsNamed(label) {
    const { sessions } = await this.get("/api/snapshot");
    return sessions.filter((session) => session.name === label);
  }

  /** The hub's record of a cancelled `tool` call from the window named `label`. */
  async waitCancelled(label, tool) {
    // The window is connected (it made calls), so its session is in the snapshot.
    const ids = new Set((await this.sessionsNamed(label)).map((session) => session.id));
    assert.ok(ids.size > 0, `no session named ${label}`);
    const event = await this.events.waitFor(`a cancelled ${tool} call from ${label}`, (event) =>
      event.type === "request_finished" &&
      ids.has(event.request.session) &&
      event.request.method === "tools/call" &&
      event.request.tool === tool &&
      event.request.cancelled,
    );
    return event.request;
  }

  async stop() {
    this.events?.close();
    await this.process?.stop();
    await this.daemon?.stop();
    for (const started of [this.process, this.daemon]) {
      if (started) assert.equal(started.running, false, `${started.name} (pid ${started.child.pid}) still runs`);
    }
    await rm(this.configHome, { recursive: true, force: true });
  }
}
