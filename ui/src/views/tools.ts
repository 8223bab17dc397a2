// The daemon's tools inside the daemon card: a disclosure whose summary counts them and names
// the first few, and inside, a filter over names and descriptions. The list is fetched (the
// `tools` API call) when the card opens and again whenever the daemon connects or its tool
// count changes; nothing is polled.

import type { ToolInfo, UpstreamStatus } from "../api";
import { h, replaceChildren, setText } from "../dom";
import { filterTools, toolsSummary } from "../state/tools";
import type { Context } from "./context";
import { errorText } from "./context";

/** Names the closed summary shows before "…". */
const NAMED = 4;

export class ToolsPanel {
  readonly element: HTMLDetailsElement;
  private readonly summary = h("span", { class: "tools-summary-text" });
  private readonly filter: HTMLInputElement;
  private readonly status = h("p", { class: "muted tools-status", role: "status" });
  private readonly list = h("ul", { class: "tools-list", "aria-label": "The daemon's tools" });
  private tools: ToolInfo[] = [];
  private connected = false;
  /** What the list was fetched for (connected, tool count); a change fetches it again. */
  private fetchedFor = "";

  constructor(private readonly ctx: Context) {
    this.filter = h("input", {
      id: "tools-filter",
      name: "tools-filter",
      type: "search",
      placeholder: "Filter tools",
      autocomplete: "off",
      spellcheck: "false",
      "aria-label": "Filter the daemon's tools by name or description",
    });
    this.filter.addEventListener("input", () => this.renderList());
    this.element = h(
      "details",
      { class: "tools", id: "daemon-tools" },
      h("summary", null, h("span", { class: "tools-title" }, "Tools"), " ", this.summary),
      h("div", { class: "tools-body" }, this.filter, this.status, this.list),
    );
  }

  render(upstream: UpstreamStatus | null): void {
    this.connected = upstream?.state === "connected";
    const wanted = `${this.connected}|${upstream?.tools ?? 0}`;
    if (wanted === this.fetchedFor) return;
    this.fetchedFor = wanted;
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.tools = await this.ctx.api.tools();
    } catch (error) {
      setText(this.status, `Could not load the tool list: ${errorText(error)}`);
      this.fetchedFor = "";
      return;
    }
    this.renderList();
  }

  private renderList(): void {
    const shown = filterTools(this.tools, this.filter.value);
    const names = this.tools.slice(0, NAMED).map((tool) => tool.name).join(", ");
    setText(this.summary, this.tools.length === 0 ? "" : `(${this.tools.length}): ${names}${this.tools.length > NAMED ? ", …" : ""}`);
    setText(this.status, toolsSummary(this.tools.length, shown.length, this.connected) + (this.tools.length > 0 && shown.length === 0 ? ": none matches the filter." : ""));
    this.filter.hidden = this.tools.length === 0;
    replaceChildren(
      this.list,
      ...shown.map((tool) =>
        h(
          "li",
          { class: "tool-item", data: { tool: tool.name } },
          h("code", { class: "tool-name" }, tool.name),
          h("span", { class: "tool-description" }, tool.description || "No description."),
        ),
      ),
    );
  }
}
