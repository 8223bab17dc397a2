// Numbers and times as people read them. Pure functions, so they are unit-tested.

import type { UpstreamStatus } from "./api";

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

function pad2(value: number): string {
  return value.toString().padStart(2, "0");
}

/**
 * A measured duration (request time, latency): `0.42 ms`, `12.3 ms`, `850 ms`, `4.2 s`,
 * `3 m 05 s`, `2 h 03 m`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "–";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < SECOND) return `${Math.round(ms)} ms`;
  if (ms < 10 * SECOND) return `${(ms / SECOND).toFixed(1)} s`;
  return formatElapsed(ms);
}

/** A span of wall-clock time ("connected for"): `12 s`, `3 m 05 s`, `2 h 03 m`, `3 d 4 h`. */
export function formatElapsed(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) ms = 0;
  if (ms < MINUTE) return `${Math.floor(ms / SECOND)} s`;
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)} m ${pad2(Math.floor((ms % MINUTE) / SECOND))} s`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)} h ${pad2(Math.floor((ms % HOUR) / MINUTE))} m`;
  return `${Math.floor(ms / DAY)} d ${Math.floor((ms % DAY) / HOUR)} h`;
}

/** Local wall-clock time with milliseconds, for log lines: `14:03:27.051`. */
export function formatClock(at: number, withMillis = true): string {
  const date = new Date(at);
  const clock = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return withMillis ? `${clock}.${date.getMilliseconds().toString().padStart(3, "0")}` : clock;
}

/** Local date and time for tooltips: `2025-01-31 14:03:27`. */
export function formatDateTime(at: number): string {
  const date = new Date(at);
  return `${date.getFullYear()}-${pad2(date.getMonth() + 1)}-${pad2(date.getDate())} ${formatClock(at, false)}`;
}

/** A count with thin grouping: `12 345`. */
export function formatCount(value: number): string {
  return value.toLocaleString("en-US").replaceAll(",", "\u202f");
}

/** The last path component of a working directory, for narrow cells. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  if (trimmed === "") return path;
  const index = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return trimmed.slice(index + 1);
}

/** What the daemon's rate limit is doing, in words ("" when it has done nothing yet). */
export function rateLimitText(upstream: UpstreamStatus): string {
  const parts: string[] = [];
  if (upstream.rate_limited > 0) {
    parts.push(`${formatCount(upstream.rate_limited)} waiting for the daemon's rate limit (${upstream.rate_limit ?? "paced"})`);
  }
  if (upstream.over_capacity > 0) {
    parts.push(`the daemon refused ${formatCount(upstream.over_capacity)} frame(s) as over capacity; each was retried`);
  }
  return parts.join(" · ");
}
