// Small pieces shared by the views: state dots, copy buttons, action buttons.

import type { SessionInfo, SessionState, UpstreamState } from "../api";
import { copyText, h } from "../dom";
import { sessionLabel } from "../state/hub";
import type { Context } from "./context";
import { errorText } from "./context";

export const SESSION_STATE_TEXT: Record<SessionState, string> = {
  ready: "Ready",
  degraded: "Degraded",
  lost: "Lost",
  closed: "Closed",
};

export const UPSTREAM_STATE_TEXT: Record<UpstreamState, string> = {
  connecting: "Connecting",
  connected: "Connected",
  down: "Down",
  unauthorized: "Token rejected",
};

/** A coloured dot; the state is also in its accessible name. */
export function stateDot(state: SessionState | UpstreamState | "unknown"): HTMLSpanElement {
  return h("span", { class: "dot", data: { tone: state }, role: "img" });
}

export function updateDot(dot: HTMLElement, state: string, text: string): void {
  if (dot.dataset.tone !== state) dot.dataset.tone = state;
  if (dot.getAttribute("aria-label") !== text) {
    dot.setAttribute("aria-label", text);
    dot.title = text;
  }
}

/** The label to show, with a fallback when the editor has not said who it is yet. */
export function displayLabel(session: SessionInfo): string {
  return sessionLabel(session) || `pid ${session.pid}`;
}

export function editorText(session: SessionInfo): string {
  if (!session.client) return "";
  return session.client.version ? `${session.client.name} ${session.client.version}` : session.client.name;
}

/**
 * A path as code that wraps after a separator (`<wbr>`, no added text) rather than in the
 * middle of a name when it is too long for its line.
 */
export function pathCode(path: string): HTMLElement {
  const parts = path.split(/(?<=[\\/])/);
  return h("code", { class: "path" }, ...parts.flatMap((part, index) => (index === 0 ? [part] : [h("wbr"), part])));
}

/** A button that copies `text()` and says so. */
export function copyButton(ctx: Context, text: () => string, label = "Copy", what = "text"): HTMLButtonElement {
  const button = h("button", { type: "button", class: "btn btn-small copy", "aria-label": `Copy ${what}` }, label);
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    try {
      await copyText(text());
      button.classList.add("copied");
      button.textContent = "Copied";
      setTimeout(() => {
        button.classList.remove("copied");
        button.textContent = label;
      }, 1200);
      ctx.toast(`Copied ${what}`);
    } catch (error) {
      ctx.toast(`Could not copy: ${errorText(error)}`, "error");
    }
  });
  return button;
}

/**
 * A button for an API action: disabled while it runs, errors as toasts. `done` says what
 * happened, when there is something worth saying.
 */
export function actionButton(
  ctx: Context,
  label: string,
  action: () => Promise<void>,
  options: { class?: string; title?: string; done?: string } = {},
): HTMLButtonElement {
  const button = h("button", { type: "button", class: options.class ?? "btn", title: options.title }, label);
  button.addEventListener("click", async (event) => {
    event.stopPropagation();
    button.disabled = true;
    try {
      await action();
      if (options.done) ctx.toast(options.done);
    } catch (error) {
      ctx.toast(`${label} failed: ${errorText(error)}`, "error");
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
