// The lineage graph: the whole graph, or one asset with N levels up and
// down (?focus=KEY&depth=N). Nodes are coloured by freshness, root causes
// ringed, declared / observed edges drawn differently; big graphs are
// collapsed into groups by key prefix (click a group to expand it). The
// layout runs in a Web Worker (ELK), so the page stays responsive.
import { memo, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import {
  Background, Controls, Handle, MiniMap, Position, ReactFlow, ReactFlowProvider, useReactFlow,
  type Edge, type Node, type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { api } from "../api";
import { useFreshness } from "../hooks";
import { layoutGraph, warmLayout } from "../layout";
import { GROUP_H, GROUP_W, layoutInput, NODE_H, NODE_W, shapeGraph, type LayoutResult, type Shaped, type ShapedNode } from "../lib/graph";
import { assetPath, ErrorBox } from "../components/common";

/** Above this many assets the graph starts collapsed into groups. */
const MAX_NODES = 1000;

// the worker loads ELK (1.4 MB) while the page fetches the graph
warmLayout();

type NodeData = ShapedNode & { onToggle?: (key: string) => void } & Record<string, unknown>;

const AssetNode = memo(function AssetNode({ data }: NodeProps<Node<NodeData>>) {
  const cls = ["fnode", data.state ?? "", data.rootCause ? "root" : "", data.focus ? "focus" : ""].join(" ");
  const label = `${data.key}, ${data.state ? "freshness " + data.state : "no SLA"}${data.rootCause ? ", root cause" : ""}`;
  return (
    <div className={cls} data-key={data.key}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <Link to={assetPath(data.key)} aria-label={label} title={label}>
        <span className="k">{data.key}</span>
        <span className="s">{data.state ? data.state.replace("_", " ") : "no SLA"}{data.rootCause ? " · root cause" : ""}</span>
      </Link>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const GroupNode = memo(function GroupNode({ data }: NodeProps<Node<NodeData>>) {
  const counts = Object.entries(data.states ?? {}).map(([s, n]) => `${n} ${s}`).join(", ");
  const label = `group ${data.key}: ${data.size} assets${counts ? ", " + counts : ""}${data.rootCauses ? `, ${data.rootCauses} root causes` : ""}. Expand`;
  return (
    <div className={["fnode group", data.state ?? "", data.rootCause ? "root" : ""].join(" ")} data-group={data.key}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <button
        type="button" className="nodrag" aria-label={label} title={label}
        style={{ all: "unset", cursor: "pointer", display: "block" }} onClick={() => data.onToggle?.(data.key)}
      >
        <span className="k">▸ {data.key}/…</span>
        <span className="s" style={{ display: "block" }}>
          {data.size!.toLocaleString()} assets{data.rootCauses ? ` · ${data.rootCauses} root cause${data.rootCauses > 1 ? "s" : ""}` : ""}
        </span>
        <span className="s" style={{ display: "block" }}>{counts || "no SLAs"}</span>
      </button>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { asset: AssetNode, group: GroupNode };

// SVG fill attributes take no CSS variables: read the theme's colours once per render of the map
function stateColors(): Record<string, string> {
  const css = getComputedStyle(document.documentElement);
  const out: Record<string, string> = {};
  for (const s of ["PASS", "WARN", "AT_RISK", "FAIL", "UNKNOWN", "NONE"]) out[s] = css.getPropertyValue("--" + s).trim() || "#999";
  return out;
}

export default function LineagePage() {
  return (
    <ReactFlowProvider>
      <Lineage />
    </ReactFlowProvider>
  );
}

function Lineage() {
  const [params, setParams] = useSearchParams();
  const focus = params.get("focus") ?? "";
  const depth = Math.max(0, Math.min(20, Number(params.get("depth") ?? 2) || 0));
  const expanded = useMemo(() => new Set((params.get("expand") ?? "").split(",").filter(Boolean)), [params]);
  const grouped = params.get("group"); // "1" forces groups, "0" forbids them
  const set = (k: string, v: string | undefined) => {
    const p = new URLSearchParams(params);
    if (v) p.set(k, v);
    else p.delete(k);
    setParams(p);
  };

  const graph = useQuery({
    queryKey: focus ? ["lineage", focus, depth] : ["graph"],
    queryFn: () => (focus ? api.assetLineage(focus, "both", depth) : api.graph()),
    staleTime: 30_000,
  });
  const fresh = useFreshness();
  const shaped: Shaped | undefined = useMemo(() => {
    if (!graph.data) return undefined;
    performance.mark("freshet:graph-data");
    return shapeGraph(graph.data, fresh.byKey, {
      maxNodes: grouped === "0" ? Infinity : MAX_NODES,
      maxGroups: 150,
      forceCollapse: grouped === "1",
      expanded,
      focus: focus || undefined,
    });
  }, [graph.data, fresh.byKey, expanded, focus, grouped]);

  // the layout depends on the shape only, not on the colours
  const shapeKey = shaped ? shaped.nodes.map((n) => n.id).join("|") + "#" + shaped.edges.length : "";
  const [layout, setLayout] = useState<{ key: string; result: LayoutResult } | null>(null);
  const [layoutError, setLayoutError] = useState<unknown>(null);
  useEffect(() => {
    if (!shaped) return;
    let stale = false;
    setLayoutError(null);
    layoutGraph(layoutInput(shaped)).then(
      (result) => !stale && setLayout({ key: shapeKey, result }),
      (err) => !stale && setLayoutError(err),
    );
    return () => {
      stale = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [shapeKey]);

  const toggle = (key: string) => {
    const next = new Set(expanded);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    set("expand", [...next].join(","));
  };

  const ready = layout && layout.key === shapeKey && shaped;
  const nodes: Node<NodeData>[] = useMemo(() => {
    if (!ready) return [];
    return shaped.nodes.map((n) => ({
      id: n.id,
      type: n.type,
      position: layout.result.positions[n.id] ?? { x: 0, y: 0 },
      // known sizes: the minimap and fitView need no measuring pass
      width: n.type === "group" ? GROUP_W : NODE_W,
      height: n.type === "group" ? GROUP_H : NODE_H,
      data: { ...n, onToggle: toggle },
      ariaLabel: undefined,
    }));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ready, shaped, layout]);
  const edges: Edge[] = useMemo(() => {
    if (!ready) return [];
    return shaped.edges.map((e) => ({
      id: e.id, source: e.source, target: e.target, className: e.kind,
      label: e.count > 1 ? String(e.count) : undefined,
      ariaLabel: `${e.source} to ${e.target}: ${e.kind === "both" ? "declared and observed" : e.kind + " only"}${e.count > 1 ? `, ${e.count} edges` : ""}`,
    }));
  }, [ready, shaped]);

  const keys = useMemo(() => (graph.data?.nodes ?? []).map((n) => n.key), [graph.data]);
  const [focusInput, setFocusInput] = useState(focus);
  useEffect(() => setFocusInput(focus), [focus]);

  return (
    <>
      <div className="lineage-bar">
        <form
          className="row" role="search" aria-label="Focus on an asset"
          onSubmit={(e) => {
            e.preventDefault();
            const p = new URLSearchParams(params);
            if (focusInput.trim()) p.set("focus", focusInput.trim());
            else p.delete("focus");
            p.delete("expand");
            setParams(p);
          }}
        >
          <input
            data-search list="lineage-keys" value={focusInput} onChange={(e) => setFocusInput(e.target.value)}
            placeholder="focus on an asset ( / )" aria-label="Asset to focus on" size={30}
          />
          <datalist id="lineage-keys">{keys.slice(0, 500).map((k) => <option key={k} value={k} />)}</datalist>
          <label className="row">
            depth
            <input
              type="number" min={0} max={20} value={depth} style={{ width: 60 }} aria-label="Levels up and down (0: all)"
              onChange={(e) => set("depth", e.target.value)}
            />
          </label>
          <button type="submit">Focus</button>
          {focus && <button type="button" onClick={() => setParams(new URLSearchParams())}>Whole graph</button>}
        </form>
        <label className="row">
          <input
            type="checkbox" checked={shaped?.collapsed ?? false} aria-label="Collapse into groups by key prefix"
            onChange={(e) => set("group", e.target.checked ? "1" : "0")}
          /> groups
        </label>
        {expanded.size > 0 && <button type="button" onClick={() => set("expand", undefined)}>Collapse all</button>}
        <span className="spacer" />
        <Legend />
        <span className="count" role="status" data-testid="graph-status">
          {shaped
            ? `${shaped.totalAssets.toLocaleString()} assets, ${shaped.totalEdges.toLocaleString()} edges` +
              (shaped.collapsed ? ` · ${shaped.nodes.length} boxes` : "") +
              (ready ? ` · layout ${Math.round(layout.result.ms)} ms (${layout.result.engine})` : " · laying out…")
            : "loading…"}
        </span>
      </div>
      <ErrorBox error={graph.error ?? layoutError} />
      {graph.data?.truncated && (
        <div className="error-box" role="status">
          The server sent the first {graph.data.nodes.length.toLocaleString()} of {graph.data.total_nodes?.toLocaleString()} assets
          (in key order; its cap on the whole graph): focus on an asset to see its lineage whole.
        </div>
      )}
      <div className="lineage-canvas" data-ready={ready ? "true" : "false"} aria-label="Lineage graph">
        {ready && (
          <Flow nodes={nodes} edges={edges} big={shaped.nodes.length > 300} fitKey={layout.key + focus} onOpen={(n) => n.type === "group" ? toggle(n.key) : undefined} />
        )}
        {!ready && !graph.error && <div className="overlay">Laying out the graph…</div>}
        {ready && shaped.nodes.length === 0 && <div className="overlay">No lineage yet.</div>}
      </div>
    </>
  );
}

function Flow({ nodes, edges, big, fitKey, onOpen }: { nodes: Node<NodeData>[]; edges: Edge[]; big: boolean; fitKey: string; onOpen: (n: NodeData) => void }) {
  const rf = useReactFlow();
  const colors = useMemo(stateColors, []);
  const navigate = useNavigate();
  useEffect(() => {
    const focusNode = nodes.find((n) => n.data.focus);
    // a focused asset is centred; otherwise the whole graph fits
    requestAnimationFrame(() => {
      if (focusNode && nodes.length > 60) rf.fitView({ nodes: [{ id: focusNode.id }], maxZoom: 1, duration: 0 });
      else rf.fitView({ padding: 0.1, duration: 0 });
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fitKey]);
  return (
    <ReactFlow<Node<NodeData>>
      nodes={nodes} edges={edges} nodeTypes={nodeTypes} fitView minZoom={0.02} maxZoom={2}
      colorMode={document.documentElement.dataset.theme === "dark" ? "dark" : "light"}
      nodesDraggable={false} nodesConnectable={false} elementsSelectable edgesFocusable={false}
      onlyRenderVisibleElements={big} proOptions={{ hideAttribution: true }}
      onNodeDoubleClick={(_, n) => (n.data.type === "asset" ? navigate(assetPath(n.data.key)) : onOpen(n.data))}
      onNodeClick={(_, n) => n.data.type === "group" && onOpen(n.data)}
      ariaLabelConfig={{ "node.a11yDescription.default": "Press Enter to open, Tab to move between assets." }}
    >
      <Background gap={24} size={1} />
      <Controls showInteractive={false} aria-label="Zoom controls" />
      <MiniMap pannable zoomable nodeColor={(n) => colors[(n.data as NodeData).state ?? "NONE"]} nodeStrokeWidth={0} ariaLabel="Minimap" />
    </ReactFlow>
  );
}

function Legend() {
  return (
    <span className="legend" aria-label="Legend">
      <span><span className="line" />declared + observed</span>
      <span><span className="line declared" />declared only</span>
      <span><span className="line observed" />observed only</span>
      <span><span className="state FAIL" style={{ boxShadow: "0 0 0 2px var(--FAIL)" }}>root</span> root cause</span>
    </span>
  );
}
