// End-to-end tests of the web UI in real headless Chromium (Debian's
// chromium driven by playwright-core) against a real `freshet dev` server
// with the UI embedded. Run by scripts/ui-test.sh after the build:
//   FRESHET_BIN=../bin/freshet node --test e2e/
// It fails, never skips, when the binary or Chromium is missing.
// Screenshots of every page go to e2e/screenshots/ (gitignored).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { chromiumArgs } from "./chromium.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const bin = resolve(process.env.FRESHET_BIN ?? join(here, "../../bin/freshet"));
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const shots = join(here, "screenshots");

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
    s.on("error", rej);
  });
}

async function waitReady(url, proc, ms = 60_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (proc.exitCode !== null) throw new Error(`freshet dev exited with ${proc.exitCode}`);
    try {
      const r = await fetch(url + "/readyz");
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("freshet dev not ready after " + ms + " ms");
}

let server, browser, page, base, dataDir;
const problems = [];
let serverLog = "";

before(async () => {
  assert.ok(existsSync(bin), `no freshet binary at ${bin}: build it with the UI embedded (make ui build), or set FRESHET_BIN`);
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: run scripts/ensure-chromium.sh (Debian package chromium), or set CHROMIUM`);
  mkdirSync(shots, { recursive: true });
  dataDir = mkdtempSync(join(tmpdir(), "freshet-ui-e2e-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ["dev", "--addr", `127.0.0.1:${port}`, "--data-dir", dataDir, "--simulate-every", "0", "--log-level", "warn"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  await waitReady(base, server);
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 }, colorScheme: "light" });
  page = await ctx.newPage();
  page.setDefaultTimeout(20_000);
  page.on("pageerror", (e) => problems.push("page error: " + e.message));
  page.on("console", (m) => {
    // a failed request the test provokes on purpose (the SLA's 400) is logged by the browser too
    if (m.type() === "error" && !/status of 400/.test(m.text())) problems.push("console: " + m.text());
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  if (process.exitCode && serverLog) console.error("freshet dev output:\n" + serverLog.slice(-4000));
});

const shot = (name) => page.screenshot({ path: join(shots, name + ".png") });

describe("freshet web UI", { concurrency: false }, () => {
  it("serves the built UI, not the 'make ui' page", async () => {
    const html = await (await fetch(base + "/")).text();
    assert.match(html, /<div id="root">/, "the binary was built without the UI: run make ui first");
  });

  it("catalog: lists the demo and searches it server-side", async () => {
    await page.goto(base + "/");
    await page.getByRole("row").filter({ hasText: "marts/revenue_daily" }).first().waitFor();
    const count = await page.getByTestId("catalog-count").textContent();
    assert.match(count, /^24 of 24 assets/);
    await shot("catalog");
    // "/" focuses the search box
    await page.locator("body").press("/");
    assert.notEqual(await page.evaluate(() => document.activeElement?.getAttribute("data-search")), null);
    await page.keyboard.type("fx");
    await page.waitForURL(/\?q=fx/);
    await page.getByTestId("catalog-count").filter({ hasText: /^3 of 3 assets/ }).waitFor();
    const keys = await page.locator(".vrow[data-key]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-key")));
    assert.deepEqual(keys.sort(), ["marts/fx_exposure", "raw/fx/rates", "staging/fx_rates"]);
    // the state filter (raw/crm/accounts is FAIL throughout the demo) and
    // the keyboard: Down moves, Enter opens the active row, Back returns
    await page.getByRole("searchbox").fill("");
    await page.waitForFunction(() => !location.search.includes("q="));
    await page.getByRole("button", { name: "FAIL", exact: true }).click();
    await page.waitForURL(/state=FAIL/);
    const crm = page.locator('.vrow[data-key="raw/crm/accounts"]');
    await crm.waitFor();
    const fails = await page.locator(".vrow[data-key]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-key")));
    const i = fails.indexOf("raw/crm/accounts");
    await page.locator(".vgrid").focus();
    await page.keyboard.press("Home");
    for (let n = 0; n < i; n++) await page.keyboard.press("ArrowDown");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/assets\/raw\/crm\/accounts$/);
    await page.goBack();
    await page.waitForFunction(() => location.pathname === "/" && location.search.includes("state=FAIL"), null, { timeout: 5000 }).catch(() => {
      throw new Error("back from the asset page: " + page.url());
    });
    await page.locator(".vrow[data-key]").first().waitFor();
  });

  it("lineage: draws the graph in the worker and clicks through to an asset", async () => {
    await page.goto(base + "/lineage");
    await page.locator('.lineage-canvas[data-ready="true"]').waitFor();
    await page.locator(".react-flow__node").first().waitFor();
    assert.equal(await page.locator(".react-flow__node").count(), 24);
    assert.ok((await page.locator(".fnode.root").count()) >= 1, "a root cause is ringed");
    assert.ok((await page.locator(".react-flow__edge.declared").count()) >= 1, "declared-only edges are drawn apart");
    assert.match(await page.getByTestId("graph-status").textContent(), /layout \d+ ms \(elk\)/);
    await shot("lineage");
    await page.locator('.fnode[data-key="raw/crm/accounts"] a').click();
    await page.waitForURL(/\/assets\/raw\/crm\/accounts$/);
    await page.getByRole("heading", { level: 1, name: "raw/crm/accounts" }).waitFor();
    await page.goBack();
    await page.waitForURL(/\/lineage$/);
    // the focused view: two levels around one asset
    await page.goto(base + "/lineage?focus=marts%2Frevenue_daily&depth=1");
    await page.locator('.lineage-canvas[data-ready="true"]').waitFor();
    await page.locator(".fnode.focus").waitFor();
    assert.equal(await page.locator(".react-flow__node").count(), 3);
    await shot("lineage-focus");
  });

  it("asset page: a metadata plot with points", async () => {
    await page.goto(base + "/assets/marts/revenue_daily");
    const plot = page.locator('[data-plot="row_count"]');
    await plot.waitFor();
    assert.ok(Number(await plot.getAttribute("data-points")) >= 2);
    assert.equal(await plot.locator("canvas").count(), 1);
    await page.getByText("materializations,").first().waitFor();
    await shot("asset");
    // the lag over time against the SLA's limits (raw/shop/orders: max lag 2h, warn after 90m)
    await page.goto(base + "/assets/raw/shop/orders");
    const lag = page.getByTestId("lag-plot").locator('[data-plot="lag"]');
    await lag.waitFor();
    assert.equal(await lag.getAttribute("data-limits"), "2");
    assert.ok(Number(await lag.getAttribute("data-points")) >= 3, "a saw-tooth from the materializations");
    assert.match(await lag.getAttribute("aria-label"), /max lag 2h/);
    await shot("asset-lag");
  });

  it("freshness: the SLA editor shows the API's 400 next to its field, saves, and the SLA survives a reload", async () => {
    await page.goto(base + "/freshness?edit=marts%2Ffunnel");
    const dlg = page.getByRole("dialog");
    const field = (name) => dlg.locator(`input[name="${name}"]`);
    await field("max_lag").waitFor();
    // the page's own check
    await field("max_lag").fill("bogus");
    await dlg.getByRole("button", { name: "Save SLA" }).click();
    await dlg.locator('[data-field-error="max_lag"]').filter({ hasText: "not a duration" }).waitFor();
    // one only the server can tell: minute 99
    await dlg.getByLabel("cron deadline").check();
    await field("max_lag").fill("");
    await field("cron").fill("99 7 * * *");
    await dlg.getByRole("button", { name: "Save SLA" }).click();
    const cronErr = dlg.locator('[data-field-error="cron"]');
    await cronErr.waitFor();
    assert.match(await cronErr.textContent(), /cron/);
    await shot("freshness-error");
    // a good one
    await dlg.getByLabel("max lag", { exact: true }).check();
    await field("max_lag").fill("3h");
    await field("warn_after").fill("2h");
    await dlg.getByRole("button", { name: "Save SLA" }).click();
    await dlg.getByText("SLA saved.").waitFor();
    await page.reload();
    await page.keyboard.press("Escape");
    const row = page.locator('tr[data-key="marts/funnel"]');
    await row.filter({ hasText: "max lag 3h, warn after 2h" }).waitFor();
    assert.match(await row.textContent(), /run time/);
    await shot("freshness");
    await page.goto(base + "/assets/marts/funnel");
    await page.getByTestId("policy").filter({ hasText: "max lag 3h" }).waitFor();
    await page.getByTestId("audit").filter({ hasText: "by ui" }).waitFor({ timeout: 15_000 }).catch(() => {});
  });

  it("runs: Materialize raw/fx/rates, its live logs and the run's end", async () => {
    await page.goto(base + "/assets/raw/fx/rates");
    await page.getByRole("button", { name: "Materialize", exact: true }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split("/").pop());
    const logs = page.getByTestId("logs");
    try {
      // the demo's automation may be rebuilding the fx assets: a manual run then waits its turn
      await logs.filter({ hasText: "fetching rates for raw/fx/rates" }).waitFor({ timeout: 60_000 });
      await logs.filter({ hasText: "31 currencies fetched" }).waitFor({ timeout: 30_000 });
      await page.getByTestId("log-state").filter({ hasText: "run ended" }).waitFor({ timeout: 30_000 });
    } catch (err) {
      await shot("run-failed");
      const run = await (await fetch(`${base}/api/v1/runs/${encodeURIComponent(id)}`)).text();
      const lines = await (await fetch(`${base}/api/v1/runs/${encodeURIComponent(id)}/logs`)).text();
      throw new Error(`${err.message}\nrun: ${run}\nlogs: ${lines}\npage: ${await logs.textContent()}`);
    }
    await page.locator("h1 + .status.SUCCESS").waitFor();
    // the step Gantt chart: a bar for the step that ran
    const bars = page.getByTestId("gantt").locator("rect.gantt-bar.SUCCESS");
    await bars.first().waitFor();
    assert.equal(await bars.count(), 1);
    await shot("run");
    await page.goto(base + "/runs");
    await page.getByTestId("runs-table").waitFor();
    assert.ok((await page.getByTestId("runs-table").locator("tbody tr").count()) >= 1);
    await shot("runs");
  });

  it("alerts: the broken CRM export is open with what it makes stale", async () => {
    await page.goto(base + "/alerts");
    const alert = page.locator('[data-alert="raw/crm/accounts"]');
    await alert.waitFor();
    const impacted = await alert.getByTestId("impacted").textContent();
    for (const k of ["staging/accounts", "marts/churn_features", "ml/churn_model", "dashboards/churn_risk"]) {
      assert.ok(impacted.includes(k), `impacted lists ${k}: ${impacted}`);
    }
    // the delivery log, and the fx incidents the automation's rebuilds resolved
    await page.getByTestId("deliveries").locator("td.delivery.delivered").first().waitFor();
    await page.getByTestId("resolved").locator("tr[data-key]").first().waitFor({ timeout: 60_000 });
    assert.match(await page.getByTestId("resolved").textContent(), /fx/);
    await shot("alerts");
  });

  it("live: a new asset and a state change reach open pages without a reload", async () => {
    await page.goto(base + "/");
    await page.getByTestId("live-state").filter({ hasText: "live" }).waitFor();
    await page.getByRole("row").filter({ hasText: "marts/revenue_daily" }).first().waitFor();
    const post = (body) => fetch(base + "/api/v1/events", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    // polls are a minute apart: only the stream can bring these in time
    const r = await post({ kind: "materialization", asset: "live/arrived", time: new Date().toISOString(), metadata: { row_count: 7 } });
    assert.equal(r.status, 202, await r.text());
    await page.locator('.vrow[data-key="live/arrived"]').waitFor({ timeout: 15_000 });
    // an asset page follows its own state: an SLA the data already breaks turns it FAIL
    await page.goto(base + "/assets/live/arrived");
    await page.getByTestId("policy").waitFor();
    const put = await fetch(base + "/api/v1/assets/live%2Farrived/freshness/policy", {
      method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ max_lag: "1s" }),
    });
    assert.equal(put.status, 200, await put.text());
    await page.locator('article [aria-label="freshness FAIL"]').first().waitFor({ timeout: 20_000 });
    await shot("live");
  });

  it("asset page: columns with what they are computed from and what reads them, and a column's trace", async () => {
    const now = new Date().toISOString();
    const events = [
      { kind: "materialization", asset: "cols/src", time: now, metadata: { columns: [{ name: "amount", type: "numeric(12,2)" }] } },
      {
        kind: "materialization", asset: "cols/mart", time: now, upstream: ["cols/src"],
        metadata: { columns: [{ name: "total", type: "numeric", description: "revenue per day" }], column_lineage: { total: [{ asset: "cols/src", column: "amount", transformation: "DIRECT/AGGREGATION" }] } },
      },
    ];
    const r = await fetch(base + "/api/v1/events", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(events) });
    assert.equal(r.status, 202, await r.text());
    await page.goto(base + "/assets/cols/mart");
    const total = page.getByTestId("columns").locator('tr[data-column="total"]');
    await total.filter({ hasText: "cols/src.amount" }).waitFor();
    assert.match(await total.textContent(), /numeric.*direct\/aggregation/);
    await total.getByRole("button", { name: "Whole lineage of column total" }).click();
    await page.getByTestId("column-trace").filter({ hasText: "1 up: cols/src.amount" }).waitFor();
    await shot("asset-columns");
    // the source column names its reader; the link opens it
    await total.getByRole("link", { name: "cols/src" }).click();
    await page.waitForURL(/\/assets\/cols\/src$/);
    await page.getByTestId("columns").locator('tr[data-column="amount"]').filter({ hasText: "cols/mart.total" }).waitFor();
  });

  it("dark theme, remembered", async () => {
    await page.goto(base + "/");
    await page.getByRole("button", { name: /Switch to dark theme/ }).click();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    await page.reload();
    assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), "dark");
    await page.getByRole("row").filter({ hasText: "marts/revenue_daily" }).first().waitFor();
    await shot("catalog-dark");
    await page.goto(base + "/lineage");
    await page.locator('.lineage-canvas[data-ready="true"]').waitFor();
    await shot("lineage-dark");
    await page.getByRole("button", { name: /Switch to light theme/ }).click();
  });

  it("lineage overview: a big graph is one canvas; hover names a box, a click opens it, zooming in brings the nodes", async () => {
    // 400 more assets in 20 chains of 20: past the size where the zoomed-out graph is drawn on a canvas
    const now = Date.now();
    const events = [];
    for (let c = 0; c < 20; c++) {
      for (let i = 0; i < 20; i++) {
        const e = { kind: "materialization", asset: `big/c${c}/n${i}`, time: new Date(now - (20 - i) * 1000).toISOString() };
        if (i) e.upstream = [`big/c${c}/n${i - 1}`];
        events.push(e);
      }
    }
    const r = await fetch(base + "/api/v1/events", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(events) });
    assert.equal(r.status, 202, await r.text());
    await page.goto(base + "/lineage?group=0");
    const canvas = page.getByTestId("overview");
    await page.waitForFunction(() => Number(document.querySelector("canvas.overview")?.dataset.boxes ?? 0) >= 400, null, { timeout: 30_000 });
    assert.equal(await page.locator(".react-flow__node").count(), 0, "no DOM nodes while zoomed out");
    await shot("lineage-overview");
    // hover across the canvas until a box names itself
    const box = await canvas.boundingBox();
    let found = null;
    for (let y = 0.1; y < 0.95 && !found; y += 0.05) {
      for (let x = 0.05; x < 0.95 && !found; x += 0.02) {
        await page.mouse.move(box.x + box.width * x, box.y + box.height * y);
        if (await page.locator(".overview-tip").count()) found = { x: box.x + box.width * x, y: box.y + box.height * y };
      }
    }
    assert.ok(found, "no box named itself on hover");
    const key = (await page.locator(".overview-tip").textContent()).split(" · ")[0];
    await page.mouse.click(found.x, found.y);
    await page.waitForURL((u) => decodeURIComponent(u.pathname) === "/assets/" + key);
    await page.getByRole("heading", { level: 1, name: key }).waitFor();
    // zoomed in, the names are readable: React Flow's nodes replace the canvas
    await page.goto(base + "/lineage?group=0");
    await canvas.waitFor();
    for (let i = 0; i < 12 && (await canvas.count()); i++) await page.getByRole("button", { name: "Zoom In" }).click();
    await page.locator(".react-flow__node").first().waitFor();
    assert.equal(await canvas.count(), 0, "the overview is gone once names are readable");
  });

  it("no page errors or console errors", () => {
    assert.deepEqual(problems, []);
  });
});
