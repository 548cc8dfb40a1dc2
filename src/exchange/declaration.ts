import type { FieldTable } from "../amqp";
import { inequivalence } from "../core/equivalence";
import { describeExchange } from "../core/names";
import type { ExchangeType } from "./registry";

export interface ExchangeDecl {
  vhost: string;
  name: string;
  type: ExchangeType;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/** A binding as an exchange stores it: destination is "q:<queue>" or "e:<exchange>". */
export interface StoredBinding {
  destination: string;
  routingKey: string;
  arguments: FieldTable;
}

export interface ExchangeSnapshot {
  decl: ExchangeDecl;
  bindings: StoredBinding[];
}

const STANDARD: Record<string, ExchangeType> = {
  "amq.direct": "direct",
  "amq.fanout": "fanout",
  "amq.topic": "topic",
  "amq.headers": "headers",
  "amq.match": "headers",
};

/** The exchanges every vhost has (the default "" exchange is handled by the router itself). */
export function standardExchange(vhost: string, name: string): ExchangeDecl | null {
  const type = STANDARD[name];
  if (!type) return null;
  return { vhost, name, type, durable: true, autoDelete: false, internal: false, arguments: {} };
}

/** Names only the broker may create (RabbitMQ's check_name for exchanges). */
export function isReservedName(name: string): boolean {
  return name.startsWith("amq.");
}

/** RabbitMQ's 406 text for a redeclare that differs from what exists; null when equivalent. */
export function checkEquivalent(current: ExchangeDecl, wanted: ExchangeDecl): string | null {
  return inequivalence(
    describeExchange(current.vhost, current.name),
    [
      ["type", wanted.type, current.type],
      ["durable", wanted.durable, current.durable],
      ["auto_delete", wanted.autoDelete, current.autoDelete],
      ["internal", wanted.internal, current.internal],
    ],
    current.arguments,
    wanted.arguments,
    EQUIVALENCE_ARGS,
  );
}

// For exchanges RabbitMQ compares only alternate-exchange (rabbit_exchange:assert_args_equivalence).
const EQUIVALENCE_ARGS = ["alternate-exchange"] as const;
