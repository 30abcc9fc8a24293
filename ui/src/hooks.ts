// Data hooks over the API, cached by TanStack Query.
import { useEffect, useMemo } from "react";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api, type AssetFilter } from "./api";
import type { FreshnessResult } from "./types";

/** useFreshness is /freshness, refreshed every 30 s, with a map by key. */
export function useFreshness() {
  const q = useQuery({ queryKey: ["freshness"], queryFn: () => api.freshness(), refetchInterval: 30_000 });
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
