import type { Method } from "../../amqp";
import { commandInvalid } from "../../core/errors";
import type { Connection } from "../connection";

export function startOk(c: Connection, m: Method<"connection.start-ok">): Promise<void> {
  return c.handshake.startOk(m);
}

export function tuneOk(c: Connection, m: Method<"connection.tune-ok">): void {
  c.handshake.tuneOk(m);
}

export async function connectionOpen(c: Connection, m: Method<"connection.open">): Promise<void> {
  await c.handshake.open(m);
  c.opened();
}

export function connectionClose(c: Connection, _m: Method<"connection.close">): void {
  c.closeRequested();
}

export function connectionCloseOk(c: Connection, _m: Method<"connection.close-ok">): void {
  c.terminate();
}

/** connection.blocked / unblocked from a client: accepted once open, not acted on. */
export function connectionNotification(c: Connection, m: Method<"connection.blocked"> | Method<"connection.unblocked">): void {
  if (!c.isRunning) throw commandInvalid(`unexpected ${m.name} on channel 0`);
}

/**
 * RabbitMQ's extension for refreshing credentials (e.g. an OAuth token) on a live connection;
 * clients wait for the -ok. The new secret is re-checked as the user's password (handshake.ts).
 */
export function updateSecret(c: Connection, m: Method<"connection.update-secret">): Promise<void> {
  if (!c.isRunning) throw commandInvalid(`unexpected ${m.name} on channel 0`);
  return c.handshake.updateSecret(m);
}
