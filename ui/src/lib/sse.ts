// Server-sent events over fetch, not EventSource: EventSource cannot send
// an Authorization header, so on a server with API tokens its streams
// would all be 401s. The parser follows the HTML standard's event-stream
// rules (fields, comments, multi-line data, CR / LF / CRLF line ends).

export interface SSEMessage {
  event: string; // "message" when the server named none
  data: string;
  id?: string;
}

/** SSEParser turns chunks of an event stream into messages. */
export class SSEParser {
  private buf = "";
  private event = "";
  private data: string[] = [];
  private id: string | undefined;
  /** retry is the reconnection delay the server asked for, in ms. */
  retry: number | undefined;

  push(chunk: string): SSEMessage[] {
    this.buf += chunk;
    const out: SSEMessage[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      // a lone CR at the very end may be the first half of a CRLF
      if (!m || (m[0] === "\r" && m.index === this.buf.length - 1)) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SSEMessage[]) {
    if (line === "") {
      if (this.data.length) out.push({ event: this.event || "message", data: this.data.join("\n"), id: this.id });
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) return; // a comment: keep-alive
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) this.id = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retry = Number(value);
        break;
    }
  }
}

export type StreamState = "connecting" | "open" | "closed" | "error";

export interface StreamOptions {
  /** url is asked again before each connection (a log tail resumes after its last line). */
  url: () => string;
  headers: () => Record<string, string>;
  onMessage: (m: SSEMessage) => void;
  onState?: (s: StreamState, detail?: string) => void;
  /** onUnauthorized may ask for a token (given the headers refused); true: try again now. */
  onUnauthorized?: (sent: Record<string, string>) => boolean;
  /** reconnect: false ends at the first end of stream (a finished run's tail). */
  reconnect?: () => boolean;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** backoff is the wait before reconnection attempt n (0-based): 1 s doubling to 15 s. */
export const backoff = (n: number, retry?: number) => Math.min(15_000, (retry ?? 1000) * 2 ** Math.min(n, 4));

/**
 * follow reads the stream, reconnecting with a backoff until signal
 * aborts or reconnect() says no. A 4xx other than 401 ends it: asking
 * again will not help.
 */
export async function follow(opts: StreamOptions, signal: AbortSignal): Promise<void> {
  const f = opts.fetch ?? fetch;
  const sleep = opts.sleep ?? defaultSleep;
  let failures = 0;
  while (!signal.aborted) {
    opts.onState?.("connecting");
    const parser = new SSEParser();
    try {
      const headers = { Accept: "text/event-stream", ...opts.headers() };
      const res = await f(opts.url(), { headers, signal, cache: "no-store" });
      if (res.status === 401 && opts.onUnauthorized?.(headers)) continue;
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => "");
        let msg = `HTTP ${res.status}`;
        try {
          msg = JSON.parse(text).error?.message ?? msg;
        } catch {
          // not JSON: the status says enough
        }
        if (res.status >= 400 && res.status < 500) {
          opts.onState?.("error", msg);
          return;
        }
        throw new Error(msg);
      }
      opts.onState?.("open");
      failures = 0;
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const m of parser.push(value)) opts.onMessage(m);
      }
      if (opts.reconnect && !opts.reconnect()) {
        opts.onState?.("closed");
        return;
      }
    } catch (err) {
      if (signal.aborted) return;
      opts.onState?.("error", String(err));
      failures++;
    }
    await sleep(backoff(failures, parser.retry), signal);
  }
}
