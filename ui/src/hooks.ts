// Data hooks over the API, cached by TanStack Query. The live stream
// (useLiveUpdates) re-reads what changes; the slow polls are a fallback
// for when it is down.
import { useEffect, useMemo, useState } from "react";
import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, askToken, authHeaders, streamURL, type AssetFilter } from "./api";
import { invalidations, Throttle } from "./lib/live";
import { follow } from "./lib/sse";
import type { FreshnessResult } from "./types";

/** useFreshness is /freshness, refreshed every 30 s, with a map by key. */
export function useFreshness() {
  const q = useQuery({ queryKey: ["freshness"], queryFn: () => api.freshness(), refetchInterval: 60_000 });
  const byKey = useMemo(() => {
    const m = new Map<string, FreshnessResult>();
    for (const r of q.data?.assets ?? []) m.set(r.key, r);
    return m;
  }, [q.data]);
  return { ...q, byKey };
}

// The first page is small so the first rows show at once; the rest come in
// big pages behind it.
const FIRST_PAGE = 200;
const NEXT_PAGE = 5000;

/** useAllAssets pages through /assets with the filter until it has them all. */
export function useAllAssets(filter: AssetFilter) {
  const q = useInfiniteQuery({
    queryKey: ["assets", filter],
    initialPageParam: "",
    queryFn: ({ pageParam, signal }) => api.assets(filter, pageParam || undefined, pageParam ? NEXT_PAGE : FIRST_PAGE, signal),
    getNextPageParam: (last) => last.next_cursor || undefined,
    staleTime: 30_000,
  });
  const { hasNextPage, isFetchingNextPage, fetchNextPage, isError } = q;
  useEffect(() => {
    if (hasNextPage && !isFetchingNextPage && !isError) fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage, isError]);
  const assets = useMemo(() => q.data?.pages.flatMap((p) => p.assets) ?? [], [q.data]);
  return { ...q, assets, complete: !hasNextPage && !q.isPending };
}

export type LiveState = "connecting" | "live" | "off";

/**
 * useLiveUpdates follows the server's stream of change notices (GET
 * /api/v1/stream) and re-reads the queries each notice touches, so every
 * page stays current without a refresh. Reconnects by itself; after a
 * reconnection or a resync everything shown is re-read, since notices in
 * between may be lost.
 */
export function useLiveUpdates(): LiveState {
  const qc = useQueryClient();
  const [state, setState] = useState<LiveState>("connecting");
  useEffect(() => {
    const abort = new AbortController();
    const throttle = new Throttle();
    let opened = 0;
    const flush = () => {
      const due = throttle.flush(Date.now());
      if (due === "all") qc.invalidateQueries();
      else for (const key of due) qc.invalidateQueries({ queryKey: key });
    };
    const timer = window.setInterval(() => throttle.waiting && flush(), 500);
    follow({
      url: () => streamURL(),
      headers: authHeaders,
      onUnauthorized: (sent) => askToken(sent.Authorization),
      onState: (s) => {
        if (s === "open") {
          setState("live");
          if (opened++ > 0) throttle.add("all"); // notices were missed while away
        } else setState(s === "connecting" ? "connecting" : "off");
      },
      onMessage: (m) => {
        if (m.event === "hello") return;
        let data: unknown;
        try {
          data = JSON.parse(m.data);
        } catch {
          return;
        }
        throttle.add(invalidations(m.event, data));
      },
    }, abort.signal);
    return () => {
      abort.abort();
      window.clearInterval(timer);
    };
  }, [qc]);
  return state;
}
