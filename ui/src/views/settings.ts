// The shell's settings: "Start at login" and "Notifications" switches (tray only; the headless
// hub reports both as null) and where the config file and the log files are, in a small dialog
// from the header.

import type { Settings, UpstreamConfig } from "../api";
import { h, replaceChildren } from "../dom";
import { copyButton, pathCode } from "./common";
import type { Context } from "./context";
import { errorText } from "./context";

type Toggle = "autostart" | "notifications";

const TOGGLES: ReadonlyArray<[key: Toggle, label: string, hint: string]> = [
  ["autostart", "Start at login", "Run EXAI Tray when you log in, so editors always find the hub."],
  ["notifications", "Notifications", "Tell me when a window is lost or the daemon goes down or comes back."],
];

export class SettingsMenu {
  /** The header button; hidden until there is something to set. */
  readonly button: HTMLButtonElement;
  private readonly dialog: HTMLDialogElement;
  private readonly body = h("div", { class: "settings-body" });
  private settings: Settings | null = null;
  private upstream: UpstreamConfig | null = null;

  constructor(private readonly ctx: Context) {
    this.button = h(
      "button",
      { type: "button", class: "btn btn-icon", "aria-label": "Settings", title: "Settings", "aria-haspopup": "dialog", hidden: true },
      h("span", { "aria-hidden": "true" }, "⚙"),
    );
    const close = h("button", { type: "button", class: "btn", value: "close" }, "Done");
    close.addEventListener("click", () => this.dialog.close());
    this.dialog = h(
      "dialog",
      { class: "settings", "aria-labelledby": "settings-title" },
      h("h2", { id: "settings-title" }, "Settings"),
      this.body,
      h("div", { class: "dialog-actions" }, close),
    );
    this.dialog.addEventListener("click", (event) => {
      // A click on the backdrop closes the dialog.
      if (event.target === this.dialog) this.dialog.close();
    });
    this.button.addEventListener("click", () => {
      this.renderBody();
      this.dialog.showModal();
      // The config file may have been made or saved since.
      void this.loadPaths();
    });
    document.body.append(this.dialog);
  }

  async load(): Promise<void> {
    try {
      this.show(await this.ctx.api.settings());
    } catch (error) {
      console.warn("settings are unavailable", error);
    }
    await this.loadPaths();
  }

  private async loadPaths(): Promise<void> {
    try {
      this.upstream = await this.ctx.api.upstreamConfig();
    } catch (error) {
      console.warn("the config file's place is unavailable", error);
    }
    if (this.dialog.open) this.renderBody();
  }

  private show(settings: Settings): void {
    this.settings = settings;
    // Every host has paths to show; the switches only the tray.
    this.button.hidden = false;
    if (this.dialog.open) this.renderBody();
  }

  private renderBody(): void {
    const settings = this.settings;
    if (!settings) return;
    const rows = TOGGLES.filter(([key]) => settings[key] !== null).map(([key, label, hint]) => {
      const id = `setting-${key}`;
      const input = h("input", { type: "checkbox", role: "switch", id, "aria-describedby": `${id}-hint` });
      input.checked = settings[key] === true;
      input.addEventListener("change", () => void this.change(key, input));
      return h(
        "div",
        { class: "setting" },
        h("label", { for: id }, input, h("span", null, label)),
        h("p", { id: `${id}-hint`, class: "muted" }, hint),
      );
    });
    const path = (label: string, value: string, what: string) =>
      h(
        "p",
        { class: "muted setting-note setting-path" },
        `${label}: `,
        pathCode(value),
        " ",
        copyButton(this.ctx, () => value, "Copy", what),
      );
    const configPath = this.upstream?.config_path;
    const config = configPath ? path("Config file", configPath, "the config file's path") : null;
    const openConfig =
      configPath && this.ctx.api.openConfigFile
        ? h("button", { type: "button", class: "btn btn-small", onClick: () => void this.openConfig() }, "Open config file")
        : null;
    const logDir = settings.log_dir ? path("Log files", settings.log_dir, "the log folder's path") : null;
    replaceChildren(this.body, ...rows, config, openConfig, logDir);
  }

  private async openConfig(): Promise<void> {
    try {
      await this.ctx.api.openConfigFile?.();
    } catch (error) {
      this.ctx.toast(`Could not open the config file: ${errorText(error)}`, "error");
    }
  }

  private async change(key: Toggle, input: HTMLInputElement): Promise<void> {
    if (!this.settings) return;
    input.disabled = true;
    try {
      this.show(await this.ctx.api.setSettings({ ...this.settings, [key]: input.checked }));
    } catch (error) {
      input.checked = !input.checked;
      this.ctx.toast(`Could not change the setting: ${errorText(error)}`, "error");
    } finally {
      input.disabled = false;
    }
  }
}
