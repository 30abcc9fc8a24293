// Time and duration formatting: relative times ("5 min ago") with the
// absolute time on hover, lags as compact durations ("2h 5m").

const units: [string, number][] = [
  ["y", 365 * 86400],
  ["mo", 30 * 86400],
  ["d", 86400],
  ["h", 3600],
  ["min", 60],
  ["s", 1],
];

/** relativeTime says how long ago (or in how long) t is from now. */
export function relativeTime(t: string | number | Date | undefined, now: number = Date.now()): string {
  if (t === undefined || t === "") return "never";
  const ms = typeof t === "number" ? t : new Date(t).getTime();
  if (!Number.isFinite(ms)) return "—";
  const diff = (now - ms) / 1000;
  const abs = Math.abs(diff);
  if (abs < 5) return "just now";
  for (const [name, secs] of units) {
    if (abs >= secs) {
      const n = Math.floor(abs / secs);
      return diff >= 0 ? `${n} ${name} ago` : `in ${n} ${name}`;
    }
  }
  return "just now";
}

/** absoluteTime is the local date and time with the zone, for titles. */
export function absoluteTime(t: string | number | Date | undefined, timeZone?: string): string {
  if (t === undefined || t === "") return "";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZoneName: "short", timeZone,
  });
}

/** formatDuration writes seconds as at most two units: 90061 -> "1d 1h". */
export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return "—";
  if (seconds < 0) return "-" + formatDuration(-seconds);
  if (seconds < 1) return seconds === 0 ? "0s" : `${Math.round(seconds * 1000)}ms`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const parts: string[] = [];
  let rest = Math.floor(seconds);
  for (const [name, secs] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as [string, number][]) {
    if (rest >= secs) {
      parts.push(`${Math.floor(rest / secs)}${name}`);
      rest %= secs;
    }
    if (parts.length === 2) break;
  }
  return parts.join(" ");
}

/**
 * parseDuration reads the API's durations (Go's plus days): "2h", "1d12h",
 * "90m", "1h30m", "45s", "1.5h". It returns seconds, or undefined when
 * the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!s) return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;
  let total = 0;
  let matched = 0;
  re.lastIndex = 0;
  while (re.lastIndex < s.length) {
    const m = re.exec(s);
    if (!m) return undefined;
    const n = parseFloat(m[1]);
    total += n * ({ ms: 0.001, d: 86400, h: 3600, m: 60, s: 1 } as Record<string, number>)[m[2]];
    matched++;
  }
  return matched ? total : undefined;
}
