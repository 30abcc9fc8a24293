// A uPlot time series: one numeric metadata key over time, points and line.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Series } from "../lib/series";

export function Plot({ series, height = 160 }: { series: Series; height?: number }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const box = el.current;
    if (!box) return;
    const css = getComputedStyle(document.documentElement);
    const accent = css.getPropertyValue("--accent").trim() || "#0e7490";
    const grid = css.getPropertyValue("--border").trim() || "#ddd";
    const muted = css.getPropertyValue("--muted").trim() || "#666";
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 });
    const plot = new uPlot(
      {
        width: Math.max(200, box.clientWidth),
        height,
        cursor: { points: { size: 8 } },
        legend: { live: true },
        scales: { x: { time: true } },
        axes: [axis, { ...axis, size: 60, values: (_u: uPlot, ticks: number[]) => ticks.map((v) => compact.format(v)) }],
        series: [
          { label: "time" },
          { label: series.name, stroke: accent, width: 1.5, points: { show: true, size: 5, fill: accent }, value: (_u, v) => (v == null ? "—" : v.toLocaleString()) },
        ],
      },
      [series.xs, series.ys],
      box,
    );
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(200, box.clientWidth), height }));
    ro.observe(box);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [series, height]);
  return (
    <figure className="plot" style={{ margin: 0 }}>
      <figcaption className="hint">{series.name} ({series.xs.length} points)</figcaption>
      <div ref={el} role="img" aria-label={`Plot of ${series.name} over time, ${series.xs.length} points, last ${series.ys[series.ys.length - 1]?.toLocaleString()}`} data-plot={series.name} data-points={series.xs.length} />
    </figure>
  );
}
