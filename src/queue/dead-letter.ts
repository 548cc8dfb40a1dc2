import { decodeContentHeader, encodeContentHeader, type FieldTable, type FieldValue } from "../amqp";
import type { Broker } from "../core/broker";
import { describeQueue } from "../core/names";
import { Publisher, type RoutedPublish } from "../core/publisher";
import { delayedOf, RouteTable, type Routes } from "../core/route-table";
import type { IncomingMessage } from "../storage/message-record";
import type { QueueSettings } from "./settings";
import type { QueueDecl } from "./types";

/** Why a message left its queue for its dead-letter exchange (RabbitMQ's reasons). */
export type DeathReason = "rejected" | "expired" | "maxlen" | "delivery_limit";

/** A message on its way to the dead-letter exchange, and the headers its routing sees. */
export interface DeadLetter {
  message: IncomingMessage;
  headers: FieldTable;
}

const longstr = (value: string): FieldValue => ({ type: "S", value });

function stringsOf(v: FieldValue | undefined): string[] {
  if (!v) return [];
  if (v.type === "S") return [v.value];
  if (v.type === "A") return v.value.flatMap((x) => (x.type === "S" ? [x.value] : []));
  return [];
}

/**
 * The message as its queue dead-letters it (RabbitMQ's rabbit_dead_letter): published to the
 * dead-letter exchange with the dead-letter routing key (or its own routing keys), its
 * expiration removed, and its `x-death` header updated: one entry per queue and reason, the
 * latest first, with a count; `x-first-death-*` set once, `x-last-death-*` each time.
 */
export function deadLettered(m: IncomingMessage, queue: string, reason: DeathReason, settings: QueueSettings, now: number): DeadLetter {
  const { classId, bodySize, properties } = decodeContentHeader(m.header);
  const headers: FieldTable = { ...(properties.headers ?? {}) };
  const routingKeys = [m.routingKey, ...stringsOf(headers.CC)];
  const deaths = headers["x-death"]?.type === "A" ? [...headers["x-death"].value] : [];
  const same = deaths.findIndex((d) => {
    if (d.type !== "F") return false;
    const q = d.value.queue;
    const r = d.value.reason;
    return q?.type === "S" && q.value === queue && r?.type === "S" && r.value === reason;
  });
  let entry: FieldTable;
  if (same >= 0) {
    const old = deaths.splice(same, 1)[0]!.value as FieldTable;
    const count = old.count;
    const n = count && (count.type === "l" || count.type === "L" || count.type === "T") ? count.value : 0n;
    entry = { ...old, count: { type: "l", value: n + 1n } };
  } else {
    entry = {
      count: { type: "l", value: 1n },
      reason: longstr(reason),
      queue: longstr(queue),
      time: { type: "T", value: BigInt(Math.floor(now / 1000)) },
      exchange: longstr(m.exchange),
      "routing-keys": { type: "A", value: routingKeys.map(longstr) },
    };
    if (properties.expiration !== undefined) entry["original-expiration"] = longstr(properties.expiration);
  }
  headers["x-death"] = { type: "A", value: [{ type: "F", value: entry }, ...deaths] };
  if (!headers["x-first-death-reason"]) {
    headers["x-first-death-reason"] = longstr(reason);
    headers["x-first-death-queue"] = longstr(queue);
    headers["x-first-death-exchange"] = longstr(m.exchange);
  }
  headers["x-last-death-reason"] = longstr(reason);
  headers["x-last-death-queue"] = longstr(queue);
  headers["x-last-death-exchange"] = longstr(m.exchange);
  // The BCC header never travels on (RabbitMQ removes it at publish already).
  delete headers.BCC;
  const { expiration: _gone, ...rest } = properties;
  const header = encodeContentHeader(classId, bodySize, { ...rest, headers });
  const message: IncomingMessage = {
    exchange: settings.deadLetterExchange ?? "",
    routingKey: settings.deadLetterRoutingKey ?? m.routingKey,
    header,
    body: m.body,
    persistent: m.persistent,
  };
  return { message, headers };
}

/**
 * RabbitMQ drops a dead-lettered message that would reach a queue it already died in, unless
 * one of its deaths was a rejection (a consumer chose that, so the loop is not automatic).
 */
export function isCycle(headers: FieldTable, target: string): boolean {
  const deaths = headers["x-death"];
  if (deaths?.type !== "A") return false;
  let seen = false;
  for (const d of deaths.value) {
    if (d.type !== "F") continue;
    const r = d.value.reason;
    if (r?.type === "S" && r.value === "rejected") return false;
    const q = d.value.queue;
    if (q?.type === "S" && q.value === target) seen = true;
  }
  return seen;
}

/**
 * Quorum queues tell a consumer how often a message was handed out before (RabbitMQ 4's
 * `x-delivery-count` header): the message's content header is rewritten in memory.
 */
export function withDeliveryCount(m: IncomingMessage, count: number): void {
  const { classId, bodySize, properties } = decodeContentHeader(m.header);
  const headers: FieldTable = { ...(properties.headers ?? {}), "x-delivery-count": { type: "l", value: BigInt(count) } };
  m.header = encodeContentHeader(classId, bodySize, { ...properties, headers });
  delete m.record;
}

/**
 * Dead-letters messages of a queue: routed as a publish to its dead-letter exchange would be
 * (core/publisher.ts, so alternate exchanges apply), stored in the target queues, one RPC per
 * target queue. Returns, per message, whether storing it failed somewhere (the caller keeps
 * those and tries again). Without a dead-letter exchange, or when it does not exist, nothing is
 * published and nothing failed: RabbitMQ drops such messages.
 */
export async function republish(
  broker: Broker,
  decl: QueueDecl,
  settings: QueueSettings,
  messages: readonly IncomingMessage[],
  reason: DeathReason,
): Promise<Uint8Array> {
  const none = new Uint8Array(messages.length);
  if (settings.deadLetterExchange === undefined) return none;
  const now = Date.now();
  const publisher = new Publisher(broker, () => decl.vhost, new RouteTable(broker, () => decl.vhost, null));
  const batch: RoutedPublish[] = [];
  try {
    for (const m of messages) {
      const letter = deadLettered(m, decl.name, reason, settings, now);
      const queues = await publisher.route(letter.message.exchange, letter.message.routingKey, letter.headers);
      const kept: Routes = queues.filter((q) => !isCycle(letter.headers, q));
      // A delayed-message exchange on the way holds the message (core/route-table.ts Routes).
      const held = delayedOf(queues);
      if (held) kept.delayed = [...held];
      batch.push({ message: letter.message, queues: kept });
    }
  } catch (err) {
    broker.log(`${describeQueue(decl.vhost, decl.name)}: ${messages.length} dead-lettered message(s) dropped: ${String(err)}`);
    return none;
  }
  return (await publisher.store(batch)).failed;
}
