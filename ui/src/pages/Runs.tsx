// Runs: the list (filter by status), launching a selection, and a run's
// page with its steps and live logs (server-sent events), cancel and
// re-execute.
import { useEffect, useRef, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, askToken, authHeaders, runLogsURL } from "../api";
import { AssetLink, ErrorBox, Loading, RunStatus, Time } from "../components/common";
import { mergeLines } from "../lib/series";
import { follow } from "../lib/sse";
import { Gantt } from "../components/Gantt";
import { formatDuration } from "../lib/time";
import type { Run, RunLogLine, RunStep } from "../types";

const STATUSES = ["QUEUED", "STARTING", "STARTED", "SUCCESS", "FAILURE", "CANCELING", "CANCELED"];
const active = (s: string) => ["QUEUED", "STARTING", "STARTED", "CANCELING"].includes(s);

function took(r: { started?: string; ended?: string }) {
  if (!r.started) return "";
  const end = r.ended ? Date.parse(r.ended) : Date.now();
  return formatDuration((end - Date.parse(r.started)) / 1000);
}

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const runs = useQuery({ queryKey: ["runs", { status }], queryFn: () => api.runs({ status: status || undefined, limit: 200 }), refetchInterval: 60_000 });
  const [sel, setSel] = useState("");
  const navigate = useNavigate();
  const launch = useMutation({
    mutationFn: () => api.launch(sel.trim().split(/\s+/)),
    onSuccess: (r) => navigate(`/runs/${encodeURIComponent(r.id)}`),
  });
  return (
    <>
      <div className="row">
        <h1 style={{ margin: 0 }}>Runs</h1>
        <span className="spacer" />
        <form className="row" onSubmit={(e) => { e.preventDefault(); if (sel.trim()) launch.mutate(); }} aria-label="Launch a run">
          <input value={sel} onChange={(e) => setSel(e.target.value)} placeholder="+marts/revenue  group:raw  tag:gold" size={34}
            aria-label="Selection: keys, +KEY with upstream, KEY+ with downstream, group:NAME, tag:NAME" />
          <button type="submit" className="primary" disabled={launch.isPending}>Launch</button>
        </form>
      </div>
      <ErrorBox error={launch.error ?? runs.error} />
      <div className="row" role="group" aria-label="Filter by status" style={{ margin: "10px 0" }}>
        <button type="button" aria-pressed={!status} onClick={() => setParams({})}>all</button>
        {STATUSES.map((s) => (
          <button key={s} type="button" aria-pressed={status === s} onClick={() => setParams({ status: s })}>{s.toLowerCase()}</button>
        ))}
      </div>
      {runs.isPending ? <Loading what="runs" /> : runs.data?.runs.length ? (
        <table className="list" data-testid="runs-table">
          <thead><tr><th>Run</th><th>Status</th><th>Trigger</th><th>Selection</th><th>Created</th><th>Took</th><th>Reason</th></tr></thead>
          <tbody>
            {runs.data.runs.map((r) => (
              <tr key={r.id}>
                <td><Link className="mono" to={`/runs/${encodeURIComponent(r.id)}`}>{r.id.slice(0, 13)}</Link></td>
                <td><RunStatus status={r.status} /></td>
                <td>{r.trigger}</td>
                <td>{r.selection.join(", ")}</td>
                <td><Time t={r.created} /></td>
                <td>{took(r)}</td>
                <td className="hint" style={{ maxWidth: 360 }}>{r.reason}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : <p className="muted">No runs{status ? ` with status ${status}` : ""}.</p>}
    </>
  );
}

export function RunPage() {
  const id = useParams().id ?? "";
  const qc = useQueryClient();
  const q = useQuery({ queryKey: ["run", id], queryFn: () => api.run(id) });
  const [run, setRun] = useState<Run | undefined>();
  const [lines, setLines] = useState<RunLogLine[]>([]);
  const [live, setLive] = useState<"connecting" | "live" | "ended" | "error">("connecting");
  useEffect(() => setRun(q.data), [q.data]);

  useEffect(() => {
    setLines([]);
    setLive("connecting");
    let last = 0;
    let ended = false;
    const abort = new AbortController();
    // fetch-based server-sent events: they carry the API token, which
    // EventSource cannot (lib/sse.ts)
    follow({
      url: () => runLogsURL(id, last),
      headers: authHeaders,
      onUnauthorized: (sent) => askToken(sent.Authorization),
      reconnect: () => !ended,
      onState: (st) => setLive((cur) => (cur === "ended" ? cur : st === "open" ? "live" : st === "error" ? "error" : cur)),
      onMessage: (m) => {
        let data: unknown;
        try {
          data = JSON.parse(m.data);
        } catch {
          return;
        }
        switch (m.event) {
          case "log": {
            const l = data as RunLogLine;
            last = Math.max(last, l.seq);
            setLines((have) => mergeLines(have, [l]));
            break;
          }
          case "step": {
            const st = data as RunStep;
            setRun((r) => r && { ...r, steps: (r.steps ?? []).map((x) => (x.asset === st.asset ? { ...x, ...st } : x)) });
            break;
          }
          case "run": {
            const r = data as Run;
            setRun((cur) => ({ ...r, steps: cur?.steps ?? r.steps }));
            break;
          }
          case "end":
            ended = true;
            setRun(data as Run);
            setLive("ended");
            abort.abort();
            qc.invalidateQueries({ queryKey: ["runs"] });
            break;
        }
      },
    }, abort.signal);
    return () => abort.abort();
  }, [id, qc]);

  const cancel = useMutation({ mutationFn: () => api.cancel(id), onSuccess: (r) => setRun((cur) => ({ ...r, steps: r.steps ?? cur?.steps })) });
  const navigate = useNavigate();
  const reexec = useMutation({ mutationFn: (from: "start" | "failure") => api.reexecute(id, from), onSuccess: (r) => navigate(`/runs/${encodeURIComponent(r.id)}`) });

  if (q.isPending) return <Loading what={`run ${id}`} />;
  if (q.error || !run) return <ErrorBox error={q.error ?? "no such run"} />;
  return (
    <article aria-labelledby="run-h">
      <div className="row">
        <h1 id="run-h" className="mono">Run {run.id}</h1>
        <RunStatus status={run.status} />
        <span className="spacer" />
        {active(run.status) && (
          <button type="button" className="danger" disabled={cancel.isPending || run.status === "CANCELING"} onClick={() => cancel.mutate()}>Cancel run</button>
        )}
        {!active(run.status) && (
          <>
            <button type="button" onClick={() => reexec.mutate("start")}>Re-execute</button>
            {run.status === "FAILURE" && <button type="button" onClick={() => reexec.mutate("failure")}>Re-execute from failure</button>}
          </>
        )}
      </div>
      <ErrorBox error={cancel.error ?? reexec.error} />
      <div className="grid2">
        <section className="panel">
          <h2>Run</h2>
          <dl className="kv">
            <dt>Trigger</dt><dd>{run.trigger}{run.parent && <> (of <Link to={`/runs/${encodeURIComponent(run.parent)}`}>{run.parent.slice(0, 13)}</Link>)</>}</dd>
            <dt>Selection</dt><dd>{run.selection.join(", ")}</dd>
            {run.partition && (<><dt>Partition</dt><dd>{run.partition}</dd></>)}
            {run.reason && (<><dt>Reason</dt><dd>{run.reason}</dd></>)}
            <dt>Created</dt><dd><Time t={run.created} /></dd>
            <dt>Started</dt><dd><Time t={run.started} empty="not yet" /></dd>
            <dt>Ended</dt><dd><Time t={run.ended} empty={active(run.status) ? "running" : "—"} /></dd>
            <dt>Took</dt><dd>{took(run)}</dd>
          </dl>
        </section>
        <section className="panel">
          <h2>Steps</h2>
          <table className="list">
            <thead><tr><th>Asset</th><th>Status</th><th>Attempts</th><th>Took</th></tr></thead>
            <tbody>
              {(run.steps ?? []).map((s) => (
                <tr key={s.asset}>
                  <td><AssetLink k={s.asset} /></td>
                  <td><RunStatus status={s.status} /> <span className="hint">{s.reason}</span></td>
                  <td>{s.attempts ?? 0}</td>
                  <td>{took(s)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <section className="panel" aria-labelledby="timeline-h">
        <h2 id="timeline-h">Timeline</h2>
        <Gantt steps={run.steps ?? []} started={run.started} live={active(run.status)} />
      </section>
      <section className="panel">
        <div className="row">
          <h2 style={{ margin: 0 }}>Logs</h2>
          <span className="hint" data-testid="log-state">{live === "live" ? "● live" : live === "ended" ? "run ended" : live === "error" ? "disconnected" : "connecting…"}</span>
          <span className="spacer" />
          <span className="hint">{lines.length} lines</span>
        </div>
        <LogView lines={lines} />
      </section>
    </article>
  );
}

function LogView({ lines }: { lines: RunLogLine[] }) {
  const ref = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const el = ref.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lines]);
  const shown = lines.length > 5000 ? lines.slice(-5000) : lines;
  return (
    <pre
      className="logs" ref={ref} role="log" aria-label="Run logs" tabIndex={0} data-testid="logs"
      onScroll={(e) => {
        const el = e.currentTarget;
        stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 30;
      }}
    >
      {lines.length > shown.length && <div className="hint">… {lines.length - shown.length} earlier lines not shown</div>}
      {shown.map((l) => (
        <div key={l.seq} className={l.stream}>
          <span className="ts">{new Date(l.time).toLocaleTimeString()}</span>
          {l.asset && <span className="as">{l.asset}</span>}
          {l.text}
        </div>
      ))}
      {!lines.length && <span className="hint">No output yet.</span>}
    </pre>
  );
}
