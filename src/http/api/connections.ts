import type { Hono } from "hono";
import type { ConnectionInfo } from "../../core/control";
import { Inventory } from "../../core/inventory";
import { actorIn, isAdmin, notFoundError, param, seesEverything, visibleVhosts, type ApiContext, type ApiEnv } from "./context";
import { channelJson, connectionJson, NODE } from "./format";

/** Connections the caller may see: everyone's for administrators and monitors, else their own. */
async function connectionsOf(c: ApiContext, vhosts: string[]): Promise<ConnectionInfo[]> {
  const all = (await Promise.all(vhosts.map((v) => new Inventory(c.var.broker).connections(v)))).flat();
  return seesEverything(c.var.user) ? all : all.filter((x) => x.user === c.var.user.name);
}

/** The connection a name stands for: its object is addressed directly (the name ends with its id). */
async function connectionNamed(c: ApiContext): Promise<ConnectionInfo> {
  const name = param(c, "connection");
  const id = name.split(" -> ").pop() ?? "";
  let found: ConnectionInfo | null = null;
  if (/^[0-9a-f]{64}$/.test(id)) {
    try {
      found = await c.var.broker.connection(id).info();
    } catch {
      found = null;
    }
  }
  const mine = found !== null && found.name === name && (seesEverything(c.var.user) || found.user === c.var.user.name);
  if (!mine || !found || !(await visibleVhosts(c)).includes(found.vhost)) throw notFoundError();
  return found;
}

const channelsOf = (conns: ConnectionInfo[]) => conns.flatMap((conn) => conn.channels.map((ch) => channelJson(conn, ch)));

export function connectionRoutes(api: Hono<ApiEnv>): void {
  api.get("/connections", async (c) => c.json((await connectionsOf(c, await visibleVhosts(c))).map(connectionJson)));

  api.get("/vhosts/:vhost/connections", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    return c.json((await connectionsOf(c, [vhost])).map(connectionJson));
  });

  api.get("/connections/:connection", async (c) => c.json(connectionJson(await connectionNamed(c))));

  api.delete("/connections/:connection", async (c) => {
    const conn = await connectionNamed(c);
    if (!isAdmin(c.var.user) && conn.user !== c.var.user.name) throw notFoundError();
    const reason = c.req.header("X-Reason") ?? "Closed via management plugin";
    await c.var.broker.connection(conn.id).forceClose(reason);
    return c.body(null, 204);
  });

  api.get("/connections/:connection/channels", async (c) => c.json(channelsOf([await connectionNamed(c)])));

  api.get("/channels", async (c) => c.json(channelsOf(await connectionsOf(c, await visibleVhosts(c)))));

  api.get("/vhosts/:vhost/channels", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    return c.json(channelsOf(await connectionsOf(c, [vhost])));
  });

  api.get("/channels/:channel", async (c) => {
    const name = param(c, "channel");
    const found = channelsOf(await connectionsOf(c, await visibleVhosts(c))).find((ch) => ch.name === name);
    if (!found) throw notFoundError();
    return c.json(found);
  });

  const consumers = async (c: ApiContext, vhosts: string[]) => {
    const inventory = new Inventory(c.var.broker);
    const [queues, conns] = await Promise.all([
      Promise.all(vhosts.map((v) => inventory.queues(v))).then((x) => x.flat()),
      Promise.all(vhosts.map((v) => inventory.connections(v))).then((x) => x.flat()),
    ]);
    const byId = new Map(conns.map((x) => [x.id, x]));
    // As RabbitMQ's filter_user: others' consumers only for administrators and monitors.
    const everything = seesEverything(c.var.user);
    return queues.flatMap((q) =>
      q.consumers
        .filter((k) => everything || byId.get(k.connection)?.user === c.var.user.name)
        .map((k) => {
          const conn = byId.get(k.connection);
          return {
            consumer_tag: k.tag,
            queue: { name: q.name, vhost: q.vhost },
            channel_details: conn
              ? {
                  name: `${conn.name} (${k.channel})`,
                  number: k.channel,
                  connection_name: conn.name,
                  peer_host: conn.peer,
                  user: conn.user,
                  node: NODE,
                }
              : { number: k.channel },
            ack_required: k.ackRequired,
            exclusive: k.exclusive,
            prefetch_count: k.prefetch,
            active: true,
            activity_status: "up",
            arguments: {},
          };
        }),
    );
  };

  api.get("/consumers", async (c) => c.json(await consumers(c, await visibleVhosts(c))));

  api.get("/consumers/:vhost", async (c) => {
    const vhost = param(c, "vhost");
    await actorIn(c, vhost);
    return c.json(await consumers(c, [vhost]));
  });
}
