// Plot data from an asset's events: one series per numeric metadata key
// of its materializations (row_count first), oldest first, as uPlot wants.
import type { AssetEvent, RunLogLine } from "../types";

export interface Series {
  name: string;
  /** unix seconds */
  xs: number[];
  ys: number[];
}

/** numericSeries keeps keys with at least minPoints numeric values. */
export function numericSeries(events: AssetEvent[], minPoints = 2): Series[] {
  const mats = events
    .filter((e) => e.kind === "materialization" && e.metadata)
    .map((e) => ({ t: Date.parse(e.time) / 1000, m: e.metadata! }))
    .filter((e) => Number.isFinite(e.t))
    .sort((a, b) => a.t - b.t);
  const by = new Map<string, Series>();
  for (const { t, m } of mats) {
    for (const [k, v] of Object.entries(m)) {
      const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v.trim()) ? Number(v) : NaN;
      if (!Number.isFinite(n)) continue;
      let s = by.get(k);
      if (!s) by.set(k, (s = { name: k, xs: [], ys: [] }));
      s.xs.push(t);
      s.ys.push(n);
    }
  }
  const rank = (name: string) => (name === "row_count" ? 0 : name === "rows" ? 1 : 2);
  return [...by.values()].filter((s) => s.xs.length >= minPoints).sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}

/** mergeLines adds streamed log lines, once each (a reconnect may resend), in seq order. */
export function mergeLines(have: RunLogLine[], more: RunLogLine[]): RunLogLine[] {
  if (!more.length) return have;
  const last = have.length ? have[have.length - 1].seq : 0;
  const fresh = more.filter((l) => l.seq > last);
  if (fresh.length === more.length && fresh.every((l, i) => i === 0 || l.seq > fresh[i - 1].seq)) return have.concat(fresh);
  const m = new Map(have.map((l) => [l.seq, l]));
  for (const l of more) m.set(l.seq, l);
  return [...m.values()].sort((a, b) => a.seq - b.seq);
}
