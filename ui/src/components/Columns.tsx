// An asset's columns with their column-level lineage: what each column is
// computed from and what reads it (GET /api/v1/assets/{key}/columns), and
// on demand a column's whole lineage, level by level.
import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api } from "../api";
import type { AssetColumn, ColumnInput } from "../types";
import { assetPath, ErrorBox } from "./common";
import { Link } from "react-router";

function Ref({ r }: { r: ColumnInput }) {
  return (
    <span className="colref">
      <Link to={assetPath(r.asset)}>{r.asset}</Link>.<b>{r.column}</b>
      {r.transformation && <span className="hint"> {r.transformation.toLowerCase()}</span>}
    </span>
  );
}

export function Columns({ assetKey }: { assetKey: string }) {
  const q = useQuery({ queryKey: ["asset-columns", assetKey], queryFn: () => api.columns(assetKey), refetchInterval: 60_000 });
  const [open, setOpen] = useState<string | null>(null);
  if (q.error) return <ErrorBox error={q.error} />;
  const cols = q.data?.columns ?? [];
  if (!cols.length) {
    return <p className="muted">No columns known: a schema or column lineage comes with OpenLineage events (docs/lineage.md).</p>;
  }
  const withLineage = cols.filter((c) => c.upstream.length || c.downstream.length).length;
  return (
    <>
      <p className="hint" style={{ marginTop: 0 }}>{cols.length} columns, {withLineage} with column lineage.</p>
      <table className="list" data-testid="columns">
        <thead><tr><th>Column</th><th>Type</th><th>Computed from</th><th>Read by</th><th /></tr></thead>
        <tbody>
          {cols.map((c) => (
            <ColumnRow key={c.name} assetKey={assetKey} c={c} open={open === c.name} toggle={() => setOpen(open === c.name ? null : c.name)} />
          ))}
        </tbody>
      </table>
    </>
  );
}

function ColumnRow({ assetKey, c, open, toggle }: { assetKey: string; c: AssetColumn; open: boolean; toggle: () => void }) {
  const traced = c.upstream.length > 0 || c.downstream.length > 0;
  return (
    <>
      <tr data-column={c.name}>
        <td title={c.description}><b>{c.name}</b>{c.description && <div className="hint">{c.description}</div>}</td>
        <td className="mono">{c.type ?? ""}</td>
        <td>{c.upstream.length ? c.upstream.map((u) => <div key={u.asset + "#" + u.column}><Ref r={u} /></div>) : <span className="muted">—</span>}</td>
        <td>{c.downstream.length ? c.downstream.map((d) => <div key={d.asset + "#" + d.column}><Ref r={d} /></div>) : <span className="muted">—</span>}</td>
        <td>{traced && <button type="button" aria-expanded={open} onClick={toggle} aria-label={`Whole lineage of column ${c.name}`}>{open ? "Hide" : "Trace"}</button>}</td>
      </tr>
      {open && (
        <tr><td colSpan={5}><Trace assetKey={assetKey} column={c.name} /></td></tr>
      )}
    </>
  );
}

/** Trace is a column's whole lineage, by level: upstream above, downstream below. */
function Trace({ assetKey, column }: { assetKey: string; column: string }) {
  const q = useQuery({ queryKey: ["column-lineage", assetKey, column], queryFn: () => api.columnLineage(assetKey, column) });
  if (q.error) return <ErrorBox error={q.error} />;
  if (!q.data) return <span className="hint">tracing…</span>;
  const levels = new Map<number, string[]>();
  for (const n of q.data.nodes) {
    if (n.depth === 0) continue;
    const list = levels.get(n.depth) ?? [];
    list.push(`${n.asset}.${n.column}`);
    levels.set(n.depth, list);
  }
  const depths = [...levels.keys()].sort((a, b) => a - b);
  return (
    <ol className="trace" data-testid="column-trace" aria-label={`Lineage of ${column}`}>
      {depths.map((d) => (
        <li key={d} value={Math.abs(d)}>
          <span className="hint">{d < 0 ? `${-d} up` : `${d} down`}: </span>{levels.get(d)!.join(", ")}
        </li>
      ))}
      {q.data.truncated && <li className="hint">… more (the server's limit)</li>}
    </ol>
  );
}
