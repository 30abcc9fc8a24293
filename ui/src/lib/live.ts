// What the live stream's notices make the UI re-read. A notice says what
// changed (docs/api.md, GET /api/v1/stream); each becomes the query keys
// that show it. Keys of expensive reads (the whole catalog, the graph) are
// re-read at most every so often, however many notices arrive.

export type QueryKey = readonly unknown[];

export interface Invalidation {
  key: QueryKey;
  /** at most one re-read per this many ms (0: at the next flush). */
  every: number;
}

/** How often the expensive reads may be repeated because of notices. */
export const EVERY = { list: 5_000, graph: 15_000 } as const;

interface EventsNotice { count: number; kinds?: Record<string, number>; assets?: string[]; more?: boolean }
interface FreshnessNotice { changes?: { asset: string; state: string }[]; more?: boolean }
interface RunNotice { run: string; status: string; step?: string }

/** invalidations maps one notice to the query keys to re-read; "resync" re-reads everything. */
export function invalidations(topic: string, data: unknown): Invalidation[] | "all" {
  const now = (key: QueryKey): Invalidation => ({ key, every: 0 });
  switch (topic) {
    case "events": {
      const n = data as EventsNotice;
      const out: Invalidation[] = [
        { key: ["assets"], every: EVERY.list },
        // a new asset or an observed edge changes the graph; notices do not say which
        { key: ["graph"], every: EVERY.graph },
        { key: ["lineage"], every: EVERY.graph },
      ];
      for (const k of n.assets ?? []) {
        out.push(now(["asset", k]), now(["asset-events", k]), now(["asset-recent", k]), now(["asset-freshness", k]), now(["asset-columns", k]));
      }
      if (n.more) out.push({ key: ["asset"], every: EVERY.list }, { key: ["asset-events"], every: EVERY.list });
      if (n.kinds && Object.keys(n.kinds).some((k) => k.startsWith("run_"))) out.push({ key: ["runs"], every: 1_000 });
      return out;
    }
    case "freshness": {
      const n = data as FreshnessNotice;
      const out: Invalidation[] = [now(["freshness"])];
      for (const c of n.changes ?? []) out.push(now(["asset-freshness", c.asset]));
      if (n.more) out.push({ key: ["asset-freshness"], every: EVERY.list });
      return out;
    }
    case "runs": {
      const n = data as RunNotice;
      return [{ key: ["runs"], every: 1_000 }, now(["run", n.run])];
    }
    case "alerts":
      return [now(["alerts"])];
    case "resync":
      return "all";
    default:
      return [];
  }
}

const id = (key: QueryKey) => JSON.stringify(key);

/**
 * Throttle collects invalidations and hands back, at each flush, the keys
 * that are due: each key at most once per flush, and an expensive key no
 * more often than its interval (a later flush takes it when it is due).
 */
export class Throttle {
  private pending = new Map<string, Invalidation>();
  private last = new Map<string, number>();
  private everything = false;

  add(inv: Invalidation[] | "all") {
    if (inv === "all") {
      this.everything = true;
      return;
    }
    for (const i of inv) {
      const k = id(i.key);
      const have = this.pending.get(k);
      if (!have || i.every < have.every) this.pending.set(k, i);
    }
  }

  /** flush returns the keys due at time now ("all" after a resync), keeping the rest. */
  flush(now: number): QueryKey[] | "all" {
    if (this.everything) {
      this.everything = false;
      this.pending.clear();
      return "all";
    }
    const out: QueryKey[] = [];
    for (const [k, i] of this.pending) {
      const last = this.last.get(k);
      if (i.every > 0 && last !== undefined && now - last < i.every) continue;
      out.push(i.key);
      this.last.set(k, now);
      this.pending.delete(k);
    }
    return out;
  }

  /** waiting says whether keys are held back for a later flush. */
  get waiting(): boolean {
    return this.pending.size > 0 || this.everything;
  }
}
