// Routing by URL hash (docs/dashboard-api.md): `#/` sessions, `#/session/<id>`, `#/servers`,
// `#/logs`, `#/connect`. The log view also takes `#/logs?session=<id>` to open with a session filter.

import type { NavigateTarget } from "./api";

export type Route =
  | { view: "sessions" }
  | { view: "session"; id: string }
  | { view: "servers" }
  | { view: "logs"; session: string | null }
  | { view: "connect" };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "");
  const [pathname, query = ""] = path.split("?", 2);
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  switch (parts[0]) {
    case "session":
      return parts[1] ? { view: "session", id: parts[1] } : { view: "sessions" };
    case "logs":
      return { view: "logs", session: new URLSearchParams(query).get("session") };
    case "connect":
      return { view: "connect" };
    case "servers":
      return { view: "servers" };
    default:
      return { view: "sessions" };
  }
}

export function routeHash(route: Route | NavigateTarget): string {
  switch (route.view) {
    case "session":
      return `#/session/${encodeURIComponent(route.id)}`;
    case "logs":
      return "session" in route && route.session ? `#/logs?session=${encodeURIComponent(route.session)}` : "#/logs";
    case "connect":
      return "#/connect";
    case "servers":
      return "#/servers";
    case "sessions":
      return "#/";
  }
}

export function navigate(route: Route | NavigateTarget): void {
  const hash = routeHash(route);
  if (location.hash !== hash) location.hash = hash;
}

export function currentRoute(): Route {
  return parseRoute(location.hash);
}
