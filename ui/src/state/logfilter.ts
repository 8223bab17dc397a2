// Which log lines the log view shows: a minimum level, a session (or the hub's own lines) and
// a case-insensitive text search over the message and the target.

import type { LogRecord } from "../api";

export const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] as const;
export type Level = (typeof LEVELS)[number];

/** `""` every session; `HUB_ONLY` lines that concern no session; else a session id. */
export const HUB_ONLY = "-";

export interface LogFilter {
  minLevel: Level;
  session: string;
  text: string;
}

export const defaultLogFilter: LogFilter = { minLevel: "TRACE", session: "", text: "" };

/** Unknown levels rank with INFO, so they are neither hidden nor promoted. */
export function levelRank(level: string): number {
  const rank = LEVELS.indexOf(level.toUpperCase() as Level);
  return rank === -1 ? LEVELS.indexOf("INFO") : rank;
}

export function isFiltering(filter: LogFilter): boolean {
  return filter.minLevel !== "TRACE" || filter.session !== "" || filter.text.trim() !== "";
}

/** A predicate for one filter, built once per render. */
export function logMatcher(filter: LogFilter): (record: LogRecord) => boolean {
  const minRank = levelRank(filter.minLevel);
  const needle = filter.text.trim().toLowerCase();
  return (record) => {
    if (levelRank(record.level) < minRank) return false;
    if (filter.session === HUB_ONLY ? record.session !== null : filter.session !== "" && record.session !== filter.session) {
      return false;
    }
    if (needle === "") return true;
    return record.message.toLowerCase().includes(needle) || record.target.toLowerCase().includes(needle);
  };
}

export function filterLogs(records: readonly LogRecord[], filter: LogFilter): LogRecord[] {
  return records.filter(logMatcher(filter));
}
