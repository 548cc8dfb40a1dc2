import type { Method } from "../../amqp";
import { preconditionFailed } from "../../core/errors";
import type { Channel } from "../channel";

export function confirmSelect(ch: Channel, m: Method<"confirm.select">): void {
  if (ch.transactional) throw preconditionFailed("cannot switch from tx to confirm mode");
  ch.confirm = true;
  if (!m.args.noWait) ch.connection.send(ch.id, { name: "confirm.select-ok", args: {} });
}

export function txSelect(ch: Channel, _m: Method<"tx.select">): void {
  if (ch.confirm) throw preconditionFailed("cannot switch from confirm to tx mode");
  ch.transactional = true;
  ch.connection.send(ch.id, { name: "tx.select-ok", args: {} });
}

export async function txCommit(ch: Channel, _m: Method<"tx.commit">): Promise<void> {
  requireTx(ch);
  await ch.commit();
  ch.connection.send(ch.id, { name: "tx.commit-ok", args: {} });
}

export function txRollback(ch: Channel, _m: Method<"tx.rollback">): void {
  requireTx(ch);
  ch.rollback();
  ch.connection.send(ch.id, { name: "tx.rollback-ok", args: {} });
}

function requireTx(ch: Channel): void {
  if (!ch.transactional) throw preconditionFailed("channel is not transactional");
}
