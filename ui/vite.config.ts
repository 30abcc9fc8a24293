/// <reference types="vitest/config" />
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The build goes to dist/, which the Go package ui embeds. Hashed bundles go
// under /static/ (served immutable); /assets/... is one of the app's own
// routes (asset pages). dist/.gitkeep is written back after each build so
// the go:embed pattern matches on a fresh clone and git sees no change.
const keepGitkeep = {
  name: "freshet-keep-gitkeep",
  closeBundle() {
    writeFileSync(resolve(import.meta.dirname, "dist/.gitkeep"), "");
  },
};

// `npm run dev` proxies the API to a running `freshet dev` (FRESHET_URL).
const api = process.env.FRESHET_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  plugins: [react(), keepGitkeep],
  build: {
    outDir: "dist",
    assetsDir: "static",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2500,
    // a loaded CI machine makes plugin timings noise, not news
    rolldownOptions: { checks: { pluginTimings: false } },
  },
  worker: { format: "es" },
  server: {
    proxy: { "/api": api, "/healthz": api },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
