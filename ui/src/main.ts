// Entry point: pick the backend (Tauri IPC or the headless hub's HTTP API) and start the shell.

import "./styles.css";
import "./story.css";
import "./servers.css";
import { createApi } from "./api";
import { App } from "./app";

async function main(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) throw new Error("index.html has no #app");
  const api = await createApi();
  await new App(root, api).start();
}

main().catch((error: unknown) => {
  console.error("the dashboard failed to start", error);
  document.getElementById("app")?.replaceChildren(`The dashboard failed to start: ${String(error)}`);
});
