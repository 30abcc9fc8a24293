import { describe, expect, it } from "vitest";
import { mergeLines, numericSeries } from "./series";
import type { AssetEvent, RunLogLine } from "../types";

const mat = (time: string, metadata: Record<string, unknown>, kind = "materialization"): AssetEvent => ({ id: time, kind, asset: "a", time, metadata });

describe("numericSeries", () => {
  it("makes one series per numeric key, oldest first, row_count first", () => {
    const s = numericSeries([
      mat("2026-12-01T02:00:00Z", { row_count: 20, duration_s: 3.5, uri: "s3://x" }),
      mat("2026-12-01T01:00:00Z", { row_count: 10, duration_s: "2.5" }),
      mat("2026-12-01T03:00:00Z", { error: "boom" }, "materialization_failed"),
      mat("2026-12-01T03:30:00Z", { row_count: 15 }, "observation"),
    ]);
    expect(s.map((x) => x.name)).toEqual(["row_count", "duration_s"]);
    expect(s[0].ys).toEqual([10, 20]);
    expect(s[0].xs[0]).toBe(Date.parse("2026-12-01T01:00:00Z") / 1000);
    expect(s[1].ys).toEqual([2.5, 3.5]);
  });
  it("drops keys with fewer points than asked", () => {
    expect(numericSeries([mat("2026-12-01T01:00:00Z", { n: 1 })])).toEqual([]);
    expect(numericSeries([mat("2026-12-01T01:00:00Z", { n: 1 })], 1)).toHaveLength(1);
  });
});

describe("mergeLines", () => {
  const line = (seq: number): RunLogLine => ({ seq, stream: "stdout", time: "", text: "l" + seq });
  it("appends new lines and ignores resent ones", () => {
    const a = mergeLines([], [line(1), line(2)]);
    const b = mergeLines(a, [line(2), line(3)]);
    expect(b.map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(mergeLines(b, [])).toBe(b);
    expect(mergeLines(b, [line(5), line(4)]).map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
  });
});
