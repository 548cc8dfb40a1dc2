import { fieldValueEquals, fromFieldValue, type FieldValue } from "../amqp";
import { describeQueue } from "../broker/names";
import type { QueueDecl } from "./types";

/** RabbitMQ's 406 text for a redeclare that differs from what exists; null when equivalent. */
export function checkEquivalent(current: QueueDecl, wanted: QueueDecl): string | null {
  const what = describeQueue(current.vhost, current.name);
  const diff = (arg: string, received: unknown, now: unknown) =>
    `inequivalent arg '${arg}' for ${what}: received '${String(received)}' but current is '${String(now)}'`;
  if (current.durable !== wanted.durable) return diff("durable", wanted.durable, current.durable);
  if (current.autoDelete !== wanted.autoDelete) return diff("auto_delete", wanted.autoDelete, current.autoDelete);
  // Like RabbitMQ, only the arguments the broker gives a meaning to must match; others may differ.
  for (const key of CHECKED_ARGUMENTS) {
    const now = current.arguments[key];
    const received = wanted.arguments[key];
    if (now === undefined && received === undefined) continue;
    if (now === undefined || received === undefined || !fieldValueEquals(now, received)) {
      return diff(key, show(received), show(now));
    }
  }
  return null;
}

const CHECKED_ARGUMENTS = [
  "x-expires",
  "x-message-ttl",
  "x-dead-letter-exchange",
  "x-dead-letter-routing-key",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-priority",
  "x-overflow",
  "x-queue-mode",
  "x-queue-type",
  "x-single-active-consumer",
  "x-delivery-limit",
] as const;

function show(v: FieldValue | undefined): string {
  return v === undefined ? "none" : String(fromFieldValue(v));
}

export function lockedText(vhost: string, name: string): string {
  return (
    `cannot obtain exclusive access to locked ${describeQueue(vhost, name)}. It could be originally declared ` +
    "on another connection or the exclusive property value does not match that of the original declaration."
  );
}
