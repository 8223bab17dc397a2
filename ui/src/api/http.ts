// The HTTP backend, for the page `exai hub --dashboard` serves (docs/dashboard-api.md, "HTTP
// backend rules"). Same-origin relative URLs; the token goes only in `Authorization: Bearer`
// (./token.ts says where it comes from and why there is no cookie); live events are
// Server-Sent Events read with fetch, since EventSource cannot send that header.

import type { Api, EventHandlers, Unsubscribe } from "./index";
import { ApiError, isTrayWindow } from "./index";
import { SseParser } from "./sse";
import { pageToken } from "./token";
import type {
  ConnectInfo,
  ConnectResult,
  EditorStatus,
  HubEvent,
  LogRecord,
  RequestRecord,
  Settings,
  Snapshot,
  ToolInfo,
  UpstreamConfig,
  UpstreamConfigSaved,
  UpstreamTestResult,
  WrapEditorResult,
  WrapPreview,
} from "./types.gen";

/** Backoff for re-opening an event stream that ended or was refused. */
const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30_000;

function headers(extra: Record<string, string>): Record<string, string> {
  const token = pageToken();
  return token === null ? extra : { ...extra, Authorization: `Bearer ${token}` };
}

async function request<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      // Nothing but the bearer header proves who we are.
      credentials: "omit",
      headers: headers(body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" }),
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

/** How one opened stream ended. */
type StreamEnd =
  /** The hub said we fell behind (`event: resync`): reconnect at once and take a snapshot. */
  | "resync"
  /** The hub closed it, the network failed, or we stopped. */
  | "ended";

/** Reads one event stream until it ends, handing each event on. */
async function pump(body: ReadableStream<Uint8Array>, handlers: EventHandlers): Promise<StreamEnd> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return "ended";
      for (const message of parser.push(decoder.decode(value, { stream: true }))) {
        if (message.event === "resync") return "resync";
        if (message.event !== "message") continue;
        let event: HubEvent;
        try {
          event = JSON.parse(message.data) as HubEvent;
        } catch {
          console.warn("ignored an event that is not JSON", message.data);
          continue;
        }
        handlers.event(event);
      }
    }
  } catch {
    return "ended";
  } finally {
    void reader.cancel().catch(() => {});
  }
}

/**
 * Keeps one event stream open: reopens it with backoff when it ends, at once when the hub
 * told us to resync. Resolves once the first stream is open; rejects if the hub refuses the
 * token at the first try.
 */
function subscribe(handlers: EventHandlers): Promise<Unsubscribe> {
  let controller: AbortController | null = null;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;
  let retryMs = RETRY_MIN_MS;
  let stopped = false;
  /** The hub dropped us for falling behind: the next open stream starts with a resync. */
  let behind = false;

  return new Promise((resolve, reject) => {
    let settled = false;
    const stop: Unsubscribe = () => {
      stopped = true;
      clearTimeout(retryTimer);
      controller?.abort();
    };
    const retry = (state: "down" | "unauthorized") => {
      if (stopped) return;
      handlers.link(state);
      retryTimer = setTimeout(() => void open(), retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    };

    const open = async () => {
      const abort = new AbortController();
      controller = abort;
      let response: Response;
      try {
        response = await fetch("/api/events", {
          credentials: "omit",
          cache: "no-store",
          headers: headers({ Accept: "text/event-stream" }),
          signal: abort.signal,
        });
      } catch {
        retry("down");
        return;
      }
      if (!response.ok || !response.body) {
        void response.body?.cancel().catch(() => {});
        if (response.status === 401 && !settled) {
          settled = true;
          stopped = true;
          reject(new ApiError("the hub refused this page's token", 401));
          return;
        }
        retry(response.status === 401 ? "unauthorized" : "down");
        return;
      }
      retryMs = RETRY_MIN_MS;
      handlers.link("open");
      if (behind) {
        behind = false;
        // Events were dropped while we lagged: the app takes a fresh snapshot.
        handlers.event({ type: "lagged", missed: 0 });
      }
      if (!settled) {
        settled = true;
        resolve(stop);
      }
      const end = await pump(response.body, handlers);
      if (stopped) return;
      if (end === "resync") {
        behind = true;
        abort.abort();
        void open();
      } else {
        retry("down");
      }
    };
    void open();
  });
}

export function createHttpApi(): Api {
  // Read (and take out of the address bar) before anything else runs.
  pageToken();
  return {
    kind: "http",
    snapshot: () => get<Snapshot>("/api/snapshot"),
    logs: () => get<LogRecord[]>("/api/logs"),
    tools: () => get<ToolInfo[]>("/api/tools"),
    sessionRequests: (id) => get<RequestRecord[]>(`${sessionPath(id)}/requests`),
    reconnectUpstream: () => post<void>("/api/reconnect"),
    restartServer: (id) => post<void>(`/api/servers/${encodeURIComponent(String(id))}/restart`),
    dismiss: (id) => post<void>(`${sessionPath(id)}/dismiss`),
    connectInfo: () => get<ConnectInfo>("/api/connect"),
    connectStatus: () => get<EditorStatus[]>("/api/connect/editors"),
    connectEditor: (editor) => post<ConnectResult>(`/api/connect/editors/${encodeURIComponent(editor)}`),
    connectWrapPreviews: () => get<WrapPreview[]>("/api/connect/wrap"),
    connectWrap: (editor, direction) => post<WrapEditorResult>(`/api/connect/editors/${encodeURIComponent(editor)}/${direction}`),
    settings: () => get<Settings>("/api/settings"),
    setSettings: (settings) => post<Settings>("/api/settings", settings),
    upstreamConfig: () => get<UpstreamConfig>("/api/upstream/config"),
    setUpstreamConfig: (update) => post<UpstreamConfigSaved>("/api/upstream/config", update),
    testUpstream: (test) => post<UpstreamTestResult>("/api/upstream/test", test),
    // Only the tray's own window: the tray opens the file on this desktop; a browser tab of
    // `exai hub --dashboard` cannot.
    ...(isTrayWindow() ? { openConfigFile: () => post<void>("/api/open-config-file") } : {}),
    subscribe,
    // Navigation is the URL hash (the tray's window process sets it when the menu asks); the
    // headless hub has no menu to send us anywhere.
    onNavigate: async () => () => {},
  };
}
