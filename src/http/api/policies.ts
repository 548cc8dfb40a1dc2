import type { Hono } from "hono";
import { AdminOps } from "../../core/admin-ops";
import type { PolicyRecord } from "../../core/control";
import { actorIn, badRequest, jsonBody, notFoundError, obj, param, requirePolicymaker, str, visibleVhosts, type ApiEnv } from "./context";
import { policyJson } from "./format";

// Policies are stored and listed; the queue engine applies the keys it supports (README).

export function parsePolicy(vhost: string, name: string, body: Record<string, unknown>): PolicyRecord {
  const priority = body.priority === undefined ? 0 : Number(body.priority);
  if (!Number.isInteger(priority)) throw badRequest("priority must be an integer");
  const applyTo = str(body["apply-to"], "apply-to", "all") as PolicyRecord["applyTo"];
  return { vhost, name, pattern: str(body.pattern, "pattern"), applyTo, priority, definition: obj(body.definition, "definition") };
}

export function policyRoutes(api: Hono<ApiEnv>): void {
  api.get("/policies", async (c) => {
    const visible = new Set(await visibleVhosts(c));
    return c.json((await c.var.broker.control().policies(null)).filter((p) => visible.has(p.vhost)).map(policyJson));
  });

  api.get("/policies/:vhost", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    return c.json((await c.var.broker.control().policies(vhost)).map(policyJson));
  });

  api.get("/policies/:vhost/:name", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    const p = (await c.var.broker.control().policies(vhost)).find((x) => x.name === param(c, "name"));
    if (!p) throw notFoundError();
    return c.json(policyJson(p));
  });

  api.put("/policies/:vhost/:name", async (c) => {
    requirePolicymaker(c);
    const vhost = param(c, "vhost");
    const name = param(c, "name");
    await actorIn(c, vhost);
    const existed = (await c.var.broker.control().policies(vhost)).some((x) => x.name === name);
    await new AdminOps(c.var.broker).putPolicy(parsePolicy(vhost, name, await jsonBody(c)));
    return c.body(null, existed ? 204 : 201);
  });

  api.delete("/policies/:vhost/:name", async (c) => {
    requirePolicymaker(c);
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    await new AdminOps(c.var.broker).deletePolicy(vhost, param(c, "name"));
    return c.body(null, 204);
  });
}
