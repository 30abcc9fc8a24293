// The catalog: every asset in a virtualized list (smooth at 10,000 rows),
// filtered by the API (text, group, owner, tag, kind) and by freshness
// state, sorted on any column; the view lives in the URL.
import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { useNavigate, useSearchParams } from "react-router";
import { useVirtualizer } from "@tanstack/react-virtual";
import { useAllAssets, useFreshness } from "../hooks";
import { applyView, facets, serverFilter, toRows, viewFromParams, viewToParams, type CatalogView, type Row, type SortKey } from "../lib/filters";
import { STATES } from "../types";
import { assetPath, ErrorBox, Lag, StateBadge, Time } from "../components/common";

const columns: { key: SortKey | null; label: string }[] = [
  { key: "key", label: "Asset" },
  { key: "group", label: "Group" },
  { key: null, label: "Owners" },
  { key: null, label: "Kinds" },
  { key: "last", label: "Last materialization" },
  { key: "state", label: "Freshness" },
  { key: "lag", label: "Lag" },
  { key: null, label: "Health" },
];

const healthText: Record<Row["health"], string> = { ok: "ok", failing: "failing", check_failed: "check failed", unknown: "no data" };

export function CatalogPage() {
  const [params, setParams] = useSearchParams();
  const view = useMemo(() => viewFromParams(params), [params]);
  const setView = (v: CatalogView) => setParams(viewToParams(v), { replace: true });
  const filter = useMemo(() => serverFilter(view), [view]);
  const assets = useAllAssets(filter);
  const fresh = useFreshness();
  const rows = useMemo(() => toRows(assets.assets, fresh.byKey), [assets.assets, fresh.byKey]);
  const shown = useMemo(() => applyView(rows, view), [rows, view]);
  const navigate = useNavigate();

  // the search box writes the URL after a pause in typing
  const [q, setQ] = useState(view.q);
  useEffect(() => setQ(view.q), [view.q]);
  useEffect(() => {
    if (q === view.q) return;
    const t = setTimeout(() => setView({ ...view, q }), 250);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);

  const scroller = useRef<HTMLDivElement>(null);
  const virt = useVirtualizer({ count: shown.length, getScrollElement: () => scroller.current, estimateSize: () => 36, overscan: 12 });
  const [active, setActive] = useState(0);
  useEffect(() => setActive(0), [shown.length, view]);

  const onKey = (e: KeyboardEvent) => {
    const move = (i: number) => {
      const n = Math.max(0, Math.min(shown.length - 1, i));
      setActive(n);
      virt.scrollToIndex(n, { align: "auto" });
      e.preventDefault();
    };
    if (e.key === "ArrowDown" || e.key === "j") move(active + 1);
    else if (e.key === "ArrowUp" || e.key === "k") move(active - 1);
    else if (e.key === "PageDown") move(active + 15);
    else if (e.key === "PageUp") move(active - 15);
    else if (e.key === "Home") move(0);
    else if (e.key === "End") move(shown.length - 1);
    else if (e.key === "Enter" && shown[active]) navigate(assetPath(shown[active].key));
  };

  const sortBy = (k: SortKey) => setView({ ...view, sort: k, desc: view.sort === k ? !view.desc : k === "last" || k === "lag" });
  const lists = useMemo(
    () => ({ group: facets(rows, "group"), owners: facets(rows, "owners"), kinds: facets(rows, "kinds"), tags: facets(rows, "tags") }),
    [rows],
  );

  return (
    <div className="catalog">
      <div className="filters" role="search" aria-label="Filter assets">
        <label className="field">
          <span className="name">Search</span>
          <input
            type="search" data-search placeholder="key or description  ( / )" value={q}
            onChange={(e) => setQ(e.target.value)} aria-label="Search assets by key or description"
          />
        </label>
        <FacetInput label="Group" value={view.group} options={lists.group} onChange={(group) => setView({ ...view, group })} />
        <FacetInput label="Owner" value={view.owner} options={lists.owners} onChange={(owner) => setView({ ...view, owner })} />
        <FacetInput label="Tag" value={view.tag} options={lists.tags} onChange={(tag) => setView({ ...view, tag })} />
        <FacetInput label="Kind" value={view.kind} options={lists.kinds} onChange={(kind) => setView({ ...view, kind })} />
        <div className="field" role="group" aria-label="Freshness state">
          <span className="hint">State</span>
          <div className="row">
            {STATES.map((s) => {
              const on = view.states.includes(s);
              return (
                <button
                  key={s} type="button" aria-pressed={on}
                  onClick={() => setView({ ...view, states: on ? view.states.filter((x) => x !== s) : [...view.states, s] })}
                >
                  {s === "AT_RISK" ? "AT RISK" : s}
                </button>
              );
            })}
          </div>
        </div>
        <span className="spacer" />
        <span className="count" role="status" aria-live="polite" data-testid="catalog-count">
          {assets.isPending ? "loading…" : `${shown.length.toLocaleString()} of ${rows.length.toLocaleString()} assets${assets.complete ? "" : " (loading more…)"}`}
        </span>
      </div>
      <ErrorBox error={assets.error ?? fresh.error} />
      <div
        className="vgrid" ref={scroller} tabIndex={0} role="grid" aria-label="Assets" aria-rowcount={shown.length + 1}
        aria-activedescendant={shown[active] ? `row-${active}` : undefined} onKeyDown={onKey}
      >
        <div className="vrow head" role="row" aria-rowindex={1}>
          {columns.map((c) => (
            <span key={c.label} role="columnheader" aria-sort={c.key && view.sort === c.key ? (view.desc ? "descending" : "ascending") : undefined}>
              {c.key ? (
                <button type="button" onClick={() => sortBy(c.key!)} title={`Sort by ${c.label.toLowerCase()}`}>
                  {c.label}{view.sort === c.key ? (view.desc ? " ▼" : " ▲") : ""}
                </button>
              ) : c.label}
            </span>
          ))}
        </div>
        <div style={{ height: virt.getTotalSize(), position: "relative" }}>
          {virt.getVirtualItems().map((v) => {
            const r = shown[v.index];
            return (
              <div
                key={r.key} id={`row-${v.index}`} role="row" aria-rowindex={v.index + 2} aria-selected={v.index === active}
                className={"vrow" + (v.index === active ? " active" : "")}
                style={{ position: "absolute", top: 0, left: 0, right: 0, transform: `translateY(${v.start}px)` }}
                onClick={() => navigate(assetPath(r.key))} data-key={r.key}
              >
                <span role="gridcell" title={r.description || r.key}>
                  <a href={assetPath(r.key)} onClick={(e) => { e.preventDefault(); navigate(assetPath(r.key)); }} tabIndex={-1}>{r.key}</a>
                </span>
                <span role="gridcell">{r.group}</span>
                <span role="gridcell" title={r.owners.join(", ")}>{r.owners.join(", ")}</span>
                <span role="gridcell" title={r.kinds.join(", ")}>{r.kinds.join(", ")}</span>
                <span role="gridcell"><Time t={r.lastMaterialization} /></span>
                <span role="gridcell" title={r.rootCause ? `root cause: ${r.rootCause}` : undefined}><StateBadge state={r.state} /></span>
                <span role="gridcell"><Lag seconds={r.lagSeconds} /></span>
                <span role="gridcell" className={"health-" + r.health}>{healthText[r.health]}</span>
              </div>
            );
          })}
        </div>
        {!assets.isPending && shown.length === 0 && <p className="muted" style={{ padding: 12 }}>No asset matches.</p>}
      </div>
      <p className="hint" style={{ margin: "2px 0 8px" }}>
        ↑/↓ or j/k move, Enter opens, / searches; filters other than state are applied by the server.
      </p>
    </div>
  );
}

function FacetInput({ label, value, options, onChange }: { label: string; value: string; options: [string, number][]; onChange: (v: string) => void }) {
  const [v, setV] = useState(value);
  useEffect(() => setV(value), [value]);
  const id = "facet-" + label.toLowerCase();
  const commit = () => v !== value && onChange(v.trim());
  return (
    <label className="field">
      <span className="name">{label}</span>
      <input
        list={id} value={v} size={14} aria-label={`Filter by ${label.toLowerCase()}`}
        onChange={(e) => {
          setV(e.target.value);
          // picking from the list applies at once
          if (options.some(([o]) => o === e.target.value)) onChange(e.target.value);
        }}
        onBlur={commit} onKeyDown={(e) => e.key === "Enter" && commit()}
      />
      <datalist id={id}>
        {options.slice(0, 200).map(([o, n]) => <option key={o} value={o}>{`${n}`}</option>)}
      </datalist>
    </label>
  );
}
