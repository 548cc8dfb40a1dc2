import type { Hono } from "hono";
import { AdminOps } from "../../core/admin-ops";
import type { UserWrite } from "../../core/control";
import { badRequest, jsonBody, notFoundError, param, requireAdmin, str, type ApiEnv } from "./context";
import { permissionJson, userJson } from "./format";

/** Tags arrive as "a,b" (RabbitMQ ≤ 3.x) or ["a", "b"]. */
export function parseTags(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = Array.isArray(v) ? v : typeof v === "string" ? v.split(",") : null;
  if (!list || list.some((t) => typeof t !== "string")) throw badRequest("tags must be a string or a list of strings");
  return (list as string[]).map((t) => t.trim()).filter((t) => t !== "" && t !== "none");
}

/** A user from API JSON (PUT /api/users/{name}, definitions). */
export function userWrite(name: string, body: Record<string, unknown>, existingTags: string[] = []): UserWrite {
  // Tags left out keep what the user has (never silently strip an administrator).
  const u: UserWrite = { name, tags: body.tags === undefined ? existingTags : parseTags(body.tags) };
  if (body.password !== undefined) u.password = str(body.password, "password");
  else if (body.password_hash !== undefined) {
    u.passwordHash = str(body.password_hash, "password_hash");
    if (body.hashing_algorithm !== undefined) u.hashingAlgorithm = str(body.hashing_algorithm, "hashing_algorithm");
  }
  return u;
}

export function userRoutes(api: Hono<ApiEnv>): void {
  api.get("/whoami", (c) => c.json({ name: c.var.user.name, tags: c.var.user.tags }));

  api.get("/users", async (c) => {
    requireAdmin(c);
    return c.json((await c.var.broker.control().users()).map(userJson));
  });

  api.get("/users/:user", async (c) => {
    requireAdmin(c);
    const u = await c.var.broker.control().user(param(c, "user"));
    if (!u) throw notFoundError();
    return c.json(userJson(u));
  });

  api.put("/users/:user", async (c) => {
    requireAdmin(c);
    const name = param(c, "user");
    const body = await jsonBody(c);
    const existing = await c.var.broker.control().user(name);
    if (body.password === undefined && body.password_hash === undefined && !existing) {
      throw badRequest("password or password_hash must be set");
    }
    const { created } = await new AdminOps(c.var.broker).putUser(userWrite(name, body, existing?.tags));
    return c.body(null, created ? 201 : 204);
  });

  api.delete("/users/:user", async (c) => {
    requireAdmin(c);
    await new AdminOps(c.var.broker).deleteUser(param(c, "user"));
    return c.body(null, 204);
  });

  api.post("/users/bulk-delete", async (c) => {
    requireAdmin(c);
    const users = (await jsonBody(c)).users;
    if (!Array.isArray(users)) throw badRequest("users must be a list");
    const ops = new AdminOps(c.var.broker);
    for (const u of users) await ops.deleteUser(str(u, "users[]")).catch(() => {});
    return c.body(null, 204);
  });

  // RabbitMQ's user limits: {"user": …, "value": {"max-connections": n}}.
  api.get("/user-limits", async (c) => {
    requireAdmin(c);
    const users = (await c.var.broker.control().users()).filter((u) => Object.keys(u.limits).length > 0);
    return c.json(users.map((u) => ({ user: u.name, value: u.limits })));
  });

  api.get("/user-limits/:user", async (c) => {
    requireAdmin(c);
    const u = await c.var.broker.control().user(param(c, "user"));
    if (!u) throw notFoundError();
    return c.json(Object.keys(u.limits).length > 0 ? [{ user: u.name, value: u.limits }] : []);
  });

  api.put("/user-limits/:user/:name", async (c) => {
    requireAdmin(c);
    const value = (await jsonBody(c)).value;
    if (typeof value !== "number") throw badRequest("value must be a number");
    await new AdminOps(c.var.broker).setUserLimit(param(c, "user"), param(c, "name"), value);
    return c.body(null, 204);
  });

  api.delete("/user-limits/:user/:name", async (c) => {
    requireAdmin(c);
    await new AdminOps(c.var.broker).setUserLimit(param(c, "user"), param(c, "name"), null);
    return c.body(null, 204);
  });

  api.get("/users/:user/permissions", async (c) => {
    requireAdmin(c);
    const user = param(c, "user");
    if (!(await c.var.broker.control().user(user))) throw notFoundError();
    return c.json((await c.var.broker.control().permissions({ user })).map(permissionJson));
  });

  api.get("/permissions", async (c) => {
    requireAdmin(c);
    return c.json((await c.var.broker.control().permissions({})).map(permissionJson));
  });

  api.get("/permissions/:vhost/:user", async (c) => {
    requireAdmin(c);
    const [p] = await c.var.broker.control().permissions({ user: param(c, "user"), vhost: param(c, "vhost") });
    if (!p) throw notFoundError();
    return c.json(permissionJson(p));
  });

  api.put("/permissions/:vhost/:user", async (c) => {
    requireAdmin(c);
    const user = param(c, "user");
    const vhost = param(c, "vhost");
    const body = await jsonBody(c);
    const control = c.var.broker.control();
    // RabbitMQ's answer for either.
    if (!(await control.user(user)) || !(await control.vhost(vhost))) throw badRequest("vhost_or_user_not_found");
    const existed = (await control.permissions({ user, vhost })).length > 0;
    await new AdminOps(c.var.broker).setPermissions({
      user,
      vhost,
      configure: str(body.configure, "configure"),
      write: str(body.write, "write"),
      read: str(body.read, "read"),
    });
    return c.body(null, existed ? 204 : 201);
  });

  api.delete("/permissions/:vhost/:user", async (c) => {
    requireAdmin(c);
    await new AdminOps(c.var.broker).clearPermissions(param(c, "user"), param(c, "vhost"));
    return c.body(null, 204);
  });
}
