// What the dashboard says about requests, log lines and lost windows, as pure functions of the
// hub's records (no DOM), so the words are unit-tested: a request row's arguments, error, cache
// flag, rate-limit wait and duration; a log line's repeat count; why a window is lost and what
// it was doing.

import type { LogRecord, RequestRecord, SessionInfo } from "../api";
import { formatClock, formatCount, formatDateTime, formatDuration } from "../format";

/** How much of a call's arguments a row shows (the hub keeps 200 bytes). */
export const ARGS_SHOWN = 200;

export type Outcome = "ok" | "error" | "cancelled";

export function outcome(record: RequestRecord): Outcome {
  if (record.cancelled) return "cancelled";
  return record.ok ? "ok" : "error";
}

export interface RequestRow {
  outcome: Outcome;
  time: string;
  timeTitle: string;
  method: string;
  tool: string | null;
  duration: string;
  durationTitle: string;
  /** "cached": the daemon answered from its cache; the duration is not the tool's. */
  cached: string | null;
  /** "rate limit 300 ms": how long the call waited for the daemon's rate limit. */
  rateLimited: string | null;
  /** The arguments, at most ARGS_SHOWN characters. */
  args: string | null;
  error: string | null;
}

/** Cuts text to `max` characters, ending in `…` when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join("")}…`;
}

export function requestRow(record: RequestRecord): RequestRow {
  const duration = formatDuration(record.duration_ms);
  const cached = record.from_cache === true;
  const waited = record.rate_limited_ms > 0 ? formatDuration(record.rate_limited_ms) : null;
  const titles = [
    cached ? `answered from the daemon's cache in ${duration}: the tool did not run again` : `took ${duration}`,
    waited ? `of which ${waited} waiting for the daemon's rate limit` : null,
  ];
  const args = record.arguments ?? null;
  return {
    outcome: outcome(record),
    time: formatClock(record.started_at),
    timeTitle: formatDateTime(record.started_at),
    method: record.method,
    tool: record.tool,
    duration,
    durationTitle: titles.filter(Boolean).join(", "),
    cached: cached ? "cached" : null,
    rateLimited: waited ? `rate limit ${waited}` : null,
    args: args === null || args === "" || args === "{}" ? null : truncate(args, ARGS_SHOWN),
    error: record.error ?? (outcome(record) === "error" ? "failed without a message" : null),
  };
}

/** `×4` for a line logged four times in a row; null for a line logged once. */
export function repeatText(record: LogRecord): string | null {
  const repeat = record.repeat ?? 1;
  return repeat > 1 ? `×${formatCount(repeat)}` : null;
}

/** The module a line came from is shown only on debug lines; the rest read as sentences. */
export function showsTarget(record: LogRecord): boolean {
  const level = record.level.toUpperCase();
  return level === "DEBUG" || level === "TRACE";
}

/** A log line as the Copy button puts it on the clipboard. */
export function logLineText(record: LogRecord, sessionName: string | null): string {
  const session = record.session ? ` [${sessionName ?? record.session}]` : "";
  const target = showsTarget(record) ? ` ${record.target}` : "";
  const repeat = repeatText(record);
  const millis = String(record.at % 1000).padStart(3, "0");
  return `${formatDateTime(record.at)}.${millis} ${record.level.padEnd(5)}${target}${session} ${record.message}${repeat ? ` (${repeat})` : ""}`;
}

export interface LostStory {
  title: string;
  why: string;
  doing: string;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  if (trimmed === "") return trimmed;
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

/** For a lost window: when, why and what it was doing; null for any other window. */
export function lostStory(session: SessionInfo): LostStory | null {
  if (session.state !== "lost") return null;
  const why = sentence(session.lost_reason ?? "its shim went away without a goodbye");
  let doing: string;
  if (session.doing.length === 0) {
    doing = "It was idle: no request was running.";
  } else {
    const more = Math.max(0, session.in_flight - session.doing.length);
    const list = session.doing.join(", ") + (more > 0 ? ` and ${formatCount(more)} more` : "");
    const count = session.doing.length + more;
    doing = `It was running ${list}; ${count === 1 ? "that request was" : "those requests were"} cancelled and the editor got no answer.`;
  }
  return { title: `Lost at ${formatClock(session.last_activity, false)}`, why, doing };
}
