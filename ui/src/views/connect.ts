// "Connect an editor": first every editor's config file with a Connect / Reconnect button
// that writes the exai server into it (`connect_status`, `connect_editor`), then the
// backend's ready-to-paste snippets (`connect_info`), one tab per editor, each with where it
// goes and a copy button. Between them, "Share these servers through EXAI": per editor whose
// file has other stdio servers, what wrapping them through exai-shim would do to each (env
// names only, never values) with Wrap and Unwrap buttons (`connect_wrap_previews`,
// `connect_wrap`). The UI only renders what the backend says.

import type { ConnectInfo, ConnectResult, EditorStatus, Snippet, WrapDirection, WrapPreview } from "../api";
import { h, replaceChildren } from "../dom";
import { copyButton, pathCode } from "./common";
import { editorView, shareView } from "./connect-state";
import type { Context, View } from "./context";
import { errorText } from "./context";

/** The editors' files and a button each; fetched every time the page is shown. */
class EditorList {
  readonly element: HTMLElement;
  /** The last result per editor, kept across refreshes so the message stays. */
  private readonly results = new Map<string, { text: string; error: boolean }>();
  private loading = false;

  constructor(
    private readonly ctx: Context,
    private readonly changed: () => void,
  ) {
    this.element = h("div", { class: "editor-list", role: "list", "aria-label": "Editors", style: "display: flex; flex-direction: column; gap: 8px; margin: 12px 0" }, h("p", { class: "muted" }, "Looking for your editors' config files…"));
  }

  load(): void {
    if (this.loading) return;
    this.loading = true;
    this.ctx.api.connectStatus().then(
      (statuses) => {
        this.loading = false;
        this.show(statuses);
      },
      (error) => {
        this.loading = false;
        replaceChildren(this.element, h("p", { class: "error-text", role: "alert" }, `Could not read the editors' config files: ${errorText(error)}`));
      },
    );
  }

  private show(statuses: EditorStatus[]): void {
    replaceChildren(this.element, ...statuses.map((status) => this.row(status)));
  }

  private row(status: EditorStatus): HTMLElement {
    const view = editorView(status);
    const result = this.results.get(status.editor);
    const message = h(
      "p",
      { class: result?.error ? "error-text connect-result" : "muted connect-result", role: "status", "aria-live": "polite", hidden: !result },
      result?.text ?? "",
    );
    const button = h(
      "button",
      { type: "button", class: "btn btn-small connect-editor", "aria-label": `${view.action} ${status.title}` },
      view.action,
    );
    button.addEventListener("click", () => void this.connect(status, button, message));
    const row = h(
      "div",
      { class: "shim-path editor-row", role: "listitem", data: { editor: status.editor, connected: String(status.connected) } },
      h("span", { class: "dot", data: { tone: view.tone }, role: "img", "aria-label": view.text, title: view.text }),
      h("strong", null, status.title),
      h("span", { class: "editor-state" }, view.text),
      button,
      h("div", { style: "flex-basis: 100%" }, pathCode(status.path)),
      message,
    );
    return row;
  }

  private async connect(status: EditorStatus, button: HTMLButtonElement, message: HTMLElement): Promise<void> {
    button.disabled = true;
    message.hidden = false;
    message.className = "muted connect-result";
    message.textContent = `Writing ${status.path}…`;
    try {
      const result: ConnectResult = await this.ctx.api.connectEditor(status.editor);
      this.results.set(status.editor, { text: result.message, error: false });
      this.ctx.toast(result.changed ? `${status.title} connected` : `${status.title} was already connected`);
    } catch (error) {
      this.results.set(status.editor, { text: `Could not connect ${status.title}: ${errorText(error)}`, error: true });
    }
    // Show every editor afresh (the button and its words change with the file).
    this.load();
    this.changed();
  }
}

/** "Share these servers through EXAI": a card per editor with servers to wrap or unwrap. */
class ShareList {
  readonly element: HTMLElement;
  private readonly results = new Map<string, { text: string; error: boolean }>();
  private loading = false;

  constructor(
    private readonly ctx: Context,
    private readonly changed: () => void,
  ) {
    this.element = h("div", { class: "share-list", style: "display: flex; flex-direction: column; gap: 12px; margin: 12px 0" });
  }

  load(): void {
    if (this.loading) return;
    this.loading = true;
    this.ctx.api.connectWrapPreviews().then(
      (previews) => {
        this.loading = false;
        this.show(previews);
      },
      (error) => {
        this.loading = false;
        replaceChildren(this.element, h("p", { class: "error-text", role: "alert" }, `Could not read the editors' servers: ${errorText(error)}`));
      },
    );
  }

  private show(previews: WrapPreview[]): void {
    const cards = previews.filter((preview) => shareView(preview).offer || this.results.has(preview.editor)).map((preview) => this.card(preview));
    replaceChildren(this.element, ...(cards.length > 0 ? cards : [h("p", { class: "muted share-none" }, "No editor's file has other stdio servers to share.")]));
  }

  private card(preview: WrapPreview): HTMLElement {
    const view = shareView(preview);
    const result = this.results.get(preview.editor);
    const message = h(
      "p",
      { class: result?.error ? "error-text share-result" : "muted share-result", role: "status", "aria-live": "polite", hidden: !result },
      result?.text ?? "",
    );
    const rows = view.rows.map((row) =>
      h(
        "li",
        { class: "share-server", data: { server: row.name, project: row.project ?? "", changed: String(row.changed) } },
        h("strong", null, row.name),
        row.project ? h("span", { class: "muted" }, ` (project ${row.project})`) : null,
        row.left ? h("span", { class: "muted share-left" }, ` left alone: ${row.left}`) : null,
        row.changed || row.before
          ? h(
              "div",
              { class: "share-command", style: "overflow-wrap: anywhere" },
              h("code", { class: "share-before" }, row.before),
              row.changed ? h("span", null, " → ") : null,
              row.changed ? h("code", { class: "share-after" }, row.after) : null,
            )
          : null,
        row.env ? h("div", { class: "muted share-env" }, row.env) : null,
      ),
    );
    const buttons: HTMLElement[] = [];
    if (view.nWrap > 0) {
      const wrap = h("button", { type: "button", class: "btn btn-small share-wrap", "aria-label": `Wrap ${preview.title}'s servers`, disabled: !view.canWrap }, view.wrapText);
      wrap.addEventListener("click", () => void this.rewrite(preview, "wrap", wrap, message));
      buttons.push(wrap);
    }
    if (view.canUnwrap) {
      const unwrap = h("button", { type: "button", class: "btn btn-small share-unwrap", "aria-label": `Unwrap ${preview.title}'s servers` }, view.unwrapText);
      unwrap.addEventListener("click", () => void this.rewrite(preview, "unwrap", unwrap, message));
      buttons.push(unwrap);
    }
    return h(
      "div",
      { class: "shim-path share-editor", role: "group", "aria-label": `Share ${preview.title}'s servers`, data: { editor: preview.editor }, style: "flex-direction: column; align-items: stretch" },
      h("div", null, h("strong", null, preview.title), " ", pathCode(preview.path)),
      h("p", { class: "share-summary" }, view.summary),
      view.refusal ? h("p", { class: "warning share-refusal", role: "note" }, view.refusal) : null,
      h("ul", { class: "share-servers", style: "display: flex; flex-direction: column; gap: 6px; margin: 0; padding-left: 18px" }, ...rows),
      h("div", { style: "display: flex; gap: 8px" }, ...buttons),
      message,
    );
  }

  private async rewrite(preview: WrapPreview, direction: WrapDirection, button: HTMLButtonElement, message: HTMLElement): Promise<void> {
    button.disabled = true;
    message.hidden = false;
    message.className = "muted share-result";
    message.textContent = `Writing ${preview.path}…`;
    const verb = direction === "wrap" ? "wrap" : "unwrap";
    try {
      const result = await this.ctx.api.connectWrap(preview.editor, direction);
      this.results.set(preview.editor, { text: result.message, error: false });
      this.ctx.toast(result.changed ? `${preview.title}: servers ${verb}ped` : `${preview.title}: nothing to ${verb}`);
    } catch (error) {
      this.results.set(preview.editor, { text: `Could not ${verb} ${preview.title}'s servers: ${errorText(error)}`, error: true });
    }
    this.load();
    this.changed();
  }
}

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
  private readonly editors: EditorList;
  private readonly share: ShareList;
  private mounted = false;

  constructor(ctx: Context) {
    this.panel = new ConnectPanel(ctx, { compact: false });
    // Each list reads the files again when the other one wrote.
    this.editors = new EditorList(ctx, () => this.share.load());
    this.share = new ShareList(ctx, () => this.editors.load());
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
          " as its MCP server; the shim hands the window to this hub, which shares one connection to the EXAI daemon. Connect your editor below (or paste its configuration), then start the MCP server there: the window appears under ",
          h("a", { href: "#/" }, "Sessions"),
          " at once.",
        ),
        h(
          "p",
          null,
          "Connect writes the ",
          h("code", null, "exai"),
          " server into the editor's own config file, next to the servers already there: the old file is copied beside it first (",
          h("code", null, "<file>.exai-backup-<time>"),
          "), comments are kept, and nothing is written when the entry is already there. The same from a terminal: ",
          h("code", null, "exai connect <editor>"),
          ".",
        ),
        this.editors.element,
        h("h3", { id: "share-title" }, "Share these servers through EXAI"),
        h(
          "p",
          null,
          "Your editors' other stdio MCP servers can run through ",
          h("code", null, "exai-shim"),
          " too: then every window of every editor shares one instance of each server instead of starting its own. Wrap changes only each server's command and arguments (its env and everything else stay; the old file is copied beside it first); Unwrap puts them back. Remote servers and EXAI's own entry are left alone. The same from a terminal: ",
          h("code", null, "exai connect <editor> --wrap"),
          ".",
        ),
        this.share.element,
        h("h3", null, "Or paste it yourself"),
        this.panel.element,
      ),
    );
  }

  render(): void {
    // Read the files again each time the page is opened, not on every hub event.
    if (!this.mounted) {
      this.mounted = true;
      this.editors.load();
      this.share.load();
    }
    this.panel.load();
  }

  unmount(): void {
    this.mounted = false;
  }
}
