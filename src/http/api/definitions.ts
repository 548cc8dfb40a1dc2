import type { Hono } from "hono";
import { table } from "../../amqp";
import { AdminOps } from "../../core/admin-ops";
import { Inventory } from "../../core/inventory";
import { fullAccess } from "../../core/permissions";
import { VhostOps } from "../../core/vhost-ops";
import { badRequest, bool, jsonBody, notFoundError, obj, param, requireAdmin, str, type ApiContext, type ApiEnv } from "./context";
import { exchangeDefinition, permissionJson, policyJson, userJson } from "./format";
import { PRODUCT_VERSION, RABBITMQ_VERSION } from "./overview";
import { parsePolicy } from "./policies";
import { parseTags, userWrite } from "./users";

/** The entities of one vhost as definitions list them (exclusive queues and the standard exchanges left out, as RabbitMQ does). */
async function vhostDefinitions(c: ApiContext, vhost: string) {
  const broker = c.var.broker;
  const catalog = broker.catalog(vhost);
  const [queues, exchanges, bindings, policies] = await Promise.all([
    catalog.queues(),
    catalog.exchanges(),
    new Inventory(broker).bindings(vhost),
    broker.control().policies(vhost),
  ]);
  return {
    queues: queues
      .filter((q) => !q.exclusive)
      .map((q) => ({ name: q.name, vhost, durable: q.durable, auto_delete: q.autoDelete, arguments: q.arguments })),
    exchanges: exchanges.map((x) => exchangeDefinition(vhost, x)),
    bindings: bindings
      .filter((b) => b.source !== "")
      .map((b) => ({
        source: b.source,
        vhost,
        destination: b.destination,
        destination_type: b.destinationType,
        routing_key: b.routingKey,
        arguments: b.arguments,
      })),
    policies: policies.map(policyJson),
  };
}

const list = (v: unknown, field: string): Record<string, unknown>[] => {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== "object" || x === null)) throw badRequest(`${field} must be a list of objects`);
  return v as Record<string, unknown>[];
};

/** Imports definitions: vhosts, users, permissions, policies, then each vhost's exchanges, queues and bindings. */
async function importDefinitions(c: ApiContext, body: Record<string, unknown>, onlyVhost: string | null): Promise<void> {
  const broker = c.var.broker;
  const admin = new AdminOps(broker);
  if (onlyVhost === null) {
    for (const v of list(body.vhosts, "vhosts")) {
      const meta = obj(v.metadata, "metadata");
      await admin.putVhost({
        name: str(v.name, "vhosts[].name"),
        description: str(v.description ?? meta.description ?? "", "description"),
        tags: parseTags(v.tags ?? meta.tags),
      });
    }
    for (const u of list(body.users, "users")) await admin.putUser(userWrite(str(u.name, "users[].name"), u));
    for (const p of list(body.permissions, "permissions")) {
      await admin.setPermissions({
        user: str(p.user, "permissions[].user"),
        vhost: str(p.vhost, "permissions[].vhost"),
        configure: str(p.configure, "configure"),
        write: str(p.write, "write"),
        read: str(p.read, "read"),
      });
    }
  }
  if (list(body.topic_permissions, "topic_permissions").length > 0) {
    // Refused rather than dropped: importing them silently would leave users less restricted.
    throw badRequest("topic permissions are not supported by Warren");
  }
  const known = new Set((await broker.control().vhosts()).map((v) => v.name));
  const vhostOf = (x: Record<string, unknown>) => {
    const v = onlyVhost ?? str(x.vhost, "vhost");
    if (!known.has(v)) throw badRequest(`vhost '${v}' does not exist`);
    return v;
  };
  for (const p of list(body.policies, "policies")) await admin.putPolicy(parsePolicy(vhostOf(p), str(p.name, "policies[].name"), p));
  const ops = (vhost: string) =>
    new VhostOps(broker, vhost, { user: c.var.user.name, connection: "", access: fullAccess(c.var.user.name, vhost) });
  for (const x of list(body.exchanges, "exchanges")) {
    await ops(vhostOf(x)).declareExchange(
      {
        name: str(x.name, "exchanges[].name"),
        type: str(x.type, "type"),
        durable: bool(x.durable, "durable", true),
        autoDelete: bool(x.auto_delete, "auto_delete", false),
        internal: bool(x.internal, "internal", false),
        arguments: table(obj(x.arguments, "arguments")),
      },
      false,
    );
  }
  for (const q of list(body.queues, "queues")) {
    await ops(vhostOf(q)).declareQueue(
      {
        name: str(q.name, "queues[].name"),
        durable: bool(q.durable, "durable", true),
        autoDelete: bool(q.auto_delete, "auto_delete", false),
        exclusive: false,
        arguments: table(obj(q.arguments, "arguments")),
      },
      false,
    );
  }
  for (const b of list(body.bindings, "bindings")) {
    const o = ops(vhostOf(b));
    const args = table(obj(b.arguments, "arguments"));
    const source = str(b.source, "bindings[].source");
    const destination = str(b.destination, "bindings[].destination");
    const key = str(b.routing_key ?? "", "routing_key");
    if (b.destination_type === "exchange") await o.bindExchange(destination, source, key, args);
    else await o.bindQueue(destination, source, key, args);
  }
}

export function definitionRoutes(api: Hono<ApiEnv>): void {
  api.get("/definitions", async (c) => {
    requireAdmin(c);
    const control = c.var.broker.control();
    const [users, vhosts, permissions] = await Promise.all([control.users(), control.vhosts(), control.permissions({})]);
    const parts = await Promise.all(vhosts.map((v) => vhostDefinitions(c, v.name)));
    return c.json({
      rabbit_version: RABBITMQ_VERSION,
      rabbitmq_version: RABBITMQ_VERSION,
      product_name: "Warren",
      product_version: PRODUCT_VERSION,
      users: users.map(userJson),
      vhosts: vhosts.map((v) => ({
        name: v.name,
        description: v.description,
        tags: v.tags,
        metadata: { description: v.description, tags: v.tags },
      })),
      permissions: permissions.map(permissionJson),
      topic_permissions: [],
      parameters: [],
      global_parameters: [],
      policies: parts.flatMap((p) => p.policies),
      queues: parts.flatMap((p) => p.queues),
      exchanges: parts.flatMap((p) => p.exchanges),
      bindings: parts.flatMap((p) => p.bindings),
    });
  });

  api.post("/definitions", async (c) => {
    requireAdmin(c);
    await importDefinitions(c, await jsonBody(c), null);
    return c.body(null, 204);
  });

  api.get("/definitions/:vhost", async (c) => {
    requireAdmin(c);
    const vhost = param(c, "vhost");
    if (!(await c.var.broker.control().vhost(vhost))) throw notFoundError();
    return c.json({ rabbit_version: RABBITMQ_VERSION, rabbitmq_version: RABBITMQ_VERSION, ...(await vhostDefinitions(c, vhost)) });
  });

  api.post("/definitions/:vhost", async (c) => {
    requireAdmin(c);
    const vhost = param(c, "vhost");
    if (!(await c.var.broker.control().vhost(vhost))) throw notFoundError();
    await importDefinitions(c, await jsonBody(c), vhost);
    return c.body(null, 204);
  });
}
