// Shaping the lineage graph for display: freshness on every node, root
// causes marked, declared vs observed edges told apart, and big graphs
// collapsed into groups of assets (by key prefix) so that the page lays out
// and draws a few hundred boxes rather than 10,000. A collapsed group can be
// expanded; its assets then show one by one and the rest stay collapsed.
import type { FreshnessResult, FreshnessState, Subgraph } from "../types";

export type EdgeKind = "both" | "declared" | "observed";

export interface ShapedNode {
  id: string;
  type: "asset" | "group";
  label: string;
  /** asset key (type asset) or group prefix (type group) */
  key: string;
  state?: FreshnessState;
  /** a stale asset that is its own root cause (or, for a group, holds one) */
  rootCause: boolean;
  focus: boolean;
  depth?: number;
  /** group only: number of assets and of root causes in it, and per state */
  size?: number;
  rootCauses?: number;
  states?: Partial<Record<FreshnessState, number>>;
}

export interface ShapedEdge {
  id: string;
  source: string;
  target: string;
  kind: EdgeKind;
  /** how many asset edges this edge stands for (1 unless between groups) */
  count: number;
}

export interface Shaped {
  nodes: ShapedNode[];
  edges: ShapedEdge[];
  collapsed: boolean;
  /** prefix depth the groups were made at (0: no grouping) */
  level: number;
  totalAssets: number;
  totalEdges: number;
}

export interface ShapeOptions {
  /** above this many assets the graph is collapsed into groups */
  maxNodes: number;
  /** the most groups to aim for when choosing the prefix depth */
  maxGroups?: number;
  /** groups shown asset by asset */
  expanded?: ReadonlySet<string>;
  /** the asset the view centres on */
  focus?: string;
  /** force grouping even under maxNodes */
  forceCollapse?: boolean;
  /** an expanded group with more assets than this shows its next level of groups (default 300) */
  expandUpTo?: number;
  /** the most group-to-group edges a prefix depth may make before a coarser one is taken */
  maxGroupEdges?: number;
}

const worstOrder: FreshnessState[] = ["FAIL", "AT_RISK", "WARN", "UNKNOWN", "PASS"];

export function worst(states: Iterable<FreshnessState | undefined>): FreshnessState | undefined {
  let best = Infinity;
  for (const s of states) {
    if (!s) continue;
    best = Math.min(best, worstOrder.indexOf(s));
  }
  return best === Infinity ? undefined : worstOrder[best];
}

/** groupOf is the key's parent path cut to level segments: ("raw/shop/orders", 1) -> "raw". */
export function groupOf(key: string, level: number): string {
  const parts = key.split("/");
  if (parts.length <= 1) return "(top level)";
  return parts.slice(0, Math.min(level, parts.length - 1)).join("/");
}

/** rootCauses are the assets named as the root cause of a state that is not PASS. */
export function rootCauses(fresh: Map<string, FreshnessResult>): Set<string> {
  const out = new Set<string>();
  for (const r of fresh.values()) {
    if (r.root_cause && r.state !== "PASS") out.add(r.root_cause);
  }
  return out;
}

export function edgeKind(declared: boolean, observed: boolean): EdgeKind {
  return declared && observed ? "both" : declared ? "declared" : "observed";
}

/**
 * chooseLevel picks the deepest key-prefix depth that still makes at most
 * maxGroups groups (finer groups say more), or 1 when none does.
 */
export function chooseLevel(keys: string[], maxGroups: number): number {
  let maxDepth = 1;
  for (const k of keys) maxDepth = Math.max(maxDepth, k.split("/").length - 1);
  let chosen = 1;
  for (let level = 1; level <= maxDepth; level++) {
    const groups = new Set<string>();
    for (const k of keys) {
      groups.add(groupOf(k, level));
      if (groups.size > maxGroups) break;
    }
    if (groups.size > maxGroups) break;
    chosen = level;
  }
  return chosen;
}

/**
 * groupEdges counts the distinct group-to-group edges at a prefix depth:
 * what a collapsed view would draw (and the layout would route).
 */
export function groupEdges(g: Subgraph, level: number): number {
  const seen = new Set<string>();
  for (const e of g.edges) {
    const s = groupOf(e.upstream, level);
    const t = groupOf(e.downstream, level);
    if (s !== t) seen.add(s + "\u0000" + t);
  }
  return seen.size;
}

export function shapeGraph(g: Subgraph, fresh: Map<string, FreshnessResult>, opts: ShapeOptions): Shaped {
  const roots = rootCauses(fresh);
  const keys = g.nodes.map((n) => n.key);
  const collapse = opts.forceCollapse || keys.length > opts.maxNodes;
  let level = collapse ? chooseLevel(keys, opts.maxGroups ?? 200) : 0;
  // fewer, coarser groups while the finer ones would draw a hairball
  while (collapse && level > 1 && groupEdges(g, level) > (opts.maxGroupEdges ?? 600)) level--;
  const expanded = opts.expanded ?? new Set<string>();

  // where each asset is drawn: itself, or its group's node
  const place = new Map<string, string>();
  const groups = new Map<string, ShapedNode>();
  const nodes: ShapedNode[] = [];
  // an expanded group shows its assets one by one when it is small, else
  // its next level of groups (drilling down l5 -> l5/d3 -> assets)
  const sizes = new Map<string, number>();
  const size = (prefix: string, lvl: number) => {
    const k = lvl + "\u0000" + prefix;
    let n = sizes.get(k);
    if (n === undefined) {
      n = 0;
      for (const key of keys) if (groupOf(key, lvl) === prefix) n++;
      sizes.set(k, n);
    }
    return n;
  };
  const groupFor = (key: string): string | undefined => {
    let lvl = level;
    let grp = groupOf(key, lvl);
    while (expanded.has(grp)) {
      const deeper = groupOf(key, lvl + 1);
      if (deeper === grp || size(grp, lvl) <= (opts.expandUpTo ?? 300)) return undefined;
      lvl++;
      grp = deeper;
    }
    return grp;
  };
  for (const n of g.nodes) {
    const state = fresh.get(n.key)?.state;
    const isRoot = roots.has(n.key) && state !== undefined && state !== "PASS";
    const grp = collapse && n.key !== opts.focus ? groupFor(n.key) : undefined;
    if (grp !== undefined) {
      const id = "group:" + grp;
      place.set(n.key, id);
      let gn = groups.get(id);
      if (!gn) {
        gn = { id, type: "group", label: grp, key: grp, rootCause: false, focus: false, size: 0, rootCauses: 0, states: {} };
        groups.set(id, gn);
        nodes.push(gn);
      }
      gn.size!++;
      if (isRoot) {
        gn.rootCauses!++;
        gn.rootCause = true;
      }
      if (state) gn.states![state] = (gn.states![state] ?? 0) + 1;
      continue;
    }
    place.set(n.key, n.key);
    nodes.push({
      id: n.key, type: "asset", label: n.key, key: n.key, state, rootCause: isRoot,
      focus: n.key === opts.focus, depth: n.depth,
    });
  }
  for (const gn of groups.values()) gn.state = worst(Object.keys(gn.states!) as FreshnessState[]);

  const edges = new Map<string, ShapedEdge & { kinds: Set<EdgeKind> }>();
  for (const e of g.edges) {
    const s = place.get(e.upstream);
    const t = place.get(e.downstream);
    if (!s || !t || s === t) continue;
    const id = s + "->" + t;
    const kind = edgeKind(e.declared, e.observed);
    const cur = edges.get(id);
    if (cur) {
      cur.count++;
      cur.kinds.add(kind);
    } else {
      edges.set(id, { id, source: s, target: t, kind, count: 1, kinds: new Set([kind]) });
    }
  }
  const outEdges: ShapedEdge[] = [];
  for (const e of edges.values()) {
    // an aggregate edge is "both" unless every edge in it is of one kind
    const kind: EdgeKind = e.kinds.size === 1 ? e.kind : "both";
    outEdges.push({ id: e.id, source: e.source, target: e.target, kind, count: e.count });
  }
  return { nodes, edges: outEdges, collapsed: collapse, level, totalAssets: g.nodes.length, totalEdges: g.edges.length };
}

/** Sizes the layout gives boxes (the page draws them the same size). */
export const NODE_W = 220;
export const NODE_H = 44;
export const GROUP_W = 240;
export const GROUP_H = 64;

export interface LayoutInput {
  nodes: { id: string; width: number; height: number }[];
  edges: { id: string; source: string; target: string }[];
}

export interface LayoutResult {
  positions: Record<string, { x: number; y: number }>;
  ms: number;
  engine: "elk" | "layers";
}

export function layoutInput(s: Shaped): LayoutInput {
  return {
    nodes: s.nodes.map((n) => ({
      id: n.id,
      width: n.type === "group" ? GROUP_W : NODE_W,
      height: n.type === "group" ? GROUP_H : NODE_H,
    })),
    edges: s.edges.map((e) => ({ id: e.id, source: e.source, target: e.target })),
  };
}

/**
 * layerLayout is the fallback layout (and the one for very large inputs):
 * longest-path layers from the sources, left to right, nodes stacked in
 * each layer in the order of their upstream's average position. Cycles
 * (which lineage should not have) are broken by ignoring back edges.
 */
export function layerLayout(input: LayoutInput, gapX = 80, gapY = 24): Record<string, { x: number; y: number }> {
  const ids = input.nodes.map((n) => n.id);
  const size = new Map(input.nodes.map((n) => [n.id, n]));
  const preds = new Map<string, string[]>(ids.map((id) => [id, []]));
  const succs = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const e of input.edges) {
    if (!preds.has(e.target) || !succs.has(e.source)) continue;
    preds.get(e.target)!.push(e.source);
    succs.get(e.source)!.push(e.target);
  }
  // Kahn's order; whatever is left in a cycle gets appended
  const indeg = new Map(ids.map((id) => [id, preds.get(id)!.length]));
  const queue = ids.filter((id) => indeg.get(id) === 0);
  const order: string[] = [];
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i];
    order.push(id);
    for (const t of succs.get(id)!) {
      const d = indeg.get(t)! - 1;
      indeg.set(t, d);
      if (d === 0) queue.push(t);
    }
  }
  const seen = new Set(order);
  for (const id of ids) if (!seen.has(id)) order.push(id);
  const layer = new Map<string, number>();
  const pos = new Map(order.map((id, i) => [id, i]));
  for (const id of order) {
    let l = 0;
    for (const p of preds.get(id)!) {
      if (pos.get(p)! < pos.get(id)! && layer.has(p)) l = Math.max(l, layer.get(p)! + 1);
    }
    layer.set(id, l);
  }
  const layers: string[][] = [];
  for (const id of order) (layers[layer.get(id)!] ??= []).push(id);
  const out: Record<string, { x: number; y: number }> = {};
  const rank = new Map<string, number>();
  let x = 0;
  for (const ids of layers) {
    if (!ids) continue;
    const key = (id: string) => {
      const ps = preds.get(id)!.filter((p) => rank.has(p));
      return ps.length ? ps.reduce((a, p) => a + rank.get(p)!, 0) / ps.length : Infinity;
    };
    const sorted = ids.map((id) => [id, key(id)] as const).sort((a, b) => a[1] - b[1]).map((a) => a[0]);
    let y = 0;
    let width = 0;
    sorted.forEach((id, i) => {
      rank.set(id, i);
      const n = size.get(id)!;
      out[id] = { x, y };
      y += n.height + gapY;
      width = Math.max(width, n.width);
    });
    x += width + gapX;
  }
  return out;
}
