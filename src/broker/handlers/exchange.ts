import type { Channel } from "../channel";
import type { Command } from "../../amqp";
import { methodOf, opsFor } from "./context";

export async function exchangeDeclare(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "exchange.declare");
  const a = m.args;
  await opsFor(ch, m).declareExchange(
    { name: a.exchange, type: a.type, durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: a.arguments },
    a.passive,
  );
  if (!a.noWait) ch.connection.send(ch.id, { name: "exchange.declare-ok", args: {} });
}

export async function exchangeDelete(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "exchange.delete");
  await opsFor(ch, m).deleteExchange(m.args.exchange, m.args.ifUnused);
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "exchange.delete-ok", args: {} });
}

export async function exchangeBind(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "exchange.bind");
  const a = m.args;
  await opsFor(ch, m).bindExchange(a.destination, a.source, a.routingKey, a.arguments);
  if (!a.noWait) ch.connection.send(ch.id, { name: "exchange.bind-ok", args: {} });
}

export async function exchangeUnbind(ch: Channel, command: Command): Promise<void> {
  const m = methodOf(command, "exchange.unbind");
  const a = m.args;
  await opsFor(ch, m).unbindExchange(a.destination, a.source, a.routingKey, a.arguments);
  if (!a.noWait) ch.connection.send(ch.id, { name: "exchange.unbind-ok", args: {} });
}
