import { describe, expect, it } from "vitest";
import { EVERY, invalidations, Throttle } from "./live";

const keys = (inv: ReturnType<typeof invalidations>) => (inv === "all" ? "all" : inv.map((i) => JSON.stringify(i.key)));

describe("invalidations", () => {
  it("events re-read the assets they name, the catalog and the graph", () => {
    const got = keys(invalidations("events", { count: 2, kinds: { materialization: 2 }, assets: ["raw/a"] }));
    expect(got).toEqual(['["assets"]', '["graph"]', '["lineage"]', '["asset","raw/a"]', '["asset-events","raw/a"]', '["asset-recent","raw/a"]', '["asset-freshness","raw/a"]', '["asset-columns","raw/a"]']);
  });
  it("run events re-read the runs list", () => {
    expect(keys(invalidations("events", { count: 1, kinds: { run_started: 1 }, assets: [] }))).toContain('["runs"]');
  });
  it("a capped notice re-reads every asset page", () => {
    expect(keys(invalidations("events", { count: 500, assets: [], more: true }))).toContain('["asset"]');
  });
  it("freshness changes re-read the board and the assets' freshness", () => {
    expect(keys(invalidations("freshness", { changes: [{ asset: "m/x", state: "FAIL" }] }))).toEqual(['["freshness"]', '["asset-freshness","m/x"]']);
  });
  it("runs and alerts", () => {
    expect(keys(invalidations("runs", { run: "r1", status: "SUCCESS" }))).toEqual(['["runs"]', '["run","r1"]']);
    expect(keys(invalidations("alerts", { open: 1 }))).toEqual(['["alerts"]']);
  });
  it("resync re-reads everything; unknown topics nothing", () => {
    expect(invalidations("resync", {})).toBe("all");
    expect(invalidations("weather", {})).toEqual([]);
  });
});

describe("Throttle", () => {
  it("hands each key once per flush and holds expensive keys until due", () => {
    const th = new Throttle();
    th.add([{ key: ["assets"], every: EVERY.list }, { key: ["asset", "a"], every: 0 }, { key: ["asset", "a"], every: 0 }]);
    expect(th.flush(0)).toEqual([["assets"], ["asset", "a"]]);
    expect(th.waiting).toBe(false);
    th.add([{ key: ["assets"], every: EVERY.list }, { key: ["asset", "a"], every: 0 }]);
    expect(th.flush(1000)).toEqual([["asset", "a"]]);
    expect(th.waiting).toBe(true); // the catalog waits for its interval
    expect(th.flush(EVERY.list - 1)).toEqual([]);
    expect(th.flush(EVERY.list)).toEqual([["assets"]]);
    expect(th.waiting).toBe(false);
  });
  it("a resync replaces what is pending", () => {
    const th = new Throttle();
    th.add([{ key: ["x"], every: 0 }]);
    th.add("all");
    expect(th.flush(0)).toBe("all");
    expect(th.flush(1)).toEqual([]);
  });
});
