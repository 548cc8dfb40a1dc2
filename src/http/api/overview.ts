import type { Hono } from "hono";
import { addCounters, emptyCounters } from "../../core/control";
import { addCost, emptyCost } from "../../storage/counting-sql";
import { Inventory } from "../../core/inventory";
import { Publisher } from "../../core/publisher";
import { RouteTable } from "../../core/route-table";
import { VhostOps } from "../../core/vhost-ops";
import { actorIn, param, visibleVhosts, type ApiContext, type ApiEnv } from "./context";
import { costJson, messageStats, NODE } from "./format";
import { contentHeader } from "./messages";

export const PRODUCT_VERSION = "0.1.0";
/** The RabbitMQ release whose management API Warren's follows (tools check it). */
export const RABBITMQ_VERSION = "3.10.8";
const STARTED = Date.now();

/** Totals over the vhosts the caller sees: what the overview and /metrics report. */
export async function totals(c: ApiContext, vhosts: string[]) {
  const inventory = new Inventory(c.var.broker);
  const perVhost = await Promise.all(
    vhosts.map(async (v) => {
      const [queues, conns, exchanges, closed, gone] = await Promise.all([
        inventory.queues(v),
        inventory.connections(v),
        inventory.exchanges(v),
        c.var.broker.catalog(v).closedTotals(),
        c.var.broker.catalog(v).costTotals(),
      ]);
      return { vhost: v, queues, conns, exchanges, closed, gone };
    }),
  );
  const stats = emptyCounters();
  // Rates are those of the open connections (a closed one publishes nothing now).
  const rates: Record<string, number> = {};
  let messagesReady = 0;
  let messagesUnacked = 0;
  let consumers = 0;
  const cost = emptyCost();
  for (const v of perVhost) {
    addCounters(stats, v.closed);
    addCost(cost, v.gone);
    for (const x of [...v.queues, ...v.conns]) addCost(cost, x.cost);
    for (const conn of v.conns) {
      addCounters(stats, conn.totals);
      for (const [k, r] of Object.entries(conn.rates)) rates[k] = (rates[k] ?? 0) + r;
    }
    for (const q of v.queues) {
      messagesReady += q.messagesReady;
      messagesUnacked += q.messagesUnacknowledged;
      consumers += q.consumers.length;
    }
  }
  return { perVhost, stats, rates, messagesReady, messagesUnacked, consumers, cost };
}

export function overviewRoutes(api: Hono<ApiEnv>): void {
  api.get("/overview", async (c) => {
    const t = await totals(c, await visibleVhosts(c));
    const sum = (f: (v: (typeof t.perVhost)[number]) => number) => t.perVhost.reduce((n, v) => n + f(v), 0);
    return c.json({
      management_version: RABBITMQ_VERSION,
      rabbitmq_version: RABBITMQ_VERSION,
      product_name: "Warren",
      product_version: PRODUCT_VERSION,
      cluster_name: "warren",
      node: NODE,
      erlang_version: "n/a",
      statistics_db_event_queue: 0,
      rates_mode: "basic",
      exchange_types: ["direct", "fanout", "headers", "topic"].map((name) => ({ name, description: "", enabled: true })),
      message_stats: messageStats(t.stats, t.rates),
      warren_cost: costJson(t.cost),
      queue_totals: {
        messages: t.messagesReady + t.messagesUnacked,
        messages_ready: t.messagesReady,
        messages_unacknowledged: t.messagesUnacked,
      },
      object_totals: {
        connections: sum((v) => v.conns.length),
        channels: sum((v) => v.conns.reduce((n, x) => n + x.channels.length, 0)),
        exchanges: sum((v) => v.exchanges.length),
        queues: sum((v) => v.queues.length),
        consumers: t.consumers,
      },
      listeners: [
        { node: NODE, protocol: "amqp", ip_address: "::", port: 5672 },
        { node: NODE, protocol: "http", ip_address: "::", port: 443 },
      ],
      contexts: [{ node: NODE, description: "Warren Management", path: "/", port: "443" }],
    });
  });

  api.get("/cluster-name", (c) => c.json({ name: "warren" }));
  api.get("/extensions", (c) => c.json([]));
  // No feature flags to enable: Warren has one version at a time (a deploy replaces all objects).
  api.get("/feature-flags", (c) => c.json([]));

  const node = () => ({
    name: NODE,
    type: "disc",
    running: true,
    uptime: Date.now() - STARTED,
    os_pid: "0",
    mem_alarm: false,
    disk_free_alarm: false,
    partitions: [],
    applications: [{ name: "warren", description: "AMQP 0-9-1 on Durable Objects", version: PRODUCT_VERSION }],
  });
  api.get("/nodes", (c) => c.json([node()]));
  api.get("/nodes/:node", (c) =>
    param(c, "node") === NODE ? c.json(node()) : c.json({ error: "Object Not Found", reason: "Not Found" }, 404),
  );

  // Warren raises no resource alarms: memory is bounded per object by design (README: limits).
  api.get("/health/checks/alarms", (c) => c.json({ status: "ok" }));
  api.get("/health/checks/local-alarms", (c) => c.json({ status: "ok" }));

  // RabbitMQ's aliveness test: declare, publish to and get from a queue named aliveness-test.
  api.get("/aliveness-test/:vhost", async (c) => {
    const vhost = param(c, "vhost");
    const actor = await actorIn(c, vhost);
    const broker = c.var.broker;
    const queue = "aliveness-test";
    await new VhostOps(broker, vhost, actor).declareQueue(
      { name: queue, durable: false, exclusive: false, autoDelete: false, arguments: {} },
      false,
    );
    actor.access.check("write", "exchange", "");
    actor.access.check("read", "queue", queue);
    const body = new TextEncoder().encode("test_message");
    const publisher = new Publisher(broker, () => vhost, new RouteTable(broker, () => vhost, null));
    const { routed } = await publisher.publish([
      { message: { exchange: "", routingKey: queue, header: contentHeader(body.length, {}), body, persistent: false } },
    ]);
    const got = await broker.queue(vhost, queue).get("", 0, true);
    const ok = (routed[0] ?? 0) > 0 && got.ok && got.value.delivery !== null;
    return ok ? c.json({ status: "ok" }) : c.json({ status: "failed", reason: "message not routed or not received" }, 503);
  });
}
