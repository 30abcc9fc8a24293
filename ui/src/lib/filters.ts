// The catalog's view state: filters and sort kept in the URL (so a view can
// be shared and the back button works), which of them the API applies
// (group, owner, tag, kind, q) and which the page applies to the rows it
// has (freshness state, which lives in /freshness, and the sort).
import type { AssetFilter } from "../api";
import type { Asset, FreshnessResult, FreshnessState } from "../types";
import { STATES } from "../types";

export type SortKey = "key" | "group" | "last" | "state" | "lag";
export const SORT_KEYS: SortKey[] = ["key", "group", "last", "state", "lag"];

export interface CatalogView {
  q: string;
  group: string;
  owner: string;
  tag: string;
  kind: string;
  states: FreshnessState[];
  sort: SortKey;
  desc: boolean;
}

export const emptyView: CatalogView = { q: "", group: "", owner: "", tag: "", kind: "", states: [], sort: "key", desc: false };

export function viewFromParams(p: URLSearchParams): CatalogView {
  const states = (p.get("state") ?? "")
    .split(",")
    .map((s) => s.trim().toUpperCase())
    .filter((s): s is FreshnessState => (STATES as string[]).includes(s));
  const sort = p.get("sort") as SortKey | null;
  return {
    q: p.get("q") ?? "",
    group: p.get("group") ?? "",
    owner: p.get("owner") ?? "",
    tag: p.get("tag") ?? "",
    kind: p.get("kind") ?? "",
    states: [...new Set(states)],
    sort: sort && SORT_KEYS.includes(sort) ? sort : "key",
    desc: p.get("desc") === "1",
  };
}

/** viewToParams writes only what differs from the default view. */
export function viewToParams(v: CatalogView): URLSearchParams {
  const p = new URLSearchParams();
  for (const k of ["q", "group", "owner", "tag", "kind"] as const) {
    if (v[k].trim()) p.set(k, v[k].trim());
  }
  if (v.states.length) p.set("state", v.states.join(","));
  if (v.sort !== "key") p.set("sort", v.sort);
  if (v.desc) p.set("desc", "1");
  return p;
}

/** serverFilter is the part of the view the API filters on. */
export function serverFilter(v: CatalogView): AssetFilter {
  const f: AssetFilter = {};
  for (const k of ["q", "group", "owner", "tag", "kind"] as const) {
    if (v[k].trim()) f[k] = v[k].trim();
  }
  return f;
}

export type Health = "ok" | "failing" | "check_failed" | "unknown";

/** A catalog row: the asset and its freshness, flattened for sorting. */
export interface Row {
  key: string;
  group: string;
  owners: string[];
  kinds: string[];
  tags: string[];
  description: string;
  lastMaterialization?: string;
  state?: FreshnessState;
  lagSeconds?: number;
  rootCause?: string;
  health: Health;
}

/**
 * health: failing when the latest run failed after the latest success,
 * check_failed when a latest check result failed, unknown when the asset
 * never reported.
 */
export function health(a: Asset): Health {
  const lm = a.last_materialization?.time;
  const lf = a.last_failure?.time;
  if (lf && (!lm || Date.parse(lf) > Date.parse(lm))) return "failing";
  if (a.last_checks?.some((c) => c.check && !c.check.passed)) return "check_failed";
  if (!lm && !a.last_observation) return "unknown";
  return "ok";
}

export function toRows(assets: Asset[], freshness: Map<string, FreshnessResult>): Row[] {
  return assets.map((a) => {
    const f = freshness.get(a.spec.key);
    return {
      key: a.spec.key,
      group: a.spec.group ?? "",
      owners: a.spec.owners ?? [],
      kinds: a.spec.kinds ?? [],
      tags: a.spec.tags ?? [],
      description: a.spec.description ?? "",
      lastMaterialization: a.last_materialization?.time,
      state: f?.state,
      lagSeconds: f && f.data_time && f.state !== "UNKNOWN" ? f.lag_seconds : undefined,
      rootCause: f?.root_cause && f.root_cause !== a.spec.key ? f.root_cause : undefined,
      health: health(a),
    };
  });
}

const stateRank: Record<string, number> = { FAIL: 0, AT_RISK: 1, WARN: 2, UNKNOWN: 3, PASS: 4 };

function compare(a: Row, b: Row, key: SortKey): number {
  switch (key) {
    case "group":
      return a.group.localeCompare(b.group) || a.key.localeCompare(b.key);
    case "last": {
      // never-materialized sorts as oldest
      const x = a.lastMaterialization ? Date.parse(a.lastMaterialization) : -Infinity;
      const y = b.lastMaterialization ? Date.parse(b.lastMaterialization) : -Infinity;
      return x === y ? a.key.localeCompare(b.key) : x < y ? -1 : 1;
    }
    case "state": {
      // worst first; assets without an SLA last
      const x = a.state ? stateRank[a.state] : 9;
      const y = b.state ? stateRank[b.state] : 9;
      return x - y || a.key.localeCompare(b.key);
    }
    case "lag": {
      const x = a.lagSeconds ?? -1;
      const y = b.lagSeconds ?? -1;
      return x - y || a.key.localeCompare(b.key);
    }
    default:
      return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
  }
}

/** applyView filters by state (rows without an SLA have state "none") and sorts. */
export function applyView(rows: Row[], v: CatalogView): Row[] {
  let out = rows;
  if (v.states.length) {
    const want = new Set<string>(v.states);
    out = out.filter((r) => r.state && want.has(r.state));
  }
  if (v.sort === "key" && !v.desc) return out === rows ? rows.slice() : out;
  const sorted = out.slice().sort((a, b) => compare(a, b, v.sort));
  if (v.desc) sorted.reverse();
  return sorted;
}

/** facets counts the values of a field among the rows, most common first. */
export function facets(rows: Row[], field: "group" | "owners" | "kinds" | "tags"): [string, number][] {
  const m = new Map<string, number>();
  for (const r of rows) {
    const vals = field === "group" ? (r.group ? [r.group] : []) : r[field];
    for (const x of vals) m.set(x, (m.get(x) ?? 0) + 1);
  }
  return [...m.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}
