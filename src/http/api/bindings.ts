import type { Hono } from "hono";
import { table } from "../../amqp";
import { Inventory, type BindingView } from "../../core/inventory";
import { VhostOps } from "../../core/vhost-ops";
import { actorIn, jsonBody, notFoundError, obj, param, str, visibleVhosts, type ApiContext, type ApiEnv } from "./context";
import { bindingJson } from "./format";

const KINDS = { q: "queue", e: "exchange" } as const;

async function between(c: ApiContext, vhost: string, kind: "queue" | "exchange"): Promise<BindingView[]> {
  const source = param(c, "source") === "amq.default" ? "" : param(c, "source");
  const destination = param(c, "destination");
  const all = await new Inventory(c.var.broker).bindings(vhost);
  return all.filter((b) => b.source === source && b.destination === destination && b.destinationType === kind);
}

export function bindingRoutes(api: Hono<ApiEnv>): void {
  api.get("/bindings", async (c) => {
    const inventory = new Inventory(c.var.broker);
    const all = await Promise.all((await visibleVhosts(c)).map((v) => inventory.bindings(v)));
    return c.json(all.flat().map(bindingJson));
  });

  api.get("/bindings/:vhost", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    return c.json((await new Inventory(c.var.broker).bindings(vhost)).map(bindingJson));
  });

  for (const [letter, kind] of Object.entries(KINDS)) {
    const base = `/bindings/:vhost/e/:source/${letter}/:destination`;

    api.get(base, async (c) => {
      const vhost = param(c, "vhost");
      await actorIn(c, vhost);
      return c.json((await between(c, vhost, kind)).map(bindingJson));
    });

    api.post(base, async (c) => {
      const vhost = param(c, "vhost");
      const actor = await actorIn(c, vhost);
      const body = await jsonBody(c);
      const source = param(c, "source");
      const destination = param(c, "destination");
      const routingKey = str(body.routing_key, "routing_key", "");
      const args = table(obj(body.arguments, "arguments"));
      const ops = new VhostOps(c.var.broker, vhost, actor);
      if (kind === "queue") await ops.bindQueue(destination, source, routingKey, args);
      else await ops.bindExchange(destination, source, routingKey, args);
      const created = (await between(c, vhost, kind)).find((b) => b.routingKey === routingKey);
      // RabbitMQ answers 201 with the new binding's location (its properties key).
      return c.body(null, 201, { Location: created ? encodeURIComponent(created.propertiesKey) : "" });
    });

    api.get(`${base}/:props`, async (c) => {
      const vhost = param(c, "vhost");
      await actorIn(c, vhost);
      const b = (await between(c, vhost, kind)).find((x) => x.propertiesKey === param(c, "props"));
      if (!b) throw notFoundError();
      return c.json(bindingJson(b));
    });

    api.delete(`${base}/:props`, async (c) => {
      const vhost = param(c, "vhost");
      const actor = await actorIn(c, vhost);
      const b = (await between(c, vhost, kind)).find((x) => x.propertiesKey === param(c, "props"));
      if (!b) throw notFoundError();
      const ops = new VhostOps(c.var.broker, vhost, actor);
      const args = table(b.arguments);
      if (kind === "queue") await ops.unbindQueue(b.destination, b.source, b.routingKey, args);
      else await ops.unbindExchange(b.destination, b.source, b.routingKey, args);
      return c.body(null, 204);
    });
  }
}
