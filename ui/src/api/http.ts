// The HTTP backend, for the page `exai hub --dashboard` serves. Same-origin relative URLs with
// the `exai_dashboard_<port>` cookie the page load set (docs/dashboard-api.md, "HTTP backend rules");
// live events over one EventSource.

import type { Api, EventHandlers, Unsubscribe } from "./index";
import { ApiError } from "./index";
import type {
  ConnectInfo,
  HubEvent,
  LogRecord,
  RequestRecord,
  Settings,
  Snapshot,
} from "./types.gen";

/** Backoff for re-opening an event stream the server closed (EventSource gives up on a non-200). */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

async function request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(`the hub did not answer (${String(error)})`, 0);
  }
  if (!response.ok) {
    const text = (await response.text().catch(() => "")).trim();
    throw new ApiError(text || `${method} ${path}: HTTP ${response.status}`, response.status);
  }
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

const get = <T>(path: string) => request<T>("GET", path);
const post = <T>(path: string, body?: unknown) => request<T>("POST", path, body);

function sessionPath(id: string): string {
  return `/api/sessions/${encodeURIComponent(id)}`;
}

/**
 * Keeps one EventSource open. The browser reconnects by itself after a network error; when
 * the server answers with an error status it closes the stream for good, so we open a new one
 * with backoff, and ask once whether our credentials still hold to say why.
 */
function subscribe(handlers: EventHandlers): Promise<Unsubscribe> {
  let source: EventSource | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = RETRY_MIN_MS;
  let stopped = false;

  return new Promise((resolve, reject) => {
    let settled = false;
    const stop: Unsubscribe = () => {
      stopped = true;
      clearTimeout(retryTimer);
      source?.close();
    };

    const open = () => {
      source = new EventSource("/api/events");
      source.onopen = () => {
        retryMs = RETRY_MIN_MS;
        handlers.link("open");
        if (!settled) {
          settled = true;
          resolve(stop);
        }
      };
      source.onmessage = (message: MessageEvent<string>) => {
        let event: HubEvent;
        try {
          event = JSON.parse(message.data) as HubEvent;
        } catch {
          console.warn("ignored an event that is not JSON", message.data);
          return;
        }
        handlers.event(event);
      };
      source.onerror = () => {
        if (stopped || !source) return;
        if (source.readyState !== EventSource.CLOSED) {
          // The browser is already reconnecting.
          handlers.link("down");
          return;
        }
        source.close();
        void diagnose().then((state) => {
          if (stopped) return;
          if (!settled && state === "unauthorized") {
            settled = true;
            reject(new ApiError("the hub refused this page's token", 401));
            return;
          }
          handlers.link(state);
          retryTimer = setTimeout(open, retryMs);
          retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
        });
      };
    };
    open();
  });
}

/** Why the stream closed: a rejected token, or the hub is unreachable or failing. */
async function diagnose(): Promise<"unauthorized" | "down"> {
  try {
    const response = await fetch("/api/settings", { credentials: "same-origin" });
    return response.status === 401 ? "unauthorized" : "down";
  } catch {
    return "down";
  }
}

export function createHttpApi(): Api {
  return {
    kind: "http",
    snapshot: () => get<Snapshot>("/api/snapshot"),
    logs: () => get<LogRecord[]>("/api/logs"),
    sessionRequests: (id) => get<RequestRecord[]>(`${sessionPath(id)}/requests`),
    reconnectUpstream: () => post<void>("/api/reconnect"),
    dismiss: (id) => post<void>(`${sessionPath(id)}/dismiss`),
    connectInfo: () => get<ConnectInfo>("/api/connect"),
    settings: () => get<Settings>("/api/settings"),
    setSettings: (settings) => post<Settings>("/api/settings", settings),
    subscribe,
    // Navigation is the URL hash; the headless hub has no menu to send us anywhere.
    onNavigate: async () => () => {},
  };
}
