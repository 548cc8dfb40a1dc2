import type { Hono } from "hono";
import { AdminOps } from "../../core/admin-ops";
import type { VhostRecord } from "../../core/control";
import { badRequest, jsonBody, notFoundError, param, requireAdmin, str, visibleVhosts, type ApiContext, type ApiEnv } from "./context";
import { costJson, messageStats, permissionJson, vhostJson } from "./format";
import { totals } from "./overview";
import { parseTags } from "./users";

export function vhostRoutes(api: Hono<ApiEnv>): void {
  api.get("/vhosts", async (c) => {
    const visible = new Set(await visibleVhosts(c));
    const all = (await c.var.broker.control().vhosts()).filter((v) => visible.has(v.name));
    return c.json(await Promise.all(all.map((v) => withTotals(c, v))));
  });

  api.get("/vhosts/:vhost", async (c) => {
    const name = param(c, "vhost");
    if (!(await visibleVhosts(c)).includes(name)) throw notFoundError();
    const v = await c.var.broker.control().vhost(name);
    if (!v) throw notFoundError();
    return c.json(await withTotals(c, v));
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

  // RabbitMQ's vhost limits: {"vhost": …, "value": {"max-connections": n, …}}.
  api.get("/vhost-limits", async (c) => {
    const visible = new Set(await visibleVhosts(c));
    const all = (await c.var.broker.control().vhosts()).filter((v) => visible.has(v.name) && Object.keys(v.limits).length > 0);
    return c.json(all.map((v) => ({ vhost: v.name, value: v.limits })));
  });

  api.get("/vhost-limits/:vhost", async (c) => {
    const v = await c.var.broker.control().vhost(param(c, "vhost"));
    if (!v || !(await visibleVhosts(c)).includes(v.name)) throw notFoundError();
    return c.json(Object.keys(v.limits).length > 0 ? [{ vhost: v.name, value: v.limits }] : []);
  });

  api.put("/vhost-limits/:vhost/:name", async (c) => {
    requireAdmin(c);
    const value = (await jsonBody(c)).value;
    if (typeof value !== "number") throw badRequest("value must be a number");
    await new AdminOps(c.var.broker).setVhostLimit(param(c, "vhost"), param(c, "name"), value);
    return c.body(null, 204);
  });

  api.delete("/vhost-limits/:vhost/:name", async (c) => {
    requireAdmin(c);
    await new AdminOps(c.var.broker).setVhostLimit(param(c, "vhost"), param(c, "name"), null);
    return c.body(null, 204);
  });

  api.get("/vhosts/:vhost/permissions", async (c) => {
    requireAdmin(c);
    const vhost = param(c, "vhost");
    if (!(await c.var.broker.control().vhost(vhost))) throw notFoundError();
    return c.json((await c.var.broker.control().permissions({ vhost })).map(permissionJson));
  });
}

/** A vhost with its message counts and message_stats (its queues' depth, its connections' counts). */
async function withTotals(c: ApiContext, v: VhostRecord): Promise<Record<string, unknown>> {
  const t = await totals(c, [v.name]);
  return {
    ...vhostJson(v, { messages: t.messagesReady + t.messagesUnacked, ready: t.messagesReady, unacked: t.messagesUnacked }),
    message_stats: messageStats(t.stats, t.rates),
    warren_cost: costJson(t.cost),
  };
}
