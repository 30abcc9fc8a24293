import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, relativeTime, absoluteTime } from "./time";

const now = Date.parse("2026-12-01T12:00:00Z");

describe("relativeTime", () => {
  it.each([
    ["2026-12-01T11:59:58Z", "just now"],
    ["2026-12-01T11:59:30Z", "30 s ago"],
    ["2026-12-01T11:55:00Z", "5 min ago"],
    ["2026-12-01T09:00:00Z", "3 h ago"],
    ["2026-11-29T12:00:00Z", "2 d ago"],
    ["2026-12-01T14:00:00Z", "in 2 h"],
    ["2025-11-01T12:00:00Z", "1 y ago"],
  ])("%s is %s", (t, want) => {
    expect(relativeTime(t, now)).toBe(want);
  });
  it("says never for no time and a dash for garbage", () => {
    expect(relativeTime(undefined, now)).toBe("never");
    expect(relativeTime("not a time", now)).toBe("—");
  });
});

describe("absoluteTime", () => {
  it("renders in the given zone with the zone name", () => {
    const s = absoluteTime("2026-12-01T12:00:00Z", "UTC");
    expect(s).toMatch(/2026/);
    expect(s).toMatch(/12:00:00/);
    expect(s).toMatch(/UTC/);
  });
  it("passes through what it cannot parse", () => {
    expect(absoluteTime("soon")).toBe("soon");
  });
});

describe("formatDuration", () => {
  it.each([
    [0, "0s"],
    [0.25, "250ms"],
    [42, "42s"],
    [90, "1m 30s"],
    [3600, "1h"],
    [5400, "1h 30m"],
    [90061, "1d 1h"],
    [181826.2, "2d 2h"],
    [-120, "-2m"],
    [undefined, "—"],
  ])("%s s is %s", (s, want) => {
    expect(formatDuration(s as number | undefined)).toBe(want);
  });
});

describe("parseDuration", () => {
  it.each([
    ["2h", 7200],
    ["1d12h", 129600],
    ["90m", 5400],
    ["1h30m", 5400],
    ["45s", 45],
    ["1.5h", 5400],
    [" 3m ", 180],
    ["500ms", 0.5],
  ])("%s is %s s", (t, want) => {
    expect(parseDuration(t)).toBeCloseTo(want);
  });
  it.each(["", "2", "h", "2x", "2h x", "-1h", "1w"])("%j is not a duration", (t) => {
    expect(parseDuration(t)).toBeUndefined();
  });
});
