import type { Method } from "../../amqp";
import { REPLY_TO_QUEUE } from "../../core/direct-reply";
import type { Channel } from "../channel";

// Empty queue names and binding keys were expanded before these run (shortcuts.ts).

export async function queueDeclare(ch: Channel, m: Method<"queue.declare">): Promise<void> {
  const a = m.args;
  if (a.queue === REPLY_TO_QUEUE) {
    // As RabbitMQ 3.10.8: declaring the direct reply-to pseudo-queue (passive or not) answers 0/1.
    if (!a.noWait) ch.connection.send(ch.id, { name: "queue.declare-ok", args: { queue: a.queue, messageCount: 0, consumerCount: 1 } });
    return;
  }
  const { name, ...counts } = await ch
    .ops()
    .declareQueue(
      { name: a.queue, durable: a.durable, exclusive: a.exclusive, autoDelete: a.autoDelete, arguments: a.arguments },
      a.passive,
    );
  ch.lastQueue = name;
  // Exclusive queues die with this connection, so it must tell them when it goes.
  if (a.exclusive) ch.connection.touchQueue(name);
  if (!a.noWait) ch.connection.send(ch.id, { name: "queue.declare-ok", args: { queue: name, ...counts } });
}

export async function queueBind(ch: Channel, m: Method<"queue.bind">): Promise<void> {
  const a = m.args;
  await ch.ops().bindQueue(a.queue, a.exchange, a.routingKey, a.arguments);
  if (!a.noWait) ch.connection.send(ch.id, { name: "queue.bind-ok", args: {} });
}

export async function queueUnbind(ch: Channel, m: Method<"queue.unbind">): Promise<void> {
  const a = m.args;
  await ch.ops().unbindQueue(a.queue, a.exchange, a.routingKey, a.arguments);
  ch.connection.send(ch.id, { name: "queue.unbind-ok", args: {} });
}

export async function queuePurge(ch: Channel, m: Method<"queue.purge">): Promise<void> {
  const messageCount = await ch.ops().purgeQueue(m.args.queue);
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "queue.purge-ok", args: { messageCount } });
}

export async function queueDelete(ch: Channel, m: Method<"queue.delete">): Promise<void> {
  const a = m.args;
  // As RabbitMQ: queue.delete-ok comes before the basic.cancel of this channel's own consumers of
  // the queue. They are taken off the channel first, so the queue's cancel notification finds
  // nothing to tell, and the cancels are sent here after the delete-ok.
  const own = [...ch.consumers].filter(([, c]) => c.queue === a.queue);
  for (const [tag] of own) ch.consumers.delete(tag);
  let messageCount: number;
  try {
    messageCount = await ch.ops().deleteQueue(a.queue, a.ifUnused, a.ifEmpty);
  } catch (e) {
    for (const [tag, c] of own) ch.consumers.set(tag, c);
    throw e;
  }
  if (!a.noWait) ch.connection.send(ch.id, { name: "queue.delete-ok", args: { messageCount } });
  if (!ch.isOpen || !ch.connection.handshake.wantsCancelNotify) return;
  for (const [consumerTag] of own) ch.connection.send(ch.id, { name: "basic.cancel", args: { consumerTag, noWait: true } });
}
