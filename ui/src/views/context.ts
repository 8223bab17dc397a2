// What every view gets from the app shell.

import type { Api, ConnectInfo } from "../api";
import type { HubState } from "../state/hub";
import type { Store } from "../state/store";

export type ToastTone = "info" | "error";

export interface Context {
  readonly api: Api;
  readonly store: Store;
  /** A short message in the corner (and to screen readers); errors stay a little longer. */
  toast(message: string, tone?: ToastTone): void;
  /** The connect snippets, fetched once. */
  connectInfo(): Promise<ConnectInfo>;
}

/** A page under the header. The shell mounts one at a time. */
export interface View {
  readonly element: HTMLElement;
  /** Called when mounted and after every change while mounted (batched per frame). */
  render(state: HubState): void;
  /** Once a second while mounted, for "connected for" and other elapsed times. */
  tick?(now: number): void;
  /** Called when the view is taken off screen. */
  unmount?(): void;
}

/** The message of anything thrown. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
