import type { FieldTable } from "../../amqp";

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
  /**
   * Only a delayed-message exchange's (exchange/delayed.ts): true when the message is held by
   * the exchange, to be routed when it is due, instead of routed now.
   */
  holds?(headers: FieldTable | undefined): boolean;
}
