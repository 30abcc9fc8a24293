// The geometry of a run's step Gantt chart: one bar per step from its
// start to its end (or now, while it runs), on a time axis from the run's
// start. Steps that never started (skipped, queued) get no bar.

export interface GanttStep {
  asset: string;
  status: string;
  started?: string;
  ended?: string;
}

export interface GanttRow {
  asset: string;
  status: string;
  /** ms from the chart's origin; undefined: the step did not start */
  start?: number;
  end?: number;
  running: boolean;
}

export interface GanttChart {
  origin: number; // epoch ms of the axis' zero
  span: number; // ms the axis covers (at least 1)
  rows: GanttRow[];
}

/** gantt lays steps on an axis from the earliest start to the latest end (or now). */
export function gantt(steps: GanttStep[], now: number, runStarted?: string): GanttChart {
  const parse = (t?: string) => (t ? Date.parse(t) : NaN);
  const starts = steps.map((s) => parse(s.started)).filter((t) => !Number.isNaN(t));
  const origin = Math.min(...starts, Number.isNaN(parse(runStarted)) ? Infinity : parse(runStarted));
  if (!Number.isFinite(origin)) {
    return { origin: now, span: 1, rows: steps.map((s) => ({ asset: s.asset, status: s.status, running: false })) };
  }
  let last = origin;
  const rows = steps.map((s): GanttRow => {
    const st = parse(s.started);
    if (Number.isNaN(st)) return { asset: s.asset, status: s.status, running: false };
    const en = parse(s.ended);
    const running = Number.isNaN(en);
    const end = running ? Math.max(now, st) : Math.max(en, st);
    last = Math.max(last, end);
    return { asset: s.asset, status: s.status, start: st - origin, end: end - origin, running };
  });
  // started steps in start order; the others after them, as listed
  rows.sort((a, b) => (a.start ?? Infinity) - (b.start ?? Infinity));
  return { origin, span: Math.max(1, last - origin), rows };
}

const STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000,
  120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000, 43_200_000, 86_400_000];

/** ticks are round times (ms) across span, about `count` of them. */
export function ticks(span: number, count = 6): number[] {
  const step = STEPS.find((s) => span / s <= count) ?? Math.ceil(span / count / 86_400_000) * 86_400_000;
  const out: number[] = [];
  for (let t = 0; t <= span; t += step) out.push(t);
  return out;
}

/** tickLabel: 0, 500ms, 2s, 1m30s, 2h ... */
export function tickLabel(ms: number): string {
  if (ms === 0) return "0";
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  if (s < 60) return `${+s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m${Math.round(s % 60)}s` : `${m}m`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h}h${m % 60}m` : `${h}h`;
}
