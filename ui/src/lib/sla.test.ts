import { describe, expect, it } from "vitest";
import { describePolicy, emptyForm, fieldOf, formFromPolicy, policyFromForm, validate } from "./sla";

describe("policy <-> form", () => {
  it("reads a max-lag policy and a cron policy", () => {
    expect(formFromPolicy({ max_lag: "2h", warn_after: "90m" })).toMatchObject({ mode: "lag", max_lag: "2h", warn_after: "90m" });
    expect(formFromPolicy({ cron: "0 7 * * *", timezone: "Europe/Paris", max_lag: "8h" }).mode).toBe("cron");
    expect(formFromPolicy(undefined)).toEqual(emptyForm);
  });
  it("sends only the set fields of the chosen mode, trimmed", () => {
    expect(policyFromForm({ ...emptyForm, max_lag: " 2h ", cron: "0 7 * * *", timezone: "UTC" })).toEqual({ max_lag: "2h" });
    expect(policyFromForm({ ...emptyForm, mode: "cron", cron: "0 7 * * *", timezone: "Europe/Paris", grace: "1h" })).toEqual({
      cron: "0 7 * * *", timezone: "Europe/Paris", grace: "1h",
    });
  });
});

describe("validate", () => {
  it("accepts good policies", () => {
    expect(validate({ ...emptyForm, max_lag: "2h", warn_after: "90m" })).toEqual({});
    expect(validate({ ...emptyForm, max_lag: "1d12h", grace: "3h" })).toEqual({});
    expect(validate({ ...emptyForm, mode: "cron", cron: "0 7 * * 1-5", timezone: "Europe/Paris" })).toEqual({});
    expect(validate({ ...emptyForm, mode: "cron", cron: "*/15 * * * *", max_lag: "8h" })).toEqual({});
  });
  it("requires max_lag without a cron", () => {
    expect(validate(emptyForm).max_lag).toMatch(/required/);
  });
  it("names bad durations on their field", () => {
    const e = validate({ ...emptyForm, max_lag: "bogus", warn_after: "2", grace: "1w" });
    expect(Object.keys(e).sort()).toEqual(["grace", "max_lag", "warn_after"]);
    expect(e.max_lag).toMatch(/not a duration/);
  });
  it("wants durations of at least a second, as the server does", () => {
    expect(validate({ ...emptyForm, max_lag: "500ms" }).max_lag).toMatch(/at least 1s/);
    expect(validate({ ...emptyForm, max_lag: "0s" }).max_lag).toMatch(/at least 1s/);
    expect(validate({ ...emptyForm, max_lag: "1s" })).toEqual({});
  });
  it("wants warn_after under max_lag", () => {
    expect(validate({ ...emptyForm, max_lag: "1h", warn_after: "2h" }).warn_after).toMatch(/less than max_lag/);
    expect(validate({ ...emptyForm, max_lag: "1h", warn_after: "60m" }).warn_after).toMatch(/less than/);
  });
  it("checks cron fields, time zone and the 1m floor", () => {
    expect(validate({ ...emptyForm, mode: "cron" }).cron).toMatch(/required/);
    expect(validate({ ...emptyForm, mode: "cron", cron: "0 7 * *" }).cron).toMatch(/5 fields.*found 4/);
    expect(validate({ ...emptyForm, mode: "cron", cron: "0 7 * * $" }).cron).toBeDefined();
    expect(validate({ ...emptyForm, mode: "cron", cron: "0 7 * * *", timezone: "Mars/Olympus" }).timezone).toMatch(/unknown time zone/);
    expect(validate({ ...emptyForm, mode: "cron", cron: "0 7 * * *", max_lag: "30s" }).max_lag).toMatch(/at least 1m/);
  });
});

describe("server errors", () => {
  it("go next to the field the API names", () => {
    expect(fieldOf("max_lag")).toBe("max_lag");
    expect(fieldOf("timezone")).toBe("timezone");
    expect(fieldOf("policy.cron")).toBe("cron");
    expect(fieldOf("actor")).toBe("form");
    expect(fieldOf(undefined)).toBe("form");
  });
});

describe("describePolicy", () => {
  it("writes one line", () => {
    expect(describePolicy({ cron: "0 7 * * *", timezone: "Europe/Paris", max_lag: "8h" })).toBe('by cron "0 7 * * *" Europe/Paris, max lag 8h');
    expect(describePolicy(undefined)).toBe("no SLA");
  });
});
