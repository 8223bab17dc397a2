// The first-run card: shown above the daemon card while no daemon is configured, or the
// configured one is down or rejects the token. It says what the EXAI daemon is and what to do,
// and takes its address and token: Test tries them once, Save writes config.toml (the token in
// a file only the user can read) and the hub reconnects with them. The token field is never
// filled from the hub: the hub only says whether a token is set.

import type { UpstreamConfig } from "../api";
import { h, setText } from "../dom";
import { pathCode } from "./common";
import type { Context } from "./context";
import { errorText } from "./context";
import {
  DAEMON_TEXT,
  firstRunReason,
  firstRunTitle,
  sourceNotes,
  testTone,
  tokenField,
  tokenPlaceholder,
} from "./firstrun-state";

export class FirstRunCard {
  readonly element: HTMLElement;
  private readonly title = h("h2", { id: "firstrun-title" });
  private readonly url = h("input", {
    type: "text",
    id: "firstrun-url",
    name: "url",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: "ws://127.0.0.1:8079",
  });
  private readonly token = h("input", { type: "password", id: "firstrun-token", name: "token", autocomplete: "off" });
  private readonly removeToken = h("input", { type: "checkbox", id: "firstrun-remove-token" });
  private readonly removeRow: HTMLElement;
  private readonly notes = h("ul", { class: "firstrun-notes muted" });
  private readonly result = h("p", { class: "firstrun-result", role: "status", "aria-live": "polite" });
  private readonly file = h("p", { class: "firstrun-file muted" });
  private readonly buttons: HTMLButtonElement[] = [];
  /** What the card was last rendered for (reason and URL); null while hidden. */
  private key: string | null = null;
  private loading: Promise<void> | null = null;
  /** The user typed an address: later loads do not overwrite it. */
  private edited = false;

  constructor(private readonly ctx: Context) {
    this.url.addEventListener("input", () => (this.edited = true));
    this.removeRow = h(
      "label",
      { class: "firstrun-check", for: "firstrun-remove-token" },
      this.removeToken,
      h("span", null, "Remove the saved token"),
    );
    const button = (label: string, action: () => Promise<void>, primary = false) => {
      const element = h("button", { type: "button", class: primary ? "btn btn-primary" : "btn" }, label);
      element.addEventListener("click", () => void this.busy(action));
      this.buttons.push(element);
      return element;
    };
    const form = h(
      "form",
      { class: "firstrun-form", "aria-labelledby": "firstrun-title" },
      h("label", { class: "firstrun-label", for: "firstrun-url" }, "Daemon address"),
      this.url,
      h("label", { class: "firstrun-label", for: "firstrun-token" }, "Token"),
      this.token,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void this.busy(() => this.save());
    });
    const actions = h(
      "div",
      { class: "firstrun-actions" },
      button("Test", () => this.test()),
      button("Save", () => this.save(), true),
      ...(ctx.api.openConfigFile ? [button("Open config file", () => this.openFile())] : []),
    );
    this.element = h(
      "section",
      { class: "card firstrun", "aria-labelledby": "firstrun-title", hidden: true },
      this.title,
      h("p", { class: "firstrun-intro" }, DAEMON_TEXT),
      form,
      this.removeRow,
      actions,
      this.result,
      this.notes,
      this.file,
    );
  }

  /** Shows or hides the card for the hub's state now; loads the settings when it shows. */
  render(): void {
    const { host, upstream } = this.ctx.store.state;
    const reason = firstRunReason(host, upstream);
    const key = reason === null ? null : `${reason} ${upstream?.url ?? ""}`;
    if (key === this.key) return;
    this.key = key;
    this.element.hidden = reason === null;
    if (reason === null) return;
    setText(this.title, firstRunTitle(reason, upstream?.url ?? ""));
    void this.load();
  }

  /** The daemon settings as the hub has them (never the token). */
  load(): Promise<void> {
    this.loading ??= this.ctx.api
      .upstreamConfig()
      .then((config) => this.show(config))
      .catch((error: unknown) => setText(this.result, `Could not read the daemon settings: ${errorText(error)}`))
      .finally(() => (this.loading = null));
    return this.loading;
  }

  private show(config: UpstreamConfig): void {
    if (!this.edited) this.url.value = config.url;
    this.token.placeholder = tokenPlaceholder(config);
    this.removeRow.hidden = !config.token_set || config.token_source !== "file";
    const notes = sourceNotes(config);
    this.notes.replaceChildren(...notes.map((note) => h("li", null, note)));
    this.notes.hidden = notes.length === 0;
    this.file.replaceChildren(
      ...(config.config_path
        ? [config.config_exists ? "Saved in " : "Will be saved in ", pathCode(config.config_path), " (readable only by you)."]
        : ["There is no home directory for config.toml here; set EXAI_WS_URL instead."]),
    );
  }

  private async busy(action: () => Promise<void>): Promise<void> {
    for (const button of this.buttons) button.disabled = true;
    try {
      await action();
    } catch (error) {
      this.say(errorText(error), "error");
    } finally {
      for (const button of this.buttons) button.disabled = false;
    }
  }

  private say(message: string, tone: "ok" | "error" | "info"): void {
    this.result.dataset.tone = tone;
    setText(this.result, message);
  }

  private async test(): Promise<void> {
    this.say(`Trying ${this.url.value.trim() || "the daemon"}…`, "info");
    const result = await this.ctx.api.testUpstream({
      url: this.url.value,
      token: this.removeToken.checked ? null : tokenField(this.token.value, false),
    });
    this.say(result.message, testTone(result.outcome));
  }

  private async save(): Promise<void> {
    const saved = await this.ctx.api.setUpstreamConfig({
      url: this.url.value,
      token: tokenField(this.token.value, this.removeToken.checked),
    });
    this.token.value = "";
    this.removeToken.checked = false;
    this.edited = false;
    this.show(saved.config);
    this.say(saved.message, "ok");
    this.ctx.toast("Daemon settings saved");
    // The hub now counts the daemon as configured: read it (the colour and this card follow).
    await this.ctx.store.sync(this.ctx.api);
  }

  private async openFile(): Promise<void> {
    await this.ctx.api.openConfigFile?.();
    await this.load();
  }
}
