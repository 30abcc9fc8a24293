// Graph layout off the main thread: ELK's layered algorithm (elkjs), or the
// simple longest-path layers for inputs too big for ELK to finish quickly.
import type { ELK as Elk } from "elkjs/lib/elk-api";
import { layerLayout, type LayoutInput, type LayoutResult } from "./lib/graph";

// ELK is 1.4 MB of JavaScript: loaded on the first graph small enough to
// use it, so that a big graph's layers need not wait for its parsing.
let elk: Promise<Elk> | undefined;
const loadElk = () => (elk ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default()));

/**
 * Above this many nodes ELK takes seconds (a 500-deep chain: 2 s); the
 * layers take milliseconds, and a graph that big starts zoomed out as the
 * overview, where the finer placement does not show.
 */
const ELK_MAX_NODES = 400;

async function layout(input: LayoutInput): Promise<LayoutResult> {
  const t0 = performance.now();
  if (input.nodes.length > ELK_MAX_NODES) {
    return { positions: layerLayout(input), ms: performance.now() - t0, engine: "layers" };
  }
  // ELK's cost grows with edges: big inputs get the fast settings
  const big = input.nodes.length + input.edges.length > 400;
  const res = await (await loadElk()).layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.spacing.nodeNode": "18",
      "elk.layered.spacing.nodeNodeBetweenLayers": "70",
      "elk.layered.nodePlacement.strategy": big ? "LINEAR_SEGMENTS" : "BRANDES_KOEPF",
      "elk.layered.thoroughness": big ? "1" : "7",
      "elk.layered.crossingMinimization.greedySwitch.type": big ? "OFF" : "TWO_SIDED",
      "elk.separateConnectedComponents": "true",
    },
    children: input.nodes.map((n) => ({ id: n.id, width: n.width, height: n.height })),
    edges: input.edges.map((e) => ({ id: e.id, sources: [e.source], targets: [e.target] })),
  });
  const positions: LayoutResult["positions"] = {};
  for (const c of res.children ?? []) positions[c.id] = { x: c.x ?? 0, y: c.y ?? 0 };
  return { positions, ms: performance.now() - t0, engine: "elk" };
}

async function handle(ev: MessageEvent<{ id: number; input?: LayoutInput; warm?: boolean }>) {
  const { id, input, warm } = ev.data;
  if (warm || !input) {
    // the page is fetching its graph: load ELK meanwhile
    loadElk().catch(() => {});
    return;
  }
  try {
    const result = await layout(input);
    self.postMessage({ id, result });
  } catch (err) {
    // ELK refused the graph: fall back to the layers rather than show nothing
    try {
      const t0 = performance.now();
      self.postMessage({ id, result: { positions: layerLayout(input), ms: performance.now() - t0, engine: "layers" } });
    } catch {
      self.postMessage({ id, error: String(err) });
    }
  }
}

// Loaded inside a worker, elk.bundled.js makes itself the worker's message
// handler (self.onmessage = its dispatcher) and would answer the page in
// its own protocol, or swallow requests. Ours listens with
// addEventListener, and assignments to self.onmessage go nowhere.
Object.defineProperty(self, "onmessage", { configurable: true, get: () => null, set: () => {} });
self.addEventListener("message", handle);
