// One asset: spec, owners, tags, lineage neighbours, materialization
// timeline, metadata plots, freshness (state, policy, history, audit) with
// the SLA editor, checks, recent runs, and Materialize when it has a command.
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery } from "@tanstack/react-query";
import { api, ApiError } from "../api";
import { AssetLink, Chips, ErrorBox, Lag, Loading, RunStatus, StateBadge, Time } from "../components/common";
import { Plot } from "../components/Plot";
import { SlaEditor } from "../components/SlaEditor";
import { Timeline } from "../components/Timeline";
import { Columns } from "../components/Columns";
import { numericSeries, type Series } from "../lib/series";
import { lagLimits, lagLine, lagSamples } from "../lib/lag";
import { formatDuration } from "../lib/time";
import { describePolicy } from "../lib/sla";
import type { AssetEvent, FreshnessResult, Policy } from "../types";

export function AssetPage() {
  const key = (useParams()["*"] ?? "").split("/").map(decodeURIComponent).join("/");
  const navigate = useNavigate();
  const asset = useQuery({ queryKey: ["asset", key], queryFn: () => api.asset(key), refetchInterval: 60_000 });
  const fresh = useQuery({ queryKey: ["asset-freshness", key], queryFn: () => api.assetFreshness(key), refetchInterval: 60_000 });
  const events = useQuery({
    queryKey: ["asset-events", key],
    queryFn: () => api.assetEvents(key, { kind: "materialization,materialization_failed", limit: 1000 }),
    refetchInterval: 30_000,
  });
  const recent = useQuery({ queryKey: ["asset-recent", key], queryFn: () => api.assetEvents(key, { limit: 25 }), refetchInterval: 60_000 });
  const runs = useQuery({ queryKey: ["runs", { asset: key }], queryFn: () => api.runs({ asset: key, limit: 10 }), refetchInterval: 60_000 });
  const series = useMemo(() => numericSeries(events.data?.events ?? []), [events.data]);
  const [editing, setEditing] = useState(false);
  const launch = useMutation({
    mutationFn: (selection: string[]) => api.launch(selection),
    onSuccess: (run) => navigate(`/runs/${encodeURIComponent(run.id)}`),
  });

  if (asset.isPending) return <Loading what={key} />;
  if (asset.error) {
    return (
      <>
        <h1>{key}</h1>
        {asset.error instanceof ApiError && asset.error.status === 404 ? <p>No asset has this key. <Link to="/">Back to the catalog</Link></p> : <ErrorBox error={asset.error} />}
      </>
    );
  }
  const a = asset.data;
  const s = a.spec;
  const r = fresh.data?.result;
  const canMaterialize = !!s.materialize;

  return (
    <article aria-labelledby="asset-title">
      <div className="row" style={{ alignItems: "flex-start" }}>
        <div style={{ flex: 1, minWidth: 0 }}>
          <h1 id="asset-title">{s.key}</h1>
          <p style={{ margin: "2px 0 8px" }}>{s.description || <span className="muted">No description.</span>}</p>
        </div>
        <StateBadge state={r?.state} />
        <Link className="button" to={`/lineage?focus=${encodeURIComponent(s.key)}&depth=2`}>Lineage</Link>
        {canMaterialize && (
          <>
            <button type="button" className="primary" disabled={launch.isPending} onClick={() => launch.mutate([s.key])} title="Run this asset's materialize command">
              Materialize
            </button>
            {(a.upstream?.length ?? 0) > 0 && (
              <button type="button" disabled={launch.isPending} onClick={() => launch.mutate(["+" + s.key])} title="Rebuild with its upstream">
                Materialize with upstream
              </button>
            )}
          </>
        )}
      </div>
      <ErrorBox error={launch.error} />

      <div className="grid2">
        <section className="panel" aria-labelledby="spec-h">
          <h2 id="spec-h">Spec</h2>
          <dl className="kv">
            <dt>Group</dt><dd>{s.group ? <Link to={`/?group=${encodeURIComponent(s.group)}`}>{s.group}</Link> : "—"}</dd>
            <dt>Owners</dt><dd><Chips items={s.owners} /></dd>
            <dt>Kinds</dt><dd><Chips items={s.kinds} /></dd>
            <dt>Tags</dt><dd><Chips items={s.tags} /></dd>
            <dt>Origin</dt><dd>{s.origin ?? "—"}</dd>
            {s.code_version && (<><dt>Code version</dt><dd className="mono">{s.code_version}</dd></>)}
            <dt>Materialize</dt>
            <dd>{s.materialize ? <code title={(s.materialize.argv ?? []).join(" ")}>{(s.materialize.argv ?? []).join(" ").slice(0, 80)}</code> : <span className="muted">no command: reported from outside</span>}</dd>
            <dt>Last materialized</dt><dd><Time t={a.last_materialization?.time} /></dd>
            {a.last_failure && (<><dt>Last failure</dt><dd><Time t={a.last_failure.time} /> {String(a.last_failure.metadata?.error ?? "")}</dd></>)}
            <dt>Events</dt><dd>{Object.entries(a.counts ?? {}).map(([k, n]) => `${n} ${k}`).join(", ") || "none"}</dd>
          </dl>
        </section>

        <section className="panel" aria-labelledby="fresh-h">
          <div className="row">
            <h2 id="fresh-h" style={{ margin: 0 }}>Freshness</h2>
            <span className="spacer" />
            <button type="button" onClick={() => setEditing(!editing)} aria-expanded={editing}>{editing ? "Close editor" : "Edit SLA"}</button>
          </div>
          {r ? (
            <dl className="kv" style={{ marginTop: 8 }}>
              <dt>State</dt><dd><StateBadge state={r.state} /> {r.reason}</dd>
              <dt>Lag</dt><dd><Lag seconds={r.data_time && r.state !== "UNKNOWN" ? r.lag_seconds : undefined} /></dd>
              {r.deadline && (<><dt>Deadline</dt><dd><Time t={r.deadline} /></dd></>)}
              {r.root_cause && r.root_cause !== key && (<><dt>Root cause</dt><dd><AssetLink k={r.root_cause} /></dd></>)}
              <dt>Policy</dt><dd data-testid="policy">{describePolicy(fresh.data?.policy?.policy)} <span className="hint">({fresh.data?.policy?.source === "api" ? "set at run time" : "freshet.yaml"})</span></dd>
            </dl>
          ) : (
            <p className="muted" data-testid="policy">No SLA: this asset's freshness is not evaluated.</p>
          )}
          {r && (
            <LagPlot
              history={fresh.data?.history ?? []} materializations={events.data?.events ?? []} result={r}
              hasUpstream={(a.upstream?.length ?? 0) > 0} policy={fresh.data?.policy?.policy}
            />
          )}
          {editing && <div style={{ marginTop: 10 }}><SlaEditor assetKey={key} current={fresh.data?.policy} /></div>}
          <PolicyAudit audit={fresh.data?.audit ?? []} />
          {(fresh.data?.history?.length ?? 0) > 0 && (
            <details>
              <summary>State changes ({fresh.data!.history!.length})</summary>
              <ul>
                {fresh.data!.history!.map((h) => (
                  <li key={h.id}><Time t={h.time} />: <StateBadge state={h.metadata?.state as never} /> {String(h.metadata?.reason ?? "")}</li>
                ))}
              </ul>
            </details>
          )}
        </section>
      </div>

      <section className="panel" aria-labelledby="tl-h">
        <h2 id="tl-h">Materializations</h2>
        {events.isPending ? <Loading what="history" /> : <Timeline events={events.data?.events ?? []} />}
      </section>

      <section className="panel" aria-labelledby="plots-h">
        <h2 id="plots-h">Metadata over time</h2>
        {events.isPending ? <Loading what="metadata" /> : series.length === 0 ? (
          <p className="muted">No numeric metadata reported twice yet (row_count, duration_s…).</p>
        ) : (
          <div className="grid2">{series.slice(0, 6).map((x) => <Plot key={x.name} series={x} />)}</div>
        )}
      </section>

      <div className="grid2">
        <section className="panel" aria-labelledby="lin-h">
          <h2 id="lin-h">Upstream and downstream</h2>
          <dl className="kv">
            <dt>Upstream</dt><dd>{a.upstream?.length ? <ul style={{ margin: 0, paddingLeft: 18 }}>{a.upstream.map((k) => <li key={k}><AssetLink k={k} /></li>)}</ul> : <span className="muted">none (a source)</span>}</dd>
            <dt>Downstream</dt><dd>{a.downstream?.length ? <ul style={{ margin: 0, paddingLeft: 18 }}>{a.downstream.map((k) => <li key={k}><AssetLink k={k} /></li>)}</ul> : <span className="muted">none</span>}</dd>
          </dl>
        </section>
        <section className="panel" aria-labelledby="checks-h">
          <h2 id="checks-h">Checks</h2>
          <Checks declared={s.checks ?? []} latest={a.last_checks ?? []} />
        </section>
      </div>

      <section className="panel" aria-labelledby="cols-h">
        <h2 id="cols-h">Columns</h2>
        <Columns assetKey={key} />
      </section>

      <section className="panel" aria-labelledby="runs-h">
        <h2 id="runs-h">Recent runs</h2>
        {runs.data?.runs.length ? (
          <table className="list">
            <thead><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Selection</th><th>Created</th></tr></thead>
            <tbody>
              {runs.data.runs.map((x) => (
                <tr key={x.id}>
                  <td><Link to={`/runs/${encodeURIComponent(x.id)}`} className="mono">{x.id.slice(0, 13)}</Link></td>
                  <td><RunStatus status={x.status} /></td><td>{x.trigger}</td><td>{x.selection.join(", ")}</td><td><Time t={x.created} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p className="muted">No runs launched by Freshet for this asset.</p>}
      </section>

      <section className="panel" aria-labelledby="ev-h">
        <h2 id="ev-h">Recent events</h2>
        <EventTable events={recent.data?.events ?? []} />
      </section>
    </article>
  );
}

function PolicyAudit({ audit }: { audit: AssetEvent[] }) {
  if (!audit.length) return null;
  return (
    <details open style={{ marginTop: 8 }}>
      <summary>SLA changes ({audit.length})</summary>
      <ul data-testid="audit">
        {audit.map((e) => (
          <li key={e.id}>
            <Time t={e.time} />: {String(e.metadata?.action ?? "changed")} by {String(e.metadata?.actor ?? "someone")}:{" "}
            {describePolicy(e.metadata?.policy as Policy | undefined)}
            {e.metadata?.previous ? <span className="hint"> (was {describePolicy((e.metadata.previous as { policy?: Policy }).policy)})</span> : null}
          </li>
        ))}
      </ul>
    </details>
  );
}

function Checks({ declared, latest }: { declared: { name: string; severity?: string }[]; latest: AssetEvent[] }) {
  const byName = new Map(latest.filter((e) => e.check).map((e) => [e.check!.name, e]));
  const names = [...new Set([...declared.map((d) => d.name), ...byName.keys()])];
  if (!names.length) return <p className="muted">No checks.</p>;
  return (
    <table className="list">
      <thead><tr><th>Check</th><th>Latest</th><th>When</th></tr></thead>
      <tbody>
        {names.map((n) => {
          const e = byName.get(n);
          return (
            <tr key={n}>
              <td>{n} <span className="hint">{declared.find((d) => d.name === n)?.severity ?? e?.check?.severity ?? ""}</span></td>
              <td>{e ? (e.check!.passed ? <span className="status SUCCESS">passed</span> : <span className="status FAILURE">failed</span>) : <span className="muted">no result</span>}</td>
              <td><Time t={e?.time} /></td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function EventTable({ events }: { events: AssetEvent[] }) {
  if (!events.length) return <p className="muted">No events.</p>;
  return (
    <table className="list">
      <thead><tr><th>When</th><th>Kind</th><th>Run</th><th>Details</th></tr></thead>
      <tbody>
        {events.map((e) => (
          <tr key={e.id}>
            <td><Time t={e.time} /></td>
            <td>{e.kind}</td>
            <td className="mono">{e.run_id ? (e.run_id.length > 20 ? <Link to={`/runs/${encodeURIComponent(e.run_id)}`}>{e.run_id.slice(0, 13)}</Link> : e.run_id) : ""}</td>
            <td className="mono" style={{ maxWidth: 520, overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
              {e.check ? `${e.check.name}: ${e.check.passed ? "passed" : "failed"} ` : ""}
              {e.metadata ? JSON.stringify(e.metadata) : ""}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// tick steps for a lag axis: round durations
const DURATION_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800, 2592000];

/**
 * LagPlot: the asset's lag over time with its SLA's limits (lib/lag.ts
 * says where the points come from). Exact at state changes, at each
 * materialization of an asset without upstream, and now.
 */
function LagPlot({ history, materializations, result, hasUpstream, policy }: {
  history: AssetEvent[]; materializations: AssetEvent[]; result: FreshnessResult; hasUpstream: boolean; policy?: Policy;
}) {
  const evaluated = result.evaluated_at ? Date.parse(result.evaluated_at) / 1000 : Date.now() / 1000;
  const series: Series | undefined = useMemo(() => {
    const line = lagLine(lagSamples(history, materializations, result, hasUpstream, evaluated));
    return line.xs.length >= 2 ? { name: "lag", ...line } : undefined;
  }, [history, materializations, result, hasUpstream, evaluated]);
  const limits = useMemo(() => lagLimits(policy).map((l) => ({ label: l.label, value: l.seconds, state: l.state })), [policy]);
  if (!series) return null;
  return (
    <div style={{ marginTop: 8 }} data-testid="lag-plot">
      <Plot
        series={series} limits={limits} format={formatDuration} points={false} height={150} incrs={DURATION_STEPS}
        caption={`Lag over time${limits.length ? " against the SLA" : ""}: exact at state changes${hasUpstream ? "" : " and materializations"}, an upper bound between them`}
      />
    </div>
  );
}
