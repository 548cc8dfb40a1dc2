import type { AnyMethod, Command, Method, MethodName } from "../amqp";
import type { Channel } from "./channel";
import type { Connection } from "./connection";
import {
  basicAck,
  basicCancel,
  basicConsume,
  basicGet,
  basicNack,
  basicPublish,
  basicQos,
  basicRecover,
  basicReject,
} from "./handlers/basic";
import { channelClose, channelCloseOk, channelFlow, channelOpen } from "./handlers/channel";
import { confirmSelect, txCommit, txRollback, txSelect } from "./handlers/confirm-tx";
import {
  connectionClose,
  connectionCloseOk,
  connectionNotification,
  connectionOpen,
  startOk,
  tuneOk,
  updateSecret,
} from "./handlers/connection";
import { exchangeBind, exchangeDeclare, exchangeDelete, exchangeUnbind } from "./handlers/exchange";
import { queueBind, queueDeclare, queueDelete, queuePurge, queueUnbind } from "./handlers/queue";

type ConnectionMethodName = Extract<MethodName, `connection.${string}`>;
export type ChannelMethodName = Exclude<MethodName, ConnectionMethodName>;

/** A method of channel 0: handled by the connection. */
interface ConnectionEntry<N extends ConnectionMethodName> {
  scope: "connection";
  handle: (c: Connection, m: Method<N>) => void | Promise<void>;
}

/** A method of an open channel. */
interface ChannelEntry<N extends ChannelMethodName> {
  scope: "channel";
  handle: (ch: Channel, m: Method<N>, command: Command) => void | Promise<void>;
  /** Its work is gathered and sent at the end of the inbound batch (one RPC per queue). */
  batched?: true;
}

type MethodTable = { [N in ConnectionMethodName]?: ConnectionEntry<N> } & { [N in ChannelMethodName]?: ChannelEntry<N> };

/**
 * Every AMQP method a client may send, and its handler: the one place to look a method up.
 * Each entry is typed by its method, so a handler registered under the wrong name does not
 * compile. A client method missing here is answered with 540 NOT_IMPLEMENTED (on a channel)
 * or 503 COMMAND_INVALID (on channel 0).
 */
export const METHODS: MethodTable = {
  "connection.start-ok": { scope: "connection", handle: startOk },
  "connection.tune-ok": { scope: "connection", handle: tuneOk },
  "connection.open": { scope: "connection", handle: connectionOpen },
  "connection.close": { scope: "connection", handle: connectionClose },
  "connection.close-ok": { scope: "connection", handle: connectionCloseOk },
  "connection.blocked": { scope: "connection", handle: connectionNotification },
  "connection.unblocked": { scope: "connection", handle: connectionNotification },
  "connection.update-secret": { scope: "connection", handle: updateSecret },

  "channel.open": { scope: "channel", handle: channelOpen },
  "channel.close": { scope: "channel", handle: channelClose },
  "channel.close-ok": { scope: "channel", handle: channelCloseOk },
  "channel.flow": { scope: "channel", handle: channelFlow },

  "exchange.declare": { scope: "channel", handle: exchangeDeclare },
  "exchange.delete": { scope: "channel", handle: exchangeDelete },
  "exchange.bind": { scope: "channel", handle: exchangeBind },
  "exchange.unbind": { scope: "channel", handle: exchangeUnbind },

  "queue.declare": { scope: "channel", handle: queueDeclare },
  "queue.bind": { scope: "channel", handle: queueBind },
  "queue.unbind": { scope: "channel", handle: queueUnbind },
  "queue.purge": { scope: "channel", handle: queuePurge },
  "queue.delete": { scope: "channel", handle: queueDelete },

  "basic.qos": { scope: "channel", handle: basicQos },
  "basic.consume": { scope: "channel", handle: basicConsume },
  "basic.cancel": { scope: "channel", handle: basicCancel },
  "basic.publish": { scope: "channel", handle: basicPublish, batched: true },
  "basic.get": { scope: "channel", handle: basicGet },
  "basic.ack": { scope: "channel", handle: basicAck, batched: true },
  "basic.nack": { scope: "channel", handle: basicNack, batched: true },
  "basic.reject": { scope: "channel", handle: basicReject, batched: true },
  "basic.recover": { scope: "channel", handle: basicRecover },
  "basic.recover-async": { scope: "channel", handle: basicRecover },

  "confirm.select": { scope: "channel", handle: confirmSelect },

  "tx.select": { scope: "channel", handle: txSelect },
  "tx.commit": { scope: "channel", handle: txCommit },
  "tx.rollback": { scope: "channel", handle: txRollback },
};

/** A table entry seen through the method it was looked up by. */
export type Entry =
  | { scope: "connection"; handle: (c: Connection, m: AnyMethod) => void | Promise<void> }
  | { scope: "channel"; handle: (ch: Channel, m: AnyMethod, command: Command) => void | Promise<void>; batched?: true };

/**
 * The entry for a method. The table's per-method typing cannot follow a runtime name, so this
 * is the one place that widens it: an entry is only ever called with the method it is keyed by.
 */
export function lookup(name: MethodName): Entry | undefined {
  return (METHODS as Partial<Record<MethodName, Entry>>)[name];
}

export function isBatched(name: MethodName): boolean {
  const entry = lookup(name);
  return entry?.scope === "channel" && entry.batched === true;
}
