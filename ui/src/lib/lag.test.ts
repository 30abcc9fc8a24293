import { describe, expect, it } from "vitest";
import { lagLimits, lagLine, lagSamples } from "./lag";
import type { AssetEvent } from "../types";

const iso = (s: number) => new Date(s * 1000).toISOString();
const change = (t: number, dataTime: number): AssetEvent =>
  ({ id: "c" + t, kind: "freshness_changed", asset: "m", time: iso(t), metadata: { state: "FAIL", data_time: iso(dataTime) } }) as AssetEvent;
const mat = (t: number, dataTime?: number): AssetEvent =>
  ({ id: "m" + t, kind: "materialization", asset: "m", time: iso(t), metadata: dataTime === undefined ? {} : { data_time: iso(dataTime) } }) as AssetEvent;
const T = 1_800_000_000;

describe("lagSamples", () => {
  it("takes state changes, materializations of an asset without upstream, and now", () => {
    const got = lagSamples([change(T + 50, T)], [mat(T), mat(T + 100, T + 90)], { key: "m", state: "PASS", data_time: iso(T + 90) }, false, T + 120);
    expect(got).toEqual([
      { t: T, dataTime: T },
      { t: T + 50, dataTime: T },
      { t: T + 100, dataTime: T + 90 },
      { t: T + 120, dataTime: T + 90 },
    ]);
  });
  it("ignores materializations of a derived asset: their data time is their upstream's", () => {
    const got = lagSamples([], [mat(T)], { key: "m", state: "PASS", data_time: iso(T - 600) }, true, T + 60);
    expect(got).toEqual([{ t: T + 60, dataTime: T - 600 }]);
  });
  it("has nothing to plot without data times", () => {
    expect(lagSamples([{ ...change(T, T), metadata: { state: "UNKNOWN" } } as AssetEvent], [], { key: "m", state: "UNKNOWN" }, true, T)).toEqual([]);
  });
});

describe("lagLine", () => {
  it("grows between samples and drops at a newer data time", () => {
    const { xs, ys } = lagLine([{ t: 0, dataTime: 0 }, { t: 100, dataTime: 100 }, { t: 150, dataTime: 100 }]);
    expect(xs).toEqual([0, 100, 100.001, 150]);
    expect(ys).toEqual([0, 100, 0, 50]);
  });
  it("never lets an older data time raise the lag", () => {
    const { ys } = lagLine([{ t: 0, dataTime: 0 }, { t: 10, dataTime: -50 }]);
    expect(ys).toEqual([0, 10]);
  });
  it("is empty without samples", () => {
    expect(lagLine([])).toEqual({ xs: [], ys: [] });
  });
});

describe("lagLimits", () => {
  it.each([
    [{ max_lag: "1h", warn_after: "30m" }, [["warn after 30m", 1800, "WARN"], ["max lag 1h", 3600, "FAIL"]]],
    [{ max_lag: "2h" }, [["max lag 2h", 7200, "FAIL"]]],
    [{ cron: "0 6 * * *", max_lag: "1h" }, []],
    [undefined, []],
  ])("%j", (p, want) => {
    expect(lagLimits(p).map((l) => [l.label, l.seconds, l.state])).toEqual(want);
  });
});
