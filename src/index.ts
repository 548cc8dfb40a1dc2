import { Hono } from "hono";
import type { Env } from "./env";

export { ConnectionDO } from "./session/connection-do";
export { ExchangeDO } from "./exchange/exchange-do";
export { QueueDO } from "./queue/queue-do";

const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ status: "ok" }));

// Each AMQP connection gets its own Durable Object: it owns the socket, the channels
// and the delivery tags, and queue DOs push deliveries to it by RPC.
app.get("/amqp", async (c) => {
  if (c.req.header("Upgrade")?.toLowerCase() !== "websocket") {
    return c.text("expected a WebSocket upgrade carrying AMQP 0-9-1 frames", 426);
  }
  const stub = c.env.CONNECTION.get(c.env.CONNECTION.newUniqueId());
  return stub.fetch(c.req.raw);
});

export default app;
