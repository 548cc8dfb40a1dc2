import type { Hono } from "hono";
import { table } from "../../amqp";
import { Inventory } from "../../core/inventory";
import { VhostOps } from "../../core/vhost-ops";
import { decodeRecord } from "../../storage/message-record";
import { actorIn, badRequest, bool, jsonBody, notFoundError, obj, param, visibleVhosts, type ApiContext, type ApiEnv } from "./context";
import { bindingJson, queueJson } from "./format";
import { payloadJson, propertiesToJson, readHeader } from "./messages";

/** Body bytes one API get may take before it stops (it answers with what it has). */
const GET_BYTES = 16 << 20;
const ACK_MODES = ["ack_requeue_true", "ack_requeue_false", "reject_requeue_true", "reject_requeue_false"];

async function queuesOf(c: ApiContext, vhosts: string[]) {
  const inventory = new Inventory(c.var.broker);
  const all = (await Promise.all(vhosts.map((v) => inventory.queues(v)))).flat();
  return all.map(queueJson);
}

export function queueRoutes(api: Hono<ApiEnv>): void {
  api.get("/queues", async (c) => c.json(await queuesOf(c, await visibleVhosts(c))));

  api.get("/queues/:vhost", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    return c.json(await queuesOf(c, [vhost]));
  });

  api.get("/queues/:vhost/:queue", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    const q = await new Inventory(c.var.broker).queue(vhost, param(c, "queue"));
    if (!q) throw notFoundError();
    return c.json(queueJson(q));
  });

  api.put("/queues/:vhost/:queue", async (c) => {
    const vhost = param(c, "vhost");
    const name = param(c, "queue");
    const actor = await actorIn(c, vhost);
    const body = await jsonBody(c);
    const existed = (await c.var.broker.queue(vhost, name).info()) !== null;
    await new VhostOps(c.var.broker, vhost, actor).declareQueue(
      {
        name,
        durable: bool(body.durable, "durable", true),
        autoDelete: bool(body.auto_delete, "auto_delete", false),
        exclusive: false,
        arguments: table(obj(body.arguments, "arguments")),
      },
      false,
    );
    return c.body(null, existed ? 204 : 201);
  });

  api.delete("/queues/:vhost/:queue", async (c) => {
    const vhost = param(c, "vhost");
    const name = param(c, "queue");
    const actor = await actorIn(c, vhost);
    if (!(await c.var.broker.queue(vhost, name).info())) throw notFoundError();
    await new VhostOps(c.var.broker, vhost, actor).deleteQueue(
      name,
      c.req.query("if-unused") === "true",
      c.req.query("if-empty") === "true",
    );
    return c.body(null, 204);
  });

  api.delete("/queues/:vhost/:queue/contents", async (c) => {
    const vhost = param(c, "vhost");
    const actor = await actorIn(c, vhost);
    await new VhostOps(c.var.broker, vhost, actor).purgeQueue(param(c, "queue"));
    return c.body(null, 204);
  });

  api.get("/queues/:vhost/:queue/bindings", async (c) => {
    const vhost = param(c, "vhost");
    const name = param(c, "queue");
    await actorIn(c, vhost);
    if (!(await c.var.broker.queue(vhost, name).info())) throw notFoundError();
    const all = await new Inventory(c.var.broker).bindings(vhost);
    return c.json(all.filter((b) => b.destinationType === "queue" && b.destination === name).map(bindingJson));
  });

  // Messages taken for inspection: got in ack mode, then acked or given back as the ackmode says.
  api.post("/queues/:vhost/:queue/get", async (c) => {
    const vhost = param(c, "vhost");
    const name = param(c, "queue");
    const actor = await actorIn(c, vhost);
    actor.access.check("read", "queue", name);
    const body = await jsonBody(c);
    const count = Number(body.count ?? 1);
    if (!Number.isInteger(count) || count < 1) throw badRequest("count must be a positive integer");
    const ackmode = String(body.ackmode ?? "ack_requeue_true");
    if (!ACK_MODES.includes(ackmode)) throw badRequest(`ackmode must be one of ${ACK_MODES.join(", ")}`);
    const encoding = String(body.encoding ?? "auto");
    const truncate = body.truncate === undefined ? undefined : Number(body.truncate);
    const requeue = ackmode.endsWith("requeue_true");
    const q = c.var.broker.queue(vhost, name);
    const taker = `mgmt-${crypto.randomUUID()}`;
    const out: Record<string, unknown>[] = [];
    const seqs: number[] = [];
    // At most 1000 messages and GET_BYTES of bodies per request: the Worker's memory is shared.
    let bytes = 0;
    try {
      for (let i = 0; i < Math.min(count, 1000) && bytes < GET_BYTES; i++) {
        const r = await q.get(taker, 0, false);
        if (!r.ok) throw r.code === 404 ? notFoundError() : badRequest(r.text);
        const d = r.value.delivery;
        if (!d) break;
        seqs.push(d.seq);
        const m = decodeRecord(d.record);
        bytes += m.body.length;
        const payload = truncate !== undefined && truncate >= 0 ? m.body.subarray(0, truncate) : m.body;
        out.push({
          payload_bytes: m.body.length,
          redelivered: d.redelivered,
          exchange: m.exchange,
          routing_key: m.routingKey,
          message_count: r.value.messageCount,
          properties: propertiesToJson(readHeader(m.header)),
          ...payloadJson(payload, encoding),
        });
      }
    } finally {
      if (seqs.length > 0) await q.settle(taker, requeue ? [] : seqs, requeue ? seqs : []);
    }
    return c.json(out);
  });
}
