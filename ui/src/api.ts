// The REST client: same-origin fetches of /api/v1, errors as ApiError with
// the API's code, message and field (docs/api.md).
import type {
  AssetColumns, AssetDetail, Delivery, AssetFreshness, AssetPage, ColumnGraph, EventPage, FreshnessList, OpenAlert, Policy, Run,
  RunLogLine, Silence, Subgraph,
} from "./types";

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
  ) {
    super(message);
  }
}

/** encodeKey makes an asset key one path segment: raw/orders -> raw%2Forders. */
export const encodeKey = (key: string) => encodeURIComponent(key);

/** query builds a query string from the set values only. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// A server with API tokens (docs/security.md) answers 401 without one: the
// UI then asks for a token once and keeps it in this browser's storage.
const tokenKey = "freshet.token";

function storedToken(): string | null {
  try {
    return window.localStorage.getItem(tokenKey);
  } catch {
    return null;
  }
}

/** authHeaders: the stored token, if any, as an Authorization header. */
export function authHeaders(): Record<string, string> {
  const token = storedToken();
  return token ? { Authorization: "Bearer " + token } : {};
}

/**
 * askToken asks for a token after a 401 of a request sent with the
 * Authorization header `sentWith`; true when there is a new one to retry
 * with. Requests refused together ask once: the later ones find the token
 * the first one was given.
 */
export function askToken(sentWith?: string): boolean {
  const now = storedToken();
  if (now && "Bearer " + now !== sentWith) return true;
  if (typeof window.prompt !== "function") return false;
  const given = window.prompt("This Freshet server needs an API token (freshet token create --scope read ...). Token:");
  if (!given) return false;
  try {
    window.localStorage.setItem(tokenKey, given.trim());
  } catch {
    return false; // storage refused: nowhere to keep it
  }
  return true;
}

async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal, retried = false): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  const init: RequestInit = { method, signal, headers };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  }
  const res = await fetch("/api/v1" + path, init);
  if (res.status === 401 && !retried && askToken(headers.Authorization)) return request<T>(method, path, body, signal, true);
  const text = await res.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!res.ok) {
    const e = (data as { error?: { code?: string; message?: string; field?: string } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? "http_" + res.status, e?.message ?? (text || res.statusText), e?.field);
  }
  return data as T;
}

export interface AssetFilter {
  q?: string;
  group?: string;
  owner?: string;
  tag?: string;
  kind?: string;
}

export const api = {
  assets: (f: AssetFilter, cursor?: string, limit = 1000, signal?: AbortSignal) =>
    request<AssetPage>("GET", "/assets" + query({ ...f, cursor, limit }), undefined, signal),
  asset: (key: string) => request<AssetDetail>("GET", `/assets/${encodeKey(key)}`),
  assetEvents: (key: string, p: { kind?: string; limit?: number; order?: "asc" | "desc"; cursor?: string; since?: string }) =>
    request<EventPage>("GET", `/assets/${encodeKey(key)}/events` + query(p)),
  assetLineage: (key: string, direction: "upstream" | "downstream" | "both", depth: number) =>
    request<Subgraph>("GET", `/assets/${encodeKey(key)}/lineage` + query({ direction, depth })),
  graph: () => request<Subgraph>("GET", "/lineage/graph"),
  columns: (key: string) => request<AssetColumns>("GET", `/assets/${encodeKey(key)}/columns`),
  columnLineage: (key: string, column: string) =>
    request<ColumnGraph>("GET", `/assets/${encodeKey(key)}/columns/${encodeURIComponent(column)}/lineage`),
  freshness: (p: { state?: string; group?: string } = {}) => request<FreshnessList>("GET", "/freshness" + query(p)),
  assetFreshness: (key: string) => request<AssetFreshness>("GET", `/assets/${encodeKey(key)}/freshness`),
  putPolicy: (key: string, policy: Policy & { actor?: string }) =>
    request<unknown>("PUT", `/assets/${encodeKey(key)}/freshness/policy`, policy),
  deletePolicy: (key: string, actor?: string) =>
    request<unknown>("DELETE", `/assets/${encodeKey(key)}/freshness/policy` + query({ actor })),
  runs: (p: { status?: string; asset?: string; trigger?: string; limit?: number; cursor?: string } = {}) =>
    request<{ runs: Run[]; next_cursor?: string }>("GET", "/runs" + query(p)),
  run: (id: string) => request<Run>("GET", `/runs/${encodeURIComponent(id)}`),
  launch: (selection: string[], partition?: string) => request<Run>("POST", "/runs", { selection, partition }),
  cancel: (id: string) => request<Run>("POST", `/runs/${encodeURIComponent(id)}/cancel`),
  reexecute: (id: string, from: "start" | "failure") =>
    request<Run>("POST", `/runs/${encodeURIComponent(id)}/reexecute` + query({ from })),
  runLogs: (id: string, after = 0) =>
    request<{ lines: RunLogLine[]; next_after?: number }>("GET", `/runs/${encodeURIComponent(id)}/logs` + query({ after, limit: 10000 })),
  alerts: () => request<{ alerts: OpenAlert[] }>("GET", "/alerts"),
  silences: () => request<{ silences: Silence[] }>("GET", "/silences"),
  deliveries: (p: { state?: string; receiver?: string; key?: string; limit?: number; cursor?: string } = {}) =>
    request<{ deliveries: Delivery[]; next_cursor?: string }>("GET", "/alerts/deliveries" + query(p)),
  addSilence: (s: { match: Silence["match"]; comment: string; created_by?: string; duration?: string }) =>
    request<Silence>("POST", "/silences", s),
  expireSilence: (id: string) => request<unknown>("DELETE", `/silences/${encodeURIComponent(id)}`),
};

/** streamURL is the live stream of change notices (docs/api.md). */
export const streamURL = (topics?: string[]) => "/api/v1/stream" + query({ topics: topics?.join(",") });

/** runLogsURL is the server-sent events stream of a run's logs. */
export const runLogsURL = (id: string, after = 0) =>
  `/api/v1/runs/${encodeURIComponent(id)}/logs` + query({ follow: "true", after: after || undefined });
