// One editor window: who it is, its counters, its errors in full and a timeline of its recent
// requests (the hub's last 100, then live `request_finished` events). A lost window's page says
// first why it is lost and what it was doing (story.ts has the words).

import type { RequestRecord, SessionInfo } from "../api";
import { h, KeyedList, replaceChildren, setAttr, setText } from "../dom";
import { formatClock, formatCount, formatDateTime, formatDuration, formatElapsed } from "../format";
import { navigate, routeHash } from "../router";
import type { HubState } from "../state/hub";
import { actionButton, displayLabel, editorText, pathCode, SESSION_STATE_TEXT, stateDot, updateDot } from "./common";
import type { Context, View } from "./context";
import { errorText } from "./context";
import { lostStory, requestRow } from "./story";

function requestKey(record: RequestRecord): string {
  return `${record.started_at}|${record.method}|${record.tool ?? ""}|${record.duration_ms}`;
}

/** Errors shown in full at the top; the rest stay in the timeline. */
const ERRORS_SHOWN = 10;

const OUTCOME_TEXT = { ok: "OK", error: "Error", cancelled: "Cancelled" } as const;

function timelineItem(record: RequestRecord, scaleMs: number): HTMLLIElement {
  const row = requestRow(record);
  // A log scale keeps a 2 ms call visible next to a 5 minute one.
  const width = scaleMs > 0 ? Math.max(2, (100 * Math.log1p(record.duration_ms)) / Math.log1p(scaleMs)) : 2;
  const flags = [
    row.cached ? h("span", { class: "flag flag-cached", title: row.durationTitle }, row.cached) : null,
    row.rateLimited ? h("span", { class: "flag flag-rate", title: row.durationTitle }, row.rateLimited) : null,
  ].filter((flag) => flag !== null);
  return h(
    "li",
    { class: "request", data: row.cached ? { outcome: row.outcome, cached: "true" } : { outcome: row.outcome } },
    h("time", { class: "request-time", datetime: new Date(record.started_at).toISOString(), title: row.timeTitle }, row.time),
    h("span", { class: "request-what", title: row.tool ? `${row.method} ${row.tool}` : row.method }, h("code", null, row.method), row.tool ? h("span", { class: "tool" }, row.tool) : null),
    h("span", { class: "request-bar", "aria-hidden": "true" }, h("span", { style: `width: ${width.toFixed(1)}%` })),
    h("span", { class: "request-duration num", title: row.durationTitle }, row.duration),
    h("span", { class: "badge", data: { outcome: row.outcome } }, OUTCOME_TEXT[row.outcome]),
    flags.length > 0 || row.args
      ? h(
          "p",
          { class: "request-details" },
          ...flags,
          row.args ? h("code", { class: "request-args", title: row.args }, row.args) : null,
        )
      : null,
    row.error ? h("p", { class: "request-error" }, row.error) : null,
  );
}

export class SessionDetailView implements View {
  readonly element: HTMLElement;
  private readonly dot = stateDot("unknown");
  private readonly title = h("h2", { id: "detail-title" });
  private readonly stateBadge = h("span", { class: "badge" });
  private readonly facts = h("dl", { class: "facts" });
  private readonly lostCard = h("section", { class: "card lost-card", "aria-labelledby": "lost-title", hidden: true });
  private readonly errorsList = h("div", { class: "errors-list" });
  private readonly errorsCount = h("span", { class: "count" });
  private readonly timeline = h("ol", { class: "timeline" });
  private readonly timelineNote = h("p", { class: "muted" });
  private readonly gone: HTMLElement;
  private readonly body: HTMLElement;
  private readonly connectedFor = h("dd");
  private readonly dismiss: HTMLButtonElement;
  private session: SessionInfo | null = null;
  private requests: readonly RequestRecord[] | null = null;
  private loading = true;
  /** The fetched history, until the store knows the session and can keep it. */
  private fetched: readonly RequestRecord[] | null = null;

  constructor(
    private readonly ctx: Context,
    readonly id: string,
  ) {
    this.dismiss = actionButton(ctx, "Dismiss", async () => {
      await ctx.api.dismiss(id);
      navigate({ view: "sessions" });
    }, { title: "Remove this lost session from the list" });
    this.gone = h(
      "section",
      { class: "card empty-state" },
      h("h2", null, "This session is gone"),
      h("p", null, "It was closed, dismissed, or lost long enough ago that the hub let it go. ", h("a", { href: "#/" }, "Back to all sessions"), "."),
    );
    this.body = h(
      "div",
      { class: "detail" },
      h(
        "section",
        { class: "card", "aria-labelledby": "detail-title" },
        h(
          "div",
          { class: "detail-head" },
          this.dot,
          this.title,
          this.stateBadge,
          h("span", { class: "spacer" }),
          h("a", { class: "btn", href: routeHash({ view: "logs", session: id }) }, "Logs of this window"),
          this.dismiss,
        ),
        this.facts,
      ),
      this.lostCard,
      h("section", { class: "card", "aria-labelledby": "errors-title" }, h("h3", { id: "errors-title", class: "card-title" }, "Errors ", this.errorsCount), this.errorsList),
      h(
        "section",
        { class: "card", "aria-labelledby": "timeline-title" },
        h("h3", { id: "timeline-title", class: "card-title" }, "Recent requests"),
        this.timelineNote,
        this.timeline,
      ),
    );
    this.element = h("div", { class: "view view-session", data: { session: id } }, h("nav", { class: "crumbs" }, h("a", { href: "#/" }, "← Sessions")), this.body, this.gone);
    this.gone.hidden = true;
    ctx.api.sessionRequests(id).then(
      (records) => {
        this.loading = false;
        this.fetched = records;
        this.render(ctx.store.state);
      },
      (error) => {
        this.loading = false;
        setText(this.timelineNote, `Could not load the request history: ${errorText(error)}`);
      },
    );
  }

  render(state: HubState): void {
    const session = state.sessions.get(this.id) ?? null;
    if (state.loaded) {
      this.gone.hidden = session !== null;
      this.body.hidden = session === null;
    }
    const previous = this.session;
    this.session = session;
    if (session && session !== previous) this.renderSession(session);
    if (this.fetched && session) {
      // The store drops records of sessions it does not know, so this waits for the snapshot.
      const fetched = this.fetched;
      this.fetched = null;
      this.ctx.store.addRequests(this.id, fetched);
      state = this.ctx.store.state;
    }
    const requests = state.requests.get(this.id) ?? [];
    if (requests !== this.requests || this.timelineLoading !== this.loading) this.renderTimeline(requests);
  }

  tick(now: number): void {
    if (this.session) setText(this.connectedFor, formatElapsed(now - this.session.connected_at));
  }

  private renderSession(session: SessionInfo): void {
    const stateText = SESSION_STATE_TEXT[session.state];
    updateDot(this.dot, session.state, stateText);
    setText(this.title, displayLabel(session));
    setText(this.stateBadge, stateText);
    this.stateBadge.dataset.state = session.state;
    this.element.dataset.state = session.state;
    this.dismiss.hidden = session.state !== "lost";
    const lost = lostStory(session);
    this.lostCard.hidden = lost === null;
    if (lost) {
      replaceChildren(
        this.lostCard,
        h("h3", { id: "lost-title", class: "card-title" }, lost.title),
        h("p", { class: "lost-why" }, lost.why),
        h("p", { class: "lost-doing" }, lost.doing),
      );
    }

    const fact = (term: string, value: string | Node | null) =>
      value === null || value === "" ? null : h("div", null, h("dt", null, term), value instanceof Node ? value : h("dd", null, value));
    const gone = session.state === "lost" || session.state === "closed";
    this.tick(Date.now());
    replaceChildren(
      this.facts,
      fact("Editor", editorText(session) || "not identified yet"),
      fact("Label", session.name ?? "none (no --name)"),
      fact("Workspace", session.cwd ? h("dd", null, pathCode(session.cwd)) : null),
      fact("Protocol", session.protocol_version),
      fact("Shim PID", String(session.pid)),
      fact("Editor PID", session.parent_pid === null ? null : String(session.parent_pid)),
      fact("Peer PID", session.peer_pid === null || session.peer_pid === session.pid ? null : String(session.peer_pid)),
      fact("Connected", formatDateTime(session.connected_at)),
      gone ? null : fact("Connected for", this.connectedFor),
      fact(gone ? `${SESSION_STATE_TEXT[session.state]} at` : "Last activity", formatDateTime(session.last_activity)),
      fact("Requests", formatCount(session.requests)),
      fact("Errors", formatCount(session.errors)),
      fact("In flight", formatCount(session.in_flight)),
      fact("Recent latency", session.recent_latency_ms === null ? null : formatDuration(session.recent_latency_ms)),
      fact("Resumes", session.resumes > 0 ? formatCount(session.resumes) : null),
      session.doing.length > 0 ? fact(gone ? "Was doing" : "Doing", session.doing.join(", ")) : null,
      fact("Session id", h("dd", null, h("code", null, session.id))),
    );
    this.renderErrors();
  }

  /** What the errors card shows now; it is rebuilt only when this changes (keeps selections). */
  private errorsShown: [readonly RequestRecord[] | null, string | null] | null = null;

  private renderErrors(): void {
    const lastError = this.session?.last_error ?? null;
    if (this.errorsShown && this.errorsShown[0] === this.requests && this.errorsShown[1] === lastError) return;
    this.errorsShown = [this.requests, lastError];
    const failed = (this.requests ?? []).filter((record) => !record.ok && !record.cancelled);
    setText(this.errorsCount, failed.length > 0 ? `(${failed.length} of the last ${this.requests?.length ?? 0} requests)` : "");
    if (failed.length === 0) {
      replaceChildren(
        this.errorsList,
        lastError
          ? h("div", { class: "error-item" }, h("p", { class: "muted" }, "Last error"), h("pre", { class: "error-full" }, lastError))
          : h("p", { class: "muted" }, this.session?.state === "lost" ? "No request failed before the window was lost (why it is lost is above)." : "No errors."),
      );
      return;
    }
    replaceChildren(
      this.errorsList,
      ...failed
        .slice(-ERRORS_SHOWN)
        .reverse()
        .map((record) =>
          h(
            "div",
            { class: "error-item" },
            h("p", { class: "error-meta" }, h("time", { title: formatDateTime(record.started_at) }, formatClock(record.started_at)), " ", h("code", null, record.method), record.tool ? ` ${record.tool}` : "", ` · ${formatDuration(record.duration_ms)}`),
            h("pre", { class: "error-full" }, record.error ?? "failed without a message"),
          ),
        ),
      failed.length > ERRORS_SHOWN ? h("p", { class: "muted" }, `${failed.length - ERRORS_SHOWN} older errors are in the timeline below.`) : null,
    );
  }

  private timelineList: KeyedList<RequestRecord, HTMLLIElement> | null = null;
  private timelineLoading = true;
  private scaleMs = 0;

  private renderTimeline(requests: readonly RequestRecord[]): void {
    this.requests = requests;
    this.timelineLoading = this.loading;
    const scale = requests.reduce((max, record) => Math.max(max, record.duration_ms), 0);
    if (!this.timelineList || scale !== this.scaleMs) {
      // The bars are relative to the longest request: a new maximum redraws them all.
      this.scaleMs = scale;
      this.timeline.replaceChildren();
      this.timelineList = new KeyedList(this.timeline, requestKey, (record) => timelineItem(record, this.scaleMs), () => {});
    }
    this.timelineList.render(requests.slice().reverse());
    setText(this.timelineNote, requests.length > 0 ? `The last ${requests.length}, newest first.` : this.loading ? "Loading…" : "No requests yet.");
    setAttr(this.timeline, "aria-busy", this.loading ? "true" : null);
    this.renderErrors();
  }
}
