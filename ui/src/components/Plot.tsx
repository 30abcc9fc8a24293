// A uPlot time series: one numeric value over time (points and line),
// with optional horizontal limits (an SLA's warn and max lag) drawn as
// dashed lines in their state's colour.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Series } from "../lib/series";

export interface PlotLimit {
  label: string;
  value: number;
  state: "WARN" | "FAIL";
}

interface Props {
  series: Series;
  height?: number;
  limits?: PlotLimit[];
  /** format writes a y value for axis and legend (default: compact numbers). */
  format?: (v: number) => string;
  /** points: dots at each value (default true; a saw-tooth has corners, not samples). */
  points?: boolean;
  caption?: string;
  /** incrs are the y axis' tick steps (durations want 1m, 1h, 1d; not 5000 s). */
  incrs?: number[];
}

export function Plot({ series, height = 160, limits = [], format, points = true, caption, incrs }: Props) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const box = el.current;
    if (!box) return;
    const css = getComputedStyle(document.documentElement);
    const color = (v: string, dflt: string) => css.getPropertyValue(v).trim() || dflt;
    const accent = color("--accent", "#0e7490");
    const grid = color("--border", "#ddd");
    const muted = color("--muted", "#666");
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 });
    const fmt = format ?? ((v: number) => compact.format(v));
    const ys = [series.ys, ...limits.map((l) => series.xs.map(() => l.value))];
    const top = Math.max(0, ...series.ys, ...limits.map((l) => l.value));
    const plot = new uPlot(
      {
        width: Math.max(200, box.clientWidth),
        height,
        cursor: { points: { size: 8 } },
        legend: { live: true },
        scales: { x: { time: true }, ...(limits.length ? { y: { range: (_u: uPlot, min: number) => [Math.min(0, min), top * 1.1 || 1] } } : {}) },
        axes: [axis, { ...axis, size: 64, values: (_u: uPlot, ticks: number[]) => ticks.map(fmt), ...(incrs ? { incrs } : {}) }],
        series: [
          { label: "time" },
          {
            label: series.name, stroke: accent, width: 1.5,
            points: { show: points, size: 5, fill: accent },
            value: (_u, v) => (v == null ? "—" : format ? format(v) : v.toLocaleString()),
          },
          ...limits.map((l) => ({
            label: l.label, stroke: color("--" + l.state, l.state === "FAIL" ? "#c00" : "#b80"), width: 1.25, dash: [6, 4],
            points: { show: false }, value: () => fmt(l.value),
          })),
        ],
      },
      [series.xs, ...ys],
      box,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, box.clientWidth), height }));
    ro.observe(box);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [series, height, limits, format, points, incrs]);
  const last = series.ys[series.ys.length - 1];
  return (
    <figure className="plot" style={{ margin: 0 }}>
      <figcaption className="hint">{caption ?? `${series.name} (${series.xs.length} points)`}</figcaption>
      <div
        ref={el} role="img" data-plot={series.name} data-points={series.xs.length} data-limits={limits.length}
        aria-label={`Plot of ${series.name} over time, ${series.xs.length} points, last ${last === undefined ? "none" : format ? format(last) : last.toLocaleString()}${limits.map((l) => `; ${l.label}`).join("")}`}
      />
    </figure>
  );
}
