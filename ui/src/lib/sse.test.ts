import { describe, expect, it } from "vitest";
import { backoff, follow, SSEParser, type SSEMessage, type StreamState } from "./sse";

describe("SSEParser", () => {
  it.each([
    ["one event", ["event: log\ndata: {\"a\":1}\n\n"], [{ event: "log", data: '{"a":1}', id: undefined }]],
    ["split anywhere", ["ev", "ent: run\nda", "ta: x", "\n", "\n"], [{ event: "run", data: "x", id: undefined }]],
    ["CRLF split between CR and LF", ["data: a\r", "\n\r\n"], [{ event: "message", data: "a", id: undefined }]],
    ["lone CR line ends (a final CR waits: it may start a CRLF)", ["data: a\rdata: b\r\r", ": next\n"], [{ event: "message", data: "a\nb", id: undefined }]],
    ["comments and keep-alives", [": keep-alive\n\n: x\ndata: y\n\n"], [{ event: "message", data: "y", id: undefined }]],
    ["ids carry over", ["id: 7\nevent: runs\ndata: 1\n\ndata: 2\n\n"], [{ event: "runs", data: "1", id: "7" }, { event: "message", data: "2", id: "7" }]],
    ["no space after the colon", ["event:alerts\ndata:{}\n\n"], [{ event: "alerts", data: "{}", id: undefined }]],
    ["an event without data is no message", ["event: hello\n\n"], []],
    ["unfinished event waits", ["data: a\n"], []],
  ])("%s", (_, chunks, want) => {
    const p = new SSEParser();
    const got: SSEMessage[] = [];
    for (const c of chunks) got.push(...p.push(c));
    expect(got).toEqual(want);
  });
  it("reads retry", () => {
    const p = new SSEParser();
    p.push("retry: 2000\nretry: soon\n\n");
    expect(p.retry).toBe(2000);
  });
});

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(c) {
      for (const ch of chunks) c.enqueue(enc.encode(ch));
      c.close();
    },
  });
}

describe("follow", () => {
  it("reconnects after the stream ends, sends the token, and stops when asked", async () => {
    const seen: { url: string; auth?: string }[] = [];
    const got: string[] = [];
    const states: StreamState[] = [];
    const abort = new AbortController();
    let n = 0;
    await follow({
      url: () => `/s?after=${got.length}`,
      headers: () => ({ Authorization: "Bearer t" }),
      fetch: (async (url: string, init: RequestInit) => {
        seen.push({ url, auth: (init.headers as Record<string, string>).Authorization });
        n++;
        if (n === 2) return new Response("boom", { status: 502 });
        return new Response(streamOf([`data: m${n}\n\n`]), { status: 200 });
      }) as typeof fetch,
      sleep: async () => {
        if (n >= 3) abort.abort();
      },
      onMessage: (m) => got.push(m.data),
      onState: (s) => states.push(s),
    }, abort.signal);
    expect(got).toEqual(["m1", "m3"]);
    expect(seen.map((s) => s.url)).toEqual(["/s?after=0", "/s?after=1", "/s?after=1"]);
    expect(seen.every((s) => s.auth === "Bearer t")).toBe(true);
    expect(states).toEqual(["connecting", "open", "connecting", "error", "connecting", "open"]);
  });

  it("asks for a token once on 401, then ends on another 4xx", async () => {
    let asked = 0;
    const statuses = [401, 404];
    const states: string[] = [];
    await follow({
      url: () => "/s",
      headers: () => ({}),
      fetch: (async () => new Response(JSON.stringify({ error: { message: "no such run" } }), { status: statuses.shift()! })) as typeof fetch,
      onUnauthorized: () => ++asked === 1,
      onMessage: () => {},
      onState: (s, d) => states.push(d ? `${s}: ${d}` : s),
    }, new AbortController().signal);
    expect(asked).toBe(1);
    expect(states).toEqual(["connecting", "connecting", "error: no such run"]);
  });

  it("ends at the end of the stream when reconnect says no", async () => {
    let calls = 0;
    const states: string[] = [];
    await follow({
      url: () => "/s",
      headers: () => ({}),
      fetch: (async () => {
        calls++;
        return new Response(streamOf(["event: end\ndata: {}\n\n"]), { status: 200 });
      }) as typeof fetch,
      reconnect: () => false,
      onMessage: () => {},
      onState: (s) => states.push(s),
    }, new AbortController().signal);
    expect(calls).toBe(1);
    expect(states).toEqual(["connecting", "open", "closed"]);
  });

  it("backs off from the server's retry, doubling to 15 s", () => {
    expect([0, 1, 2, 3, 4, 9].map((n) => backoff(n))).toEqual([1000, 2000, 4000, 8000, 15000, 15000]);
    expect(backoff(0, 2000)).toBe(2000);
  });
});
