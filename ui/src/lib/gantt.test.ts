import { describe, expect, it } from "vitest";
import { gantt, tickLabel, ticks } from "./gantt";

const t = (s: number) => new Date(Date.UTC(2026, 11, 1, 12, 0, 0) + s * 1000).toISOString();
const T0 = Date.parse(t(0));

describe("gantt", () => {
  it("places steps from the earliest start, running ones up to now, unstarted ones last", () => {
    const c = gantt([
      { asset: "b", status: "STARTED", started: t(5) },
      { asset: "skipped", status: "SKIPPED" },
      { asset: "a", status: "SUCCESS", started: t(0), ended: t(4) },
    ], T0 + 9000);
    expect(c.origin).toBe(T0);
    expect(c.span).toBe(9000);
    expect(c.rows).toEqual([
      { asset: "a", status: "SUCCESS", start: 0, end: 4000, running: false },
      { asset: "b", status: "STARTED", start: 5000, end: 9000, running: true },
      { asset: "skipped", status: "SKIPPED", running: false },
    ]);
  });
  it("uses the run's start as the origin when it is earlier", () => {
    const c = gantt([{ asset: "a", status: "SUCCESS", started: t(2), ended: t(3) }], T0 + 60_000, t(0));
    expect(c.rows[0]).toMatchObject({ start: 2000, end: 3000 });
    expect(c.span).toBe(3000);
  });
  it("has an axis even when nothing started", () => {
    const c = gantt([{ asset: "a", status: "QUEUED" }], T0);
    expect(c.span).toBe(1);
    expect(c.rows[0].start).toBeUndefined();
  });
  it("keeps a bar whose clock went backwards at zero width", () => {
    const c = gantt([{ asset: "a", status: "SUCCESS", started: t(5), ended: t(4) }], T0);
    expect(c.rows[0]).toMatchObject({ start: 0, end: 0 });
  });
});

describe("ticks", () => {
  it.each([
    [9000, [0, 2000, 4000, 6000, 8000]],
    [45 * 60_000, [0, 600_000, 1_200_000, 1_800_000, 2_400_000]],
    [3, [0, 1, 2, 3]],
  ])("span %d", (span, want) => {
    expect(ticks(span)).toEqual(want);
  });
  it.each([
    [0, "0"], [500, "500ms"], [1500, "1.5s"], [90_000, "1m30s"], [120_000, "2m"], [5_400_000, "1h30m"], [7_200_000, "2h"],
  ])("label %d is %s", (ms, want) => {
    expect(tickLabel(ms)).toBe(want);
  });
});
