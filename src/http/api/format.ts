import type {
  ChannelInfo,
  ConnectionInfo,
  CostCounters,
  ExchangeCounts,
  MessageCounters,
  PermissionRecord,
  PolicyRecord,
  QueueInfo,
  UserRecord,
  VhostRecord,
} from "../../core/control";
import type { CatalogExchange } from "../../core/control";
import type { BindingView } from "../../core/inventory";

// RabbitMQ's management JSON, field for field, so tools written for it read Warren.

export const NODE = "warren@cloudflare";

type Rates = Partial<Record<keyof MessageCounters, number>>;

/** message_stats: counts and {rate} details; deliver_get sums deliveries and gets, as RabbitMQ does. */
export function messageStats(counts: MessageCounters, rates: Rates = {}): Record<string, unknown> {
  const deliverGet = counts.deliver + counts.deliver_no_ack + counts.get + counts.get_no_ack;
  const deliverGetRate = (rates.deliver ?? 0) + (rates.deliver_no_ack ?? 0) + (rates.get ?? 0) + (rates.get_no_ack ?? 0);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(counts) as [keyof MessageCounters, number][]) {
    out[key] = value;
    out[`${key}_details`] = { rate: rates[key] ?? 0 };
  }
  out.deliver_get = deliverGet;
  out.deliver_get_details = { rate: deliverGetRate };
  return out;
}

/**
 * Warren's own field (RabbitMQ tools ignore it): what the platform bills, counted since the
 * objects started: SQLite rows written, Durable Object requests, WebSocket messages received.
 */
export function costJson(c: CostCounters): Record<string, number> {
  return { rows_written: c.rowsWritten, rpc_calls: c.rpcCalls, ws_messages_in: c.wsMessagesIn };
}

export function queueJson(q: QueueInfo): Record<string, unknown> {
  const messages = q.messagesReady + q.messagesUnacknowledged;
  return {
    name: q.name,
    vhost: q.vhost,
    durable: q.durable,
    auto_delete: q.autoDelete,
    exclusive: q.exclusive,
    arguments: q.arguments,
    node: NODE,
    type: "classic",
    state: "running",
    policy: q.policy,
    owner_pid_details: q.owner ? { name: q.owner } : undefined,
    exclusive_consumer_tag: q.consumers.find((c) => c.exclusive)?.tag ?? null,
    messages,
    messages_ready: q.messagesReady,
    messages_unacknowledged: q.messagesUnacknowledged,
    message_bytes: q.messageBytesReady + q.messageBytesUnacknowledged,
    message_bytes_ready: q.messageBytesReady,
    message_bytes_unacknowledged: q.messageBytesUnacknowledged,
    messages_details: { rate: 0 },
    consumers: q.consumers.length,
    consumer_utilisation: null,
    idle_since: new Date(q.idleSince).toISOString().replace("T", " ").slice(0, 19),
    message_stats: messageStats(q.stats, q.rates),
    warren_cost: costJson(q.cost),
  };
}

/** An exchange's declaration as RabbitMQ's JSON has it (the definitions format). */
export function exchangeDefinition(vhost: string, x: CatalogExchange): Record<string, unknown> {
  return {
    name: x.name,
    vhost,
    type: x.type,
    durable: x.durable,
    auto_delete: x.autoDelete,
    internal: x.internal,
    arguments: x.arguments,
  };
}

/** `delayed`: the messages a delayed-message exchange holds (the plugin's messages_delayed). */
export function exchangeJson(vhost: string, x: CatalogExchange, stats?: ExchangeCounts, delayed?: number | null): Record<string, unknown> {
  return {
    ...exchangeDefinition(vhost, x),
    user_who_performed_action: "",
    ...(delayed !== undefined && delayed !== null ? { messages_delayed: delayed } : {}),
    ...(stats
      ? {
          message_stats: {
            publish_in: stats.publishIn,
            publish_in_details: { rate: stats.publishInRate },
            publish_out: stats.publishOut,
            publish_out_details: { rate: stats.publishOutRate },
          },
        }
      : {}),
  };
}

export function bindingJson(b: BindingView): Record<string, unknown> {
  return {
    source: b.source,
    vhost: b.vhost,
    destination: b.destination,
    destination_type: b.destinationType,
    routing_key: b.routingKey,
    arguments: b.arguments,
    properties_key: b.propertiesKey,
  };
}

export function connectionJson(c: ConnectionInfo): Record<string, unknown> {
  const props = c.clientProperties;
  return {
    name: c.name,
    node: NODE,
    vhost: c.vhost,
    user: c.user,
    user_who_performed_action: c.user,
    state: c.blocked ? "blocked" : "running",
    type: "network",
    protocol: c.protocol,
    auth_mechanism: "PLAIN",
    peer_host: c.peer,
    peer_port: 0,
    host: "warren",
    port: 5672,
    ssl: false,
    channels: c.channels.length,
    channel_max: c.channelMax,
    frame_max: c.frameMax,
    timeout: c.heartbeat,
    connected_at: c.connectedAt,
    client_properties: props,
    recv_oct: c.recvOct,
    recv_cnt: c.recvCnt,
    send_oct: c.sendOct,
    send_cnt: c.sendCnt,
    recv_oct_details: { rate: 0 },
    send_oct_details: { rate: 0 },
  };
}

export function channelJson(c: ConnectionInfo, ch: ChannelInfo): Record<string, unknown> {
  return {
    name: `${c.name} (${ch.number})`,
    node: NODE,
    number: ch.number,
    vhost: c.vhost,
    user: c.user,
    state: "running",
    connection_details: { name: c.name, peer_host: c.peer, peer_port: 0 },
    consumer_count: ch.consumerCount,
    prefetch_count: ch.prefetchCount,
    global_prefetch_count: ch.globalPrefetchCount,
    messages_unacknowledged: ch.unacked,
    messages_unconfirmed: 0,
    messages_uncommitted: 0,
    acks_uncommitted: 0,
    confirm: ch.confirm,
    transactional: ch.transactional,
    message_stats: messageStats(ch.stats, ch.rates),
  };
}

export function userJson(u: UserRecord): Record<string, unknown> {
  return { name: u.name, password_hash: u.passwordHash, hashing_algorithm: u.hashingAlgorithm, tags: u.tags, limits: u.limits };
}

export function vhostJson(v: VhostRecord, totals?: { messages: number; ready: number; unacked: number }): Record<string, unknown> {
  return {
    name: v.name,
    description: v.description,
    tags: v.tags,
    default_queue_type: v.defaultQueueType,
    metadata: { description: v.description, tags: v.tags },
    tracing: false,
    cluster_state: { [NODE]: "running" },
    ...(totals ? { messages: totals.messages, messages_ready: totals.ready, messages_unacknowledged: totals.unacked } : {}),
  };
}

export function permissionJson(p: PermissionRecord): Record<string, unknown> {
  return { user: p.user, vhost: p.vhost, configure: p.configure, write: p.write, read: p.read };
}

export function policyJson(p: PolicyRecord): Record<string, unknown> {
  return { vhost: p.vhost, name: p.name, pattern: p.pattern, "apply-to": p.applyTo, priority: p.priority, definition: p.definition };
}
