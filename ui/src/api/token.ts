// The headless dashboard's token (docs/dashboard-api.md, "HTTP backend rules").
//
// It arrives once, in the link `exai hub --dashboard` printed (`?token=...`). The page takes it
// out of the address bar at once (history.replaceState), keeps it in memory, and sends it only
// as `Authorization: Bearer`. It also keeps it in this tab's sessionStorage so that a reload
// works: sessionStorage belongs to this origin (scheme, host and port, so this dashboard only),
// is readable only by this origin's scripts, and ends with the tab. No cookie: browsers send a
// cookie to every port of a host, so every other web server on 127.0.0.1 would receive it.

const STORAGE_KEY = "exai-dashboard-token";

/** The token in a URL's query, and the URL without it. */
export function splitToken(href: string): { token: string | null; rest: string } {
  const url = new URL(href);
  const token = url.searchParams.get("token");
  if (token === null) return { token: null, rest: href };
  url.searchParams.delete("token");
  return { token: token || null, rest: url.toString() };
}

let token: string | null | undefined;

/** This page's token: from the address bar (once), else from this tab's storage. */
export function pageToken(): string | null {
  if (token !== undefined) return token;
  const { token: fromUrl, rest } = splitToken(window.location.href);
  if (fromUrl !== null || rest !== window.location.href) {
    window.history.replaceState(window.history.state, "", rest);
  }
  token = fromUrl ?? readStored();
  if (fromUrl !== null) store(fromUrl);
  return token;
}

function readStored(): string | null {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage disabled: the token lives in memory only, and a reload needs the printed link.
    return null;
  }
}

function store(value: string): void {
  try {
    window.sessionStorage.setItem(STORAGE_KEY, value);
  } catch {
    // As above.
  }
}
