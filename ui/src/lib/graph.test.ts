import { describe, expect, it } from "vitest";
import { chooseLevel, groupEdges, groupOf, layerLayout, layoutInput, shapeGraph, worst } from "./graph";
import type { FreshnessResult, Subgraph } from "../types";

const demo: Subgraph = {
  nodes: ["raw/shop/orders", "raw/crm/accounts", "staging/orders", "staging/accounts", "marts/revenue", "dash"].map((key) => ({ key, depth: 0 })),
  edges: [
    { upstream: "raw/shop/orders", downstream: "staging/orders", declared: true, observed: true },
    { upstream: "raw/crm/accounts", downstream: "staging/accounts", declared: true, observed: false },
    { upstream: "staging/orders", downstream: "marts/revenue", declared: false, observed: true },
    { upstream: "staging/accounts", downstream: "marts/revenue", declared: true, observed: true },
    { upstream: "marts/revenue", downstream: "dash", declared: true, observed: true },
  ],
};
const fresh = new Map<string, FreshnessResult>([
  ["raw/crm/accounts", { key: "raw/crm/accounts", state: "FAIL", root_cause: "raw/crm/accounts" }],
  ["staging/accounts", { key: "staging/accounts", state: "FAIL", root_cause: "raw/crm/accounts" }],
  ["marts/revenue", { key: "marts/revenue", state: "WARN", root_cause: "marts/revenue" }],
  ["raw/shop/orders", { key: "raw/shop/orders", state: "PASS" }],
]);

describe("groupOf and chooseLevel", () => {
  it("groups by the parent path cut to a depth", () => {
    expect(groupOf("raw/shop/orders", 1)).toBe("raw");
    expect(groupOf("raw/shop/orders", 2)).toBe("raw/shop");
    expect(groupOf("raw/shop/orders", 5)).toBe("raw/shop");
    expect(groupOf("dash", 1)).toBe("(top level)");
  });
  it("chooses the finest depth under the group limit", () => {
    const keys = ["a/x/1", "a/x/2", "a/y/1", "b/z/1"];
    expect(chooseLevel(keys, 2)).toBe(1);
    expect(chooseLevel(keys, 3)).toBe(2);
    expect(chooseLevel(keys, 1)).toBe(1);
  });
});

describe("shapeGraph without collapsing", () => {
  const s = shapeGraph(demo, fresh, { maxNodes: 100, focus: "marts/revenue" });
  it("keeps every asset with its state, marks root causes and the focus", () => {
    expect(s.collapsed).toBe(false);
    expect(s.nodes).toHaveLength(6);
    const byId = Object.fromEntries(s.nodes.map((n) => [n.id, n]));
    expect(byId["raw/crm/accounts"].rootCause).toBe(true);
    expect(byId["staging/accounts"].rootCause).toBe(false);
    expect(byId["marts/revenue"].rootCause).toBe(true); // WARN, its own root cause
    expect(byId["raw/shop/orders"].rootCause).toBe(false);
    expect(byId["marts/revenue"].focus).toBe(true);
    expect(byId["dash"].state).toBeUndefined();
  });
  it("tells declared, observed and both apart", () => {
    const kinds = Object.fromEntries(s.edges.map((e) => [e.id, e.kind]));
    expect(kinds["raw/shop/orders->staging/orders"]).toBe("both");
    expect(kinds["raw/crm/accounts->staging/accounts"]).toBe("declared");
    expect(kinds["staging/orders->marts/revenue"]).toBe("observed");
  });
});

describe("shapeGraph collapsed", () => {
  it("collapses into groups with counts, worst state and root causes; aggregates edges", () => {
    const s = shapeGraph(demo, fresh, { maxNodes: 3 });
    expect(s.collapsed).toBe(true);
    const ids = s.nodes.map((n) => n.id).sort();
    expect(ids).toEqual(["group:(top level)", "group:marts", "group:raw/crm", "group:raw/shop", "group:staging"]);
    const staging = s.nodes.find((n) => n.id === "group:staging")!;
    expect(staging.size).toBe(2);
    expect(staging.state).toBe("FAIL");
    expect(staging.rootCause).toBe(false);
    expect(s.nodes.find((n) => n.id === "group:raw/crm")!.rootCauses).toBe(1);
    const e = s.edges.find((x) => x.id === "group:staging->group:marts")!;
    expect(e.count).toBe(2);
    expect(e.kind).toBe("both"); // one observed-only and one both
  });
  it("shows an expanded group's assets and keeps the focus visible", () => {
    const s = shapeGraph(demo, fresh, { maxNodes: 3, expanded: new Set(["staging"]), focus: "marts/revenue" });
    const ids = s.nodes.map((n) => n.id);
    expect(ids).toContain("staging/orders");
    expect(ids).toContain("staging/accounts");
    expect(ids).toContain("marts/revenue");
    expect(ids).not.toContain("group:marts");
    expect(s.edges.map((e) => e.id)).toContain("staging/accounts->marts/revenue");
    expect(s.edges.map((e) => e.id)).toContain("group:raw/crm->staging/accounts");
  });
  it("takes coarser groups when the finer ones would draw too many edges", () => {
    const nodes: { key: string; depth: number }[] = [];
    for (let a = 0; a < 4; a++) for (let b = 0; b < 5; b++) nodes.push({ key: `l${a}/d${b}/t`, depth: 0 });
    // every domain of a layer feeds every domain of the next: 3 x 25 group edges at depth 2
    const edges = [];
    for (let a = 0; a < 3; a++) for (let b = 0; b < 5; b++) for (let c = 0; c < 5; c++) {
      edges.push({ upstream: `l${a}/d${b}/t`, downstream: `l${a + 1}/d${c}/t`, declared: true, observed: true });
    }
    expect(groupEdges({ nodes, edges }, 2)).toBe(75);
    expect(shapeGraph({ nodes, edges }, new Map(), { maxNodes: 1, maxGroups: 50 }).level).toBe(2);
    const coarse = shapeGraph({ nodes, edges }, new Map(), { maxNodes: 1, maxGroups: 50, maxGroupEdges: 20 });
    expect(coarse.level).toBe(1);
    expect(coarse.nodes).toHaveLength(4);
    expect(coarse.edges.map((e) => e.count)).toEqual([25, 25, 25]);
  });
  it("expands a big group into its next level of groups, then into assets", () => {
    const nodes = Array.from({ length: 40 }, (_, i) => ({ key: `l${i % 2}/d${i % 4}/t${i}`, depth: 0 }));
    const g = { nodes, edges: [] };
    const top = shapeGraph(g, new Map(), { maxNodes: 10, maxGroups: 2 });
    expect(top.nodes.map((n) => n.id).sort()).toEqual(["group:l0", "group:l1"]);
    const one = shapeGraph(g, new Map(), { maxNodes: 10, maxGroups: 2, expanded: new Set(["l0"]), expandUpTo: 5 });
    expect(one.nodes.map((n) => n.id).sort()).toEqual(["group:l0/d0", "group:l0/d2", "group:l1"]);
    const two = shapeGraph(g, new Map(), { maxNodes: 10, maxGroups: 2, expanded: new Set(["l0", "l0/d2"]), expandUpTo: 5 });
    expect(two.nodes.filter((n) => n.type === "asset")).toHaveLength(10);
    expect(two.nodes.map((n) => n.id)).toContain("group:l0/d0");
  });
  it("drops edges inside a group", () => {
    const g: Subgraph = {
      nodes: [{ key: "a/1", depth: 0 }, { key: "a/2", depth: 0 }],
      edges: [{ upstream: "a/1", downstream: "a/2", declared: true, observed: true }],
    };
    expect(shapeGraph(g, new Map(), { maxNodes: 1 }).edges).toEqual([]);
  });
  it("makes 10,000 assets and 30,000 edges into at most maxGroups boxes", () => {
    const nodes = Array.from({ length: 10000 }, (_, i) => ({ key: `g${i % 50}/t${i}`, depth: 0 }));
    const edges = Array.from({ length: 30000 }, (_, i) => ({
      upstream: nodes[i % 9000].key, downstream: nodes[9000 + (i % 1000)].key, declared: true, observed: i % 2 === 0,
    }));
    const s = shapeGraph({ nodes, edges }, new Map(), { maxNodes: 1000, maxGroups: 200 });
    expect(s.nodes.length).toBe(50);
    expect(s.edges.length).toBeLessThanOrEqual(50 * 50);
    expect(s.edges.reduce((a, e) => a + e.count, 0)).toBeLessThanOrEqual(30000);
  });
});

describe("worst", () => {
  it("orders FAIL, AT_RISK, WARN, UNKNOWN, PASS", () => {
    expect(worst(["PASS", "WARN", undefined])).toBe("WARN");
    expect(worst(["UNKNOWN", "AT_RISK"])).toBe("AT_RISK");
    expect(worst([])).toBeUndefined();
  });
});

describe("layerLayout", () => {
  it("puts every node right of its upstream", () => {
    const s = shapeGraph(demo, fresh, { maxNodes: 100 });
    const pos = layerLayout(layoutInput(s));
    for (const e of s.edges) expect(pos[e.target].x).toBeGreaterThan(pos[e.source].x);
    expect(Object.keys(pos)).toHaveLength(6);
  });
  it("survives a cycle and lays out a 500-deep chain in 500 columns", () => {
    const cyc = layerLayout({
      nodes: ["a", "b"].map((id) => ({ id, width: 10, height: 10 })),
      edges: [{ id: "1", source: "a", target: "b" }, { id: "2", source: "b", target: "a" }],
    });
    expect(Object.keys(cyc)).toHaveLength(2);
    const n = 500;
    const chain = layerLayout({
      nodes: Array.from({ length: n }, (_, i) => ({ id: "n" + i, width: 10, height: 10 })),
      edges: Array.from({ length: n - 1 }, (_, i) => ({ id: "e" + i, source: "n" + i, target: "n" + (i + 1) })),
    });
    expect(new Set(Object.values(chain).map((p) => p.x)).size).toBe(n);
  });
});
