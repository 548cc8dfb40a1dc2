import type { Hono } from "hono";
import { table } from "../../amqp";
import type { CatalogExchange, ExchangeCounts } from "../../core/control";
import { describeExchange } from "../../core/names";
import { DELAYED_MESSAGE } from "../../exchange/delayed";
import { Inventory } from "../../core/inventory";
import { checkPublishable, Publisher } from "../../core/publisher";
import { RouteTable } from "../../core/route-table";
import { VhostOps } from "../../core/vhost-ops";
import { limitsFrom } from "../../core/limits";
import {
  actorIn,
  badRequest,
  bool,
  exchangeParam,
  jsonBody,
  notFoundError,
  obj,
  param,
  str,
  visibleVhosts,
  type ApiContext,
  type ApiEnv,
} from "./context";
import { bindingJson, exchangeJson } from "./format";
import { contentHeader, payloadBytes, propertiesFromJson } from "./messages";

/** Messages published into each exchange of a vhost, summed over its open connections. */
async function exchangeStats(c: ApiContext, vhost: string): Promise<Map<string, ExchangeCounts>> {
  const stats = new Map<string, ExchangeCounts>();
  for (const conn of await new Inventory(c.var.broker).connections(vhost)) {
    for (const [name, s] of Object.entries(conn.exchangeStats)) {
      const t = stats.get(name) ?? { publishIn: 0, publishOut: 0, publishInRate: 0, publishOutRate: 0 };
      t.publishIn += s.publishIn;
      t.publishOut += s.publishOut;
      t.publishInRate += s.publishInRate;
      t.publishOutRate += s.publishOutRate;
      stats.set(name, t);
    }
  }
  return stats;
}

/** How many messages a delayed-message exchange holds (asked of it; other types: undefined). */
async function delayedCount(c: ApiContext, vhost: string, x: CatalogExchange): Promise<number | null | undefined> {
  if (x.type !== DELAYED_MESSAGE) return undefined;
  try {
    return await c.var.broker.exchange(vhost, x.name).delayedCount(vhost, x.name);
  } catch (err) {
    c.var.broker.log(`list exchanges: ${describeExchange(vhost, x.name)} did not answer: ${String(err)}`);
    return null;
  }
}

async function exchangesOf(c: ApiContext, vhosts: string[]) {
  const inventory = new Inventory(c.var.broker);
  const out: Record<string, unknown>[] = [];
  for (const vhost of vhosts) {
    const [exchanges, stats] = await Promise.all([inventory.exchanges(vhost), exchangeStats(c, vhost)]);
    const delayed = await Promise.all(exchanges.map((x) => delayedCount(c, vhost, x)));
    exchanges.forEach((x, i) => {
      out.push(exchangeJson(vhost, x, stats.get(x.name), delayed[i]));
    });
  }
  return out;
}

export function exchangeRoutes(api: Hono<ApiEnv>): void {
  api.get("/exchanges", async (c) => c.json(await exchangesOf(c, await visibleVhosts(c))));

  api.get("/exchanges/:vhost", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    return c.json(await exchangesOf(c, [vhost]));
  });

  api.get("/exchanges/:vhost/:exchange", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    const name = exchangeParam(c);
    const x = await new Inventory(c.var.broker).exchange(vhost, name);
    if (!x) throw notFoundError();
    const [stats, delayed] = await Promise.all([exchangeStats(c, vhost), delayedCount(c, vhost, x)]);
    return c.json(exchangeJson(vhost, x, stats.get(name), delayed));
  });

  api.put("/exchanges/:vhost/:exchange", async (c) => {
    const vhost = param(c, "vhost");
    const name = exchangeParam(c);
    const actor = await actorIn(c, vhost);
    const body = await jsonBody(c);
    const existed = (await new Inventory(c.var.broker).exchange(vhost, name)) !== null;
    await new VhostOps(c.var.broker, vhost, actor).declareExchange(
      {
        name,
        type: str(body.type, "type"),
        durable: bool(body.durable, "durable", true),
        autoDelete: bool(body.auto_delete, "auto_delete", false),
        internal: bool(body.internal, "internal", false),
        arguments: table(obj(body.arguments, "arguments")),
      },
      false,
    );
    return c.body(null, existed ? 204 : 201);
  });

  api.delete("/exchanges/:vhost/:exchange", async (c) => {
    const vhost = param(c, "vhost");
    const name = exchangeParam(c);
    const actor = await actorIn(c, vhost);
    if (!(await new Inventory(c.var.broker).exchange(vhost, name))) throw notFoundError();
    await new VhostOps(c.var.broker, vhost, actor).deleteExchange(name, c.req.query("if-unused") === "true");
    return c.body(null, 204);
  });

  api.post("/exchanges/:vhost/:exchange/publish", async (c) => {
    const vhost = param(c, "vhost");
    const exchange = exchangeParam(c);
    const actor = await actorIn(c, vhost);
    actor.access.check("write", "exchange", exchange);
    const body = await jsonBody(c);
    if (!(await new Inventory(c.var.broker).exchange(vhost, exchange))) throw notFoundError();
    const routingKey = str(body.routing_key, "routing_key");
    const props = propertiesFromJson(obj(body.properties, "properties"));
    const payload = payloadBytes(body.payload, body.payload_encoding);
    checkPublishable(payload.length, props.userId, actor.user, limitsFrom(c.env).maxMessageSize, c.var.user.tags.includes("impersonator"));
    const broker = c.var.broker;
    const publisher = new Publisher(broker, () => vhost, new RouteTable(broker, () => vhost, null));
    const message = {
      exchange,
      routingKey,
      header: contentHeader(payload.length, props),
      body: payload,
      persistent: props.deliveryMode === 2,
    };
    const { routed, failed } = await publisher.publish([{ message, headers: props.headers }]);
    if (failed[0]) throw badRequest("the message could not be stored");
    return c.json({ routed: (routed[0] ?? 0) > 0 });
  });

  for (const side of ["source", "destination"] as const) {
    api.get(`/exchanges/:vhost/:exchange/bindings/${side}`, async (c) => {
      const vhost = param(c, "vhost");
      const name = exchangeParam(c);
      await actorIn(c, vhost);
      if (!(await new Inventory(c.var.broker).exchange(vhost, name))) throw notFoundError();
      const all = await new Inventory(c.var.broker).bindings(vhost);
      const mine = all.filter((b) => (side === "source" ? b.source === name : b.destinationType === "exchange" && b.destination === name));
      return c.json(mine.map(bindingJson));
    });
  }
}
