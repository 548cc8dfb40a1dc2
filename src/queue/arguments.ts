import type { FieldTable, FieldValue } from "../amqp";
import { preconditionFailed, type BrokerError } from "../core/errors";

/** One x-argument of queue.declare that the broker gives a meaning to. */
export interface QueueArgument {
  name: string;
  /** Compared on redeclare as RabbitMQ's assert_args_equivalence does (406 when different). */
  equivalence: boolean;
  /** An error text for a bad value (RabbitMQ's wording), or null when it is fine. */
  validate?(value: FieldValue, all: FieldTable): string | null;
}

/**
 * Every queue argument RabbitMQ knows, in one table: validation at declare, the equivalence
 * check on redeclare and (as they are implemented) the features they switch on start here.
 * Values are not validated yet: the queue-features work fills in `validate` one by one.
 */
export const QUEUE_ARGUMENTS: readonly QueueArgument[] = [
  { name: "x-expires", equivalence: true },
  { name: "x-message-ttl", equivalence: true },
  { name: "x-dead-letter-exchange", equivalence: true },
  { name: "x-dead-letter-routing-key", equivalence: true },
  { name: "x-max-length", equivalence: true },
  { name: "x-max-length-bytes", equivalence: true },
  { name: "x-max-priority", equivalence: true },
  { name: "x-overflow", equivalence: true },
  { name: "x-queue-mode", equivalence: true },
  { name: "x-queue-type", equivalence: true },
  { name: "x-single-active-consumer", equivalence: true },
  { name: "x-delivery-limit", equivalence: true },
];

/** The arguments compared on redeclare. */
export function equivalenceArguments(table: readonly QueueArgument[] = QUEUE_ARGUMENTS): string[] {
  return table.filter((a) => a.equivalence).map((a) => a.name);
}

/**
 * Checks a declare's arguments against the table: the first bad one gives RabbitMQ's 406,
 * naming the argument and the queue. Unknown arguments pass, as in RabbitMQ.
 */
export function validateQueueArguments(
  args: FieldTable,
  what: string,
  table: readonly QueueArgument[] = QUEUE_ARGUMENTS,
): BrokerError | null {
  for (const spec of table) {
    const value = args[spec.name];
    if (value === undefined || !spec.validate) continue;
    const problem = spec.validate(value, args);
    if (problem !== null) return preconditionFailed(`invalid arg '${spec.name}' for ${what}: ${problem}`);
  }
  return null;
}
