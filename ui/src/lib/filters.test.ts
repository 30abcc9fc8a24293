import { describe, expect, it } from "vitest";
import { applyView, emptyView, facets, health, serverFilter, toRows, viewFromParams, viewToParams } from "./filters";
import type { Asset, FreshnessResult } from "../types";

const asset = (key: string, extra: Partial<Asset> = {}, group = key.split("/")[0]): Asset => ({
  spec: { key, group, owners: ["team:" + group], kinds: ["table"] },
  ...extra,
});

describe("view <-> URL", () => {
  it("round-trips and drops defaults", () => {
    const v = { ...emptyView, q: "orders", group: "raw", states: ["FAIL" as const, "WARN" as const], sort: "lag" as const, desc: true };
    const p = viewToParams(v);
    expect(p.toString()).toBe("q=orders&group=raw&state=FAIL%2CWARN&sort=lag&desc=1");
    expect(viewFromParams(p)).toEqual(v);
    expect(viewToParams(emptyView).toString()).toBe("");
  });
  it("ignores unknown states and sorts, dedupes, accepts lower case", () => {
    const v = viewFromParams(new URLSearchParams("state=fail,bogus,FAIL,at_risk&sort=nope"));
    expect(v.states).toEqual(["FAIL", "AT_RISK"]);
    expect(v.sort).toBe("key");
  });
  it("sends only set, trimmed filters to the server; state stays in the page", () => {
    expect(serverFilter({ ...emptyView, q: "  rev ", owner: "finance@example.com", states: ["FAIL"] })).toEqual({
      q: "rev",
      owner: "finance@example.com",
    });
  });
});

describe("health", () => {
  it("is failing when the latest failure is newer than the latest success", () => {
    expect(health(asset("a", {
      last_materialization: { id: "1", kind: "materialization", asset: "a", time: "2026-12-01T10:00:00Z" },
      last_failure: { id: "2", kind: "materialization_failed", asset: "a", time: "2026-12-01T11:00:00Z" },
    }))).toBe("failing");
  });
  it("is ok when a success came after the failure", () => {
    expect(health(asset("a", {
      last_materialization: { id: "1", kind: "materialization", asset: "a", time: "2026-12-01T12:00:00Z" },
      last_failure: { id: "2", kind: "materialization_failed", asset: "a", time: "2026-12-01T11:00:00Z" },
    }))).toBe("ok");
  });
  it("flags a failed check and an asset that never reported", () => {
    expect(health(asset("a", {
      last_materialization: { id: "1", kind: "materialization", asset: "a", time: "2026-12-01T12:00:00Z" },
      last_checks: [{ id: "3", kind: "check_result", asset: "a", time: "2026-12-01T12:00:00Z", check: { name: "n", passed: false } }],
    }))).toBe("check_failed");
    expect(health(asset("a"))).toBe("unknown");
  });
});

describe("rows, state filter and sort", () => {
  const fresh = new Map<string, FreshnessResult>([
    ["raw/a", { key: "raw/a", state: "PASS", lag_seconds: 60, data_time: "2026-12-01T11:00:00Z" }],
    ["marts/b", { key: "marts/b", state: "FAIL", lag_seconds: 9000, root_cause: "raw/c", data_time: "2026-12-01T09:00:00Z" }],
    ["raw/c", { key: "raw/c", state: "FAIL", lag_seconds: 5000, root_cause: "raw/c", data_time: "2026-12-01T10:00:00Z" }],
    ["staging/d", { key: "staging/d", state: "UNKNOWN", lag_seconds: 0 }],
    ["staging/e", { key: "staging/e", state: "FAIL", lag_seconds: 0 }],
  ]);
  const rows = toRows(
    [
      asset("marts/b", { last_materialization: { id: "x", kind: "materialization", asset: "marts/b", time: "2026-12-01T09:00:00Z" } }),
      asset("raw/a", { last_materialization: { id: "y", kind: "materialization", asset: "raw/a", time: "2026-12-01T11:00:00Z" } }),
      asset("raw/c"),
      asset("staging/d"),
      asset("staging/e"),
      asset("staging/f"),
    ],
    fresh,
  );

  it("joins freshness; a root cause is shown only when it is another asset; UNKNOWN has no lag", () => {
    const b = rows.find((r) => r.key === "marts/b")!;
    expect(b.state).toBe("FAIL");
    expect(b.rootCause).toBe("raw/c");
    expect(rows.find((r) => r.key === "raw/c")!.rootCause).toBeUndefined();
    expect(rows.find((r) => r.key === "staging/d")!.lagSeconds).toBeUndefined();
    expect(rows.find((r) => r.key === "staging/e")!.lagSeconds).toBeUndefined(); // FAIL with no data time: no lag to show
    expect(rows.find((r) => r.key === "staging/f")!.state).toBeUndefined();
  });
  it("filters by state", () => {
    expect(applyView(rows, { ...emptyView, states: ["FAIL"] }).map((r) => r.key)).toEqual(["marts/b", "raw/c", "staging/e"]);
  });
  it("sorts by key, worst state first, lag, last materialization, descending", () => {
    expect(applyView(rows, emptyView).map((r) => r.key)).toEqual(["marts/b", "raw/a", "raw/c", "staging/d", "staging/e", "staging/f"]);
    expect(applyView(rows, { ...emptyView, sort: "state" }).map((r) => r.key)).toEqual(["marts/b", "raw/c", "staging/e", "staging/d", "raw/a", "staging/f"]);
    expect(applyView(rows, { ...emptyView, sort: "lag", desc: true }).map((r) => r.key).slice(0, 2)).toEqual(["marts/b", "raw/c"]);
    expect(applyView(rows, { ...emptyView, sort: "last", desc: true }).map((r) => r.key).slice(0, 2)).toEqual(["raw/a", "marts/b"]);
  });
  it("does not reorder its input", () => {
    const before = rows.map((r) => r.key);
    applyView(rows, { ...emptyView, sort: "state" });
    expect(rows.map((r) => r.key)).toEqual(before);
  });
  it("counts facets", () => {
    expect(facets(rows, "group")).toEqual([["staging", 3], ["raw", 2], ["marts", 1]]);
  });
  it("stays quick at 10,000 rows", () => {
    const many = toRows(Array.from({ length: 10000 }, (_, i) => asset(`g${i % 40}/t${i}`)), new Map());
    expect(applyView(many, { ...emptyView, sort: "group", desc: true })).toHaveLength(10000);
  });
});
