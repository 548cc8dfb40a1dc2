import { BaseRouter } from "./base-router";
import { CountedSet } from "./counted-set";
import type { FieldTable } from "../../amqp";
import type { Binding } from "./types";

// Direct exchange: exact, case-sensitive routing-key equality ("" is a key
// like any other). One map lookup per route. Binding arguments are part of
// binding identity but do not affect routing.
export class DirectRouter extends BaseRouter {
  readonly #byKey = new Map<string, CountedSet>();

  override route(routingKey: string, _headers?: FieldTable): Set<string> {
    const out = new Set<string>();
    this.#byKey.get(routingKey)?.addAllTo(out);
    return out;
  }

  protected override onAdd(b: Binding): void {
    let dests = this.#byKey.get(b.routingKey);
    if (!dests) this.#byKey.set(b.routingKey, (dests = new CountedSet()));
    dests.add(b.destination);
  }

  protected override onRemove(b: Binding): void {
    const dests = this.#byKey.get(b.routingKey);
    if (!dests) return;
    dests.delete(b.destination);
    if (dests.size === 0) this.#byKey.delete(b.routingKey);
  }
}
