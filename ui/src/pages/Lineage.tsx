// The lineage graph: the whole graph, or one asset with N levels up and
// down (?focus=KEY&depth=N). Nodes are coloured by freshness, root causes
// ringed, declared / observed edges drawn differently; big graphs are
// collapsed into groups by key prefix (click a group to expand it). The
// layout runs in a Web Worker (ELK), so the page stays responsive.
import { memo, useEffect, useMemo, useRef, useState, type RefObject } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import {
  Background, Controls, Handle, MiniMap, Position, ReactFlow, ReactFlowProvider, useReactFlow, useStore,
  type Edge, type Node, type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { api } from "../api";
import { useFreshness } from "../hooks";
import { layoutGraph, warmLayout } from "../layout";
import { GROUP_H, GROUP_W, layoutInput, NODE_H, NODE_W, shapeGraph, type LayoutResult, type Shaped, type ShapedNode } from "../lib/graph";
import { assetPath, ErrorBox } from "../components/common";
import { draw, fitViewport, hit, type Box, type Colors as OverviewColors, type Line } from "../lib/overview";

/**
 * Above this many assets the graph starts collapsed into groups: the
 * overview canvas draws more at once, but panning 30,000 edges is slow.
 */
const MAX_NODES = 3000;

// the worker starts (and loads ELK) while the page fetches the graph
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
  const canvasBox = useRef<HTMLDivElement>(null);
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
      <div className="lineage-canvas" ref={canvasBox} data-ready={ready ? "true" : "false"} aria-label="Lineage graph">
        {ready && (
          <Flow nodes={nodes} edges={edges} big={shaped.nodes.length > 300} fitKey={layout.key + focus} container={canvasBox} onOpen={(n) => n.type === "group" ? toggle(n.key) : undefined} />
        )}
        {!ready && !graph.error && <div className="overlay">Laying out the graph…</div>}
        {ready && shaped.nodes.length === 0 && <div className="overlay">No lineage yet.</div>}
      </div>
    </>
  );
}

// Below this zoom names are unreadable: a graph bigger than OVERVIEW_MIN
// is drawn on one canvas (lib/overview.ts) instead of as DOM nodes.
const OVERVIEW_ZOOM = 0.45;
const OVERVIEW_MIN = 250;

function Flow({ nodes, edges, big, fitKey, onOpen, container }: {
  nodes: Node<NodeData>[]; edges: Edge[]; big: boolean; fitKey: string; onOpen: (n: NodeData) => void; container: RefObject<HTMLDivElement | null>;
}) {
  const rf = useReactFlow();
  // read again when the theme changes (App re-renders the page then)
  const theme = document.documentElement.dataset.theme ?? "light";
  const colors = useMemo(stateColors, [theme]);
  const navigate = useNavigate();
  const boxes = useMemo(() => nodes.map(toBox), [nodes]);
  // The first view is computed before the first render, from the pane's
  // size: a big graph then starts as the overview and never renders its
  // thousands of DOM nodes (nor React Flow's fitView pass) at all.
  const startView = () => {
    const el = container.current;
    const w = el?.clientWidth ?? 1200, h = el?.clientHeight ?? 800;
    const focusNode = nodes.find((n) => n.data.focus);
    // a focused asset is centred; otherwise the whole graph fits
    if (focusNode && nodes.length > 60) {
      return { x: w / 2 - (focusNode.position.x + NODE_W / 2), y: h / 2 - (focusNode.position.y + NODE_H / 2), zoom: 1 };
    }
    return fitViewport(boxes, w, h, MIN_ZOOM, 1.5);
  };
  const [initial] = useState(startView);
  // Whether names are readable, from our own view state rather than React
  // Flow's store: on the first render the store does not have the initial
  // view yet, and rendering 2,000 DOM nodes for one frame is the cost this
  // avoids. Set only when it flips, so panning does not re-render.
  const [zoomedOut, setZoomedOut] = useState(initial.zoom < OVERVIEW_ZOOM);
  const overview = nodes.length > OVERVIEW_MIN && zoomedOut;
  const firstFit = useRef(fitKey);
  useEffect(() => {
    if (firstFit.current === fitKey) return; // the initial view did it
    firstFit.current = fitKey;
    const v = startView();
    setZoomedOut(v.zoom < OVERVIEW_ZOOM);
    rf.setViewport(v, { duration: 0 });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [fitKey]);
  // in the overview React Flow keeps the nodes (for the viewport's bounds) but draws none
  const shownNodes = useMemo(() => (overview ? nodes.map((n) => ({ ...n, hidden: true })) : nodes), [overview, nodes]);
  const open = (b: Box | undefined) => {
    if (!b) return;
    if (b.group) onOpen(nodes.find((n) => n.id === b.id)!.data);
    else navigate(assetPath(b.key));
  };
  const [hover, setHover] = useState<{ box: Box; x: number; y: number } | null>(null);
  return (
    <ReactFlow<Node<NodeData>>
      nodes={shownNodes} edges={overview ? noEdges : edges} nodeTypes={nodeTypes} minZoom={MIN_ZOOM} maxZoom={2} defaultViewport={initial}
      colorMode={document.documentElement.dataset.theme === "dark" ? "dark" : "light"}
      nodesDraggable={false} nodesConnectable={false} elementsSelectable edgesFocusable={false}
      onlyRenderVisibleElements={big} proOptions={{ hideAttribution: true }}
      onNodeDoubleClick={(_, n) => (n.data.type === "asset" ? navigate(assetPath(n.data.key)) : onOpen(n.data))}
      onNodeClick={(_, n) => n.data.type === "group" && onOpen(n.data)}
      onPaneClick={(e) => {
        if (!overview) return;
        const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
        open(hit(boxes, p.x, p.y));
      }}
      onPaneMouseMove={(e) => {
        if (!overview) return hover && setHover(null);
        const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
        const b = hit(boxes, p.x, p.y);
        const r = (e.currentTarget as HTMLElement).getBoundingClientRect();
        setHover(b ? { box: b, x: e.clientX - r.left, y: e.clientY - r.top } : null);
      }}
      onPaneMouseLeave={() => setHover(null)}
      onMove={(_, vp) => setZoomedOut(vp.zoom < OVERVIEW_ZOOM)}
      ariaLabelConfig={{ "node.a11yDescription.default": "Press Enter to open, Tab to move between assets." }}
    >
      <Background gap={24} size={1} />
      {overview && <Overview boxes={boxes} edges={edges} colors={colors} />}
      {overview && hover && (
        <div className="overview-tip" style={{ left: hover.x + 12, top: hover.y + 12 }} role="tooltip">
          {hover.box.key}{hover.box.group ? "/…" : ""} · {hover.box.state ? hover.box.state.replace("_", " ") : "no SLA"}{hover.box.rootCause ? " · root cause" : ""}
        </div>
      )}
      <Controls showInteractive={false} aria-label="Zoom controls" fitViewOptions={{ includeHiddenNodes: true, padding: 0.1 }} />
      {!overview && <MiniMap pannable zoomable nodeColor={(n) => colors[(n.data as NodeData).state ?? "NONE"]} nodeStrokeWidth={0} ariaLabel="Minimap" />}
    </ReactFlow>
  );
}

const MIN_ZOOM = 0.02;
const noEdges: Edge[] = [];

function toBox(n: Node<NodeData>): Box {
  const group = n.data.type === "group";
  return {
    id: n.id, key: n.data.key, x: n.position.x, y: n.position.y, w: group ? GROUP_W : NODE_W, h: group ? GROUP_H : NODE_H,
    state: n.data.state, rootCause: n.data.rootCause, focus: n.data.focus, group,
  };
}

/** Overview draws the zoomed-out graph on a canvas under React Flow's pane, redrawn as it pans and zooms. */
function Overview({ boxes, edges, colors }: { boxes: Box[]; edges: Edge[]; colors: Record<string, string> }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [x, y, zoom] = useStore((s) => s.transform);
  const width = useStore((s) => s.width);
  const height = useStore((s) => s.height);
  const byId = useMemo(() => new Map(boxes.map((b) => [b.id, b])), [boxes]);
  const lines = useMemo(() => edges.map((e) => ({ source: e.source, target: e.target, kind: (e.className ?? "both") as Line["kind"] })), [edges]);
  const palette = useMemo((): OverviewColors => {
    const css = getComputedStyle(document.documentElement);
    const v = (name: string, dflt: string) => css.getPropertyValue(name).trim() || dflt;
    return {
      states: colors, accent: v("--accent", "#0e7490"), panel: v("--panel", "#fff"),
      edge: { both: v("--edge-both", "#64748b"), declared: v("--edge-declared", "#888"), observed: v("--edge-observed", "#888") },
    };
  }, [colors]);
  useEffect(() => {
    const c = ref.current;
    const ctx = c?.getContext("2d");
    if (!c || !ctx || !width || !height) return;
    const frame = requestAnimationFrame(() => {
      const dpr = window.devicePixelRatio || 1;
      if (c.width !== Math.round(width * dpr) || c.height !== Math.round(height * dpr)) {
        c.width = Math.round(width * dpr);
        c.height = Math.round(height * dpr);
      }
      const stats = draw(ctx, boxes, byId, lines, { x, y, zoom }, width, height, dpr, palette);
      c.dataset.boxes = String(stats.boxes);
      c.dataset.drawn = "true";
      performance.mark("freshet:overview-drawn");
    });
    return () => cancelAnimationFrame(frame);
  }, [x, y, zoom, width, height, boxes, byId, lines, palette]);
  return (
    <canvas
      ref={ref} className="overview" style={{ width, height }} data-testid="overview"
      role="img" aria-label={`Overview of ${boxes.length.toLocaleString()} boxes coloured by freshness; zoom in to read names and use the keyboard, or focus on an asset`}
    />
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
