// The dashboard's one door to the hub (docs/dashboard-api.md). Two backends offer the same
// operations: Tauri IPC inside exai-tray, and loopback HTTP + Server-Sent Events when the
// headless hub serves the page (`exai hub --dashboard`). Views never know which one runs.

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
  UpstreamConfigUpdate,
  UpstreamTest,
  UpstreamTestResult,
  WrapDirection,
  WrapEditorResult,
  WrapPreview,
} from "./types.gen";

export type * from "./types.gen";

/** Where the tray menu asks the window to go (Tauri `navigate` event payload). */
export type NavigateTarget =
  | { view: "sessions" }
  | { view: "session"; id: string }
  | { view: "connect" }
  | { view: "logs" };

/** The live link to the hub's event stream. */
export type LinkState =
  /** Events flow. */
  | "open"
  /** The stream dropped; the backend is reconnecting. */
  | "down"
  /** The hub refused our credentials (the headless hub restarted with a new token). */
  | "unauthorized";

export interface EventHandlers {
  event(event: HubEvent): void;
  link(state: LinkState): void;
}

export type Unsubscribe = () => void;

export interface Api {
  readonly kind: "tauri" | "http";
  snapshot(): Promise<Snapshot>;
  /** Oldest first. */
  logs(): Promise<LogRecord[]>;
  /** The daemon's tools (name, description), by name; empty before the first catalog. */
  tools(): Promise<ToolInfo[]>;
  /** Oldest first, the last 100. */
  sessionRequests(id: string): Promise<RequestRecord[]>;
  reconnectUpstream(): Promise<void>;
  /** Restarts a wrapped server's instance now (`ServerStatus.id`); its calls in flight fail. */
  restartServer(id: number): Promise<void>;
  dismiss(id: string): Promise<void>;
  connectInfo(): Promise<ConnectInfo>;
  /** Every editor's config file and whether it has the exai server. */
  connectStatus(): Promise<EditorStatus[]>;
  /** Writes the exai server into one editor's config file (after a backup). */
  connectEditor(editor: string): Promise<ConnectResult>;
  /** What wrapping each editor's other servers through exai-shim would do (env names only). */
  connectWrapPreviews(): Promise<WrapPreview[]>;
  /** Wraps (or unwraps) one editor's servers in its config file (after a backup). */
  connectWrap(editor: string, direction: WrapDirection): Promise<WrapEditorResult>;
  settings(): Promise<Settings>;
  setSettings(settings: Settings): Promise<Settings>;
  /** The daemon's URL, whether a token is set, and the config file (never the token). */
  upstreamConfig(): Promise<UpstreamConfig>;
  /** Writes the daemon's URL and token into config.toml; the hub reconnects with them. */
  setUpstreamConfig(update: UpstreamConfigUpdate): Promise<UpstreamConfigSaved>;
  /** Tries a daemon once (connect, hello) and says how it went. */
  testUpstream(test: UpstreamTest): Promise<UpstreamTestResult>;
  /** Opens config.toml in the user's editor (the tray only: a browser cannot open local files). */
  openConfigFile?: () => Promise<void>;
  /** Resolves once events are flowing, so a snapshot fetched afterwards misses nothing. */
  subscribe(handlers: EventHandlers): Promise<Unsubscribe>;
  onNavigate(handler: (target: NavigateTarget) => void): Promise<Unsubscribe>;
}

/** A failed call: `status` is the HTTP status (0 for IPC or network failures). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  get unauthorized(): boolean {
    return this.status === 401;
  }
}

/**
 * Set by exai-tray's dashboard window on Linux (an initialization script of the window process):
 * the page is the tray's own loopback dashboard, spoken to over HTTP, and the tray can open files.
 */
export const TRAY_WINDOW_MARK = "__EXAI_TRAY_WINDOW__";

/** Whether this page runs in the tray's own window process with the HTTP backend. */
export function isTrayWindow(): boolean {
  return TRAY_WINDOW_MARK in window;
}

export function isTauri(): boolean {
  // The tray's window process on Linux is a Tauri webview too, but its page is the loopback
  // dashboard: the hub runs in another process (ARCHITECTURE.md, "A tray that costs nothing").
  return "__TAURI_INTERNALS__" in window && !isTrayWindow();
}

export async function createApi(): Promise<Api> {
  if (isTauri()) {
    // Loaded only inside the app, so the page the headless hub serves stays small.
    const { createTauriApi } = await import("./tauri");
    return createTauriApi();
  }
  const { createHttpApi } = await import("./http");
  return createHttpApi();
}
