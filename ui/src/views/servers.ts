// The Servers page: one row per wrapped MCP server instance (`exai-shim -- COMMAND ...`): its
// state, command (never an environment value), pid, memory, the windows using it, restarts,
// share policy and last stderr lines, with a Restart button. With none, it says how to wrap one.
// The words are servers-state.ts's.

import type { ServerStatus } from "../api";
import { h, KeyedList, setAttr, setData, setText } from "../dom";
import type { HubState } from "../state/hub";
import { actionButton, copyButton, stateDot, updateDot } from "./common";
import type { Context, View } from "./context";
import { serverRow, serversSummary, WRAP_EXAMPLE, type ServerRow } from "./servers-state";

const COLUMNS: ReadonlyArray<[label: string, className: string, srOnly?: boolean]> = [
  ["State", "col-state", true],
  ["Server", "col-server"],
  ["Pid", "col-pid num"],
  ["Memory", "col-memory num"],
  ["Windows", "col-windows"],
  ["Restarts", "col-restarts num"],
  ["Policy", "col-policy"],
  ["Actions", "col-restart", true],
];

/** One of a server's two table rows. */
interface Part {
  server: ServerStatus;
  detail: boolean;
}

class ServerRowView {
  readonly element: HTMLTableRowElement;
  readonly stderrRow: HTMLTableRowElement;
  private readonly dot = stateDot("unknown");
  private readonly stateText = h("span", { class: "cell-sub server-state" });
  private readonly name = h("span", { class: "cell-main server-name" });
  private readonly command = h("code", { class: "cell-sub server-command" });
  private readonly pid = h("td", { class: "col-pid num" });
  private readonly memory = h("td", { class: "col-memory num" });
  private readonly windows = h("td", { class: "col-windows" });
  private readonly restarts = h("td", { class: "col-restarts num" });
  private readonly policy = h("td", { class: "col-policy" });
  private readonly lastError = h("p", { class: "server-error" });
  private readonly stderr = h("pre", { class: "server-stderr", "aria-label": "Last stderr lines" });
  private readonly restart: HTMLButtonElement;
  private last: ServerStatus | null = null;
  private lastSessions: unknown = null;

  constructor(ctx: Context, server: ServerStatus) {
    const id = server.id;
    this.restart = actionButton(ctx, "Restart", () => ctx.api.restartServer(id), {
      class: "btn btn-small server-restart",
      title: "End this server's process and start it again now (its calls in flight fail)",
      done: `Restarting ${server.name}`,
    });
    this.element = h(
      "tr",
      { class: "server-row", data: { server: String(id) } },
      h("td", { class: "col-state" }, this.dot),
      h("td", { class: "col-server" }, this.name, this.command, this.stateText),
      this.pid,
      this.memory,
      this.windows,
      this.restarts,
      this.policy,
      h("td", { class: "col-restart" }, this.restart),
    );
    this.stderrRow = h(
      "tr",
      { class: "server-detail", data: { server: String(id) } },
      h("td", { class: "col-state" }),
      h("td", { colspan: String(COLUMNS.length - 1) }, this.lastError, this.stderr),
    );
  }

  update(server: ServerStatus, state: HubState): void {
    if (server === this.last && state.sessions === this.lastSessions) return;
    this.last = server;
    this.lastSessions = state.sessions;
    const row: ServerRow = serverRow(server, state.sessions);
    setData(this.element, "state", row.state);
    setData(this.element, "name", row.name);
    updateDot(this.dot, row.tone, row.stateText);
    setText(this.stateText, row.stateText);
    setText(this.name, row.name);
    setText(this.command, row.command);
    setAttr(this.command, "title", row.command);
    setText(this.pid, row.pid);
    setText(this.memory, row.memory);
    setText(this.windows, row.windows);
    setAttr(this.windows, "title", row.windows);
    setText(this.restarts, row.restarts);
    setText(this.policy, row.policy);
    setAttr(this.restart, "aria-label", `Restart ${row.name}`);
    this.element.classList.toggle("row-lost", row.state === "crash-loop");
    setText(this.lastError, row.lastError ?? "");
    this.lastError.hidden = !row.lastError;
    const more = row.stderrMore > 0 ? `… ${row.stderrMore} earlier line${row.stderrMore === 1 ? "" : "s"}\n` : "";
    setText(this.stderr, row.stderr.length > 0 ? more + row.stderr.join("\n") : "");
    this.stderr.hidden = row.stderr.length === 0;
    this.stderrRow.hidden = !row.lastError && row.stderr.length === 0;
  }
}

export class ServersView implements View {
  readonly element: HTMLElement;
  private readonly rows = new Map<number, ServerRowView>();
  private readonly list: KeyedList<Part, HTMLTableRowElement>;
  private readonly tableCard: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly count = h("span", { class: "count" });
  private state: HubState | null = null;

  constructor(private readonly ctx: Context) {
    const body = h("tbody");
    const table = h(
      "table",
      { class: "sessions servers", "aria-labelledby": "servers-title" },
      h("thead", null, h("tr", null, ...COLUMNS.map(([label, className, srOnly]) =>
        h("th", { scope: "col", class: className }, srOnly ? h("span", { class: "sr-only" }, label) : label),
      ))),
      body,
    );
    // Two rows per server: its figures and, under them, its last error and stderr lines.
    this.list = new KeyedList<Part, HTMLTableRowElement>(
      body,
      (part) => `${part.server.id}-${part.detail ? "detail" : "row"}`,
      (part) => {
        let row = this.rows.get(part.server.id);
        if (!row) {
          row = new ServerRowView(this.ctx, part.server);
          this.rows.set(part.server.id, row);
        }
        return part.detail ? row.stderrRow : row.element;
      },
      (_element, part) => {
        if (!part.detail) this.rows.get(part.server.id)?.update(part.server, this.state!);
      },
    );
    this.tableCard = h(
      "section",
      { class: "card servers-card" },
      h("h2", { id: "servers-title", class: "card-title" }, "Wrapped servers ", this.count),
      h(
        "p",
        { class: "card-note" },
        "Each MCP server an editor starts through ",
        h("code", null, "exai-shim -- COMMAND"),
        " runs once here, shared by the windows that use it.",
      ),
      h("div", { class: "table-scroll" }, table),
    );
    this.empty = h(
      "section",
      { class: "card empty-state servers-empty", "aria-labelledby": "servers-empty-title" },
      h("h2", { id: "servers-empty-title" }, "No wrapped servers"),
      h(
        "p",
        null,
        "Any stdio MCP server can be shared by every editor window: put ",
        h("code", null, "exai-shim --"),
        " in front of its command in the editor's configuration (its env and cwd stay as they are). The hub starts it once, the first time a window needs it, and every window with the same command shares it.",
      ),
      h("p", { class: "wrap-label" }, "Before"),
      h("pre", { class: "snippet" }, WRAP_EXAMPLE.before),
      h("p", { class: "wrap-label" }, "After"),
      h("div", { class: "wrap-after" }, h("pre", { class: "snippet" }, WRAP_EXAMPLE.after), copyButton(ctx, () => WRAP_EXAMPLE.after, "Copy", "the wrapped entry")),
      h("p", null, "On a command line: ", h("code", null, "exai-shim -- COMMAND ARGS"), " (", h("code", null, "--share window"), " for one instance per window)."),
    );
    this.element = h("div", { class: "view view-servers" }, this.tableCard, this.empty);
  }

  render(state: HubState): void {
    if (this.state && state.servers === this.state.servers && state.sessions === this.state.sessions && state.loaded === this.state.loaded) return;
    this.state = state;
    const servers = [...state.servers.values()];
    this.list.render(servers.flatMap((server) => [{ server, detail: false }, { server, detail: true }]));
    for (const id of this.rows.keys()) if (!state.servers.has(id)) this.rows.delete(id);
    setText(this.count, serversSummary(servers));
    const isEmpty = state.loaded && servers.length === 0;
    this.empty.hidden = !isEmpty;
    this.tableCard.hidden = !state.loaded || isEmpty;
  }
}
