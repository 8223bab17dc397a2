// Helpers for the dashboard's browser test: the binaries from the cargo target dir, processes
// we start (and only those, stopped by pid), real shims driven by the MCP TypeScript SDK, and
// raw HTTP requests with headers a browser would not let us set.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

/** The repository root (this file is `ui/e2e/support.mjs`). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** `$CARGO_TARGET_DIR` (relative to the repo root), else `<repo>/target`. */
export const targetDir = path.resolve(repoRoot, process.env.CARGO_TARGET_DIR ?? "target");

const EXE = process.platform === "win32" ? ".exe" : "";

/** The path of a debug binary; fails with what to build when it is missing. */
export function binary(name) {
  const file = path.join(targetDir, "debug", `${name}${EXE}`);
  if (!existsSync(file)) {
    throw new Error(`${file} is missing: run \`cargo build -p exai-cli -p exai-shim -p exai-testkit --bins\` first`);
  }
  return file;
}

export function tempDir(prefix) {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/**
 * An environment for the hub and shims that ignores the user's own set-up: a private runtime
 * dir and config dir, and none of the EXAI variables. (The endpoint socket does not follow
 * XDG_RUNTIME_DIR; the tests' own random endpoint names keep them apart.)
 */
export function isolatedEnv(runtimeDir, configDir) {
  const env = { ...process.env, XDG_RUNTIME_DIR: runtimeDir, XDG_CONFIG_HOME: configDir, EXAI_LOG: "info" };
  for (const key of Object.keys(env)) {
    if (key.startsWith("EXAI_") && key !== "EXAI_LOG") delete env[key];
  }
  return env;
}

/** A process we started: its first stdout line that matches, its output, and a bounded stop. */
export class Started {
  constructor(name, command, args, env) {
    this.name = name;
    this.output = "";
    this.child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    this.exited = new Promise((resolve) => this.child.once("exit", (code, signal) => resolve({ code, signal })));
    this.child.stdout.setEncoding("utf8");
    this.child.stderr.setEncoding("utf8");
    this.child.stdout.on("data", (chunk) => (this.output += chunk));
    this.child.stderr.on("data", (chunk) => (this.output += chunk));
  }

  get pid() {
    return this.child.pid;
  }

  get running() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first match of `pattern` on stdout; fails on exit or after `timeoutMs`. */
  waitForLine(pattern, timeoutMs = 20_000) {
    return new Promise((resolve, reject) => {
      let stdout = "";
      const timer = setTimeout(() => finish(new Error(`${this.name} printed no line matching ${pattern} within ${timeoutMs} ms:\n${this.output}`)), timeoutMs);
      const onData = (chunk) => {
        stdout += chunk;
        const match = stdout.match(pattern);
        if (match) finish(null, match);
      };
      const onExit = (code, signal) => finish(new Error(`${this.name} exited (${code ?? signal}) before printing ${pattern}:\n${this.output}`));
      const finish = (error, match) => {
        clearTimeout(timer);
        this.child.stdout.off("data", onData);
        this.child.off("exit", onExit);
        if (error) reject(error);
        else resolve(match);
      };
      this.child.stdout.on("data", onData);
      this.child.once("exit", onExit);
    });
  }

  /** Sends `signal` to our pid and waits for the exit; SIGKILL after `graceMs`. */
  async stop(signal = "SIGTERM", graceMs = 5000) {
    if (!this.running) return this.exited;
    this.child.kill(signal);
    this.child.stdin.end();
    let timer;
    const late = new Promise((resolve) => (timer = setTimeout(() => resolve("late"), graceMs)));
    if ((await Promise.race([this.exited, late])) === "late") {
      this.child.kill("SIGKILL");
    }
    clearTimeout(timer);
    return this.exited;
  }
}

/** A real `exai-shim` for one editor window, driven by the MCP SDK's client. */
export class Shim {
  static async connect({ endpoint, label, editor, env }) {
    const transport = new StdioClientTransport({
      command: binary("exai-shim"),
      args: ["--endpoint", endpoint, "--name", label],
      env,
      stderr: "pipe",
    });
    const client = new Client({ name: editor.name, version: editor.version }, { capabilities: {} });
    await client.connect(transport); // spawns the shim and runs the initialize handshake
    return new Shim(client, transport);
  }

  constructor(client, transport) {
    this.client = client;
    this.transport = transport;
    /** Kept: the transport forgets it when the process ends. */
    this.pid = transport.pid;
    this.killed = false;
  }

  /** SIGKILL by pid: no goodbye, as when an editor crashes. */
  kill() {
    process.kill(this.pid, "SIGKILL");
    this.killed = true;
  }

  /** Closes stdin (the shim says goodbye and exits); the SDK escalates to signals if it must. */
  async close() {
    await this.client.close();
  }
}

/**
 * A raw HTTP/1.1 GET with exactly the headers given (including `Host` and `Origin`, which
 * fetch and browsers do not let a page set). Resolves with the status and body.
 */
export function rawGet(url, headers) {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: target.hostname, port: target.port, path: target.pathname + target.search, method: "GET", headers, setHost: !("Host" in headers) },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode, body }));
      },
    );
    request.setTimeout(10_000, () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on("error", reject);
    request.end();
  });
}
