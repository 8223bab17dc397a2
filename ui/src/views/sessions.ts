// The sessions page: the daemon panel, then one live row per editor window. Rows are keyed
// by session id and update cell by cell; lost rows stand out and can be dismissed. With no
// editor connected, the page teaches how to connect one.

import type { SessionInfo } from "../api";
import { h, KeyedList, setAttr, setData, setText } from "../dom";
import { formatCount, formatDuration, formatElapsed } from "../format";
import { navigate } from "../router";
import { sessionLabel, type HubState } from "../state/hub";
import { actionButton, displayLabel, editorText, SESSION_STATE_TEXT, stateDot, updateDot } from "./common";
import { ConnectPanel } from "./connect";
import type { Context, View } from "./context";
import { UpstreamPanel } from "./upstream";

/**
 * Column headers; the class decides when a narrow window hides the column (styles.css). The
 * workspace is the second line of the session cell and the pid the second line of the editor
 * cell, so every column fits the tray window's default 960 px.
 */
const COLUMNS: ReadonlyArray<[label: string, className: string, srOnly?: boolean]> = [
  ["State", "col-state", true],
  ["Session", "col-label"],
  ["Editor", "col-editor"],
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
  /** The workspace, cut from the left when it does not fit (styles.css), in full as a tooltip. */
  private readonly cwd = h("span", { class: "cell-sub cwd" });
  /** The wrapped server the window stands for (`exai-shim -- COMMAND`); empty for the daemon. */
  private readonly server = h("a", { class: "cell-sub session-server", href: "#/servers" });
  private readonly editorName = h("span", { class: "cell-main" });
  private readonly pid = h("span", { class: "cell-sub" });
  private readonly editor = h("td", { class: "col-editor" }, this.editorName, this.pid);
  private readonly ageMain = h("span", { class: "cell-main" });
  private readonly ageSub = h("span", { class: "cell-sub" });
  private readonly age = h("td", { class: "col-age" }, this.ageMain, this.ageSub);
  private readonly requests = h("td", { class: "col-requests num" });
  private readonly errors = h("td", { class: "col-errors num" });
  private readonly inFlight = h("td", { class: "col-inflight num" });
  private readonly latency = h("td", { class: "col-latency num" });
  private readonly lastErrorText = h("span", { class: "error-clamp" });
  private readonly lastError = h("td", { class: "col-error" }, this.lastErrorText);
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
      h("td", { class: "col-label" }, this.link, this.server, h("span", { class: "sr-only" }, "workspace "), this.cwd),
      this.editor,
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
    setText(this.editorName, editor || "–");
    setAttr(this.editorName, "title", editor || "The editor has not said who it is yet");
    setText(this.pid, `pid ${session.pid}`);
    setAttr(this.pid, "title", session.parent_pid === null ? "The shim's process id" : `The shim's process id; the editor's is ${session.parent_pid}`);
    setText(this.server, session.server ? `server: ${session.server}` : "");
    setAttr(this.server, "title", session.server ? `This window stands for the wrapped MCP server ${session.server} (see Servers)` : null);
    // The mark keeps a leading "/" on the left in the right-to-left box that cuts the start.
    setText(this.cwd, session.cwd ? `\u200e${session.cwd}` : "–");
    setAttr(this.cwd, "title", session.cwd || null);
    setText(this.requests, formatCount(session.requests));
    setText(this.errors, formatCount(session.errors));
    this.errors.classList.toggle("has-errors", session.errors > 0);
    setText(this.inFlight, formatCount(session.in_flight));
    this.inFlight.classList.toggle("busy", session.in_flight > 0);
    setText(this.latency, session.recent_latency_ms === null ? "–" : formatDuration(session.recent_latency_ms));
    setText(this.lastErrorText, session.last_error ?? "");
    setAttr(this.lastError, "title", session.last_error);
    this.dismiss.hidden = session.state !== "lost";
    setAttr(this.dismiss, "aria-label", `Dismiss ${displayLabel(session)}`);
    this.tick(Date.now());
  }

  tick(now: number): void {
    const session = this.info;
    if (!session) return;
    if (session.state === "lost" || session.state === "closed") {
      // Two short lines rather than one long one: the column stays narrow.
      const since = now - session.last_activity;
      setText(this.ageMain, session.state === "lost" ? "Lost" : "Closed");
      setText(this.ageSub, since < 1000 ? "just now" : `${formatElapsed(since)} ago`);
    } else {
      setText(this.ageMain, formatElapsed(now - session.connected_at));
      setText(this.ageSub, "");
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
