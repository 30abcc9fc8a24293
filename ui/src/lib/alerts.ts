// The alerts page's history, from the delivery log (GET
// /api/v1/alerts/deliveries, newest first): an incident that resolved is
// one whose latest notification, to any receiver, is a resolve.
import type { Delivery, Notification } from "../types";

export interface Resolved {
  key: string;
  notification: Notification;
  resolvedAt: string;
  /** seconds from the incident's start to its resolve, when both are known */
  lasted?: number;
  receivers: string[];
}

/** resolvedIncidents lists incidents whose latest notification is a resolve, newest first, leaving out keys open now. */
export function resolvedIncidents(deliveries: Delivery[], openKeys: Set<string>): Resolved[] {
  const latest = new Map<string, Delivery>();
  const receivers = new Map<string, Set<string>>();
  for (const d of deliveries) {
    const cur = latest.get(d.key);
    if (!cur || Date.parse(d.created) > Date.parse(cur.created)) latest.set(d.key, d);
  }
  for (const d of deliveries) {
    const l = latest.get(d.key)!;
    if (d.status === "resolved" && l.status === "resolved" && d.notification.ends_at === l.notification.ends_at) {
      let set = receivers.get(d.key);
      if (!set) receivers.set(d.key, (set = new Set()));
      set.add(d.receiver);
    }
  }
  const out: Resolved[] = [];
  for (const [key, d] of latest) {
    if (d.status !== "resolved" || openKeys.has(key)) continue;
    const n = d.notification;
    const end = n.ends_at ?? d.created;
    const lasted = n.starts_at ? (Date.parse(end) - Date.parse(n.starts_at)) / 1000 : undefined;
    out.push({ key, notification: n, resolvedAt: end, lasted: lasted !== undefined && lasted >= 0 ? lasted : undefined, receivers: [...(receivers.get(key) ?? [])].sort() });
  }
  return out.sort((a, b) => Date.parse(b.resolvedAt) - Date.parse(a.resolvedAt));
}
