import { describe, expect, it } from "vitest";
import { resolvedIncidents } from "./alerts";
import type { Delivery } from "../types";

const d = (key: string, status: "firing" | "resolved", created: string, receiver = "pd", extra: Partial<Delivery["notification"]> = {}): Delivery => ({
  id: key + status + created + receiver, receiver, key, status, state: "delivered", attempts: 1, created, updated: created,
  notification: { key, status, severity: "error", summary: `${status}: ${key}`, starts_at: "2026-12-01T10:00:00Z", ...(status === "resolved" ? { ends_at: created } : {}), ...extra },
});

describe("resolvedIncidents", () => {
  it("keeps incidents whose latest notification is a resolve, newest first, with how long they lasted and who was told", () => {
    const got = resolvedIncidents([
      d("a", "resolved", "2026-12-01T11:00:00Z", "pd"),
      d("a", "resolved", "2026-12-01T11:00:00Z", "slack"),
      d("a", "firing", "2026-12-01T10:00:01Z"),
      d("b", "resolved", "2026-12-01T12:30:00Z"),
      d("c", "resolved", "2026-12-01T09:00:00Z"),
      d("c", "firing", "2026-12-01T13:00:00Z"), // fired again: open, not resolved
    ], new Set());
    expect(got.map((r) => [r.key, r.lasted, r.receivers.join(",")])).toEqual([
      ["b", 9000, "pd"],
      ["a", 3600, "pd,slack"],
    ]);
  });
  it("leaves out what is open now", () => {
    expect(resolvedIncidents([d("a", "resolved", "2026-12-01T11:00:00Z")], new Set(["a"]))).toEqual([]);
  });
  it("has no duration without a start", () => {
    const got = resolvedIncidents([d("a", "resolved", "2026-12-01T11:00:00Z", "pd", { starts_at: undefined })], new Set());
    expect(got[0].lasted).toBeUndefined();
  });
});
