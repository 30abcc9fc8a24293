import { lazy, Suspense, useEffect, useRef, useState } from "react";
import { NavLink, Route, Routes, useLocation, useNavigate } from "react-router";
import { applyTheme, initialTheme, type Theme } from "./theme";
import { CatalogPage } from "./pages/Catalog";
import { AssetPage } from "./pages/Asset";
import { FreshnessPage } from "./pages/Freshness";
import { RunsPage, RunPage } from "./pages/Runs";
import { AlertsPage } from "./pages/Alerts";
import { Loading } from "./components/common";
import { useLiveUpdates } from "./hooks";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "./api";

// The graph page brings React Flow; load it when it is first opened.
const LineagePage = lazy(() => import("./pages/Lineage"));

const nav: [string, string, string][] = [
  ["/", "Catalog", "c"],
  ["/lineage", "Lineage", "l"],
  ["/freshness", "Freshness", "f"],
  ["/runs", "Runs", "r"],
  ["/alerts", "Alerts", "a"],
];

/** Keyboard: "/" focuses the page's search box; g then c, l, f, r or a goes to a page. */
function useShortcuts() {
  const navigate = useNavigate();
  const pendingG = useRef(0);
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || t.closest("input, textarea, select, [contenteditable]")) return;
      if (e.key === "/") {
        const s = document.querySelector<HTMLInputElement>("[data-search]");
        if (s) {
          e.preventDefault();
          s.focus();
        }
        return;
      }
      if (e.key === "g") {
        pendingG.current = Date.now();
        return;
      }
      if (Date.now() - pendingG.current < 1500) {
        const hit = nav.find((n) => n[2] === e.key);
        pendingG.current = 0;
        if (hit) {
          e.preventDefault();
          navigate(hit[0]);
        }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [navigate]);
}

/**
 * usePrefetchGraph starts the whole graph's fetch while the lineage page's
 * code (React Flow, lazily loaded) is still on its way: the two overlap
 * instead of following each other.
 */
function usePrefetchGraph(path: string, search: string) {
  const qc = useQueryClient();
  useEffect(() => {
    if (path !== "/lineage" || new URLSearchParams(search).has("focus")) return;
    qc.prefetchQuery({ queryKey: ["graph"], queryFn: () => api.graph(), staleTime: 30_000 });
    qc.prefetchQuery({ queryKey: ["freshness"], queryFn: () => api.freshness(), staleTime: 10_000 });
  }, [qc, path, search]);
}

export function App() {
  const [theme, setTheme] = useState<Theme>(initialTheme);
  const loc = useLocation();
  useShortcuts();
  const live = useLiveUpdates();
  usePrefetchGraph(loc.pathname, loc.search);
  const full = loc.pathname === "/" || loc.pathname.startsWith("/lineage");
  useEffect(() => {
    const name = nav.find((n) => (n[0] === "/" ? loc.pathname === "/" : loc.pathname.startsWith(n[0])))?.[1];
    document.title = name ? `${name} · Freshet` : "Freshet";
  }, [loc.pathname]);
  return (
    <div className="app">
      <a className="skip" href="#main">Skip to content</a>
      <header className="top">
        <span className="brand">
          <img src="/favicon.svg" width="22" height="22" alt="" /> Freshet
        </span>
        <nav aria-label="Pages">
          {nav.map(([to, label, key]) => (
            <NavLink key={to} to={to} end={to === "/"} title={`${label} (g ${key})`}>
              {label}
            </NavLink>
          ))}
        </nav>
        <span
          className={"live " + live} role="status" data-testid="live-state"
          title={live === "live" ? "Pages update as changes arrive (GET /api/v1/stream)" : "Not following changes now: reconnecting"}
        >
          {live === "live" ? "● live" : live === "connecting" ? "○ connecting" : "○ reconnecting"}
        </span>
        <button
          type="button"
          aria-label={`Switch to ${theme === "dark" ? "light" : "dark"} theme`}
          title="Dark or light theme"
          onClick={() => {
            const next = theme === "dark" ? "light" : "dark";
            applyTheme(next, true);
            setTheme(next);
          }}
        >
          {theme === "dark" ? "☀ Light" : "☾ Dark"}
        </button>
      </header>
      <main id="main" className={full ? "full" : ""} tabIndex={-1}>
        <Suspense fallback={<Loading what="page" />}>
          <Routes>
            <Route path="/" element={<CatalogPage />} />
            <Route path="/lineage" element={<LineagePage />} />
            <Route path="/assets/*" element={<AssetPage />} />
            <Route path="/freshness" element={<FreshnessPage />} />
            <Route path="/runs" element={<RunsPage />} />
            <Route path="/runs/:id" element={<RunPage />} />
            <Route path="/alerts" element={<AlertsPage />} />
            <Route path="*" element={<p>No such page. <NavLink to="/">Back to the catalog</NavLink></p>} />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
