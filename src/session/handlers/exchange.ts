import type { Method } from "../../amqp";
import type { Channel } from "../channel";

export async function exchangeDeclare(ch: Channel, m: Method<"exchange.declare">): Promise<void> {
  const a = m.args;
  await ch
    .ops()
    .declareExchange(
      { name: a.exchange, type: a.type, durable: a.durable, autoDelete: a.autoDelete, internal: a.internal, arguments: a.arguments },
      a.passive,
    );
  if (!a.noWait) ch.connection.send(ch.id, { name: "exchange.declare-ok", args: {} });
}

export async function exchangeDelete(ch: Channel, m: Method<"exchange.delete">): Promise<void> {
  await ch.ops().deleteExchange(m.args.exchange, m.args.ifUnused);
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "exchange.delete-ok", args: {} });
}

export async function exchangeBind(ch: Channel, m: Method<"exchange.bind">): Promise<void> {
  const a = m.args;
  await ch.ops().bindExchange(a.destination, a.source, a.routingKey, a.arguments);
  if (!a.noWait) ch.connection.send(ch.id, { name: "exchange.bind-ok", args: {} });
}

export async function exchangeUnbind(ch: Channel, m: Method<"exchange.unbind">): Promise<void> {
  const a = m.args;
  await ch.ops().unbindExchange(a.destination, a.source, a.routingKey, a.arguments);
  if (!a.noWait) ch.connection.send(ch.id, { name: "exchange.unbind-ok", args: {} });
}
