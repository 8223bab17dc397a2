// The page's link to its hub, in words: a dropped event stream that does not come back, a
// token the hub refuses (a restarted `exai hub` makes a new one), and a hub that answers again
// but is not the one the page knew (another pid or start time: it restarted). Pure, so the
// words and the restart rule are unit-tested; app.ts shows them in the banner.

import type { LinkState, Snapshot } from "../api";
import { formatClock } from "../format";

/** Which hub process a snapshot came from. */
export interface HubIdentity {
  pid: number;
  startedAt: number;
}

export function hubIdentity(snapshot: Snapshot): HubIdentity {
  return { pid: snapshot.host.pid, startedAt: snapshot.started_at ?? 0 };
}

/** Whether `next` is another hub than `known` (a restart), not the same one answering again. */
export function isRestart(known: HubIdentity | null, next: HubIdentity): boolean {
  return known !== null && (known.pid !== next.pid || known.startedAt !== next.startedAt);
}

/** How long a dropped stream may take to come back before the page says the hub is gone. */
export const DOWN_GRACE_MS = 4000;

export interface LinkNotice {
  message: string;
  /** What the page shows is from a hub that is gone; the views are dimmed. */
  stale: boolean;
}

/** The address the hub printed, with the token hidden: `http://127.0.0.1:PORT/?token=…`. */
export function printedLink(origin: string): string {
  return `EXAI dashboard: ${origin}/?token=…`;
}

/**
 * What to say about the link: nothing while events flow, "reconnecting" for a short drop, and
 * for a refused token or a hub gone for longer, that it stopped or restarted and how to reopen
 * the page (the link the new hub printed).
 */
export function linkNotice(link: LinkState | "connecting", downSince: number | null, now: number, origin: string): LinkNotice | null {
  switch (link) {
    case "open":
    case "connecting":
      return null;
    case "unauthorized":
      return {
        message: `The hub at ${origin} refused this page's token: it restarted with a new one, or the page was opened without its link. Open the address the hub printed on its terminal (${printedLink(origin)}); what this page shows is from before.`,
        stale: true,
      };
    case "down": {
      const since = downSince ?? now;
      if (now - since < DOWN_GRACE_MS) return { message: "Lost the connection to the hub; reconnecting…", stale: false };
      return {
        message: `The hub at ${origin} has not answered since ${formatClock(since, false)}: it stopped, or restarted on another port. Start it again (exai hub --dashboard), or open the address the new hub printed (${printedLink("http://127.0.0.1:PORT")}); this page keeps trying. What it shows is from ${formatClock(since, false)}.`,
        stale: true,
      };
    }
  }
}

/** Said once the page is following a restarted hub (same address and token, a new process). */
export function restartMessage(from: HubIdentity, to: HubIdentity): string {
  const when = to.startedAt > 0 ? ` at ${formatClock(to.startedAt, false)}` : "";
  return `The hub restarted${when} (pid ${from.pid}, now pid ${to.pid}): this page now shows the new hub; the old one's sessions, requests and log lines are gone.`;
}
