import { inequivalence } from "../core/equivalence";
import { describeQueue } from "../core/names";
import { equivalenceArguments, queueTypeOf } from "./arguments";
import type { QueueDecl } from "./types";

/**
 * RabbitMQ's 406 text for a redeclare that differs from what exists; null when equivalent. The
 * arguments compared are those the existing queue's type takes (rabbit_amqqueue:assert_args_equivalence):
 * a classic queue ignores x-delivery-limit, a quorum queue compares it.
 */
export function checkEquivalent(current: QueueDecl, wanted: QueueDecl): string | null {
  return inequivalence(
    describeQueue(current.vhost, current.name),
    [
      ["durable", wanted.durable, current.durable],
      ["auto_delete", wanted.autoDelete, current.autoDelete],
    ],
    current.arguments,
    wanted.arguments,
    equivalenceArguments(queueTypeOf(current.arguments)),
  );
}

export function lockedText(vhost: string, name: string): string {
  return (
    `cannot obtain exclusive access to locked ${describeQueue(vhost, name)}. It could be originally declared ` +
    "on another connection or the exclusive property value does not match that of the original declaration."
  );
}
