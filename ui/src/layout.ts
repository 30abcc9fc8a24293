// The page's side of the layout worker: one worker, one answer per request,
// stale requests dropped by the caller.
import type { LayoutInput, LayoutResult } from "./lib/graph";

let worker: Worker | undefined;
let seq = 0;
const pending = new Map<number, { resolve: (r: LayoutResult) => void; reject: (e: Error) => void }>();

function get(): Worker {
  if (!worker) {
    worker = new Worker(new URL("./layout.worker.ts", import.meta.url), { type: "module", name: "freshet-layout" });
    worker.onmessage = (ev: MessageEvent<{ id: number; result?: LayoutResult; error?: string }>) => {
      const p = pending.get(ev.data.id);
      if (!p) return;
      pending.delete(ev.data.id);
      if (ev.data.result) p.resolve(ev.data.result);
      else p.reject(new Error(ev.data.error ?? "layout failed"));
    };
    worker.onerror = (ev) => {
      for (const p of pending.values()) p.reject(new Error(ev.message || "layout worker failed"));
      pending.clear();
      worker = undefined;
    };
  }
  return worker;
}

/** warmLayout starts the worker and its ELK load while the page fetches its graph. */
export function warmLayout() {
  get().postMessage({ id: 0, warm: true });
}

export function layoutGraph(input: LayoutInput): Promise<LayoutResult> {
  const id = ++seq;
  performance.mark("freshet:layout-start");
  return new Promise((resolve, reject) => {
    pending.set(id, {
      resolve: (r) => {
        performance.mark("freshet:layout-end");
        resolve(r);
      },
      reject,
    });
    get().postMessage({ id, input });
  });
}
