// The materialization timeline: successes and failures as ticks over the
// span of the events loaded, newest on the right.
import type { AssetEvent } from "../types";
import { absoluteTime } from "../lib/time";

export function Timeline({ events }: { events: AssetEvent[] }) {
  const pts = events
    .filter((e) => e.kind === "materialization" || e.kind === "materialization_failed")
    .map((e) => ({ t: Date.parse(e.time), fail: e.kind === "materialization_failed", e }))
    .filter((p) => Number.isFinite(p.t));
  if (!pts.length) return <p className="muted">No materializations yet.</p>;
  const t0 = Math.min(...pts.map((p) => p.t));
  const t1 = Math.max(Date.now(), ...pts.map((p) => p.t));
  const span = Math.max(1, t1 - t0);
  const x = (t: number) => 1 + ((t - t0) / span) * 98;
  const fails = pts.filter((p) => p.fail).length;
  return (
    <figure style={{ margin: 0 }}>
      <svg className="timeline" viewBox="0 0 100 44" preserveAspectRatio="none" role="img"
        aria-label={`${pts.length - fails} materializations and ${fails} failures from ${absoluteTime(t0)} to now`}>
        <line className="axis" x1="0" x2="100" y1="30" y2="30" strokeWidth="0.3" vectorEffect="non-scaling-stroke" />
        {pts.map((p) => (
          <rect key={p.e.id} className={p.fail ? "fail" : "mat"} x={x(p.t) - 0.15} width="0.3" y={p.fail ? 4 : 12} height={p.fail ? 26 : 18}>
            <title>{`${p.fail ? "failed" : "materialized"} ${absoluteTime(p.t)}${p.e.run_id ? " · run " + p.e.run_id : ""}`}</title>
          </rect>
        ))}
      </svg>
      <figcaption className="hint row">
        <span>{absoluteTime(t0)}</span><span className="spacer" />
        <span>{pts.length - fails} materializations, {fails} failures</span><span className="spacer" /><span>now</span>
      </figcaption>
    </figure>
  );
}
