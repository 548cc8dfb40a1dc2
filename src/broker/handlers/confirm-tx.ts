import { ReplyCode, channelError, type Command } from "../../amqp";
import type { Channel } from "../channel";
import { ids } from "../connection";
import { methodOf } from "./context";

export function confirmSelect(ch: Channel, command: Command): void {
  const m = methodOf(command, "confirm.select");
  if (ch.transactional) {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "cannot switch from tx to confirm mode", ...ids(m));
  }
  ch.confirm = true;
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "confirm.select-ok", args: {} });
}

export function txSelect(ch: Channel, command: Command): void {
  if (ch.confirm) {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "cannot switch from confirm to tx mode", ...ids(command.method));
  }
  ch.transactional = true;
  ch.connection.send(ch.id, { name: "tx.select-ok", args: {} });
}

export async function txCommit(ch: Channel, command: Command): Promise<void> {
  requireTx(ch, command);
  await ch.commit();
  ch.connection.send(ch.id, { name: "tx.commit-ok", args: {} });
}

export function txRollback(ch: Channel, command: Command): void {
  requireTx(ch, command);
  ch.rollback();
  ch.connection.send(ch.id, { name: "tx.rollback-ok", args: {} });
}

function requireTx(ch: Channel, command: Command): void {
  if (!ch.transactional) {
    throw channelError(ReplyCode.PRECONDITION_FAILED, "channel is not transactional", ...ids(command.method));
  }
}
