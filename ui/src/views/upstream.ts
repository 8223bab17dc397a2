// The daemon panel: where the hub connects, how its pool is doing, and a Reconnect button;
// above it, while no daemon is configured or it is down, the first-run card (firstrun.ts).

import type { UpstreamStatus } from "../api";
import { h, setAttr, setText } from "../dom";
import { formatCount, rateLimitText } from "../format";
import { actionButton, stateDot, updateDot, UPSTREAM_STATE_TEXT } from "./common";
import type { Context } from "./context";
import { FirstRunCard } from "./firstrun";
import { ToolsPanel } from "./tools";

export class UpstreamPanel {
  readonly element: HTMLElement;
  private readonly firstRun: FirstRunCard;
  private readonly dot = stateDot("unknown");
  private readonly state = h("span", { class: "upstream-state" });
  private readonly url = h("code", { class: "upstream-url" });
  private readonly pool = h("dd");
  private readonly tools = h("dd");
  private readonly queued = h("dd");
  private readonly reconnects = h("dd");
  private readonly rateLimit = h("p", { class: "upstream-rate", role: "status" });
  private readonly lastError = h("p", { class: "upstream-error", role: "status" });
  private last: UpstreamStatus | null = null;
  private readonly card: HTMLElement;
  private readonly toolList: ToolsPanel;

  constructor(ctx: Context) {
    const reconnect = actionButton(ctx, "Reconnect", () => ctx.api.reconnectUpstream(), {
      title: "Drop the backoff and connect to the daemon now",
      done: "Reconnecting to the daemon",
    });
    this.firstRun = new FirstRunCard(ctx);
    this.toolList = new ToolsPanel(ctx);
    const card = h(
      "section",
      { class: "card upstream", "aria-labelledby": "upstream-title" },
      h(
        "div",
        { class: "upstream-head" },
        h("h2", { id: "upstream-title" }, "Daemon"),
        this.dot,
        this.state,
        this.url,
        h("span", { class: "spacer" }),
        reconnect,
      ),
      h(
        "dl",
        { class: "upstream-stats" },
        h("div", null, h("dt", null, "Pool"), this.pool),
        h("div", null, h("dt", null, "Tools"), this.tools),
        h("div", null, h("dt", null, "Queued"), this.queued),
        h("div", null, h("dt", null, "Reconnects"), this.reconnects),
      ),
      this.rateLimit,
      this.lastError,
      this.toolList.element,
    );
    this.card = card;
    this.element = h("div", { class: "upstream-stack" }, this.firstRun.element, card);
  }

  render(upstream: UpstreamStatus | null): void {
    // The card also follows the host (whether a daemon is configured), so before the check.
    this.firstRun.render();
    if (upstream === this.last) return;
    this.last = upstream;
    this.toolList.render(upstream);
    if (!upstream) {
      updateDot(this.dot, "unknown", "Unknown");
      setText(this.state, "Waiting for the hub…");
      return;
    }
    setAttr(this.card, "data-state", upstream.state);
    updateDot(this.dot, upstream.state, UPSTREAM_STATE_TEXT[upstream.state]);
    setText(this.state, UPSTREAM_STATE_TEXT[upstream.state]);
    setText(this.url, upstream.url);
    const idle = Math.max(0, upstream.connections - upstream.busy);
    setText(this.pool, `${upstream.busy} busy · ${idle} idle · ${upstream.connections}/${upstream.pool_size} up`);
    setText(this.tools, formatCount(upstream.tools));
    setText(this.queued, formatCount(upstream.queued));
    setText(this.reconnects, formatCount(upstream.reconnects));
    setText(this.rateLimit, rateLimitText(upstream));
    this.rateLimit.hidden = !upstream.rate_limited && !upstream.over_capacity;
    setText(this.lastError, upstream.last_error ? `Last error: ${upstream.last_error}` : "");
    this.lastError.hidden = !upstream.last_error;
  }
}
