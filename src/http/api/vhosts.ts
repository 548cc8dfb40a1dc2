import type { Hono } from "hono";
import { AdminOps } from "../../core/admin-ops";
import type { QueueInfo } from "../../core/control";
import { Inventory } from "../../core/inventory";
import { jsonBody, notFoundError, param, requireAdmin, str, visibleVhosts, type ApiEnv } from "./context";
import { permissionJson, vhostJson } from "./format";
import { parseTags } from "./users";

export function vhostRoutes(api: Hono<ApiEnv>): void {
  api.get("/vhosts", async (c) => {
    const visible = new Set(await visibleVhosts(c));
    const all = (await c.var.broker.control().vhosts()).filter((v) => visible.has(v.name));
    const inventory = new Inventory(c.var.broker);
    const out = await Promise.all(all.map(async (v) => vhostJson(v, messageTotals(await inventory.queues(v.name)))));
    return c.json(out);
  });

  api.get("/vhosts/:vhost", async (c) => {
    const name = param(c, "vhost");
    if (!(await visibleVhosts(c)).includes(name)) throw notFoundError();
    const v = await c.var.broker.control().vhost(name);
    if (!v) throw notFoundError();
    return c.json(vhostJson(v, messageTotals(await new Inventory(c.var.broker).queues(name))));
  });

  api.put("/vhosts/:vhost", async (c) => {
    requireAdmin(c);
    const body = await jsonBody(c);
    const { created } = await new AdminOps(c.var.broker).putVhost({
      name: param(c, "vhost"),
      ...(body.description !== undefined ? { description: str(body.description, "description") } : {}),
      ...(body.tags !== undefined ? { tags: parseTags(body.tags) } : {}),
      ...(body.default_queue_type !== undefined ? { defaultQueueType: str(body.default_queue_type, "default_queue_type") } : {}),
    });
    return c.body(null, created ? 201 : 204);
  });

  api.delete("/vhosts/:vhost", async (c) => {
    requireAdmin(c);
    await new AdminOps(c.var.broker).deleteVhost(param(c, "vhost"));
    return c.body(null, 204);
  });

  api.get("/vhosts/:vhost/permissions", async (c) => {
    requireAdmin(c);
    const vhost = param(c, "vhost");
    if (!(await c.var.broker.control().vhost(vhost))) throw notFoundError();
    return c.json((await c.var.broker.control().permissions({ vhost })).map(permissionJson));
  });
}

function messageTotals(queues: QueueInfo[]) {
  const ready = queues.reduce((n, q) => n + q.messagesReady, 0);
  const unacked = queues.reduce((n, q) => n + q.messagesUnacknowledged, 0);
  return { messages: ready + unacked, ready, unacked };
}
