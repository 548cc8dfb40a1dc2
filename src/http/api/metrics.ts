import type { Hono } from "hono";
import type { MessageCounters } from "../../core/control";
import { requireMonitor, visibleVhosts, type ApiEnv } from "./context";
import { PRODUCT_VERSION, RABBITMQ_VERSION, totals } from "./overview";

type Labels = Record<string, string>;

/** Prometheus text exposition (format 0.0.4), with rabbitmq_prometheus's metric names. */
class Exposition {
  private readonly lines: string[] = [];

  metric(name: string, type: "gauge" | "counter", help: string, samples: [Labels, number][]): void {
    this.lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) this.lines.push(`${name}${labelText(labels)} ${value}`);
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

const GLOBAL_COUNTERS: [string, keyof MessageCounters | ((s: MessageCounters) => number), string][] = [
  ["rabbitmq_global_messages_received_total", "publish", "Total number of messages received from publishers"],
  ["rabbitmq_global_messages_confirmed_total", "confirm", "Total number of messages confirmed to publishers"],
  [
    "rabbitmq_global_messages_unroutable_returned_total",
    "return_unroutable",
    "Total number of messages returned to publishers as unroutable",
  ],
  [
    "rabbitmq_global_messages_unroutable_dropped_total",
    "drop_unroutable",
    "Total number of messages published as non-mandatory into an exchange and dropped as unroutable",
  ],
  [
    "rabbitmq_global_messages_delivered_consume_auto_ack_total",
    "deliver_no_ack",
    "Total number of messages delivered to consumers using automatic acknowledgement",
  ],
  [
    "rabbitmq_global_messages_delivered_consume_manual_ack_total",
    "deliver",
    "Total number of messages delivered to consumers using manual acknowledgement",
  ],
  [
    "rabbitmq_global_messages_delivered_get_auto_ack_total",
    "get_no_ack",
    "Total number of messages delivered to consumers via basic.get using automatic acknowledgement",
  ],
  [
    "rabbitmq_global_messages_delivered_get_manual_ack_total",
    "get",
    "Total number of messages delivered to consumers via basic.get using manual acknowledgement",
  ],
  ["rabbitmq_global_messages_redelivered_total", "redeliver", "Total number of messages redelivered to consumers"],
  ["rabbitmq_global_messages_acknowledged_total", "ack", "Total number of messages acknowledged by consumers"],
  [
    "rabbitmq_global_messages_delivered_total",
    (s) => s.deliver + s.deliver_no_ack + s.get + s.get_no_ack,
    "Total number of messages delivered to consumers",
  ],
];

export function metricsRoutes(app: Hono<ApiEnv>): void {
  app.get("/", async (c) => {
    requireMonitor(c);
    const t = await totals(c, await visibleVhosts(c));
    const queues = t.perVhost.flatMap((v) => v.queues);
    const conns = t.perVhost.flatMap((v) => v.conns);
    const perQueue = (f: (q: (typeof queues)[number]) => number): [Labels, number][] =>
      queues.map((q) => [{ vhost: q.vhost, queue: q.name }, f(q)]);
    const x = new Exposition();
    x.metric("rabbitmq_build_info", "gauge", "RabbitMQ & Erlang/OTP version info", [
      [{ rabbitmq_version: RABBITMQ_VERSION, product_version: PRODUCT_VERSION, product_name: "Warren" }, 1],
    ]);
    x.metric("rabbitmq_identity_info", "gauge", "RabbitMQ node & cluster identity info", [
      [{ rabbitmq_node: "warren@cloudflare", rabbitmq_cluster: "warren" }, 1],
    ]);
    x.metric("rabbitmq_connections", "gauge", "Connections currently open", [[{}, conns.length]]);
    x.metric("rabbitmq_channels", "gauge", "Channels currently open", [[{}, conns.reduce((n, k) => n + k.channels.length, 0)]]);
    x.metric("rabbitmq_queues", "gauge", "Queues available", [[{}, queues.length]]);
    x.metric("rabbitmq_consumers", "gauge", "Consumers currently connected", [[{}, t.consumers]]);
    x.metric(
      "rabbitmq_queue_messages_ready",
      "gauge",
      "Messages ready to be delivered to consumers",
      perQueue((q) => q.messagesReady),
    );
    x.metric(
      "rabbitmq_queue_messages_unacked",
      "gauge",
      "Messages delivered to consumers but not yet acknowledged",
      perQueue((q) => q.messagesUnacknowledged),
    );
    x.metric(
      "rabbitmq_queue_messages",
      "gauge",
      "Sum of ready and unacknowledged messages - total queue depth",
      perQueue((q) => q.messagesReady + q.messagesUnacknowledged),
    );
    x.metric(
      "rabbitmq_queue_consumers",
      "gauge",
      "Consumers on a queue",
      perQueue((q) => q.consumers.length),
    );
    x.metric(
      "rabbitmq_queue_messages_published_total",
      "counter",
      "Total number of messages published to queues",
      perQueue((q) => q.stats.publish),
    );
    for (const [name, key, help] of GLOBAL_COUNTERS) {
      const value = typeof key === "function" ? key(t.stats) : t.stats[key];
      x.metric(name, "counter", help, [[{}, value]]);
    }
    return c.body(x.text(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
  });
}
