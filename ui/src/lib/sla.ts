// The SLA editor's form: from and to the API's policy, and the checks the
// page makes before a PUT. The server checks again and has the last word;
// its 400 names the field (error.field), which the form shows the message
// next to (fieldOf).
import type { Policy } from "../types";
import { parseDuration } from "./time";

export type Mode = "lag" | "cron";
export type Field = "max_lag" | "warn_after" | "cron" | "timezone" | "grace";
export const FIELDS: Field[] = ["max_lag", "warn_after", "cron", "timezone", "grace"];

export interface SlaForm {
  mode: Mode;
  max_lag: string;
  warn_after: string;
  cron: string;
  timezone: string;
  grace: string;
}

export type Errors = Partial<Record<Field | "form", string>>;

export const emptyForm: SlaForm = { mode: "lag", max_lag: "", warn_after: "", cron: "", timezone: "", grace: "" };

export function formFromPolicy(p: Policy | undefined): SlaForm {
  if (!p) return { ...emptyForm };
  return {
    mode: p.cron ? "cron" : "lag",
    max_lag: p.max_lag ?? "",
    warn_after: p.warn_after ?? "",
    cron: p.cron ?? "",
    timezone: p.timezone ?? "",
    grace: p.grace ?? "",
  };
}

/** policyFromForm is the PUT body: the mode's fields that are set, trimmed. */
export function policyFromForm(f: SlaForm): Policy {
  const p: Policy = {};
  const set = (k: Field) => {
    const v = f[k].trim();
    if (v) p[k] = v;
  };
  set("max_lag");
  set("warn_after");
  if (f.mode === "cron") {
    set("cron");
    set("timezone");
  }
  set("grace");
  return p;
}

const cronField = /^[0-9A-Za-z*?,/\-]+$/;

/** validTimeZone asks the browser's own time zone database. */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** validate returns the errors the page can tell without the server. */
export function validate(f: SlaForm): Errors {
  const e: Errors = {};
  const dur = (k: Field, required: boolean): number | undefined => {
    const v = f[k].trim();
    if (!v) {
      if (required) e[k] = `${k} is required, e.g. 2h`;
      return undefined;
    }
    const s = parseDuration(v);
    if (s === undefined) {
      e[k] = `"${v}" is not a duration: write a number and a unit, e.g. 90m, 2h or 1d12h`;
      return undefined;
    }
    if (s < 1) e[k] = `${k} must be at least 1s (the server evaluates no finer)`;
    return s;
  };
  const maxLag = dur("max_lag", f.mode === "lag");
  const warn = dur("warn_after", false);
  dur("grace", false);
  if (maxLag !== undefined && warn !== undefined && !e.max_lag && !e.warn_after && warn >= maxLag) {
    e.warn_after = `warn_after must be less than max_lag (${f.max_lag.trim()})`;
  }
  if (f.mode === "cron") {
    const c = f.cron.trim();
    if (!c) e.cron = 'a cron deadline is required, e.g. "0 7 * * *" (07:00 every day)';
    else {
      const parts = c.split(/\s+/);
      if (parts.length !== 5) e.cron = `a cron expression has 5 fields (minute hour day month weekday), found ${parts.length}`;
      else if (!parts.every((p) => cronField.test(p))) e.cron = "each cron field is digits, names, * , / or -";
    }
    const tz = f.timezone.trim();
    if (tz && !validTimeZone(tz)) e.timezone = `unknown time zone "${tz}" (IANA names such as Europe/Paris)`;
    if (maxLag !== undefined && !e.max_lag && maxLag < 60) e.max_lag = "with a cron deadline, max_lag is at least 1m";
  }
  return e;
}

/** fieldOf maps an API error's field to the form field it belongs next to. */
export function fieldOf(field: string | undefined): Field | "form" {
  if (!field) return "form";
  const f = field.replace(/^policy\./, "");
  return (FIELDS as string[]).includes(f) ? (f as Field) : "form";
}

/** describePolicy writes a policy in one line, for lists and the audit. */
export function describePolicy(p: Policy | undefined): string {
  if (!p) return "no SLA";
  const parts: string[] = [];
  if (p.cron) parts.push(`by cron "${p.cron}"${p.timezone ? " " + p.timezone : ""}`);
  if (p.max_lag) parts.push(`max lag ${p.max_lag}`);
  if (p.warn_after) parts.push(`warn after ${p.warn_after}`);
  if (p.grace) parts.push(`grace ${p.grace}`);
  return parts.join(", ") || "no SLA";
}
