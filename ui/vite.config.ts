// The dashboard is served from two places: Tauri (`frontendDist: ../ui/dist`) and `exai hub
// --dashboard` at `/`, so asset URLs are relative (`base: './'`).
//
// `npm run dev` against a running headless hub: set EXAI_DASHBOARD_URL to the URL the hub
// printed (`http://127.0.0.1:PORT/?token=TOKEN`); `/api` is proxied with the token as a bearer
// header and without the dev server's Origin, which the hub would refuse.
import { defineConfig } from "vite";

function hubProxy() {
  const printed = process.env.EXAI_DASHBOARD_URL;
  if (!printed) return undefined;
  const url = new URL(printed);
  const token = url.searchParams.get("token") ?? "";
  return {
    "/api": {
      target: url.origin,
      changeOrigin: true,
      headers: { Authorization: `Bearer ${token}` },
      configure(proxy: { on(event: "proxyReq", listener: (req: { removeHeader(name: string): void }) => void): void }) {
        proxy.on("proxyReq", (req) => req.removeHeader("origin"));
      },
    },
  };
}

export default defineConfig({
  base: "./",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false,
  },
  server: {
    proxy: hubProxy(),
  },
});
