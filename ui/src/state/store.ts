// The one place the current HubState lives. Events go through `dispatch`; a (re)sync fetches a
// snapshot and the logs while holding back events that arrive meanwhile, then replays them on
// top (docs/dashboard-api.md, "Start-up"). Listeners are told after every change.

import type { Api, HubEvent, LinkState, RequestRecord } from "../api";
import { applyEvent, applySnapshot, initialState, mergeLogs, withRequests, type HubState } from "./hub";

export type Listener = () => void;

export class Store {
  state: HubState = initialState;
  link: LinkState | "connecting" = "connecting";
  /** Events held back while a sync is in flight; `null` when none is. */
  private held: HubEvent[] | null = null;
  private readonly listeners = new Set<Listener>();

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  dispatch(event: HubEvent): void {
    if (this.held) {
      this.held.push(event);
      return;
    }
    const next = applyEvent(this.state, event);
    if (next !== this.state) {
      this.state = next;
      this.changed();
    }
  }

  setLink(link: LinkState): void {
    if (link === this.link) return;
    this.link = link;
    this.changed();
  }

  /** Fetches a snapshot and the logs; events that arrive meanwhile are applied after them. */
  async sync(api: Api): Promise<void> {
    if (this.held) return;
    this.held = [];
    let state = this.state;
    try {
      const [snapshot, logs] = await Promise.all([api.snapshot(), api.logs()]);
      state = applySnapshot(state, snapshot);
      state = { ...state, logs: mergeLogs(state.logs, logs) };
    } finally {
      const held = this.held;
      this.held = null;
      for (const event of held) state = applyEvent(state, event);
      this.state = state;
      this.changed();
    }
  }

  /** Merges a session's fetched request history into what events already brought. */
  addRequests(session: string, records: readonly RequestRecord[]): void {
    const requests = withRequests(this.state, session, records);
    if (requests === this.state.requests) return;
    this.state = { ...this.state, requests };
    this.changed();
  }
}
