// Graph layout off the main thread: ELK's layered algorithm (elkjs), or the
// simple longest-path layers for inputs too big for ELK to finish quickly.
import ELK from "elkjs/lib/elk.bundled.js";
import { layerLayout, type LayoutInput, type LayoutResult } from "./lib/graph";

const elk = new ELK();

/** Above this many nodes ELK takes seconds; the layers are instant. */
const ELK_MAX_NODES = 1500;

async function layout(input: LayoutInput): Promise<LayoutResult> {
  const t0 = performance.now();
  if (input.nodes.length > ELK_MAX_NODES) {
    return { positions: layerLayout(input), ms: performance.now() - t0, engine: "layers" };
  }
  // ELK's cost grows with edges: big inputs get the fast settings
  const big = input.nodes.length + input.edges.length > 400;
  const res = await elk.layout({
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

self.onmessage = async (ev: MessageEvent<{ id: number; input: LayoutInput }>) => {
  const { id, input } = ev.data;
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
};
