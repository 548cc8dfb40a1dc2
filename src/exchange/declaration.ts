import { fieldTableEquals, type FieldTable } from "../amqp";
import { describeExchange } from "../broker/names";

export type ExchangeType = "direct" | "fanout" | "topic" | "headers";

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

export function isExchangeType(t: string): t is ExchangeType {
  return t === "direct" || t === "fanout" || t === "topic" || t === "headers";
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
  if (!fieldTableEquals(current.arguments, wanted.arguments)) return `inequivalent arguments for ${what}`;
  return null;
}
