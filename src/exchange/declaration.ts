import { fieldValueEquals, fromFieldValue, type FieldTable, type FieldValue } from "../amqp";
import { describeExchange } from "../broker/names";
import type { ExchangeType } from "./routing";

export { isExchangeType, type ExchangeType } from "./routing";

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
  const what = describeExchange(current.vhost, current.name);
  const diff = (arg: string, received: unknown, now: unknown) =>
    `inequivalent arg '${arg}' for ${what}: received '${String(received)}' but current is '${String(now)}'`;
  if (current.type !== wanted.type) return diff("type", wanted.type, current.type);
  if (current.durable !== wanted.durable) return diff("durable", wanted.durable, current.durable);
  if (current.autoDelete !== wanted.autoDelete) return diff("auto_delete", wanted.autoDelete, current.autoDelete);
  if (current.internal !== wanted.internal) return diff("internal", wanted.internal, current.internal);
  // RabbitMQ compares only the arguments it gives a meaning to; for exchanges that is
  // alternate-exchange (rabbit_exchange:assert_args_equivalence). Others may differ freely.
  for (const key of EQUIVALENCE_ARGS) {
    const now = current.arguments[key];
    const received = wanted.arguments[key];
    const same = now === undefined || received === undefined ? now === received : fieldValueEquals(now, received);
    if (!same) return diff(key, showArg(received), showArg(now));
  }
  return null;
}

const EQUIVALENCE_ARGS = ["alternate-exchange"] as const;

function showArg(v: FieldValue | undefined): string {
  if (v === undefined) return "none";
  const plain = fromFieldValue(v);
  return v.type === "x" ? `<${v.value.length} bytes>` : typeof plain === "object" ? v.type : String(plain);
}
