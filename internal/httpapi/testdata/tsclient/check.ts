// Valid calls of hookbook's API through a client generated from its
// OpenAPI document: this file must compile with the generator's defaults.
import createClient from "openapi-fetch";
import type { paths, components } from "./api";

const api = createClient<paths>({ baseUrl: "http://localhost:8080", headers: { Authorization: "Bearer hk_x" } });

export async function calls(): Promise<string[]> {
  const out: string[] = [];
  const ep = await api.POST("/api/v1/webhooks", { body: { url: "https://example.com/hooks", events: ["booking.*"] } });
  if (ep.data) out.push(ep.data.id, ep.data.url, String(ep.data.enabled), ep.data.secret ?? "");
  if (ep.error) out.push(ep.error.error.code);
  await api.PATCH("/api/v1/webhooks/{id}", { params: { path: { id: "ep_1" } }, body: { enabled: false } });
  await api.PATCH("/api/v1/webhooks/{id}", { params: { path: { id: "ep_1" } }, body: { headers: { "X-Team": "billing" }, max_attempts: 5 } });
  const list = await api.GET("/api/v1/webhooks", { params: { query: { limit: 10 } } });
  for (const e of list.data?.data ?? []) out.push(e.id, e.created_at);
  if (list.data?.next_cursor) await api.GET("/api/v1/webhooks", { params: { query: { cursor: list.data.next_cursor } } });
  const pub = await api.POST("/api/v1/events", { body: { event: "booking.created", data: { id: "bkg_1", participants: 2 } }, headers: { "Idempotency-Key": "k1" } });
  if (pub.data) out.push(pub.data.id);
  const dl = await api.GET("/api/v1/webhooks/{id}/deliveries", { params: { path: { id: "ep_1" }, query: { status: "failed" } } });
  for (const d of dl.data?.data ?? []) out.push(d.id, d.status, String(d.attempts));
  const detail = await api.GET("/api/v1/deliveries/{id}", { params: { path: { id: "dlv_1" } } });
  if (detail.data) {
    for (const a of detail.data.attempts) out.push(String(a.status_code ?? "none"));
    out.push(detail.data.request.body ?? "");
  }
  await api.POST("/api/v1/deliveries/{id}/redeliver", { params: { path: { id: "dlv_1" } } });
  await api.POST("/api/v1/webhooks/{id}/recover", { params: { path: { id: "ep_1" } }, body: { since: "2026-01-01T00:00:00Z" } });
  const rp = await api.POST("/api/v1/webhooks/{id}/replay", { params: { path: { id: "ep_1" } }, body: { since: "2026-01-01T00:00:00Z", event: "booking.*", status: "any" } });
  if (rp.data && "id" in rp.data) {
    const job = await api.GET("/api/v1/replays/{id}", { params: { path: { id: rp.data.id } } });
    if (job.data) out.push(job.data.status, String(job.data.queued), String(job.data.total));
  }
  await api.POST("/api/v1/webhooks/{id}/test", { params: { path: { id: "ep_1" } } });
  await api.POST("/api/v1/webhooks/{id}/rotate-secret", { params: { path: { id: "ep_1" } } });
  await api.POST("/api/v1/event-types", { body: { name: "invoice.paid", description: "An invoice was paid." } });
  const et = await api.GET("/api/v1/event-types/{name}", { params: { path: { name: "invoice.paid" } } });
  if (et.data) out.push(et.data.name);
  const svc = await api.POST("/api/v1/services", { body: { name: "Tour", duration_minutes: 90 } });
  if (svc.data) {
    await api.PATCH("/api/v1/services/{id}", { params: { path: { id: svc.data.id } }, body: { price: 4500 } });
    const slot = await api.POST("/api/v1/slots", { body: { service_id: svc.data.id, starts_at: "2030-03-25T14:00:00Z", ends_at: "2030-03-25T15:30:00Z" } });
    if (slot.data) {
      const b = await api.POST("/api/v1/bookings", { body: { slot_id: slot.data.id, participants: 2, customer: { name: "Jane", email: "jane@example.com" } } });
      if (b.data) {
        await api.POST("/api/v1/bookings/{id}/confirm", { params: { path: { id: b.data.id } } });
        await api.PATCH("/api/v1/bookings/{id}", { params: { path: { id: b.data.id } }, body: { participants: 3 } });
        await api.POST("/api/v1/bookings/{id}/cancel", { params: { path: { id: b.data.id } }, body: { reason: "ill" } });
      }
    }
  }
  await api.PUT("/api/v1/settings/inbound", { body: { enabled: true, scopes: ["admin.appointments"] } });
  await api.PUT("/api/v1/settings/outbound", { body: { enabled: true } });
  const key = await api.POST("/api/v1/api-keys", { body: { name: "deploy bot" } });
  if (key.data) out.push(key.data.key, key.data.prefix);
  const keys = await api.GET("/api/v1/api-keys");
  for (const k of keys.data?.data ?? []) out.push(k.id, k.last_used_at ?? "never");
  const health = await api.GET("/healthz");
  if (health.data) out.push(health.data.status);
  const e: components["schemas"]["Error"] | undefined = ep.error;
  if (e) out.push(e.error.message);
  return out;
}
