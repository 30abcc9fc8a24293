// The freshness board: assets with an SLA by state, worst first, with
// their root causes and what each root cause makes stale; the SLA editor
// opens for any asset (?edit=KEY).
import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api";
import { AssetLink, ErrorBox, Lag, Loading, StateBadge, Time } from "../components/common";
import { SlaEditor } from "../components/SlaEditor";
import { describePolicy } from "../lib/sla";
import { STATES, type FreshnessState } from "../types";

export function FreshnessPage() {
  const [params, setParams] = useSearchParams();
  const stateFilter = (params.get("state") ?? "").split(",").filter(Boolean) as FreshnessState[];
  const edit = params.get("edit") ?? "";
  const q = useQuery({ queryKey: ["freshness"], queryFn: () => api.freshness(), refetchInterval: 60_000 });
  const setParam = (k: string, v?: string) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    setParams(p);
  };
  const rows = useMemo(
    () => (q.data?.assets ?? []).filter((r) => !stateFilter.length || stateFilter.includes(r.state)),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [q.data, params],
  );
  const [newKey, setNewKey] = useState("");

  return (
    <>
      <div className="row">
        <h1 style={{ margin: 0 }}>Freshness</h1>
        <span className="spacer" />
        <form className="row" onSubmit={(e) => { e.preventDefault(); if (newKey.trim()) setParam("edit", newKey.trim()); }}>
          <input value={newKey} onChange={(e) => setNewKey(e.target.value)} placeholder="asset key" aria-label="Asset to set an SLA on" data-search />
          <button type="submit">Set an SLA…</button>
        </form>
      </div>
      <p className="hint">Evaluated <Time t={q.data?.evaluated_at} empty="not yet" />; worst first. Click a count to filter.</p>
      <ErrorBox error={q.error} />
      <div className="cards" role="group" aria-label="Assets by freshness state">
        {STATES.map((s) => {
          const on = stateFilter.includes(s);
          return (
            <button
              key={s} type="button" className={"card " + s} aria-pressed={on}
              onClick={() => setParam("state", on ? stateFilter.filter((x) => x !== s).join(",") : [...stateFilter, s].join(","))}
            >
              <div className="n">{q.data?.counts?.[s] ?? 0}</div>
              <div>{s === "AT_RISK" ? "AT RISK" : s}</div>
            </button>
          );
        })}
      </div>
      {q.isPending ? <Loading what="freshness" /> : (
        <section className="panel" aria-labelledby="sla-h">
          <h2 id="sla-h">SLAs ({rows.length})</h2>
          <table className="list" data-testid="freshness-table">
            <thead>
              <tr><th>Asset</th><th>State</th><th>Lag</th><th>Deadline</th><th>Root cause</th><th>Why</th><th>SLA</th><th /></tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.key} data-key={r.key}>
                  <td><AssetLink k={r.key} /></td>
                  <td><StateBadge state={r.state} /></td>
                  <td><Lag seconds={r.data_time && r.state !== "UNKNOWN" ? r.lag_seconds : undefined} /></td>
                  <td><Time t={r.deadline} empty="—" /></td>
                  <td>{r.root_cause && r.root_cause !== r.key ? <AssetLink k={r.root_cause} /> : r.root_cause === r.key && r.state !== "PASS" ? <span className="hint">itself</span> : ""}</td>
                  <td style={{ maxWidth: 420 }}>{r.reason}</td>
                  <td>{describePolicy(r.policy?.policy)} <span className="hint">{r.policy?.source === "api" ? "(run time)" : ""}</span></td>
                  <td><button type="button" onClick={() => setParam("edit", r.key)} aria-label={`Edit the SLA of ${r.key}`}>Edit</button></td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      <div className="grid2">
        <section className="panel" aria-labelledby="imp-h">
          <h2 id="imp-h">Root causes and what they make stale</h2>
          {(q.data?.impacted ?? []).length === 0 ? <p className="muted">Nothing stale downstream.</p> : (
            <ul>
              {q.data!.impacted!.map((i) => (
                <li key={i.root_cause}>
                  <AssetLink k={i.root_cause} />: {i.total} downstream without their own SLA
                  {" "}(<span className="hint">{i.assets.slice(0, 8).join(", ")}{i.total > 8 ? ", …" : ""}</span>)
                </li>
              ))}
            </ul>
          )}
        </section>
        <section className="panel" aria-labelledby="prob-h">
          <h2 id="prob-h">Failed runs and checks</h2>
          {(q.data?.problems ?? []).length === 0 ? <p className="muted">None.</p> : (
            <ul>
              {q.data!.problems!.map((p) => (
                <li key={p.key}>
                  <AssetLink k={p.key} />
                  {p.run_failed && <>: run failed <Time t={p.run_failed.time} /> {String(p.run_failed.metadata?.error ?? "")}</>}
                  {p.checks_failed?.map((c) => <span key={c.id}> · check {c.check?.name} failed</span>)}
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
      {edit && <EditDialog assetKey={edit} onClose={() => setParam("edit")} />}
    </>
  );
}

function EditDialog({ assetKey, onClose }: { assetKey: string; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const f = useQuery({ queryKey: ["asset-freshness", assetKey], queryFn: () => api.assetFreshness(assetKey), retry: false });
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
  }, []);
  return (
    <dialog ref={ref} onClose={onClose} aria-labelledby="edit-h">
      <h2 id="edit-h">SLA of <Link to={`/assets/${assetKey.split("/").map(encodeURIComponent).join("/")}`}>{assetKey}</Link></h2>
      {f.isPending ? <Loading what="policy" /> : (
        <>
          {f.error ? <p className="hint">This key has not reported yet: saving an SLA declares it (UNKNOWN until it reports).</p> : null}
          <SlaEditor assetKey={assetKey} current={f.data?.policy} onDone={() => ref.current?.close()} />
        </>
      )}
    </dialog>
  );
}
