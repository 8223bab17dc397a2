// "Connect an editor": the backend's ready-to-paste snippets (`connect_info`), one tab per
// editor, each with where it goes and a copy button. The UI only renders them.

import type { ConnectInfo, Snippet } from "../api";
import { h, replaceChildren } from "../dom";
import { copyButton } from "./common";
import type { Context, View } from "./context";
import { errorText } from "./context";

let panelCount = 0;

/** The snippets with tabs; used by the connect page and the sessions page's empty state. */
export class ConnectPanel {
  readonly element: HTMLElement;
  private loaded = false;

  constructor(
    private readonly ctx: Context,
    private readonly options: { compact: boolean },
  ) {
    this.element = h("div", { class: "connect-panel" }, h("p", { class: "muted" }, "Loading the editor configurations…"));
  }

  /** Fetches the snippets the first time the panel is shown. */
  load(): void {
    if (this.loaded) return;
    this.loaded = true;
    this.ctx.connectInfo().then(
      (info) => this.show(info),
      (error) => {
        this.loaded = false;
        replaceChildren(this.element, h("p", { class: "error-text", role: "alert" }, `Could not load the configurations: ${errorText(error)}`));
      },
    );
  }

  private show(info: ConnectInfo): void {
    const prefix = `connect-${++panelCount}`;
    const shim = h(
      "div",
      { class: "shim-path" },
      h("span", { class: "shim-path-label" }, "exai-shim"),
      h("code", { class: "path" }, info.shim_path),
      copyButton(this.ctx, () => info.shim_path, "Copy path", "the shim path"),
    );
    const warning = info.shim_found
      ? null
      : h(
          "p",
          { class: "warning", role: "note" },
          "exai-shim was not found next to the hub or on PATH; the snippets use the path where it was expected. Build or install it there (",
          h("code", null, "cargo build --release -p exai-shim"),
          "), or edit the path after pasting.",
        );
    replaceChildren(this.element, shim, warning, tabs(this.ctx, prefix, info.snippets));
    if (!this.options.compact) {
      this.element.append(
        h(
          "p",
          { class: "muted hint" },
          h("code", null, "--name"),
          " labels the window in the sessions list; the editor's name is used when it is absent.",
        ),
      );
    }
  }
}

/** An accessible tab list (arrow keys move between tabs) with one panel per snippet. */
function tabs(ctx: Context, prefix: string, snippets: Snippet[]): HTMLElement {
  if (snippets.length === 0) return h("p", { class: "muted" }, "The hub offers no snippets.");
  const list = h("div", { class: "tabs", role: "tablist", "aria-label": "Editor" });
  const panels: HTMLElement[] = [];
  const buttons: HTMLButtonElement[] = [];

  const select = (index: number, focus: boolean) => {
    buttons.forEach((button, i) => {
      const selected = i === index;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      panels[i].hidden = !selected;
    });
    if (focus) buttons[index].focus();
  };

  snippets.forEach((snippet, index) => {
    const tabId = `${prefix}-tab-${index}`;
    const panelId = `${prefix}-panel-${index}`;
    const button = h(
      "button",
      { type: "button", role: "tab", id: tabId, "aria-controls": panelId, class: "tab", data: { editor: snippet.editor } },
      snippet.title,
    );
    button.addEventListener("click", () => select(index, false));
    button.addEventListener("keydown", (event) => {
      const keys: Record<string, number> = {
        ArrowRight: (index + 1) % snippets.length,
        ArrowLeft: (index - 1 + snippets.length) % snippets.length,
        Home: 0,
        End: snippets.length - 1,
      };
      if (event.key in keys) {
        event.preventDefault();
        select(keys[event.key], true);
      }
    });
    buttons.push(button);
    list.append(button);
    panels.push(
      h(
        "div",
        { role: "tabpanel", id: panelId, "aria-labelledby": tabId, class: "snippet", data: { editor: snippet.editor } },
        h(
          "div",
          { class: "snippet-head" },
          h("span", null, "Paste into ", h("strong", null, snippet.target)),
          copyButton(ctx, () => snippet.content, "Copy", `the ${snippet.title} configuration`),
        ),
        h("pre", { class: "code", tabindex: "0", "aria-label": `${snippet.title} configuration` }, h("code", { "data-language": snippet.language }, snippet.content)),
      ),
    );
  });
  select(0, false);
  return h("div", { class: "snippets" }, list, ...panels);
}

export class ConnectView implements View {
  readonly element: HTMLElement;
  private readonly panel: ConnectPanel;

  constructor(ctx: Context) {
    this.panel = new ConnectPanel(ctx, { compact: false });
    this.element = h(
      "div",
      { class: "view view-connect" },
      h(
        "section",
        { class: "card", "aria-labelledby": "connect-title" },
        h("h2", { id: "connect-title" }, "Connect an editor"),
        h(
          "p",
          null,
          "Each editor window runs ",
          h("code", null, "exai-shim"),
          " as its MCP server; the shim hands the window to this hub, which shares one connection to the EXAI daemon. Paste the configuration for your editor, then start the MCP server there: the window appears under ",
          h("a", { href: "#/" }, "Sessions"),
          " at once.",
        ),
        this.panel.element,
      ),
    );
  }

  render(): void {
    this.panel.load();
  }
}
