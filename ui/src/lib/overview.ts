// The zoomed-out lineage graph on one canvas. Below a zoom where names are
// unreadable, thousands of DOM nodes and SVG edges cost the browser
// seconds of style and layout for nothing a person can read; a canvas
// draws the same boxes and curves in milliseconds. Boxes are batched by
// colour and edges by kind, so a frame is a handful of fills and strokes
// whatever the graph's size; what lies outside the view is skipped.
import type { EdgeKind } from "./graph";

export interface Box {
  id: string;
  key: string;
  x: number;
  y: number;
  w: number;
  h: number;
  state?: string;
  rootCause: boolean;
  focus: boolean;
  group: boolean;
}

export interface Line {
  source: string;
  target: string;
  kind: EdgeKind;
}

/** Viewport is React Flow's transform: screen = flow * zoom + (x, y). */
export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface Colors {
  states: Record<string, string>; // PASS, WARN, ..., NONE
  edge: Record<EdgeKind, string>;
  accent: string;
  panel: string;
}

/** The part of the canvas API the overview draws with. */
export interface Ctx {
  setTransform(a: number, b: number, c: number, d: number, e: number, f: number): void;
  clearRect(x: number, y: number, w: number, h: number): void;
  beginPath(): void;
  moveTo(x: number, y: number): void;
  bezierCurveTo(a: number, b: number, c: number, d: number, e: number, f: number): void;
  rect(x: number, y: number, w: number, h: number): void;
  stroke(): void;
  fill(): void;
  setLineDash(d: number[]): void;
  fillStyle: string | CanvasGradient | CanvasPattern;
  strokeStyle: string | CanvasGradient | CanvasPattern;
  lineWidth: number;
  globalAlpha: number;
}

export interface DrawStats {
  boxes: number;
  edges: number;
}

const dashes: Record<EdgeKind, number[]> = { both: [], declared: [6, 4], observed: [2, 4] };

/** draw paints boxes and lines as seen through vp on a width x height (CSS px) canvas. */
export function draw(ctx: Ctx, boxes: Box[], byId: Map<string, Box>, lines: Line[], vp: Viewport, width: number, height: number, dpr: number, colors: Colors): DrawStats {
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, width * dpr, height * dpr);
  ctx.setTransform(dpr * vp.zoom, 0, 0, dpr * vp.zoom, dpr * vp.x, dpr * vp.y);
  // the view in flow coordinates, with a margin so curves entering it are kept
  const x0 = -vp.x / vp.zoom, y0 = -vp.y / vp.zoom;
  const x1 = x0 + width / vp.zoom, y1 = y0 + height / vp.zoom;
  const inView = (b: Box) => b.x + b.w >= x0 && b.x <= x1 && b.y + b.h >= y0 && b.y <= y1;
  const stats: DrawStats = { boxes: 0, edges: 0 };

  ctx.lineWidth = Math.max(1 / vp.zoom, 0.5);
  ctx.globalAlpha = 0.55;
  for (const kind of ["both", "declared", "observed"] as EdgeKind[]) {
    ctx.beginPath();
    let any = false;
    for (const l of lines) {
      if (l.kind !== kind) continue;
      const s = byId.get(l.source), t = byId.get(l.target);
      if (!s || !t) continue;
      const sx = s.x + s.w, sy = s.y + s.h / 2, tx = t.x, ty = t.y + t.h / 2;
      // skip curves whose bounding box misses the view
      if (Math.max(sx, tx) < x0 || Math.min(sx, tx) > x1 || Math.max(sy, ty) < y0 || Math.min(sy, ty) > y1) continue;
      const dx = Math.max(20, Math.abs(tx - sx) / 2);
      ctx.moveTo(sx, sy);
      ctx.bezierCurveTo(sx + dx, sy, tx - dx, ty, tx, ty);
      any = true;
      stats.edges++;
    }
    if (!any) continue;
    ctx.strokeStyle = colors.edge[kind];
    ctx.setLineDash(dashes[kind].map((d) => d / vp.zoom));
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.globalAlpha = 1;

  // boxes batched by fill colour
  const byColor = new Map<string, Box[]>();
  for (const b of boxes) {
    if (!inView(b)) continue;
    const c = colors.states[b.state ?? "NONE"] ?? colors.states.NONE;
    let list = byColor.get(c);
    if (!list) byColor.set(c, (list = []));
    list.push(b);
    stats.boxes++;
  }
  for (const [color, list] of byColor) {
    ctx.fillStyle = color;
    ctx.beginPath();
    for (const b of list) ctx.rect(b.x, b.y, b.w, b.h);
    ctx.fill();
  }
  // rings: root causes, then the focused asset
  const ring = (pick: (b: Box) => boolean, color: string, px: number) => {
    ctx.beginPath();
    let any = false;
    for (const b of boxes) {
      if (!pick(b) || !inView(b)) continue;
      const m = px / vp.zoom;
      ctx.rect(b.x - m, b.y - m, b.w + 2 * m, b.h + 2 * m);
      any = true;
    }
    if (!any) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = (px * 1.5) / vp.zoom;
    ctx.stroke();
  };
  ring((b) => b.rootCause, colors.states.FAIL, 2);
  ring((b) => b.focus, colors.accent, 3);
  return stats;
}

/** hit is the box under the flow point (x, y), the top-most one drawn last. */
export function hit(boxes: Box[], x: number, y: number): Box | undefined {
  for (let i = boxes.length - 1; i >= 0; i--) {
    const b = boxes[i];
    if (x >= b.x && x <= b.x + b.w && y >= b.y && y <= b.y + b.h) return b;
  }
  return undefined;
}

/** fitViewport shows bounds whole in a width x height pane, within the zoom limits. */
export function fitViewport(boxes: Box[], width: number, height: number, minZoom: number, maxZoom: number, padding = 0.1): Viewport {
  if (!boxes.length || width <= 0 || height <= 0) return { x: 0, y: 0, zoom: 1 };
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const b of boxes) {
    minX = Math.min(minX, b.x);
    minY = Math.min(minY, b.y);
    maxX = Math.max(maxX, b.x + b.w);
    maxY = Math.max(maxY, b.y + b.h);
  }
  const w = maxX - minX, h = maxY - minY;
  const zoom = Math.min(maxZoom, Math.max(minZoom, Math.min(width / (w * (1 + padding)), height / (h * (1 + padding)))));
  return { x: width / 2 - (minX + w / 2) * zoom, y: height / 2 - (minY + h / 2) * zoom, zoom };
}
