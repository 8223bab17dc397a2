// The shell: header (navigation, status pill, settings), banners, the current view, the footer
// and toasts. It wires the API to the store (subscribe first, then sync; resync after a lag or
// a dropped stream), routes by URL hash and batches renders to one per animation frame.

import { ApiError, type Api, type ConnectInfo, type HubEvent, type LinkState } from "./api";
import { h, setAttr, setText } from "./dom";
import { currentRoute, navigate, type Route } from "./router";
import { liveSessions } from "./state/hub";
import { linkNotice, restartMessage } from "./state/link";
import { overallState } from "./state/overall";
import { Store } from "./state/store";
import { ConnectView } from "./views/connect";
import { errorText, type Context, type ToastTone, type View } from "./views/context";
import { LogsView } from "./views/logs";
import { SessionDetailView } from "./views/session-detail";
import { ServersView } from "./views/servers";
import { SessionsView } from "./views/sessions";
import { SettingsMenu } from "./views/settings";

const TOAST_MS = { info: 2500, error: 6000 } as const;

export class App implements Context {
  readonly store = new Store();
  private readonly main = h("main", { id: "main", class: "main", tabindex: "-1" });
  private readonly pill = h("span", { class: "pill", role: "status", "aria-live": "polite" }, h("span", { class: "dot" }), h("span", { class: "pill-text" }));
  private readonly banner = h("div", { class: "banner", id: "banner", role: "alert", hidden: true });
  private readonly footer = h("footer", { class: "footer" });
  private readonly toasts = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
  private readonly navLinks = new Map<Route["view"], HTMLAnchorElement>();
  private readonly sessionsCount = h("span", { class: "nav-count" });
  private readonly serversCount = h("span", { class: "nav-count" });
  private readonly settings: SettingsMenu;
  private views: { sessions?: SessionsView; servers?: ServersView; logs?: LogsView; connect?: ConnectView } = {};
  private detail: SessionDetailView | null = null;
  private current: View | null = null;
  private frame = 0;
  private connectInfoPromise: Promise<ConnectInfo> | null = null;
  private syncing = false;
  /** When the event stream dropped (null while it flows). */
  private downSince: number | null = null;
  /** The restart the banner told about already. */
  private restartShown: unknown = null;

  constructor(
    root: HTMLElement,
    readonly api: Api,
  ) {
    this.settings = new SettingsMenu(this);
    root.append(this.header(), this.banner, this.main, this.footer, this.toasts);
    this.store.subscribe(() => this.scheduleRender());
  }

  async start(): Promise<void> {
    window.addEventListener("hashchange", () => this.route());
    this.route();
    setInterval(() => {
      this.current?.tick?.(Date.now());
      this.renderLink();
    }, 1000);
    void this.api.onNavigate((target) => navigate(target));
    try {
      await this.api.subscribe({
        event: (event) => this.onEvent(event),
        link: (link) => this.onLink(link),
      });
    } catch (error) {
      if (error instanceof ApiError && error.unauthorized) {
        this.onLink("unauthorized");
      } else {
        this.store.setLink("down");
        this.showBanner(`Could not subscribe to the hub's events: ${errorText(error)}`);
      }
      return;
    }
    await this.resync();
    void this.settings.load();
  }

  // --- Context -------------------------------------------------------------------------------

  toast(message: string, tone: ToastTone = "info"): void {
    const toast = h("div", { class: "toast", data: { tone } }, message);
    this.toasts.append(toast);
    while (this.toasts.childElementCount > 4) this.toasts.firstElementChild?.remove();
    setTimeout(() => toast.remove(), TOAST_MS[tone]);
  }

  connectInfo(): Promise<ConnectInfo> {
    this.connectInfoPromise ??= this.api.connectInfo().catch((error: unknown) => {
      this.connectInfoPromise = null;
      throw error;
    });
    return this.connectInfoPromise;
  }

  // --- Events and sync -----------------------------------------------------------------------

  private onEvent(event: HubEvent): void {
    this.store.dispatch(event);
    switch (event.type) {
      case "lagged":
        void this.resync();
        break;
      case "focus_requested":
        navigate(event.session ? { view: "session", id: event.session } : { view: "sessions" });
        break;
      case "notice":
        // The tray shows these as system notifications; in a browser, say it here.
        if (this.api.kind === "http") this.toast(`${event.notice.title}: ${event.notice.body}`, event.notice.kind === "daemon_back" ? "info" : "error");
        break;
    }
  }

  private onLink(link: LinkState): void {
    const previous = this.store.link;
    this.store.setLink(link);
    if (link === "open") {
      this.downSince = null;
      this.main.classList.remove("stale");
      setAttr(this.main, "aria-describedby", null);
      this.hideBanner();
      // Events were missed while the stream was down (and the hub may be another one now).
      if (previous === "down" || previous === "unauthorized") void this.resync();
    } else {
      this.downSince ??= Date.now();
      this.renderLink();
    }
  }

  /** Says what became of the hub while the stream is down or refused (state/link.ts). */
  private renderLink(): void {
    const notice = linkNotice(this.store.link, this.downSince, Date.now(), location.origin);
    if (!notice) return;
    if (this.banner.hidden || this.banner.dataset.kind !== this.store.link || this.banner.firstElementChild?.textContent !== notice.message) {
      this.showBanner(notice.message, undefined, this.store.link);
    }
    this.main.classList.toggle("stale", notice.stale);
    setAttr(this.main, "aria-describedby", notice.stale ? "banner" : null);
  }

  private async resync(): Promise<void> {
    if (this.syncing) return;
    this.syncing = true;
    try {
      do {
        await this.store.sync(this.api);
      } while (this.store.state.stale);
      if (this.store.link === "open") this.hideBanner();
    } catch (error) {
      this.showBanner(`Could not load the hub's state: ${errorText(error)}`, () => void this.resync());
    } finally {
      this.syncing = false;
    }
  }

  private showBanner(message: string, retry?: () => void, kind = "error"): void {
    this.banner.dataset.kind = kind;
    this.banner.replaceChildren(h("span", null, message));
    if (retry) {
      this.banner.append(h("button", { type: "button", class: "btn btn-small", onClick: retry }, "Retry"));
    }
    this.banner.hidden = false;
  }

  private hideBanner(): void {
    this.banner.hidden = true;
  }

  // --- Routing and rendering -----------------------------------------------------------------

  private route(): void {
    const route = currentRoute();
    const view = this.viewFor(route);
    if (view !== this.current) {
      this.current?.unmount?.();
      this.current = view;
      this.main.replaceChildren(view.element);
    }
    for (const [name, link] of this.navLinks) {
      const active = name === route.view || (name === "sessions" && route.view === "session");
      setAttr(link, "aria-current", active ? "page" : null);
    }
    this.renderNow();
  }

  private viewFor(route: Route): View {
    switch (route.view) {
      case "sessions":
        return (this.views.sessions ??= new SessionsView(this));
      case "session":
        if (this.detail?.id !== route.id) this.detail = new SessionDetailView(this, route.id);
        return this.detail;
      case "logs": {
        const logs = (this.views.logs ??= new LogsView(this));
        logs.showSession(route.session);
        return logs;
      }
      case "connect":
        return (this.views.connect ??= new ConnectView(this));
      case "servers":
        return (this.views.servers ??= new ServersView(this));
    }
  }

  private scheduleRender(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => this.renderNow());
  }

  private renderNow(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
    const state = this.store.state;
    if (state.restarted && state.restarted !== this.restartShown) {
      this.restartShown = state.restarted;
      this.showBanner(restartMessage(state.restarted.from, state.restarted.to), undefined, "restarted");
    }
    const overall = overallState(state, this.store.link);
    this.pill.dataset.tone = overall.tone;
    setText(this.pill.querySelector(".pill-text")!, overall.label);
    setAttr(this.pill, "title", overall.detail);
    const live = liveSessions(state).length;
    setText(this.sessionsCount, live > 0 ? String(live) : "");
    setText(this.serversCount, state.servers.size > 0 ? String(state.servers.size) : "");
    this.renderFooter();
    this.current?.render(state);
  }

  private renderFooter(): void {
    const { hubVersion, endpoint, host } = this.store.state;
    const parts = [
      hubVersion ? `hub ${hubVersion}` : null,
      endpoint ? `endpoint ${endpoint}` : null,
      host ? (host.kind === "tray" ? "tray" : "headless") : null,
      host ? `pid ${host.pid}` : null,
    ].filter(Boolean);
    setText(this.footer, parts.join(" · "));
  }

  private header(): HTMLElement {
    const nav = h("nav", { class: "nav", "aria-label": "Views" });
    const link = (view: Route["view"], label: string, href: string, extra?: HTMLElement) => {
      const anchor = h("a", { href, class: "nav-link" }, label, extra);
      this.navLinks.set(view, anchor);
      nav.append(anchor);
    };
    link("sessions", "Sessions", "#/", this.sessionsCount);
    link("servers", "Servers", "#/servers", this.serversCount);
    link("logs", "Logs", "#/logs");
    link("connect", "Connect", "#/connect");
    return h(
      "header",
      { class: "header" },
      h("a", { class: "skip", href: "#main", onClick: (event: MouseEvent) => { event.preventDefault(); this.main.focus(); } }, "Skip to content"),
      h("span", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }), "EXAI Tray"),
      nav,
      h("span", { class: "spacer" }),
      this.pill,
      this.settings.button,
    );
  }
}
