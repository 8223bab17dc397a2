// The Tauri backend: commands and events of exai-tray (src-tauri), one line per operation.

import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { Api, NavigateTarget } from "./index";
import { ApiError } from "./index";
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

/** Commands fail with `UiError { code, message }`; anything else is shown as text. */
function toApiError(command: string, error: unknown): ApiError {
  if (error && typeof error === "object" && "message" in error) {
    const { message, code } = error as { message: unknown; code?: unknown };
    return new ApiError(String(message), 0, typeof code === "string" ? code : null);
  }
  return new ApiError(`${command}: ${String(error)}`, 0);
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (error) {
    throw toApiError(command, error);
  }
}

export function createTauriApi(): Api {
  return {
    kind: "tauri",
    snapshot: () => call<Snapshot>("snapshot"),
    logs: () => call<LogRecord[]>("logs"),
    tools: () => call<ToolInfo[]>("tools"),
    sessionRequests: (id) => call<RequestRecord[]>("session_requests", { id }),
    reconnectUpstream: () => call<void>("reconnect_upstream"),
    restartServer: (id) => call<void>("restart_server", { id }),
    dismiss: (id) => call<void>("dismiss", { id }),
    connectInfo: () => call<ConnectInfo>("connect_info"),
    connectStatus: () => call<EditorStatus[]>("connect_status"),
    connectEditor: (editor) => call<ConnectResult>("connect_editor", { editor }),
    connectWrapPreviews: () => call<WrapPreview[]>("connect_wrap_previews"),
    connectWrap: (editor, direction) => call<WrapEditorResult>("connect_wrap", { editor, direction }),
    settings: () => call<Settings>("settings"),
    setSettings: (settings) => call<Settings>("set_settings", { settings }),
    upstreamConfig: () => call<UpstreamConfig>("upstream_config"),
    setUpstreamConfig: (update) => call<UpstreamConfigSaved>("set_upstream_config", { update }),
    testUpstream: (test) => call<UpstreamTestResult>("test_upstream", { test }),
    openConfigFile: () => call<void>("open_config_file"),
    async subscribe(handlers) {
      const unlisten = await listen<HubEvent>("hub-event", (event) => handlers.event(event.payload));
      // IPC has no connection to lose: the page lives and dies with the app.
      handlers.link("open");
      return unlisten;
    },
    async onNavigate(handler) {
      return listen<NavigateTarget>("navigate", (event) => handler(event.payload));
    },
  };
}
