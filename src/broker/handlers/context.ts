import { ReplyCode, channelError, type AnyMethod, type Command, type Method, type MethodName } from "../../amqp";
import type { Channel } from "../channel";
import { ids } from "../connection";
import { VhostOps } from "../vhost-ops";

/** The domain operations, tagged with the AMQP method so errors name it in their close. */
export function opsFor(ch: Channel, m: AnyMethod): VhostOps {
  const c = ch.connection;
  return new VhostOps(c.broker, c.vhost, c.id, ids(m));
}

/** Narrows a command's method to the one its handler is registered for. */
export function methodOf<N extends MethodName>(command: Command, _name: N): Method<N> {
  return command.method as Method<N>;
}

/** RabbitMQ's shortcut: an empty queue name means the channel's most recently declared queue. */
export function queueName(ch: Channel, name: string, m: AnyMethod): string {
  if (name !== "") return name;
  if (ch.lastQueue === undefined) throw channelError(ReplyCode.NOT_FOUND, "no previously declared queue", ...ids(m));
  return ch.lastQueue;
}
