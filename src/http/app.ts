import { Hono } from "hono";
import { WorkerBroker } from "../core/worker-broker";
import type { Env } from "../env";
import { managementApi } from "./api";
import { originAllowed } from "./origin";
import { withPeer } from "./peer";

/**
 * The Worker's HTTP front door: the AMQP-over-WebSocket endpoint, health, the management API
 * (api/, one route module per resource, each calling core/ operations) and /metrics.
 */
export const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ status: "ok" }));

const management = managementApi((env) => new WorkerBroker(env));
// Web pages of other origins may not drive the API with the Basic credentials a browser remembers.
for (const path of ["/api/*", "/metrics"]) {
  app.use(path, async (c, next) => {
    if (!originAllowed(c.req.raw, c.env.WARREN_ALLOWED_ORIGINS))
      return c.json({ error: "forbidden", reason: "origin not allowed: add it to WARREN_ALLOWED_ORIGINS" }, 403);
    return next();
  });
}
app.route("/api", management.api);
app.route("/metrics", management.metrics);

// Each AMQP connection gets its own Durable Object: it owns the socket, the channels
// and the delivery tags, and queue DOs push deliveries to it by RPC.
app.get("/amqp", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    return c.text("expected a WebSocket upgrade carrying AMQP 0-9-1 frames", 426);
  }
  if (!originAllowed(c.req.raw, c.env.WARREN_ALLOWED_ORIGINS)) {
    return c.text("origin not allowed: add it to WARREN_ALLOWED_ORIGINS", 403);
  }
  return new WorkerBroker(c.env).newConnection().fetch(withPeer(c.req.raw, c.env));
});
