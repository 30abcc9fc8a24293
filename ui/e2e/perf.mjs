// Performance of the UI in headless Chromium on generated graphs, against a
// real `freshet serve` per graph (declared assets and deps, a freshness
// policy on every 7th asset so the page has states to colour):
//   2,000 assets; 10,000 assets / 30,000 edges; a 500-deep chain;
//   the 10,000-asset catalog.
// For each, RUNS (default 5) fresh page loads after one uncounted warm-up
// load; prints the medians of: time
// from navigation to an interactive graph (laid out, drawn, main thread
// free) and the longest main-thread task meanwhile; and for the catalog the
// time to the first rows and to all rows.
//   FRESHET_BIN=../bin/freshet node e2e/perf.mjs
//   (RUNS=3 CASES=2,000 for fewer runs of the 2,000-asset case only)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { chromiumArgs } from "./chromium.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.env.FRESHET_BIN ?? join(here, "../../bin/freshet"));
const RUNS = Number(process.env.RUNS ?? 5);

function rng(seed) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** layered graph: LAYERS layers x DOMAINS domains; each asset reads `fanIn` assets of the layer before, mostly of its domain */
function layered(n, edges, layers = 10, domains = 10) {
  const r = rng(42);
  const perLayer = Math.ceil(n / layers);
  const keys = [];
  for (let i = 0; i < n; i++) {
    const l = Math.floor(i / perLayer);
    keys.push(`l${l}/d${i % domains}/t${i}`);
  }
  const deps = keys.map(() => new Set());
  const fanIn = edges / (n - perLayer);
  for (let i = perLayer; i < n; i++) {
    const l = Math.floor(i / perLayer);
    const k = Math.floor(fanIn) + (r() < fanIn % 1 ? 1 : 0);
    for (let j = 0; j < k; j++) {
      const prev = (l - 1) * perLayer;
      let u = prev + Math.floor(r() * perLayer);
      if (r() < 0.8) u = prev + ((Math.floor(r() * (perLayer / domains)) * domains + (i % domains)) % perLayer);
      deps[i].add(keys[u]);
    }
  }
  return keys.map((k, i) => ({ key: k, deps: [...deps[i]] }));
}

function chain(n) {
  return Array.from({ length: n }, (_, i) => ({ key: `chain/n${String(i).padStart(3, "0")}`, deps: i ? [`chain/n${String(i - 1).padStart(3, "0")}`] : [] }));
}

function yaml(assets) {
  const lines = ["assets:"];
  assets.forEach((a, i) => {
    lines.push(`  - key: ${a.key}`);
    lines.push(`    group: ${a.key.split("/")[0]}`);
    lines.push(`    owners: [team:${a.key.split("/")[1] ?? "x"}]`);
    if (a.deps.length) lines.push(`    deps: [${a.deps.join(", ")}]`);
    if (i % 7 === 0) lines.push(`    freshness: {max_lag: 1h}`);
  });
  return lines.join("\n") + "\n";
}

const freePort = () => new Promise((res) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => res(port)); });
});

async function serve(assets) {
  const dir = mkdtempSync(join(tmpdir(), "freshet-ui-perf-"));
  writeFileSync(join(dir, "freshet.yaml"), yaml(assets));
  const port = await freePort();
  const proc = spawn(bin, ["serve", "--config", join(dir, "freshet.yaml"), "--addr", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--log-level", "error"], { stdio: "inherit" });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(base + "/readyz")).ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { base, stop: async () => { proc.kill("SIGTERM"); await new Promise((r) => proc.once("exit", r)); rmSync(dir, { recursive: true, force: true }); } };
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// long tasks from the very start of the page
const observeLongTasks = () => {
  window.__long = [];
  new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__long.push(e.duration); }).observe({ type: "longtask", buffered: true });
};

async function measureGraph(browser, url, expectNodes) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.addInitScript(observeLongTasks);
  const page = await ctx.newPage();
  await page.goto(url);
  await page.locator('.lineage-canvas[data-ready="true"] :is(.react-flow__node, canvas.overview[data-drawn="true"])').first().waitFor({ timeout: 120_000 });
  // interactive: drawn, and the next frame comes (the main thread is free)
  const t = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(() => r(performance.now()), 0))));
  const status = await page.getByTestId("graph-status").textContent();
  // DOM nodes when names are readable, else the overview canvas (its drawn boxes)
  const overview = (await page.locator("canvas.overview").count()) > 0;
  const boxes = overview ? Number(await page.locator("canvas.overview").getAttribute("data-boxes")) : await page.locator(".react-flow__node").count();
  const longest = await page.evaluate(() => Math.max(0, ...window.__long));
  const marks = await page.evaluate(() => Object.fromEntries(performance.getEntriesByType("mark").filter((m) => m.name.startsWith("freshet:")).map((m) => [m.name.slice(8), Math.round(m.startTime)])));
  // zoom / pan responsiveness: a wheel zoom, then the time to the next frame
  const zoomMs = await page.evaluate(() => new Promise((r) => {
    const el = document.querySelector(".react-flow__pane");
    const t0 = performance.now();
    el.dispatchEvent(new WheelEvent("wheel", { deltaY: -200, clientX: 600, clientY: 400, bubbles: true, cancelable: true }));
    requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now() - t0)));
  }));
  await ctx.close();
  if (expectNodes !== undefined && boxes === 0) throw new Error("no nodes drawn");
  return { t, longest, status, boxes, zoomMs, marks, overview };
}

async function measureCatalog(browser, url, total) {
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  await ctx.addInitScript(observeLongTasks);
  const page = await ctx.newPage();
  await page.goto(url);
  await page.locator(".vrow[data-key]").first().waitFor({ timeout: 60_000 });
  const first = await page.evaluate(() => performance.now());
  await page.getByTestId("catalog-count").filter({ hasText: new RegExp(`^${total.toLocaleString("en-US")} of ${total.toLocaleString("en-US")} assets$`) }).waitFor({ timeout: 120_000 });
  const all = await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(performance.now()))));
  const longest = await page.evaluate(() => Math.max(0, ...window.__long));
  // scrolling: jump to the end with the keyboard and time the frame
  await page.locator(".vgrid").focus();
  const endMs = await page.evaluate(() => new Promise((r) => {
    const t0 = performance.now();
    document.querySelector(".vgrid").dispatchEvent(new KeyboardEvent("keydown", { key: "End", bubbles: true }));
    requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now() - t0)));
  }));
  const sortMs = await page.evaluate(() => new Promise((r) => {
    const t0 = performance.now();
    document.querySelector('.vrow.head button[title="Sort by freshness"]').click();
    requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now() - t0)));
  }));
  await ctx.close();
  return { first, all, longest, endMs, sortMs };
}

const cases = [
  { name: "2,000 assets (layered, ~2 deps each)", assets: layered(2000, 4000, 10, 10), graph: ["/lineage", "/lineage?group=0"] },
  { name: "10,000 assets / 30,000 edges", assets: layered(10000, 30000, 10, 20), graph: ["/lineage", "/lineage?group=0", "/lineage?expand=l5", "/lineage?expand=l5,l5/d3"], catalog: true },
  { name: "500-deep chain", assets: chain(500), graph: ["/lineage"] },
];

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: chromiumArgs });
console.log(`Chromium ${browser.version()}, ${RUNS} runs each, medians (min-max)`);
const fmt = (xs) => `${Math.round(median(xs))} (${Math.round(Math.min(...xs))}-${Math.round(Math.max(...xs))})`;
// CASES=chain (a substring of a case's name) runs only the matching cases
for (const c of cases.filter((c) => !process.env.CASES || c.name.includes(process.env.CASES))) {
  const edges = c.assets.reduce((a, x) => a + x.deps.length, 0);
  const srv = await serve(c.assets);
  try {
    for (const path of c.graph) {
      // one load first, not counted: the server's first answer and
      // Chromium's first compile of the bundle are start-up, not the page
      await measureGraph(browser, srv.base + path, c.assets.length);
      const rs = [];
      for (let i = 0; i < RUNS; i++) rs.push(await measureGraph(browser, srv.base + path, c.assets.length));
      console.log(`graph ${c.name} [${c.assets.length} assets, ${edges} edges] ${path}: interactive ms ${fmt(rs.map((r) => r.t))}; longest task ms ${fmt(rs.map((r) => r.longest))}; zoom frame ms ${fmt(rs.map((r) => r.zoomMs))}; ${rs[0].boxes} boxes${rs[0].overview ? " (overview canvas)" : ""}; ${rs[rs.length - 1].status}; marks of the last run ${JSON.stringify(rs[rs.length - 1].marks)}`);
    }
    if (c.catalog) {
      const rs = [];
      for (let i = 0; i < RUNS; i++) rs.push(await measureCatalog(browser, srv.base + "/", c.assets.length));
      console.log(`catalog ${c.assets.length} assets: first rows ms ${fmt(rs.map((r) => r.first))}; all rows ms ${fmt(rs.map((r) => r.all))}; longest task ms ${fmt(rs.map((r) => r.longest))}; End key frame ms ${fmt(rs.map((r) => r.endMs))}; sort frame ms ${fmt(rs.map((r) => r.sortMs))}`);
    }
  } finally {
    await srv.stop();
  }
}
await browser.close();
