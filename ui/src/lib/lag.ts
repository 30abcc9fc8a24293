// The freshness plot: an asset's lag over time, from what the server
// recorded. Each sample is a moment whose data time is known: a state
// change (the monitor records the data time with it), the evaluation now,
// and, for an asset without upstream, each of its materializations (its
// data time is the materialization's). Between two samples the lag grows
// with the clock; where the data time moved without a sample (a derived
// asset refreshed without a state change) the true lag was lower, so the
// line is exact at the samples and an upper bound between them.
import type { AssetEvent, FreshnessResult, Policy } from "../types";
import { parseDuration } from "./time";

export interface LagSample {
  t: number; // unix seconds
  dataTime: number; // unix seconds
}

const secs = (s: unknown) => (typeof s === "string" ? Date.parse(s) / 1000 : NaN);

/** lagSamples gathers the moments with a known data time, oldest first. */
export function lagSamples(history: AssetEvent[], materializations: AssetEvent[], current: FreshnessResult | undefined, hasUpstream: boolean, now: number): LagSample[] {
  const out: LagSample[] = [];
  for (const e of history) {
    const t = secs(e.time);
    const d = secs(e.metadata?.data_time);
    if (Number.isFinite(t) && Number.isFinite(d)) out.push({ t, dataTime: d });
  }
  if (!hasUpstream) {
    for (const e of materializations) {
      if (e.kind !== "materialization") continue;
      const t = secs(e.time);
      const d = secs(e.metadata?.data_time);
      if (Number.isFinite(t)) out.push({ t, dataTime: Number.isFinite(d) ? d : t });
    }
  }
  const d = secs(current?.data_time);
  if (Number.isFinite(d)) out.push({ t: Math.max(now, d), dataTime: d });
  out.sort((a, b) => a.t - b.t || a.dataTime - b.dataTime);
  return out;
}

/**
 * lagLine is the saw-tooth through the samples as uPlot points: at each
 * sample the lag is t - dataTime; before the next one it has grown to
 * next.t - dataTime, then drops (or not) to the next sample's own lag.
 */
export function lagLine(samples: LagSample[]): { xs: number[]; ys: number[] } {
  const xs: number[] = [];
  const ys: number[] = [];
  let d = -Infinity; // the newest data time so far: data times do not go back
  samples.forEach((s, i) => {
    const grown = s.t - d;
    if (i > 0) {
      xs.push(s.t);
      ys.push(Math.max(0, grown));
    }
    d = Math.max(d, s.dataTime);
    const lag = Math.max(0, s.t - d);
    if (i === 0) {
      xs.push(s.t);
      ys.push(lag);
    } else if (lag < grown) {
      // the drop, a millisecond later: uPlot wants x in order
      xs.push(s.t + 0.001);
      ys.push(lag);
    }
  });
  return { xs, ys };
}

export interface Limit {
  label: string;
  seconds: number;
  state: "WARN" | "FAIL";
}

/** limits are the lag bounds a max-lag policy draws (a cron policy has deadlines, not a lag bound). */
export function lagLimits(p: Policy | undefined): Limit[] {
  if (!p || p.cron) return [];
  const out: Limit[] = [];
  const warn = p.warn_after ? parseDuration(p.warn_after) : undefined;
  const max = p.max_lag ? parseDuration(p.max_lag) : undefined;
  if (warn !== undefined) out.push({ label: `warn after ${p.warn_after}`, seconds: warn, state: "WARN" });
  if (max !== undefined) out.push({ label: `max lag ${p.max_lag}`, seconds: max, state: "FAIL" });
  return out;
}
