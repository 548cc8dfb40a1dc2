import { ReplyCode, channelError, connectionError, type Command } from "../../amqp";
import type { Channel } from "../channel";
import { ids } from "../connection";
import { generatedName } from "../names";
import { unwrap } from "../rpc-result";
import { methodOf, queueName } from "./context";
import { decodeRecord } from "../../queue/wire";

const EMPTY = new Uint8Array(0);

/**
 * RabbitMQ's default max_message_size (16 MiB). It also keeps every message, with a batch of
 * smaller ones, inside the 32 MiB a Durable Object RPC can carry.
 */
export const MAX_MESSAGE_SIZE = 16 << 20;

export function basicPublish(ch: Channel, command: Command): void | Promise<void> {
  const m = methodOf(command, "basic.publish");
  const { exchange, routingKey, mandatory, immediate } = m.args;
  if (immediate) throw connectionError(ReplyCode.NOT_IMPLEMENTED, "immediate=true", ...ids(m));
  const size = command.body?.length ?? 0;
  if (size > MAX_MESSAGE_SIZE) {
    const text = `message size ${size} is larger than configured max size ${MAX_MESSAGE_SIZE}`;
    throw channelError(ReplyCode.PRECONDITION_FAILED, text, ...ids(m));
  }
  const props = command.properties ?? {};
  const user = ch.connection.username;
  if (props.userId !== undefined && props.userId !== user) {
    throw channelError(
      ReplyCode.PRECONDITION_FAILED,
      `user_id property set to '${props.userId}' but authenticated user was '${user}'`,
      ...ids(m),
    );
  }
  const message = {
    exchange,
    routingKey,
    header: command.header ?? EMPTY,
    body: command.body ?? EMPTY,
    persistent: props.deliveryMode === 2,
  };
  const add = (queues: string[]) => ch.addPublish({ seq: ch.confirm ? ++ch.publishSeq : 0, queues, mandatory, message });
  const queues = ch.connection.routes.route(exchange, routingKey, props.headers);
  return Array.isArray(queues) ? add(queues) : queues.then(add);
}

export async function basicConsume(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "basic.consume");
  const a = m.args;
  const queue = queueName(ch, a.queue, m);
  const tag = a.consumerTag === "" ? generatedName("amq.ctag-") : a.consumerTag;
  if (ch.consumers.has(tag)) {
    throw connectionError(ReplyCode.NOT_ALLOWED, `attempt to reuse consumer tag '${tag}'`, ...ids(m));
  }
  ch.consumers.set(tag, { queue, noAck: a.noAck, globalLimit: ch.consumerPrefetch === 0, ready: false, early: [] });
  ch.touched.add(queue);
  ch.connection.touchQueue(queue);
  const c = ch.connection;
  // With only a channel-wide limit, no single consumer may exceed it either.
  const prefetch = ch.consumerPrefetch || ch.globalPrefetch;
  try {
    unwrap(
      await c.broker.queue(c.vhost, queue).consume(c.id, ch.id, tag, {
        noAck: a.noAck,
        exclusive: a.exclusive,
        prefetch,
        arguments: a.arguments,
      }),
      ...ids(m),
    );
  } catch (err) {
    ch.consumers.delete(tag);
    throw err;
  }
  if (!a.noWait) c.send(ch.id, { name: "basic.consume-ok", args: { consumerTag: tag } });
  ch.consumerReady(tag);
}

export async function basicCancel(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "basic.cancel");
  const tag = m.args.consumerTag;
  const consumer = ch.consumers.get(tag);
  if (consumer) {
    ch.consumers.delete(tag);
    const c = ch.connection;
    await c.broker.queue(c.vhost, consumer.queue).cancel(c.id, tag);
  }
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "basic.cancel-ok", args: { consumerTag: tag } });
}

export async function basicGet(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "basic.get");
  const queue = queueName(ch, m.args.queue, m);
  const c = ch.connection;
  ch.touched.add(queue);
  c.touchQueue(queue);
  const { delivery, messageCount } = unwrap(await c.broker.queue(c.vhost, queue).get(c.id, ch.id, m.args.noAck), ...ids(m));
  if (!delivery) {
    c.send(ch.id, { name: "basic.get-empty", args: { clusterId: "" } });
    return;
  }
  const deliveryTag = ch.nextDeliveryTag(queue, delivery.seq, m.args.noAck);
  const { exchange, routingKey, header, body } = decodeRecord(delivery.record);
  c.sendContent(
    ch.id,
    { name: "basic.get-ok", args: { deliveryTag, redelivered: delivery.redelivered, exchange, routingKey, messageCount } },
    header,
    body,
  );
}

export function basicAck(ch: Channel, command: Command): void {
  const m = methodOf(command, "basic.ack");
  ch.settle(m.args.deliveryTag, m.args.multiple, false, ...ids(m));
}

// Without dead-lettering yet, a message nacked or rejected without requeue is dropped.
export function basicNack(ch: Channel, command: Command): void {
  const m = methodOf(command, "basic.nack");
  ch.settle(m.args.deliveryTag, m.args.multiple, m.args.requeue, ...ids(m));
}

export function basicReject(ch: Channel, command: Command): void {
  const m = methodOf(command, "basic.reject");
  ch.settle(m.args.deliveryTag, false, m.args.requeue, ...ids(m));
}

export async function basicQos(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "basic.qos");
  if (m.args.prefetchSize !== 0) {
    throw connectionError(ReplyCode.NOT_IMPLEMENTED, `prefetch_size!=0 (${m.args.prefetchSize})`, ...ids(m));
  }
  // As in RabbitMQ, a per-consumer limit only applies to consumers created afterwards, while
  // the channel-wide one changes at once for everybody.
  if (!m.args.global) ch.consumerPrefetch = m.args.prefetchCount;
  else if (m.args.prefetchCount !== ch.globalPrefetch) await ch.setGlobalPrefetch(m.args.prefetchCount);
  ch.connection.send(ch.id, { name: "basic.qos-ok", args: {} });
}

export function basicRecover(ch: Channel, command: Command): void {
  const m = command.method;
  // RabbitMQ only implements requeue=true (redelivery to the same consumer is not offered).
  if ((m.name === "basic.recover" || m.name === "basic.recover-async") && !m.args.requeue) {
    throw connectionError(ReplyCode.NOT_IMPLEMENTED, "requeue=false", ...ids(m));
  }
  ch.recover();
  if (m.name === "basic.recover") ch.connection.send(ch.id, { name: "basic.recover-ok", args: {} });
}
