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
}
