import { fieldTableEquals } from "../amqp";
import { describeQueue } from "../broker/names";
import type { QueueDecl } from "./types";

/** RabbitMQ's 406 text for a redeclare that differs from what exists; null when equivalent. */
export function checkEquivalent(current: QueueDecl, wanted: QueueDecl): string | null {
  const what = describeQueue(current.vhost, current.name);
  const diff = (arg: string, received: unknown, now: unknown) =>
    `inequivalent arg '${arg}' for ${what}: received '${String(received)}' but current is '${String(now)}'`;
  if (current.durable !== wanted.durable) return diff("durable", wanted.durable, current.durable);
  if (current.autoDelete !== wanted.autoDelete) return diff("auto_delete", wanted.autoDelete, current.autoDelete);
  if (!fieldTableEquals(current.arguments, wanted.arguments)) return `inequivalent arguments for ${what}`;
  return null;
}

export function lockedText(vhost: string, name: string): string {
  return (
    `cannot obtain exclusive access to locked ${describeQueue(vhost, name)}. It could be originally declared ` +
    "on another connection or the exclusive property value does not match that of the original declaration."
  );
}
