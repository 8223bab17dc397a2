// The sessions page: the daemon panel, then one live row per editor window. Rows are keyed
// by session id and update cell by cell; lost rows stand out and can be dismissed. With no
// editor connected, the page teaches how to connect one.

import type { SessionInfo } from "../api";
import { h, KeyedList, setAttr, setData, setText } from "../dom";
import { baseName, formatCount, formatDuration, formatElapsed } from "../format";
import { navigate } from "../router";
import { sessionLabel, type HubState } from "../state/hub";
import { actionButton, displayLabel, editorText, SESSION_STATE_TEXT, stateDot, updateDot } from "./common";
import { ConnectPanel } from "./connect";
import type { Context, View } from "./context";
import { UpstreamPanel } from "./upstream";

/** Column headers; the class decides when a narrow window hides the column (styles.css). */
const COLUMNS: ReadonlyArray<[label: string, className: string, srOnly?: boolean]> = [
  ["State", "col-state", true],
  ["Session", "col-label"],
  ["Editor", "col-editor"],
  ["Workspace", "col-cwd"],
  ["PID", "col-pid num"],
  ["Connected", "col-age"],
  ["Requests", "col-requests num"],
  ["Errors", "col-errors num"],
  ["In flight", "col-inflight num"],
  ["Latency", "col-latency num"],
  ["Last error", "col-error"],
  ["Actions", "col-actions", true],
];

class SessionRow {
  readonly element: HTMLTableRowElement;
  private readonly dot = stateDot("unknown");
  private readonly stateText = h("span", { class: "sr-only" });
  private readonly link = h("a", { class: "session-link" });
  private readonly subEditor = h("span", { class: "sub-editor" });
  private readonly subCwd = h("span", { class: "sub-cwd" });
  private readonly editor = h("td", { class: "col-editor" });
  private readonly cwd = h("td", { class: "col-cwd" });
  private readonly pid = h("td", { class: "col-pid num" });
  private readonly age = h("td", { class: "col-age" });
  private readonly requests = h("td", { class: "col-requests num" });
  private readonly errors = h("td", { class: "col-errors num" });
  private readonly inFlight = h("td", { class: "col-inflight num" });
  private readonly latency = h("td", { class: "col-latency num" });
  private readonly lastError = h("td", { class: "col-error" });
  private readonly actions = h("td", { class: "col-actions" });
  private readonly dismiss: HTMLButtonElement;
  private info: SessionInfo | null = null;

  constructor(ctx: Context, session: SessionInfo) {
    const id = session.id;
    this.dismiss = actionButton(ctx, "Dismiss", () => ctx.api.dismiss(id), {
      class: "btn btn-small",
      title: "Remove this lost session from the list",
    });
    this.actions.append(this.dismiss);
    this.link.href = `#/session/${encodeURIComponent(id)}`;
    this.element = h(
      "tr",
      { class: "session-row", data: { session: id } },
      h("td", { class: "col-state" }, this.dot, this.stateText),
      h("td", { class: "col-label" }, this.link, h("span", { class: "row-sub" }, this.subEditor, this.subCwd)),
      this.editor,
      this.cwd,
      this.pid,
      this.age,
      this.requests,
      this.errors,
      this.inFlight,
      this.latency,
      this.lastError,
      this.actions,
    );
    // The whole row opens the detail; the link inside is what keyboards and readers use.
    this.element.addEventListener("click", (event) => {
      if ((event.target as Element).closest("a, button")) return;
      if (window.getSelection()?.toString()) return;
      navigate({ view: "session", id });
    });
  }

  update(session: SessionInfo): void {
    if (session === this.info) return;
    this.info = session;
    const row = this.element;
    setData(row, "name", sessionLabel(session));
    setData(row, "state", session.state);
    row.classList.toggle("row-lost", session.state === "lost");
    row.classList.toggle("row-muted", session.state === "closed");
    const stateText = SESSION_STATE_TEXT[session.state];
    updateDot(this.dot, session.state, stateText);
    setText(this.stateText, stateText);
    setText(this.link, displayLabel(session));
    setAttr(this.link, "title", displayLabel(session));
    this.link.classList.toggle("unnamed", !sessionLabel(session));
    const editor = editorText(session);
    setText(this.editor, editor || "–");
    setAttr(this.editor, "title", editor || "The editor has not said who it is yet");
    setText(this.cwd, session.cwd ? baseName(session.cwd) : "–");
    setAttr(this.cwd, "title", session.cwd);
    // Shown under the label when the window is too narrow for the editor and workspace columns.
    setText(this.subEditor, editor);
    setText(this.subCwd, session.cwd ? baseName(session.cwd) : "");
    setText(this.pid, String(session.pid));
    setText(this.requests, formatCount(session.requests));
    setText(this.errors, formatCount(session.errors));
    this.errors.classList.toggle("has-errors", session.errors > 0);
    setText(this.inFlight, formatCount(session.in_flight));
    this.inFlight.classList.toggle("busy", session.in_flight > 0);
    setText(this.latency, session.recent_latency_ms === null ? "–" : formatDuration(session.recent_latency_ms));
    setText(this.lastError, session.last_error ?? "");
    setAttr(this.lastError, "title", session.last_error);
    this.dismiss.hidden = session.state !== "lost";
    setAttr(this.dismiss, "aria-label", `Dismiss ${displayLabel(session)}`);
    this.tick(Date.now());
  }

  tick(now: number): void {
    const session = this.info;
    if (!session) return;
    if (session.state === "lost" || session.state === "closed") {
      const verb = session.state === "lost" ? "lost" : "closed";
      setText(this.age, `${verb} ${formatElapsed(now - session.last_activity)} ago`);
    } else {
      setText(this.age, formatElapsed(now - session.connected_at));
    }
  }
}

export class SessionsView implements View {
  readonly element: HTMLElement;
  private readonly upstream: UpstreamPanel;
  private readonly table: HTMLTableElement;
  private readonly tableCard: HTMLElement;
  private readonly count = h("span", { class: "count" });
  private readonly empty: HTMLElement;
  private readonly emptyConnect: ConnectPanel;
  private readonly rows = new Map<string, SessionRow>();
  private readonly list: KeyedList<SessionInfo, HTMLTableRowElement>;
  private last: HubState | null = null;

  constructor(private readonly ctx: Context) {
    this.upstream = new UpstreamPanel(ctx);
    const body = h("tbody");
    this.table = h(
      "table",
      { class: "sessions", "aria-labelledby": "sessions-title" },
      h("thead", null, h("tr", null, ...COLUMNS.map(([label, className, srOnly]) =>
        h("th", { scope: "col", class: className }, srOnly ? h("span", { class: "sr-only" }, label) : label),
      ))),
      body,
    );
    this.list = new KeyedList<SessionInfo, HTMLTableRowElement>(
      body,
      (session) => session.id,
      (session) => {
        const row = new SessionRow(this.ctx, session);
        this.rows.set(session.id, row);
        return row.element;
      },
      (_element, session) => this.rows.get(session.id)?.update(session),
    );
    this.tableCard = h(
      "section",
      { class: "card sessions-card" },
      h("h2", { id: "sessions-title", class: "card-title" }, "Editor windows ", this.count),
      h("div", { class: "table-scroll" }, this.table),
    );
    this.emptyConnect = new ConnectPanel(ctx, { compact: true });
    this.empty = h(
      "section",
      { class: "card empty-state", "aria-labelledby": "empty-title" },
      h("h2", { id: "empty-title" }, "No editor connected yet"),
      h(
        "p",
        null,
        "Every editor window that runs ",
        h("code", null, "exai-shim"),
        " as its MCP server shows up here, live. Add the configuration for your editor below, then start (or reload) the MCP server in the editor. ",
        h("a", { href: "#/connect" }, "Open the connect page"),
        ".",
      ),
      this.emptyConnect.element,
    );
    this.element = h("div", { class: "view view-sessions" }, this.upstream.element, this.tableCard, this.empty);
  }

  render(state: HubState): void {
    this.upstream.render(state.upstream);
    if (state.sessions === this.last?.sessions && this.last.loaded === state.loaded) return;
    this.last = state;
    const sessions = [...state.sessions.values()];
    this.list.render(sessions);
    for (const id of this.rows.keys()) if (!state.sessions.has(id)) this.rows.delete(id);
    const hasLost = sessions.some((session) => session.state === "lost");
    this.table.classList.toggle("has-lost", hasLost);
    const live = sessions.filter((s) => s.state === "ready" || s.state === "degraded").length;
    const lost = sessions.filter((s) => s.state === "lost").length;
    setText(this.count, sessions.length === 0 ? "" : `${live} connected${lost > 0 ? ` · ${lost} lost` : ""}`);
    const isEmpty = state.loaded && sessions.length === 0;
    this.empty.hidden = !isEmpty;
    if (isEmpty) this.emptyConnect.load();
    this.tableCard.hidden = !state.loaded || isEmpty;
  }

  tick(now: number): void {
    for (const row of this.rows.values()) row.tick(now);
  }
}
