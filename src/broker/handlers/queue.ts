import type { Channel } from "../channel";
import type { AnyMethod, Command } from "../../amqp";
import { methodOf, opsFor, queueName } from "./context";

export async function queueDeclare(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "queue.declare");
  const a = m.args;
  // A passive declare of "" means the last declared queue; an active one asks for a server-named queue.
  const wanted = a.passive ? queueName(ch, a.queue, m) : a.queue;
  const { name, ...counts } = await opsFor(ch, m).declareQueue(
    { name: wanted, durable: a.durable, exclusive: a.exclusive, autoDelete: a.autoDelete, arguments: a.arguments },
    a.passive,
  );
  ch.lastQueue = name;
  // Exclusive queues die with this connection, so it must tell them when it goes.
  if (a.exclusive) ch.connection.touchQueue(name);
  if (!a.noWait) ch.connection.send(ch.id, { name: "queue.declare-ok", args: { queue: name, ...counts } });
}

export async function queueBind(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "queue.bind");
  const a = m.args;
  await opsFor(ch, m).bindQueue(queueName(ch, a.queue, m), a.exchange, bindingKey(ch, a.queue, a.routingKey, m), a.arguments);
  if (!a.noWait) ch.connection.send(ch.id, { name: "queue.bind-ok", args: {} });
}

export async function queueUnbind(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "queue.unbind");
  const a = m.args;
  await opsFor(ch, m).unbindQueue(queueName(ch, a.queue, m), a.exchange, bindingKey(ch, a.queue, a.routingKey, m), a.arguments);
  ch.connection.send(ch.id, { name: "queue.unbind-ok", args: {} });
}

export async function queuePurge(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "queue.purge");
  const messageCount = await opsFor(ch, m).purgeQueue(queueName(ch, m.args.queue, m));
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "queue.purge-ok", args: { messageCount } });
}

export async function queueDelete(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "queue.delete");
  const a = m.args;
  const messageCount = await opsFor(ch, m).deleteQueue(queueName(ch, a.queue, m), a.ifUnused, a.ifEmpty);
  if (!a.noWait) ch.connection.send(ch.id, { name: "queue.delete-ok", args: { messageCount } });
}

/** RabbitMQ's other shortcut: with the queue name and the routing key both empty, the key is that queue's name too. */
function bindingKey(ch: Channel, queue: string, routingKey: string, m: AnyMethod): string {
  return queue === "" && routingKey === "" ? queueName(ch, "", m) : routingKey;
}
