import { describe, expect, it } from "vitest";
import { draw, fitViewport, hit, type Box, type Colors, type Ctx, type Line } from "./overview";

function box(id: string, x: number, y: number, extra: Partial<Box> = {}): Box {
  return { id, key: id, x, y, w: 220, h: 44, rootCause: false, focus: false, group: false, ...extra };
}

/** a Ctx that records what is drawn */
function recorder() {
  const calls: string[] = [];
  let rects = 0, curves = 0;
  const ctx: Ctx & { calls: string[]; rects: () => number; curves: () => number } = {
    calls, rects: () => rects, curves: () => curves,
    fillStyle: "", strokeStyle: "", lineWidth: 1, globalAlpha: 1,
    setTransform: () => {}, clearRect: () => calls.push("clear"), beginPath: () => {}, moveTo: () => {},
    bezierCurveTo: () => void curves++, rect: () => void rects++,
    stroke: () => calls.push("stroke " + ctx.strokeStyle), fill: () => calls.push("fill " + ctx.fillStyle),
    setLineDash: () => {},
  };
  return ctx;
}

const colors: Colors = {
  states: { PASS: "green", WARN: "amber", AT_RISK: "orange", FAIL: "red", UNKNOWN: "grey", NONE: "white" },
  edge: { both: "e-both", declared: "e-declared", observed: "e-observed" },
  accent: "blue", panel: "white",
};

describe("draw", () => {
  const boxes = [
    box("a", 0, 0, { state: "PASS" }), box("b", 300, 0, { state: "FAIL", rootCause: true }),
    box("c", 300, 100, { state: "PASS" }), box("far", 100_000, 0),
  ];
  const byId = new Map(boxes.map((b) => [b.id, b]));
  const lines: Line[] = [
    { source: "a", target: "b", kind: "both" }, { source: "a", target: "c", kind: "observed" },
    { source: "b", target: "far", kind: "declared" }, { source: "x", target: "a", kind: "both" },
  ];
  it("batches boxes by colour and edges by kind, and skips what is out of view", () => {
    const ctx = recorder();
    const stats = draw(ctx, boxes, byId, lines, { x: 0, y: 0, zoom: 1 }, 1000, 600, 1, colors);
    expect(stats).toEqual({ boxes: 3, edges: 3 }); // "far" is out of view; its edge still crosses the view
    expect(ctx.calls).toEqual(["clear", "stroke e-both", "stroke e-declared", "stroke e-observed", "fill green", "fill red", "stroke red"]);
  });
  it("draws nothing but the clear outside the graph", () => {
    const ctx = recorder();
    const stats = draw(ctx, boxes, byId, lines, { x: -50_000, y: -50_000, zoom: 1 }, 1000, 600, 1, colors);
    expect(stats).toEqual({ boxes: 0, edges: 0 });
    expect(ctx.calls).toEqual(["clear"]);
  });
  it("rings the focused asset in the accent colour", () => {
    const ctx = recorder();
    draw(ctx, [box("f", 0, 0, { focus: true })], new Map(), [], { x: 0, y: 0, zoom: 0.5 }, 500, 500, 2, colors);
    expect(ctx.calls).toEqual(["clear", "fill white", "stroke blue"]);
  });
});

describe("hit", () => {
  const boxes = [box("a", 0, 0), box("b", 100, 20)];
  it.each([
    [10, 10, "a"], [150, 30, "b"], [219, 43, "b"], [500, 500, undefined], [-1, 0, undefined],
  ])("(%d, %d) is %s", (x, y, want) => {
    expect(hit(boxes, x, y)?.id).toBe(want);
  });
});

describe("fitViewport", () => {
  it("centres the bounds at the zoom that fits them", () => {
    const v = fitViewport([box("a", 0, 0), box("b", 1980, 956)], 1100, 500, 0.02, 1.5, 0);
    expect(v.zoom).toBeCloseTo(0.5);
    expect(v.x).toBeCloseTo(550 - 1100 * 0.5);
    expect(v.y).toBeCloseTo(250 - 500 * 0.5);
  });
  it("keeps to the zoom limits", () => {
    expect(fitViewport([box("a", 0, 0)], 2000, 2000, 0.02, 1.5).zoom).toBe(1.5);
    expect(fitViewport([box("a", 0, 0), box("b", 1e7, 0)], 1000, 1000, 0.02, 1.5).zoom).toBe(0.02);
  });
  it("has a default for nothing", () => {
    expect(fitViewport([], 100, 100, 0.02, 1.5)).toEqual({ x: 0, y: 0, zoom: 1 });
  });
});
