import { DirectRouter } from "./direct";
import { FanoutRouter } from "./fanout";
import type { FieldTable } from "../../amqp";
import { HeadersRouter } from "./headers";
import { TopicRouter } from "./topic";

export type ExchangeType = "direct" | "fanout" | "topic" | "headers";

export interface Binding {
  /** Opaque destination key, e.g. "q:orders" or "e:logs". */
  destination: string;
  routingKey: string;
  arguments: FieldTable;
}

export interface Router {
  /** False if an identical binding (destination, key, arguments by value) exists. */
  add(b: Binding): boolean;
  /** False if no identical binding exists. */
  remove(b: Binding): boolean;
  /** Matching destination keys, each once, however many bindings matched. */
  route(routingKey: string, headers: FieldTable | undefined): Set<string>;
  readonly size: number;
  bindings(): Binding[];
}

const EXCHANGE_TYPES: readonly string[] = ["direct", "fanout", "topic", "headers"];

export function isExchangeType(s: string): s is ExchangeType {
  return EXCHANGE_TYPES.includes(s);
}

export function createRouter(type: ExchangeType): Router {
  switch (type) {
    case "direct":
      return new DirectRouter();
    case "fanout":
      return new FanoutRouter();
    case "topic":
      return new TopicRouter();
    case "headers":
      return new HeadersRouter();
  }
}
