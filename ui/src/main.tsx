import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { BrowserRouter } from "react-router";
import { App } from "./App";
import { api, ApiError } from "./api";
import { applyTheme, initialTheme } from "./theme";
import "./styles.css";

applyTheme(initialTheme());

const client = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      refetchOnWindowFocus: false,
      // 4xx answers will not change on a retry
      retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 2,
    },
  },
});

// Opened on the lineage page: its code (React Flow, lazily loaded) and the
// whole graph start loading now, before React's first render.
if (location.pathname === "/lineage") {
  void import("./pages/Lineage");
  if (!new URLSearchParams(location.search).has("focus")) {
    void client.prefetchQuery({ queryKey: ["graph"], queryFn: () => api.graph(), staleTime: 30_000 });
  }
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <QueryClientProvider client={client}>
      <BrowserRouter>
        <App />
      </BrowserRouter>
    </QueryClientProvider>
  </StrictMode>,
);
