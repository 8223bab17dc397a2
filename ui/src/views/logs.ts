// Live logs: the hub's log ring as a bounded tail (state/hub.ts LOG_LIMIT), filtered by level,
// session and text. It follows new lines while scrolled to the bottom; Pause freezes the view
// while the tail keeps filling. Each line can be copied. A line the hub logged several times in a
// row is one line with its count (×N); the module a line came from shows on debug lines only.

import type { LogRecord, SessionInfo } from "../api";
import { h, KeyedList, setText } from "../dom";
import { formatClock, formatCount, formatDateTime } from "../format";
import type { HubState } from "../state/hub";
import { LOG_LIMIT } from "../state/hub";
import { defaultLogFilter, HUB_ONLY, isFiltering, LEVELS, logMatcher, type Level, type LogFilter } from "../state/logfilter";
import { copyButton, displayLabel } from "./common";
import type { Context, View } from "./context";
import { logLineText, repeatText, showsTarget } from "./story";

/** How close to the bottom (px) still counts as "at the bottom" for following. */
const STICKY_PX = 24;

function shortId(id: string): string {
  return id.slice(-6);
}

export class LogsView implements View {
  readonly element: HTMLElement;
  private readonly panel: HTMLElement;
  private readonly levelSelect: HTMLSelectElement;
  private readonly sessionSelect: HTMLSelectElement;
  private readonly search: HTMLInputElement;
  private readonly pauseButton: HTMLButtonElement;
  private readonly clearButton: HTMLButtonElement;
  private readonly status = h("span", { class: "logs-status", role: "status" });
  private readonly emptyNote = h("p", { class: "muted logs-empty" });
  private readonly list: KeyedList<LogRecord>;
  private filter: LogFilter = { ...defaultLogFilter };
  private paused = false;
  /** The lines shown while paused. */
  private frozen: readonly LogRecord[] | null = null;
  private state: HubState | null = null;
  private sessionOptions = "";
  private atBottom = true;

  constructor(private readonly ctx: Context) {
    this.levelSelect = h(
      "select",
      { id: "log-level", name: "level" },
      h("option", { value: "TRACE" }, "All levels"),
      h("option", { value: "DEBUG" }, "Debug and above"),
      h("option", { value: "INFO" }, "Info and above"),
      h("option", { value: "WARN" }, "Warnings and errors"),
      h("option", { value: "ERROR" }, "Errors only"),
    );
    this.levelSelect.addEventListener("change", () => {
      const level = this.levelSelect.value as Level;
      this.setFilter({ minLevel: LEVELS.includes(level) ? level : "TRACE" });
    });
    this.sessionSelect = h("select", { id: "log-session", name: "session" });
    this.sessionSelect.addEventListener("change", () => this.setFilter({ session: this.sessionSelect.value }));
    this.search = h("input", { id: "log-search", name: "search", type: "search", placeholder: "Search messages", autocomplete: "off", spellcheck: "false" });
    this.search.addEventListener("input", () => this.setFilter({ text: this.search.value }));
    this.clearButton = h("button", { type: "button", class: "btn btn-small", hidden: true }, "Clear filters");
    this.clearButton.addEventListener("click", () => this.setFilter({ ...defaultLogFilter }));
    this.pauseButton = h("button", { type: "button", class: "btn", id: "log-pause", "aria-pressed": "false" }, "Pause");
    this.pauseButton.addEventListener("click", () => this.setPaused(!this.paused));

    // Each line is a list item (in a list inside the log region): WebKitGTK leaves a line
    // without a role out of its accessibility tree and, with it, all its text but the time;
    // a list item keeps the whole line (time, level, session, target, message) readable.
    const lines = h("div", { class: "log-lines", role: "list" });
    this.panel = h("div", { id: "logs", class: "log-panel", role: "log", "aria-live": "off", "aria-label": "Hub log", tabindex: "0" }, lines);
    this.panel.addEventListener("scroll", () => {
      this.atBottom = this.panel.scrollHeight - this.panel.scrollTop - this.panel.clientHeight <= STICKY_PX;
    }, { passive: true });
    // A repeat comes back with the same seq and a higher count; a restarted hub counts from 1.
    this.list = new KeyedList<LogRecord>(lines, (record) => `${record.seq}|${record.repeat ?? 1}|${record.at}`, (record) => this.line(record), () => {});

    const field = (label: string, control: HTMLElement) =>
      h("label", { class: "field", for: control.id }, h("span", null, label), control);
    this.element = h(
      "div",
      { class: "view view-logs" },
      h(
        "section",
        { class: "card logs-card", "aria-labelledby": "logs-title" },
        h(
          "div",
          { class: "logs-toolbar" },
          h("h2", { id: "logs-title", class: "sr-only" }, "Logs"),
          field("Level", this.levelSelect),
          field("Session", this.sessionSelect),
          field("Search", this.search),
          this.clearButton,
          h("span", { class: "spacer" }),
          this.status,
          this.pauseButton,
        ),
        this.panel,
        this.emptyNote,
      ),
    );
  }

  /** Opens with a session filter (`#/logs?session=<id>`); `null` leaves the filter as it is. */
  showSession(session: string | null): void {
    if (session !== null && session !== this.filter.session) this.setFilter({ session });
  }

  private setFilter(change: Partial<LogFilter>): void {
    this.filter = { ...this.filter, ...change };
    this.atBottom = true;
    if (this.state) this.render(this.state);
  }

  private setPaused(paused: boolean): void {
    this.paused = paused;
    this.frozen = paused && this.state ? this.state.logs : null;
    this.pauseButton.setAttribute("aria-pressed", String(paused));
    this.pauseButton.classList.toggle("active", paused);
    if (!paused) this.atBottom = true;
    if (this.state) this.render(this.state);
  }

  private sessionName(id: string | null): string | null {
    if (!id) return null;
    const session = this.state?.sessions.get(id);
    return session ? displayLabel(session) : shortId(id);
  }

  private line(record: LogRecord): HTMLElement {
    const session = record.session;
    const repeat = repeatText(record);
    return h(
      "div",
      { class: "log-line", role: "listitem", data: { seq: String(record.seq), level: record.level.toUpperCase(), session: session ?? "", repeat: String(record.repeat ?? 1) } },
      h("time", { class: "log-time", title: formatDateTime(record.at) }, formatClock(record.at)),
      h("span", { class: "log-level" }, record.level.toUpperCase()),
      h("span", { class: "log-session", title: session ?? "the hub itself" }, session ? this.sessionName(session) : ""),
      h("span", { class: "log-target", title: record.target }, showsTarget(record) ? record.target : ""),
      h(
        "span",
        { class: "log-message", title: record.target },
        record.message,
        repeat ? h("span", { class: "log-repeat", title: `logged ${record.repeat} times in a row, the last at ${formatDateTime(record.at)}` }, ` ${repeat}`) : null,
      ),
      copyButton(this.ctx, () => logLineText(record, this.sessionName(session)), "Copy", "log line"),
    );
  }

  private renderSessionOptions(sessions: ReadonlyMap<string, SessionInfo>): void {
    const known = [...sessions.values()].map((session) => [session.id, `${displayLabel(session)} (${shortId(session.id)})`] as const);
    const selected = this.filter.session;
    if (selected && selected !== HUB_ONLY && !sessions.has(selected)) known.push([selected, `${shortId(selected)} (gone)`]);
    const signature = JSON.stringify(known);
    if (signature !== this.sessionOptions) {
      this.sessionOptions = signature;
      this.relabelLines();
      this.sessionSelect.replaceChildren(
        h("option", { value: "" }, "All sessions"),
        h("option", { value: HUB_ONLY }, "Hub only"),
        ...known.map(([id, label]) => h("option", { value: id }, label)),
      );
    }
    this.sessionSelect.value = selected;
  }

  /** Lines show a session by its label; a label can arrive after the line (the editor's name). */
  private relabelLines(): void {
    for (const element of this.panel.querySelectorAll<HTMLElement>(".log-line[data-session]:not([data-session=''])")) {
      const label = element.querySelector(".log-session");
      if (label) setText(label, this.sessionName(element.dataset.session ?? null) ?? "");
    }
  }

  render(state: HubState): void {
    this.state = state;
    this.renderSessionOptions(state.sessions);
    this.levelSelect.value = this.filter.minLevel;
    if (this.search.value !== this.filter.text) this.search.value = this.filter.text;

    const source = this.frozen ?? state.logs;
    const shown = source.filter(logMatcher(this.filter));
    const follow = this.atBottom;
    this.list.render(shown);
    if (follow && !this.paused) this.panel.scrollTop = this.panel.scrollHeight;

    const newer = this.frozen ? state.logs.filter((record) => record.seq > (this.frozen!.at(-1)?.seq ?? -1)).length : 0;
    setText(this.pauseButton, this.paused ? (newer > 0 ? `Follow (${formatCount(newer)} new)` : "Follow") : "Pause");
    const total = formatCount(source.length);
    setText(this.status, shown.length === source.length ? `${total} lines` : `${formatCount(shown.length)} of ${total} lines`);
    this.status.title = `The last ${formatCount(LOG_LIMIT)} lines are kept.`;
    this.clearButton.hidden = !isFiltering(this.filter);
    this.emptyNote.hidden = shown.length > 0;
    setText(this.emptyNote, source.length === 0 ? "No log lines yet." : "No line matches the filters.");
  }

  unmount(): void {
    // Coming back should land at the newest line again.
    this.atBottom = true;
  }
}
