import type { AnyMethod } from "../amqp";
import { notFound } from "../core/errors";
import type { Channel } from "./channel";

/**
 * RabbitMQ's shortcuts (rabbit_channel:expand_shortcuts), applied once before a method reaches
 * its handler: an empty queue name means the channel's most recently declared queue, and a
 * binding with both queue and routing key empty uses that queue's name as the key too.
 */
export function expandShortcuts(ch: Channel, m: AnyMethod): AnyMethod {
  switch (m.name) {
    case "queue.declare":
      // Only a passive declare of "" means the last queue; an active one asks for a server-named queue.
      return m.args.passive && m.args.queue === "" ? withArgs(m, { queue: lastQueue(ch) }) : m;
    case "queue.bind":
    case "queue.unbind": {
      if (m.args.queue !== "") return m;
      const queue = lastQueue(ch);
      return withArgs(m, { queue, routingKey: m.args.routingKey === "" ? queue : m.args.routingKey });
    }
    case "queue.purge":
    case "queue.delete":
    case "basic.consume":
    case "basic.get":
      if (m.args.queue !== "") return m;
      return withArgs(m, { queue: lastQueue(ch) });
    default:
      return m;
  }
}

function withArgs<M extends AnyMethod>(m: M, patch: Partial<M["args"]>): M {
  return { ...m, args: { ...m.args, ...patch } };
}

function lastQueue(ch: Channel): string {
  if (ch.lastQueue === undefined) throw notFound("no previously declared queue");
  return ch.lastQueue;
}
