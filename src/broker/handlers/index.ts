import type { Command, MethodName } from "../../amqp";
import type { Channel } from "../channel";
import { basicAck, basicCancel, basicConsume, basicGet, basicNack, basicPublish, basicQos, basicRecover, basicReject } from "./basic";
import { confirmSelect, txCommit, txRollback, txSelect } from "./confirm-tx";
import { exchangeBind, exchangeDeclare, exchangeDelete, exchangeUnbind } from "./exchange";
import { queueBind, queueDeclare, queueDelete, queuePurge, queueUnbind } from "./queue";

export type Handler = (channel: Channel, command: Command) => void | Promise<void>;

/** method name → handler; a client method missing here is answered with 540 NOT_IMPLEMENTED. */
export const HANDLERS: Partial<Record<MethodName, Handler>> = {
  "exchange.declare": exchangeDeclare,
  "exchange.delete": exchangeDelete,
  "exchange.bind": exchangeBind,
  "exchange.unbind": exchangeUnbind,
  "queue.declare": queueDeclare,
  "queue.bind": queueBind,
  "queue.unbind": queueUnbind,
  "queue.purge": queuePurge,
  "queue.delete": queueDelete,
  "basic.qos": basicQos,
  "basic.consume": basicConsume,
  "basic.cancel": basicCancel,
  "basic.publish": basicPublish,
  "basic.get": basicGet,
  "basic.ack": basicAck,
  "basic.nack": basicNack,
  "basic.reject": basicReject,
  "basic.recover": basicRecover,
  "basic.recover-async": basicRecover,
  "confirm.select": confirmSelect,
  "tx.select": txSelect,
  "tx.commit": txCommit,
  "tx.rollback": txRollback,
};

/** Methods whose work is gathered and sent at the end of the batch instead of one by one. */
export const BATCHED: ReadonlySet<MethodName> = new Set(["basic.publish", "basic.ack", "basic.nack", "basic.reject"]);
