// A run's steps on a time line: one bar per step, coloured by status,
// running bars growing until they end. Step names link to their assets.
import { useEffect, useState } from "react";
import { gantt, tickLabel, ticks, type GanttStep } from "../lib/gantt";
import { AssetLink } from "./common";

const ROW = 22;
const LABEL = 220;
const AXIS = 20;

export function Gantt({ steps, started, live }: { steps: GanttStep[]; started?: string; live: boolean }) {
  // while the run is live, running bars grow once a second
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    if (!live) return;
    const t = window.setInterval(() => setNow(Date.now()), 1000);
    return () => window.clearInterval(t);
  }, [live]);
  const c = gantt(steps, live ? now : Date.now(), started);
  const width = 640;
  const x = (ms: number) => (ms / c.span) * width;
  return (
    <div className="gantt" role="img" aria-label={`Step timeline: ${c.rows.filter((r) => r.start !== undefined).length} of ${c.rows.length} steps started, over ${tickLabel(c.span)}`}>
      <div className="gantt-labels" style={{ width: LABEL, paddingTop: AXIS }}>
        {c.rows.map((r) => (
          <div key={r.asset} style={{ height: ROW }} className="gantt-label"><AssetLink k={r.asset} /></div>
        ))}
      </div>
      <svg width={width + 40} height={AXIS + c.rows.length * ROW} data-testid="gantt">
        {ticks(c.span).map((t) => (
          <g key={t}>
            <line x1={x(t)} x2={x(t)} y1={AXIS - 4} y2={AXIS + c.rows.length * ROW} className="gantt-tick" />
            <text x={x(t) + 2} y={AXIS - 8} className="gantt-ticklabel">{tickLabel(t)}</text>
          </g>
        ))}
        {c.rows.map((r, i) =>
          r.start === undefined ? (
            <text key={r.asset} x={4} y={AXIS + i * ROW + 15} className="gantt-ticklabel">{r.status.toLowerCase()}</text>
          ) : (
            <rect
              key={r.asset} x={x(r.start)} y={AXIS + i * ROW + 4} height={ROW - 8}
              width={Math.max(2, x(r.end! - r.start))} rx={3} className={"gantt-bar " + r.status + (r.running ? " running" : "")}
            >
              <title>{`${r.asset}: ${r.status}, ${tickLabel(r.end! - r.start)}${r.running ? " so far" : ""}, from +${tickLabel(r.start)}`}</title>
            </rect>
          ),
        )}
      </svg>
    </div>
  );
}
