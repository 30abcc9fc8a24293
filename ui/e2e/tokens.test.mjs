// The web UI on a server that needs API tokens, in real headless Chromium
// against a real `freshet serve` with a token file: the page asks for a
// token at the first 401, keeps it, and sends it with every call,
// including the live streams (server-sent events read with fetch, which,
// unlike EventSource, can send the Authorization header).
//   FRESHET_BIN=../bin/freshet node --test e2e/tokens.test.mjs
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
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

const freePort = () => new Promise((res, rej) => {
  const s = createServer();
  s.listen(0, "127.0.0.1", () => { const { port } = s.address(); s.close(() => res(port)); });
  s.on("error", rej);
});

let dir, server, browser, base, secret;
let serverLog = "";
const problems = [];

before(async () => {
  assert.ok(existsSync(bin), `no freshet binary at ${bin}: make ui build, or set FRESHET_BIN`);
  assert.ok(existsSync(chromiumPath), `no Chromium at ${chromiumPath}: run scripts/ensure-chromium.sh, or set CHROMIUM`);
  mkdirSync(shots, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "freshet-ui-tokens-"));
  writeFileSync(join(dir, "freshet.yaml"), `assets:
  - key: tok/job
    materialize: {argv: [sh, -c, 'echo first line from the token run; sleep 1; echo second line from the token run']}
`);
  const out = execFileSync(bin, ["token", "create", "--data-dir", join(dir, "data"), "--scope", "read", "--scope", "operate", "--name", "ui-e2e"], { encoding: "utf8" });
  secret = out.match(/fst_[a-z0-9]+/)?.[0];
  assert.ok(secret, "no secret in: " + out);
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(bin, ["serve", "--config", join(dir, "freshet.yaml"), "--addr", `127.0.0.1:${port}`, "--data-dir", join(dir, "data"), "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
  server.stdout.on("data", (d) => (serverLog += d));
  server.stderr.on("data", (d) => (serverLog += d));
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error("freshet serve exited: " + serverLog);
    try {
      if ((await fetch(base + "/readyz")).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300) throw new Error("freshet serve not ready: " + serverLog);
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (process.exitCode && serverLog) console.error("freshet serve output:\n" + serverLog.slice(-4000));
});

describe("web UI with API tokens", { concurrency: false }, () => {
  it("asks for a token once, then reads, launches and follows a run's live logs with it", async () => {
    const unauth = await fetch(base + "/api/v1/stream");
    assert.equal(unauth.status, 401, "the stream needs a token");
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await ctx.newPage();
    page.setDefaultTimeout(30_000);
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("console", (m) => {
      // the 401s before the token is given are expected
      if (m.type() === "error" && !/status of 401/.test(m.text())) problems.push("console: " + m.text());
    });
    let prompts = 0;
    page.on("dialog", async (d) => {
      prompts++;
      assert.match(d.message(), /needs an API token/);
      await d.accept(secret);
    });
    const sent = [];
    page.on("request", (r) => {
      if (r.url().includes("/api/v1/")) sent.push({ url: r.url(), auth: r.headers()["authorization"] });
    });

    await page.goto(base + "/assets/tok/job");
    await page.getByRole("heading", { level: 1, name: "tok/job" }).waitFor();
    await page.getByTestId("live-state").filter({ hasText: "live" }).waitFor();
    assert.equal(prompts, 1, "the page asked for the token once, though several calls were refused together");

    await page.getByRole("button", { name: "Materialize", exact: true }).click();
    await page.waitForURL(/\/runs\/[^/]+$/);
    const logs = page.getByTestId("logs");
    await logs.filter({ hasText: "first line from the token run" }).waitFor();
    await logs.filter({ hasText: "second line from the token run" }).waitFor();
    await page.getByTestId("log-state").filter({ hasText: "run ended" }).waitFor();
    await page.locator("h1 + .status.SUCCESS").waitFor();
    await page.screenshot({ path: join(shots, "run-with-token.png") });

    const streams = sent.filter((r) => r.url.includes("/stream") || r.url.includes("follow=true"));
    assert.ok(streams.some((r) => r.url.includes("/stream")), "the live stream was opened");
    assert.ok(streams.some((r) => r.url.includes("follow=true")), "the run's log stream was opened");
    assert.ok(streams.filter((r) => r.url.includes("follow=true")).every((r) => r.auth === "Bearer " + secret), "log streams carry the token");
    // the API agrees: the run succeeded (read with the token)
    const run = await (await fetch(page.url().replace("/runs/", "/api/v1/runs/"), { headers: { Authorization: "Bearer " + secret } })).json();
    assert.equal(run.status, "SUCCESS");
    await ctx.close();
  });

  it("no page errors or console errors", () => {
    assert.deepEqual(problems, []);
  });
});
