import type { Command, Method } from "../../amqp";
import { notAllowed, notImplemented, preconditionFailed } from "../../core/errors";
import { generatedName } from "../../core/names";
import { checkPublishable } from "../../core/publisher";
import { REPLY_TO_QUEUE, replyAddress, replySecret } from "../../core/direct-reply";
import { encodeContentHeader, decodeContentHeader } from "../../amqp/properties";
import { unwrapQueue } from "../../core/rpc-result";
import { decodeRecord } from "../../storage/message-record";
import type { Channel } from "../channel";

const EMPTY = new Uint8Array(0);

export function basicPublish(ch: Channel, m: Method<"basic.publish">, command: Command): void | Promise<void> {
  const { exchange, routingKey, mandatory, immediate } = m.args;
  if (immediate) throw notImplemented("immediate=true");
  const props = command.properties ?? {};
  const c = ch.connection;
  c.access.check("write", "exchange", exchange);
  checkPublishable(
    command.oversize ?? command.body?.length ?? 0,
    props.userId,
    c.username,
    c.limits.maxMessageSize,
    c.impersonator,
    props.expiration,
  );
  let header = command.header ?? EMPTY;
  if (props.replyTo === REPLY_TO_QUEUE) {
    // Direct reply-to: the request carries the address of this channel's reply consumer instead.
    const consumer = ch.directReply;
    if (consumer === null) throw preconditionFailed("fast reply consumer does not exist");
    const replyTo = replyAddress({ connection: c.id, channel: ch.id, secret: consumer.secret });
    const { classId, bodySize, properties } = decodeContentHeader(header);
    header = encodeContentHeader(classId, bodySize, { ...properties, replyTo });
  }
  const message = {
    exchange,
    routingKey,
    header,
    body: command.body ?? EMPTY,
    persistent: props.deliveryMode === 2,
  };
  const add = (queues: string[]) => ch.addPublish({ seq: ch.confirm ? ++ch.publishSeq : 0, queues, mandatory, message });
  const queues = c.publisher.route(exchange, routingKey, props.headers);
  return Array.isArray(queues) ? add(queues) : queues.then(add);
}

export async function basicConsume(ch: Channel, m: Method<"basic.consume">): Promise<void> {
  const a = m.args;
  const queue = a.queue;
  const tag = a.consumerTag === "" ? generatedName("amq.ctag-") : a.consumerTag;
  if (ch.consumers.has(tag) || ch.directReply?.tag === tag) throw notAllowed(`attempt to reuse consumer tag '${tag}'`);
  if (queue === REPLY_TO_QUEUE) {
    // RabbitMQ checks no permission here: the pseudo-queue is no queue.
    if (!a.noAck) throw preconditionFailed("reply consumer cannot acknowledge");
    if (ch.directReply !== null) throw preconditionFailed("reply consumer already set");
    ch.directReply = { tag, secret: replySecret() };
    if (!a.noWait) ch.connection.send(ch.id, { name: "basic.consume-ok", args: { consumerTag: tag } });
    return;
  }
  ch.connection.access.check("read", "queue", queue);
  const checking = ch.ops().checkConsumerArguments(queue, a.arguments);
  if (checking) await checking;
  ch.consumers.set(tag, { queue, noAck: a.noAck, globalLimit: ch.consumerPrefetch === 0, ready: false, early: [] });
  ch.touched.add(queue);
  ch.connection.touchQueue(queue);
  const c = ch.connection;
  // With only a channel-wide limit, no single consumer may exceed it either.
  const prefetch = ch.consumerPrefetch || ch.globalPrefetch;
  try {
    unwrapQueue(
      await c.broker.queue(c.vhost, queue).consume(c.id, ch.id, tag, {
        noAck: a.noAck,
        exclusive: a.exclusive,
        prefetch,
        arguments: a.arguments,
      }),
      c.vhost,
      queue,
    );
  } catch (err) {
    ch.consumers.delete(tag);
    throw err;
  }
  if (!a.noWait) c.send(ch.id, { name: "basic.consume-ok", args: { consumerTag: tag } });
  ch.consumerReady(tag);
}

export async function basicCancel(ch: Channel, m: Method<"basic.cancel">): Promise<void> {
  const tag = m.args.consumerTag;
  if (ch.directReply?.tag === tag) ch.directReply = null;
  const consumer = ch.consumers.get(tag);
  if (consumer) {
    ch.consumers.delete(tag);
    const c = ch.connection;
    await c.broker.queue(c.vhost, consumer.queue).cancel(c.id, tag);
  }
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "basic.cancel-ok", args: { consumerTag: tag } });
}

export async function basicGet(ch: Channel, m: Method<"basic.get">): Promise<void> {
  const queue = m.args.queue;
  const c = ch.connection;
  c.access.check("read", "queue", queue);
  ch.touched.add(queue);
  c.touchQueue(queue);
  const { delivery, messageCount } = unwrapQueue(await c.broker.queue(c.vhost, queue).get(c.id, ch.id, m.args.noAck), c.vhost, queue);
  if (!delivery) {
    ch.stats.get_empty++;
    c.send(ch.id, { name: "basic.get-empty", args: { clusterId: "" } });
    return;
  }
  if (m.args.noAck) ch.stats.get_no_ack++;
  else ch.stats.get++;
  if (delivery.redelivered) ch.stats.redeliver++;
  const deliveryTag = ch.nextDeliveryTag(queue, delivery.seq, m.args.noAck);
  const { exchange, routingKey, header, body } = decodeRecord(delivery.record);
  c.sendContent(
    ch.id,
    { name: "basic.get-ok", args: { deliveryTag, redelivered: delivery.redelivered, exchange, routingKey, messageCount } },
    header,
    body,
  );
}

export function basicAck(ch: Channel, m: Method<"basic.ack">): void {
  ch.stats.ack += ch.settle(m.args.deliveryTag, m.args.multiple, "ack");
}

// Nacked or rejected without requeue: the queue dead-letters the message (or drops it).
export function basicNack(ch: Channel, m: Method<"basic.nack">): void {
  ch.settle(m.args.deliveryTag, m.args.multiple, m.args.requeue ? "requeue" : "reject");
}

export function basicReject(ch: Channel, m: Method<"basic.reject">): void {
  ch.settle(m.args.deliveryTag, false, m.args.requeue ? "requeue" : "reject");
}

export async function basicQos(ch: Channel, m: Method<"basic.qos">): Promise<void> {
  if (m.args.prefetchSize !== 0) throw notImplemented(`prefetch_size!=0 (${m.args.prefetchSize})`);
  // As in RabbitMQ, a per-consumer limit only applies to consumers created afterwards, while
  // the channel-wide one changes at once for everybody.
  if (!m.args.global) ch.consumerPrefetch = m.args.prefetchCount;
  else if (m.args.prefetchCount !== ch.globalPrefetch) await ch.setGlobalPrefetch(m.args.prefetchCount);
  ch.connection.send(ch.id, { name: "basic.qos-ok", args: {} });
}

export function basicRecover(ch: Channel, m: Method<"basic.recover"> | Method<"basic.recover-async">): void {
  // RabbitMQ only implements requeue=true (redelivery to the same consumer is not offered).
  if (!m.args.requeue) throw notImplemented("requeue=false");
  ch.recover();
  if (m.name === "basic.recover") ch.connection.send(ch.id, { name: "basic.recover-ok", args: {} });
}
