// Small shared pieces: times with the absolute time on hover, freshness
// badges, asset links, loading and error states.
import { useEffect, useState, type ReactNode } from "react";
import { Link } from "react-router";
import { ApiError } from "../api";
import { absoluteTime, formatDuration, relativeTime } from "../lib/time";
import type { FreshnessState } from "../types";

let tickers = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | undefined;

/** useNow re-renders every 30 seconds so relative times stay true. */
export function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const f = () => setNow(Date.now());
    tickers.add(f);
    timer ??= setInterval(() => tickers.forEach((t) => t()), 30_000);
    return () => {
      tickers.delete(f);
      if (!tickers.size && timer) {
        clearInterval(timer);
        timer = undefined;
        tickers = new Set();
      }
    };
  }, []);
  return now;
}

export function Time({ t, empty = "never" }: { t?: string; empty?: string }) {
  const now = useNow();
  if (!t) return <span className="muted">{empty}</span>;
  const abs = absoluteTime(t);
  return (
    <time dateTime={t} title={abs} aria-label={`${relativeTime(t, now)} (${abs})`}>
      {relativeTime(t, now)}
    </time>
  );
}

export function Lag({ seconds }: { seconds?: number }) {
  if (seconds === undefined) return <span className="muted">—</span>;
  return <span title={`${Math.round(seconds)} s`}>{formatDuration(seconds)}</span>;
}

export function StateBadge({ state }: { state?: FreshnessState }) {
  if (!state) return <span className="state NONE" aria-label="no SLA">no SLA</span>;
  return (
    <span className={"state " + state} aria-label={"freshness " + state}>
      {state === "AT_RISK" ? "AT RISK" : state}
    </span>
  );
}

export function assetPath(key: string): string {
  return "/assets/" + key.split("/").map(encodeURIComponent).join("/");
}

export function AssetLink({ k, children }: { k: string; children?: ReactNode }) {
  return <Link to={assetPath(k)}>{children ?? k}</Link>;
}

export function Loading({ what }: { what: string }) {
  return <p className="muted" role="status">Loading {what}…</p>;
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const msg = error instanceof ApiError ? `${error.message} (${error.code})` : error instanceof Error ? error.message : String(error);
  return <div className="error-box" role="alert">{msg}</div>;
}

export function Chips({ items, empty = "—" }: { items?: string[]; empty?: string }) {
  if (!items?.length) return <span className="muted">{empty}</span>;
  return (
    <span className="chips">
      {items.map((x) => <span className="chip" key={x}>{x}</span>)}
    </span>
  );
}

export function RunStatus({ status }: { status: string }) {
  return <span className={"status " + status}>{status}</span>;
}
