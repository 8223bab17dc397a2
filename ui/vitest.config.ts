// Unit tests cover the pure logic (state reducer, log filters, overall state, formatting); they
// need no DOM, so they run in Node. The browser is exercised by `npm run e2e` (e2e/).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
