import { BaseRouter } from "./base-router";
import { CountedSet } from "./counted-set";
import type { FieldTable } from "../../amqp";
import type { Binding } from "./types";

// Fanout exchange: every bound destination, whatever the routing key.
export class FanoutRouter extends BaseRouter {
  readonly #dests = new CountedSet();

  override route(_routingKey: string, _headers?: FieldTable): Set<string> {
    const out = new Set<string>();
    this.#dests.addAllTo(out);
    return out;
  }

  protected override onAdd(b: Binding): void {
    this.#dests.add(b.destination);
  }

  protected override onRemove(b: Binding): void {
    this.#dests.delete(b.destination);
  }
}
