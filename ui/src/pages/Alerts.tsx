// Alerts: what is open, one per rule and root cause, with the impacted
// assets and why one is held; what resolved lately; silences, with a form
// to add one for a root cause and a button to end one; the delivery log.
import { useMemo, useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api";
import { AssetLink, Chips, ErrorBox, Loading, Time } from "../components/common";
import { formatDuration } from "../lib/time";
import { resolvedIncidents } from "../lib/alerts";
import type { Delivery, Matcher } from "../types";

function describeMatch(m: Matcher): string {
  const parts: string[] = [];
  if (m.keys?.length) parts.push(m.keys.join(", "));
  if (m.key_prefix) parts.push(`${m.key_prefix}*`);
  for (const k of ["group", "owner", "tag", "kind", "rule"] as const) if (m[k]) parts.push(`${k}=${m[k]}`);
  return parts.join("; ") || "everything";
}

export function AlertsPage() {
  const alerts = useQuery({ queryKey: ["alerts"], queryFn: () => api.alerts(), refetchInterval: 60_000 });
  const silences = useQuery({ queryKey: ["silences"], queryFn: () => api.silences(), refetchInterval: 60_000 });
  const qc = useQueryClient();
  const [draft, setDraft] = useState<{ key: string; comment: string; duration: string } | null>(null);
  const add = useMutation({
    mutationFn: (d: { key: string; comment: string; duration: string }) =>
      api.addSilence({ match: { keys: [d.key] }, comment: d.comment, duration: d.duration, created_by: "ui" }),
    onSuccess: () => {
      setDraft(null);
      qc.invalidateQueries({ queryKey: ["silences"] });
      qc.invalidateQueries({ queryKey: ["alerts"] });
    },
  });
  const expire = useMutation({
    mutationFn: (id: string) => api.expireSilence(id),
    onSuccess: () => {
      qc.invalidateQueries({ queryKey: ["silences"] });
      qc.invalidateQueries({ queryKey: ["alerts"] });
    },
  });
  const list = alerts.data?.alerts ?? [];
  // the latest 500 deliveries: the log below, and the incidents that resolved
  const deliveries = useQuery({ queryKey: ["alerts", "deliveries"], queryFn: () => api.deliveries({ limit: 500 }), refetchInterval: 60_000 });
  const resolved = useMemo(
    () => resolvedIncidents(deliveries.data?.deliveries ?? [], new Set(list.map((a) => a.notification.key))),
    [deliveries.data, list],
  );
  return (
    <>
      <h1>Alerts</h1>
      <ErrorBox error={alerts.error} />
      {alerts.isPending ? <Loading what="alerts" /> : list.length === 0 ? <p className="ok-box">No open alerts.</p> : (
        <ul style={{ listStyle: "none", padding: 0 }} aria-label="Open alerts">
          {list.map((a) => {
            const n = a.notification;
            return (
              <li key={n.key} className={"panel alert " + n.severity} data-alert={n.root_cause ?? n.asset}>
                <div className="row">
                  <strong>{n.severity.toUpperCase()}</strong>
                  {n.rule && <span className="chip">{n.rule}</span>}
                  {a.held && <span className="chip" title="not sent now">held: {a.held}</span>}
                  <span className="spacer" />
                  <span className="hint">since <Time t={n.starts_at} /> · last sent <Time t={a.last_sent} empty="not sent" /></span>
                  <button type="button" onClick={() => setDraft({ key: n.root_cause ?? n.asset ?? "", comment: "", duration: "2h" })}>Silence…</button>
                </div>
                <p style={{ margin: "6px 0" }}>{n.summary}</p>
                <dl className="kv">
                  <dt>Root cause</dt><dd>{n.root_cause ? <AssetLink k={n.root_cause} /> : "—"}</dd>
                  <dt>Impacted</dt>
                  <dd data-testid="impacted">
                    {n.impacted?.length ? n.impacted.map((k, i) => <span key={k}>{i > 0 && ", "}<AssetLink k={k} /></span>) : <span className="muted">nothing downstream</span>}
                  </dd>
                  <dt>Owners</dt><dd><Chips items={n.owners} /></dd>
                  {n.lag_ns ? (<><dt>Lag</dt><dd>{formatDuration(n.lag_ns / 1e9)}</dd></>) : null}
                  {n.details && Object.entries(n.details).filter(([k]) => !["conditions", "impacted_count"].includes(k)).map(([k, v]) => (
                    <span key={k} style={{ display: "contents" }}><dt>{k.replace(/_/g, " ")}</dt><dd>{v}</dd></span>
                  ))}
                </dl>
              </li>
            );
          })}
        </ul>
      )}
      {draft && (
        <form className="panel editor" aria-label="New silence" onSubmit={(e) => { e.preventDefault(); add.mutate(draft); }}>
          <h2>Silence alerts whose root cause is {draft.key}</h2>
          <div className="fields">
            <label className="field"><span className="name">root cause</span><input value={draft.key} onChange={(e) => setDraft({ ...draft, key: e.target.value })} /></label>
            <label className="field"><span className="name">for</span><input value={draft.duration} onChange={(e) => setDraft({ ...draft, duration: e.target.value })} /></label>
            <label className="field"><span className="name">comment (required)</span><input value={draft.comment} onChange={(e) => setDraft({ ...draft, comment: e.target.value })} /></label>
          </div>
          <ErrorBox error={add.error} />
          <div className="row">
            <button type="submit" className="primary" disabled={add.isPending}>Add silence</button>
            <button type="button" onClick={() => setDraft(null)}>Cancel</button>
          </div>
        </form>
      )}
      <section className="panel" aria-labelledby="res-h">
        <h2 id="res-h">Resolved</h2>
        {resolved.length ? (
          <table className="list" data-testid="resolved">
            <thead><tr><th>Resolved</th><th>Root cause</th><th>Rule</th><th>Lasted</th><th>Impacted</th><th>Told</th></tr></thead>
            <tbody>
              {resolved.slice(0, 50).map((r) => (
                <tr key={r.key} data-key={r.key}>
                  <td><Time t={r.resolvedAt} /></td>
                  <td>{r.notification.root_cause ? <AssetLink k={r.notification.root_cause} /> : r.notification.asset ?? "—"}</td>
                  <td>{r.notification.rule ?? ""}</td>
                  <td>{r.lasted !== undefined ? formatDuration(r.lasted) : "—"}</td>
                  <td>{r.notification.impacted?.length ?? Number(r.notification.details?.impacted_count ?? 0)}</td>
                  <td>{r.receivers.join(", ")}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p className="muted">Nothing resolved among the latest deliveries.</p>}
      </section>
      <section className="panel" aria-labelledby="sil-h">
        <h2 id="sil-h">Silences</h2>
        <ErrorBox error={silences.error ?? expire.error} />
        {silences.data?.silences.length ? (
          <table className="list">
            <thead><tr><th>Matches</th><th>Comment</th><th>By</th><th>Until</th><th>State</th><th /></tr></thead>
            <tbody>
              {silences.data.silences.map((s) => (
                <tr key={s.id}>
                  <td>{describeMatch(s.match)}</td>
                  <td>{s.comment}</td>
                  <td>{s.created_by}</td>
                  <td><Time t={s.ends_at} /></td>
                  <td>{s.active ? "active" : "ended"}</td>
                  <td>{s.active && <button type="button" onClick={() => expire.mutate(s.id)}>End now</button>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : <p className="muted">No silences.</p>}
      </section>
      <DeliveryLog first={deliveries.data?.deliveries} error={deliveries.error} />
    </>
  );
}

/** DeliveryLog: every notification sent or being sent to a receiver, newest first, filtered by state. */
function DeliveryLog({ first, error }: { first?: Delivery[]; error: unknown }) {
  const [state, setState] = useState("");
  const filtered = useQuery({
    queryKey: ["alerts", "deliveries", state],
    queryFn: () => api.deliveries({ state, limit: 200 }),
    enabled: state !== "",
  });
  const rows = (state ? filtered.data?.deliveries : first) ?? [];
  return (
    <section className="panel" aria-labelledby="del-h">
      <div className="row">
        <h2 id="del-h" style={{ margin: 0 }}>Delivery log</h2>
        <span className="spacer" />
        <label className="row">
          state
          <select value={state} onChange={(e) => setState(e.target.value)} aria-label="Show deliveries in this state">
            <option value="">all</option>
            <option value="pending">pending (retrying)</option>
            <option value="delivered">delivered</option>
            <option value="failed">failed</option>
          </select>
        </label>
      </div>
      <ErrorBox error={error ?? filtered.error} />
      {rows.length ? (
        <table className="list" data-testid="deliveries">
          <thead><tr><th>When</th><th>Receiver</th><th>Incident</th><th>Sent</th><th>State</th><th>Attempts</th><th>Answer</th></tr></thead>
          <tbody>
            {rows.slice(0, 200).map((d) => (
              <tr key={d.id}>
                <td><Time t={d.created} /></td>
                <td>{d.receiver}</td>
                <td title={d.notification.summary}>{d.notification.root_cause ?? d.key}</td>
                <td>{d.status}</td>
                <td className={"delivery " + d.state}>{d.state}{d.next_attempt && <span className="hint"> (next <Time t={d.next_attempt} />)</span>}</td>
                <td>{d.attempts}</td>
                <td className="hint">{[d.last_code ? `HTTP ${d.last_code}` : "", d.last_error ?? "", d.last_latency_ms !== undefined ? `${d.last_latency_ms.toFixed(1)} ms` : ""].filter(Boolean).join(" · ")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p className="muted">No deliveries{state ? ` in state ${state}` : ""}.</p>}
    </section>
  );
}
